"""The garbage collector's young threshold, set the same way by both apps (GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import gc


def apply_young_threshold(allocations: int) -> None:
    """Collect the young generation every `allocations` net allocations; the older
    generations' thresholds stay Python's."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(allocations, middle, old)
