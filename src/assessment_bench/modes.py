"""How long and how hard each run mode measures."""

from __future__ import annotations

from dataclasses import dataclass

SCENARIOS = ("phq-save", "phq-open", "chat-stream", "hol", "camera-upload", "assessment-flow",
             "db-latency")


@dataclass(frozen=True)
class Mode:
    name: str
    seconds: float  # one measurement
    repeats: int
    variants: tuple[str, ...]
    connections: int = 32  # wrk's, for phq-save and db-latency
    open_rates: tuple[int, ...] = (200, 600, 1200)
    open_slo_p99_ms: float = 100.0
    chat_streams: int = 200
    chat_saturation_streams: int = 0  # a second chat-stream step this wide; 0: none
    hol_streams: int = 200
    hol_probe_rate: int = 50
    uploads: int = 32
    upload_mb: float = 5.0
    upload_rounds: int = 1
    flow_users: tuple[int, ...] = (10, 40)
    flow_seconds: float = 10
    db_delay_ms: float = 1.0
    sessions: int = 200


ALL_VARIANTS = ("asgi", "asgi-naive", "asgi-hypercorn", "asgi-granian", "gthread", "gevent",
                "gevent-green", "gevent-phase2")

MODES = {
    # Uploads of 1 MB in ten rounds: a single round of two 0.2 MB uploads took milliseconds,
    # too short for py-spy to take a sample.
    "smoke": Mode("smoke", seconds=1, repeats=1, variants=("asgi", "gevent-green"),
                  connections=4, open_rates=(50,), chat_streams=4, hol_streams=4,
                  hol_probe_rate=20, uploads=2, upload_mb=1, upload_rounds=10,
                  flow_users=(2,), flow_seconds=5, sessions=10),
    # About a minute per variant on a 2-core machine, so the whole run stays under 8 minutes.
    "quick": Mode("quick", seconds=3, repeats=1,
                  variants=("asgi", "asgi-naive", "gthread", "gevent", "gevent-green",
                            "gevent-phase2"),
                  open_rates=(300, 1200), flow_users=(100,), flow_seconds=8, sessions=100),
    # About two minutes per variant and repeat: some 45 minutes for all eight, three times.
    "full": Mode("full", seconds=5, repeats=3, variants=ALL_VARIANTS,
                 open_rates=(300, 800, 1500), flow_users=(30, 100, 200, 400), flow_seconds=8,
                 chat_saturation_streams=2000),
}

# The fake LLM's answer to every bench chat: the first of 40 tokens after 100 ms, then one
# every 10 ms, so a stream lasts CHAT_SECONDS and C streams can finish at most C / CHAT_SECONDS
# chats per second (the "ideal" the chat-stream figures compare with).
FAKE_LLM_TTFT, FAKE_LLM_TOKENS, FAKE_LLM_GAP = 0.1, 40, 0.01
CHAT_SECONDS = FAKE_LLM_TTFT + FAKE_LLM_TOKENS * FAKE_LLM_GAP

# The SLOs an assessment flow must meet at a given load (p99 per request kind).
FLOW_SLO_P99_MS = {"phq save": 200.0, "phq submit": 500.0, "chat": 1500.0, "upload": 1000.0}
FLOW_MAX_ERROR_RATE = 0.01
