"""`assessment-bench`: start any variant in the foreground (and, soon, run the bench).

    assessment-bench serve VARIANT [--port 8000] [--workers 1]
    assessment-bench variants
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

from assessment_async import migrate
from assessment_async.cli import database, upstream
from assessment_async.config import Settings
from assessment_bench.variants import VARIANTS, start, stop, wait_ready

log = logging.getLogger("assessment_bench")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    variant = VARIANTS[args.variant]
    with database(settings) as db_url, upstream(settings) as llm_url:
        migrate.upgrade(db_url)
        env = {"DATABASE_URL": db_url, "LLM_BASE_URL": llm_url, "LOG_LEVEL": settings.log_level}
        process = start(variant, args.port, workers=args.workers, env=env)
        signal.signal(signal.SIGTERM, lambda *_: stop(process))
        try:
            wait_ready(process, args.port)
            log.info("%s ready on http://127.0.0.1:%s (%s)", variant.name, args.port,
                     variant.description)
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)


def cmd_variants(args: argparse.Namespace, settings: Settings) -> int:
    for variant in VARIANTS.values():
        print(f"{variant.name:15} {variant.description}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="assessment-bench", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start one variant in the foreground")
    serve.add_argument("variant", choices=list(VARIANTS))
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)
    listing = commands.add_parser("variants", help="list the variants")
    listing.set_defaults(handler=cmd_variants)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
