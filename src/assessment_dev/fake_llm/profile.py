"""A latency and fault profile: server flags set the defaults, a request header overrides them.

The header `X-Fake-LLM` takes `key=value` pairs separated by commas, for example
`ttft=0.05,tokens=20,gap=0.01,fault=cut,fault_at=5`; so does a `{{fake-llm: ...}}` directive
in the last user message, which reaches the fake LLM through any app unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

HEADER = "X-Fake-LLM"
Fault = Literal["none", "error", "stall", "cut", "malformed"]
FAULTS = ("none", "error", "stall", "cut", "malformed")


@dataclass(frozen=True)
class Profile:
    ttft: float = 0.2  # seconds from request to the first content token
    tokens: int = 40  # content tokens in an answer
    gap: float = 0.02  # seconds between tokens
    jitter: float = 0.0  # each wait is drawn from [w*(1-jitter), w*(1+jitter)]
    seed: int = 0  # the answer's text is a function of the seed and the prompt
    fault: Fault = "none"
    fault_rate: float = 1.0  # share of requests the fault hits (0..1)
    fault_at: int = 0  # token index where stall, cut or malformed strikes; 0 = before any
    status: int = 500  # the status of an `error` fault (500, 429, 503...)
    retry_after: int = 1  # Retry-After seconds sent with a 429 or 503
    stall: float = 30.0  # seconds a `stall` fault waits

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        if self.tokens < 0 or self.ttft < 0 or self.gap < 0 or self.stall < 0:
            raise ValueError("tokens, ttft, gap and stall must be >= 0")
        if not 0 <= self.jitter <= 1 or not 0 <= self.fault_rate <= 1:
            raise ValueError("jitter and fault_rate must be within 0..1")
        if not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400..599)")

    def override(self, header: str | None) -> Profile:
        """This profile with the header's `key=value` pairs applied; ValueError when invalid."""
        if not header:
            return self
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, object] = {}
        for pair in header.split(","):
            key, sep, raw = pair.strip().partition("=")
            if not sep or key not in types:
                raise ValueError(f"unknown {HEADER} setting {key!r}; known: {', '.join(types)}")
            kind = types[key]
            changes[key] = raw if key == "fault" else (int(raw) if kind == "int" else float(raw))
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
