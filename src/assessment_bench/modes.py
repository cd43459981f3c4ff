"""How long and how hard each run mode measures."""

from __future__ import annotations

from dataclasses import dataclass, field

SCENARIOS = ("phq-save", "phq-open", "chat-stream", "hol", "camera-upload", "assessment-flow",
             "db-latency", "growth", "overload")
# What --quick and --full measure unless told: every scenario (--quick leaves out the curves,
# growth and overload, which its six minutes cannot hold).
MEASURED = SCENARIOS


@dataclass(frozen=True)
class Mode:
    name: str
    seconds: float  # one measurement
    repeats: int
    variants: tuple[str, ...]
    connections: int = 32  # wrk's, for phq-save and db-latency
    # phq-open's knee search: offered saves/s from open_start, doubling up to open_limit,
    # then bisected to within knee_precision; each step lasts open_seconds.
    open_start: float = 250
    open_limit: float = 8000
    open_seconds: float = 5
    open_slo_p99_ms: float = 100.0
    knee_precision: float = 0.05
    chat_streams: int = 200
    chat_saturation_streams: int = 0  # a second chat-stream step this wide; 0: none
    # hol: the save probe at hol_probe_rate for hol_seconds, alone, beside hol_streams slow
    # chat streams, and beside hol_saturation_streams (0: not measured).
    hol_streams: int = 200
    hol_saturation_streams: int = 0
    hol_probe_rate: int = 200
    hol_seconds: float = 30
    hol_open_seconds: float = 5  # time given to open every stream before the probe
    uploads: int = 32
    upload_mb: float = 5.0
    upload_rounds: int = 1
    # assessment-flow's knee search: participants at once, from flow_start doubling up to
    # flow_limit, then bisected; each step lasts flow_seconds.
    flow_start: int = 25
    flow_limit: int = 1600
    flow_seconds: float = 10
    db_delay_ms: float = 1.0
    # growth: wrk's connections, each step growth_seconds long; then the server's memory
    # with each count of idle kept-alive connections and of open chat streams held.
    growth_connections: tuple[int, ...] = (8, 32, 128, 512, 1000)
    growth_seconds: float = 4
    growth_held: tuple[int, ...] = (1000, 10000)
    # What a variant measures when it does not run every scenario (variant -> scenarios):
    # a pitfall only where it shows, another server only what a server changes, a lever
    # only where it acts. Unlisted variants run every scenario.
    tiers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # phq-save in rounds: every variant's server started at once (idle ones cost nothing),
    # then `paired_rounds` rounds each measuring every variant in turn, so that the two
    # sides of a ratio were measured a minute apart, not a quarter of an hour (stats.py).
    # 0: phq-save is measured with the variant's other scenarios.
    paired_rounds: int = 0
    # phq-open's knee, found in short steps, is tried once more for this long: a queue that
    # grows slowly shows only then. Failing, the load a tenth lower is tried (up to three
    # times). 0: no confirmation (the figure says so).
    open_confirm_seconds: float = 0
    # overload: chats offered at these multiples of the chat capacity (the most tokens/s any
    # variant's chat-stream relayed earlier in the run, as chats of the churn's length, so
    # every variant is offered the same loads; overload_capacity chats/s when none ran), each
    # step this long, the probe beside them.
    overload_factors: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    overload_seconds: float = 10
    overload_capacity: float = 100
    # The probe's saves/s beside the churn: light, since it shares the helper core with
    # PostgreSQL, the fake LLM and the churn's client (500 samples in 10 s: p99 is the 5th).
    overload_probe_rate: float = 50
    # The variants the fault suite runs on with this mode (empty: every variant measured).
    fault_variants: tuple[str, ...] = ()
    # The profiled repeat (repeat 0, py-spy) samples where the time goes in these alone.
    profile_scenarios: tuple[str, ...] = ("phq-save", "chat-stream", "camera-upload",
                                          "db-latency")
    once_scenarios: tuple[str, ...] = ("growth", "overload")
    scenarios: tuple[str, ...] = MEASURED  # what a run measures unless told otherwise


ALL_VARIANTS = ("asgi", "asgi-naive", "asgi-hypercorn", "asgi-granian", "asgi-proxied",
                "asgi-pgbouncer", "asgi-no-group-commit", "asgi-no-admission", "gthread",
                "gevent", "gevent-green", "gevent-phase2", "gevent-tuned",
                "gevent-tuned-no-group-commit", "gevent-tuned-no-admission")

# The fault suite's variants in a full run: every app, runtime and the card's server. Not
# those with a deployment's hops (the suite's faults are the app's; the topology test kills
# replicas behind nginx), nor the lever switches, nor Granian (a server measured on saves and
# uploads alone), left out so that the run keeps its time: without its writer a save takes
# the one-statement path the suite already checks on gevent-green; without admission a chat
# is the one every variant without it runs.
FAULT_VARIANTS = ("asgi", "asgi-naive", "asgi-hypercorn", "gthread", "gevent",
                  "gevent-green", "gevent-phase2", "gevent-tuned")

PITFALL = ("phq-save", "chat-stream", "camera-upload", "db-latency")
# What a server changes (its knee is left out: the search took six minutes a run, and the
# saves' ratio already prices the server).
SERVER = ("phq-save", "chat-stream", "camera-upload", "db-latency")
# Group commit acts on one-answer saves, most where each round trip is slow.
GROUP_COMMIT = ("phq-save", "db-latency")
FULL_TIERS = {
    "asgi-naive": PITFALL, "gevent": PITFALL, "gevent-phase2": PITFALL,
    "asgi-hypercorn": SERVER,
    "asgi-granian": ("phq-save", "camera-upload"),
    # The extra hops of a deployment: saves and uploads through nginx and PgBouncer (streams
    # through nginx: tests/topology, which checks each keep-alive and token arrives at once).
    "asgi-proxied": ("phq-save", "camera-upload"),
    "asgi-pgbouncer": ("phq-save",),  # the pooler alone: only saves reach it
    "asgi-no-group-commit": GROUP_COMMIT, "gevent-tuned-no-group-commit": GROUP_COMMIT,
    # Chat admission acts where chats fill the core (overload, the 2,000 streams of
    # chat-stream); asgi's phq-save shows what its lag watcher costs the saves.
    "asgi-no-admission": ("phq-save", "chat-stream", "overload"),
    "gevent-tuned-no-admission": ("overload",),
    "gthread": tuple(s for s in MEASURED if s != "overload"),
}

MODES = {
    # Seconds per scenario: checks the pipeline, not the servers. Uploads of 1 MB in ten
    # rounds: a single round of two 0.2 MB uploads took milliseconds, too short for py-spy.
    "smoke": Mode("smoke", seconds=1, repeats=1, variants=("asgi", "gevent-green"),
                  connections=4, open_start=50, open_limit=100, open_seconds=1,
                  chat_streams=4, hol_streams=4, hol_probe_rate=20, hol_seconds=2,
                  hol_open_seconds=1, uploads=2, upload_mb=1, upload_rounds=10,
                  flow_start=2, flow_limit=2, flow_seconds=3,
                  growth_connections=(4, 16), growth_seconds=1, growth_held=(20,),
                  paired_rounds=1, scenarios=SCENARIOS, overload_factors=(1.0,),
                  overload_seconds=2, overload_capacity=5),
    # A first look in about six minutes: the rewrite against the plan as written, twice, so
    # every figure has an interval; coarse knees (within 35%), short steps, no growth curves,
    # no rounds (a second server start per variant and repeat would not fit the six minutes).
    "quick": Mode("quick", seconds=3, repeats=2, variants=("asgi", "gevent-green"),
                  open_start=250, open_limit=8000, open_seconds=3, knee_precision=0.35,
                  hol_seconds=3, hol_open_seconds=3, flow_start=50, flow_limit=1600,
                  flow_seconds=4,
                  scenarios=tuple(s for s in MEASURED if s not in ("growth", "overload"))),
    # The reference: every variant, three repeats (the intervals), knees within 5%; the
    # pitfall variants only where their pitfall shows, the other ASGI servers only what a
    # server changes. See the README for why each scenario lasts what it does, so that the
    # run and its fault suite fit 100 minutes.
    "full": Mode("full", seconds=5, repeats=3, variants=ALL_VARIANTS, open_seconds=4,
                 open_confirm_seconds=12, flow_seconds=6, chat_saturation_streams=2000,
                 hol_seconds=10, hol_saturation_streams=2000, tiers=FULL_TIERS,
                 paired_rounds=2, fault_variants=FAULT_VARIANTS),
}

# The fake LLM's answer to every bench chat: the first of 40 tokens after 100 ms, then one
# every 10 ms, so a stream lasts CHAT_SECONDS and C streams can finish at most C / CHAT_SECONDS
# chats per second (the "ideal" the chat-stream figures compare with).
FAKE_LLM_TTFT, FAKE_LLM_TOKENS, FAKE_LLM_GAP = 0.1, 40, 0.01
CHAT_SECONDS = FAKE_LLM_TTFT + FAKE_LLM_TOKENS * FAKE_LLM_GAP

# The SLOs an assessment flow must meet at a given load (p99 per request kind).
FLOW_SLO_P99_MS = {"phq save": 200.0, "phq submit": 500.0, "chat": 1500.0, "upload": 1000.0}
FLOW_MAX_ERROR_RATE = 0.01
