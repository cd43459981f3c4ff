"""One fault tried on one variant: did it hold, and the counts that say so."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultResult:
    fault: str  # a name from the fault table, e.g. "sigterm-mid-load"
    variant: str
    passed: bool
    # The counts behind the verdict, e.g. {"acknowledged": 812, "present": 812, "lost": 0,
    # "indeterminate": 3} or {"seconds_to_recover": 1.2}; plain numbers only.
    figures: dict[str, float] = field(default_factory=dict)
    # One sentence a reader of the table needs: what happened when it did not hold.
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
