"""`assessment-async`: serve the API, manage the schema.

    assessment-async serve [--host H] [--port N] [--workers N] [--server S] [--no-migrate]
    assessment-async db upgrade [REVISION]
    assessment-async db status
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assessment_async.infra.logs import configure_logging
from assessment_core import migrate
from assessment_core.settings import SERVERS, Settings

log = logging.getLogger("assessment_async")

EMBEDDED_DATABASE = "assessment"


class CannotStart(Exception):
    """A setup problem the operator fixes: printed as one line, exit status 2."""


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """DATABASE_URL, or the embedded server's URL (started here and stopped after, if needed)."""
    if settings.database_url:
        yield settings.database_url
        return
    try:
        from assessment_dev.embedded_db import EmbeddedPostgres
    except ImportError as missing:
        raise CannotStart(f"DATABASE_URL is not set and {missing}") from None
    server = EmbeddedPostgres(settings.data_dir, settings.embedded_pg_port)
    server.start()
    try:
        yield server.ensure_database(EMBEDDED_DATABASE)
    finally:
        if server.started_here:
            log.info("stopping the embedded PostgreSQL")
            server.stop()


@contextmanager
def upstream(settings: Settings) -> Iterator[str]:
    """LLM_BASE_URL, or a fake LLM started beside the app for as long as it serves."""
    if settings.llm_base_url:
        yield settings.llm_base_url
        return
    from assessment_dev.fake_llm.launch import running_fake_llm

    with running_fake_llm() as url:
        log.info("no LLM_BASE_URL: the fake LLM answers chats at %s", url)
        yield url


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assessment_async.serving import servers

    with database(settings) as url, upstream(settings) as llm_url:
        if args.no_migrate:
            waiting = migrate.pending(url)
            if waiting:
                log.error("the database schema is behind (%s): run `assessment-async db upgrade`",
                          ", ".join(waiting))
                return 2
        else:
            migrate.upgrade(url)
        # Workers import assessment_async.serving.asgi, which reads the environment.
        os.environ["DATABASE_URL"] = url
        os.environ["LLM_BASE_URL"] = llm_url
        if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker writes its metrics there, so any worker's /metrics covers them all.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-")
        return servers.serve(args.server or settings.server, args.app, args.host, args.port,
                             args.workers, settings.keepalive_timeout)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        migrate.upgrade(url, args.revision)
        log.info("schema at %s", args.revision)
    return 0


def cmd_db_status(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        waiting = migrate.pending(url)
    print("up to date" if not waiting else f"pending: {', '.join(waiting)}")
    return 0 if not waiting else 1


def cmd_storage_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Print the stored frames no capture row names (orphans of a crash); --delete them."""
    import asyncio
    from datetime import timedelta

    import asyncpg

    from assessment_async.infra.storage import open_storage
    from assessment_async.services.orphans import sweep

    async def run(url: str) -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return await sweep(open_storage(settings), conn,
                               timedelta(minutes=args.older_than), args.delete)
        finally:
            await conn.close()

    with database(settings) as url:
        orphans = asyncio.run(run(url))
    for key in orphans:
        print(key)
    done = "deleted" if args.delete else "found (run again with --delete to remove them)"
    print(f"{len(orphans)} orphan object(s) older than {args.older_than:g} min {done}",
          file=sys.stderr)
    return 0


def cmd_fake_llm(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    import uvloop

    from assessment_dev.fake_llm.profile import Profile
    from assessment_dev.fake_llm.server import serve

    profile = Profile(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Profile)})
    log.info("fake LLM on http://%s:%s/v1 with %s", args.host, args.port, profile)
    try:
        uvloop.run(serve(profile, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


def openapi_document() -> str:
    """The served /openapi.json, formatted for a file (docs/openapi.json is this)."""
    import asyncio
    import json

    from assessment_async.app import create_app

    # The spec is the routes' own: no database or upstream is reached to build it.
    app = create_app(Settings(database_url="postgresql://unused/unused",
                              llm_base_url="http://unused/v1"))

    async def fetch() -> object:
        return await (await app.test_client().get("/openapi.json")).get_json()

    return json.dumps(asyncio.run(fetch()), indent=2, sort_keys=True) + "\n"


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    document = openapi_document()
    if args.out:
        Path(args.out).write_text(document)
    else:
        sys.stdout.write(document)
    return 0


def add_profile_flags(command: argparse.ArgumentParser) -> None:
    """One flag per Profile field, with its default and help from the dataclass."""
    import dataclasses

    from assessment_dev.fake_llm.profile import FAULTS, Profile

    for field in dataclasses.fields(Profile):
        kind = {"int": int, "float": float}.get(str(field.type), str)
        extra: dict[str, object] = {"choices": FAULTS} if field.name == "fault" else {}
        command.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=kind,
                             default=field.default, **extra)  # type: ignore[arg-type]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="assessment-async", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (Uvicorn by default, or Hypercorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--server", choices=SERVERS,
                       help="the ASGI server (default: the SERVER setting, uvicorn)")
    serve.add_argument("--app", default="assessment_async.serving.asgi:app", help=argparse.SUPPRESS)
    serve.add_argument("--no-migrate", action="store_true",
                       help="refuse to start if migrations are pending instead of applying them")
    serve.set_defaults(handler=cmd_serve)

    fake = commands.add_parser(
        "fake-llm", help="serve the fake OpenAI-compatible LLM (profile flags below; the "
        "X-Fake-LLM request header overrides them per request, e.g. 'fault=cut,fault_at=3')")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8100)
    add_profile_flags(fake)
    fake.set_defaults(handler=cmd_fake_llm)

    spec = commands.add_parser("openapi", help="print the OpenAPI document the app serves")
    spec.add_argument("--out", help="write it to this file (docs/openapi.json is committed)")
    spec.set_defaults(handler=cmd_openapi)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=cmd_db_upgrade)
    status = db.add_parser("status", help="list migrations not yet applied (exit 1 if any)")
    status.set_defaults(handler=cmd_db_status)

    storage = commands.add_parser("storage", help="frame storage (STORAGE_URL)").add_subparsers(
        dest="storage", required=True)
    orphans = storage.add_parser(
        "sweep", help="list stored frames no capture row names (left by a crash mid-upload)")
    orphans.add_argument("--older-than", type=float, default=60, metavar="MINUTES",
                         help="only objects last written this long ago (default 60: an "
                         "upload in flight is never an orphan)")
    orphans.add_argument("--delete", action="store_true", help="remove them")
    orphans.set_defaults(handler=cmd_storage_sweep)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, settings)
    except CannotStart as problem:
        print(f"assessment-async: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
