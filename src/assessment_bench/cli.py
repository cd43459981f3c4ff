"""`assessment-bench`: run the bench, compare runs, or start any variant in the foreground.

    assessment-bench run [--quick | --full | --smoke] [--variants ...] [--scenarios ...]
                         [--repeats N] [--out DIR] [--baseline VARIANT]
                         [--profile [VARIANT ...]] [--reliability | --no-reliability]
    assessment-bench reliability [--variants ...] [--faults ...] [--out DIR] [--docs PAGE]
    assessment-bench sweep [--variants ...] [--repeats 2] [--out bench/sweeps/latest.json]
    assessment-bench compare A B
    assessment-bench report RUN_DIR
    assessment-bench serve VARIANT [--port 8000] [--workers 1]
    assessment-bench variants
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assessment_async.cli import database, upstream
from assessment_async.infra.logs import configure_logging
from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_core import migrate
from assessment_core.settings import Settings

log = logging.getLogger("assessment_bench")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    variant = VARIANTS[args.variant]
    with database(settings) as db_url, upstream(settings) as llm_url:
        migrate.upgrade(db_url)
        env = {"DATABASE_URL": db_url, "LLM_BASE_URL": llm_url, "LOG_LEVEL": settings.log_level}
        process = start(variant, args.port, workers=args.workers, env=env)
        # SIGTERM unwinds to the `finally` below, as Ctrl-C does: stopping the server from
        # inside the handler would wait for it while the interrupted wait holds its lock.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            wait_ready(process, args.port)
            log.info("%s ready on http://127.0.0.1:%s (%s)", variant.name, args.port,
                     variant.description)
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import shutil
    from datetime import datetime

    from assessment_bench import report
    from assessment_bench.modes import MODES, SCENARIOS
    from assessment_bench.runner import Bench, RunConfig

    if shutil.which("wrk") is None and "phq-save" in (args.scenarios or SCENARIOS):
        log.error("wrk is not installed (Debian: apt-get install wrk; bin/setup does it)")
        return 2
    mode = MODES[args.mode]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("bench/reports") / f"{stamp}-{mode.name}"
    config = RunConfig(mode=mode, variants=args.variants or list(mode.variants),
                       scenarios=args.scenarios or list(mode.scenarios),
                       repeats=args.repeats or mode.repeats, out=out, baseline=args.baseline)
    if mode.name == "full":
        from assessment_bench import sweep

        # The tuning step's recorded choice: each swept variant at its best setting.
        config.overrides = {v: o for v, o in sweep.overrides().items() if v in config.variants}
    if args.profile is not None:  # `--profile` alone: every variant of the run
        config.profile = tuple(args.profile or config.variants)
        if not_run := [v for v in config.profile if v not in config.variants]:
            log.error("--profile names variants this run does not measure: %s",
                      ", ".join(not_run))
            return 2
        from assessment_bench.profiling import check_can_profile

        try:
            check_can_profile()
        except RuntimeError as error:
            log.error("%s", error)
            return 2
    if config.baseline not in config.variants:
        config.baseline = config.variants[0]
    print(f"assessment-bench {mode.name}: {len(config.variants)} variants x "
          f"{len(config.scenarios)} scenarios x {config.repeats} repeat(s) -> {out}",
          flush=True)
    # SIGTERM stops the run as Ctrl-C does: everything it started is stopped, and what was
    # measured is still written.
    signal.signal(signal.SIGTERM, _interrupt)
    record = Bench(config).run()
    if args.reliability if args.reliability is not None else mode.name == "full":
        if not record.interrupted:
            faulted = [v for v in config.variants
                       if not mode.fault_variants or v in mode.fault_variants]
            run_reliability(settings, faulted, None, out)
    written = report.write(config, record)
    print(f"report: {written / 'report.html'} (also report.md, results.json)", flush=True)
    return 130 if record.interrupted else 0


def run_reliability(settings: Settings, variants: list[str], faults: list[str] | None,
                    out: Path) -> dict[str, Any]:
    from assessment_bench.reliability import suite

    names = faults or list(suite.catalogue())
    print(f"reliability: {len(variants)} variants x {len(names)} faults -> {out}", flush=True)
    with suite.reliability_stack(settings.database_url) as stack:
        results = suite.run_suite(stack, variants, names,
                                  lambda line: print(line, flush=True))
    doc = suite.document(results, variants, names)
    suite.write(doc, out)
    return doc


def cmd_reliability(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime

    from assessment_bench.reliability import suite

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("bench/reports") / f"{stamp}-reliability"
    doc = run_reliability(settings, args.variants or list(VARIANTS), args.faults, out)
    if args.docs:
        suite.update_docs(doc, Path(args.docs), str(out / "reliability.json"))
    print(f"reliability: {out / 'reliability.md'} (also reliability.json)", flush=True)
    return 0 if all(r["passed"] for r in doc["results"]) else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from assessment_bench.report import rerender

    print(f"report: {rerender(Path(args.run)) / 'report.html'}")
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from assessment_bench.compare import compare

    print(compare(Path(args.a), Path(args.b)), end="")
    return 0


def cmd_variants(args: argparse.Namespace, settings: Settings) -> int:
    for variant in VARIANTS.values():
        print(f"{variant.name:15} {variant.description}")
    return 0


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    from assessment_bench import sweep

    out = Path(args.out) if args.out else sweep.LATEST
    document = sweep.sweep(args.variants or list(sweep.GRID), args.repeats, out)
    for variant, choice in document["best"].items():
        print(f"{variant}: {choice['setting'] or 'the default'} (score {choice['score']})")
    print(f"sweep: {out}", flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="assessment-bench", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start one variant in the foreground")
    serve.add_argument("variant", choices=list(VARIANTS))
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)
    from assessment_bench.modes import SCENARIOS

    run = commands.add_parser("run", help="run the bench and write a report")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick")
    size.add_argument("--full", dest="mode", action="store_const", const="full")
    size.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="seconds per scenario: checks the pipeline, not the servers")
    run.set_defaults(mode="quick", handler=cmd_run)
    run.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    run.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS))
    run.add_argument("--repeats", type=int)
    run.add_argument("--out")
    run.add_argument("--baseline", default="gevent-green",
                     help="the variant the verdict's ratios compare against")
    run.add_argument("--profile", nargs="*", choices=list(VARIANTS), metavar="VARIANT",
                     help="sample these variants (all, if none named) with py-spy in their "
                     "first repeat: folded stacks in profiles/, the time per layer in the "
                     "report")
    run.add_argument("--reliability", action=argparse.BooleanOptionalAction,
                     help="also run the fault suite on the variants (default: with --full)")

    reliability = commands.add_parser(
        "reliability", help="every fault and bad input on every variant: what each loses")
    reliability.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    reliability.add_argument("--faults", nargs="+", metavar="FAULT",
                             help="a subset of the faults (see docs/reliability.md)")
    reliability.add_argument("--out")
    reliability.add_argument("--docs", metavar="PAGE",
                             help="write the table into this page, e.g. docs/reliability.md")
    reliability.set_defaults(handler=cmd_reliability)
    from assessment_bench.sweep import GRID

    tuning = commands.add_parser(
        "sweep", help="the tuning step: each variant's pool size (and gthread's threads) "
        "swept; `run --full` then runs each at its best")
    tuning.add_argument("--variants", nargs="+", choices=list(GRID))
    tuning.add_argument("--repeats", type=int, default=2)
    tuning.add_argument("--out", help="default: bench/sweeps/latest.json, which --full reads")
    tuning.set_defaults(handler=cmd_sweep)
    comparison = commands.add_parser("compare", help="two runs side by side")
    comparison.add_argument("a")
    comparison.add_argument("b")
    comparison.set_defaults(handler=cmd_compare)

    rendering = commands.add_parser("report", help="write a run's report again from its "
                                    "results.json")
    rendering.add_argument("run")
    rendering.set_defaults(handler=cmd_report)

    listing = commands.add_parser("variants", help="list the variants")
    listing.set_defaults(handler=cmd_variants)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.model_copy(update={"log_format": "text"}))  # read at a terminal
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
