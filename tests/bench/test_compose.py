"""docker-compose.yml parses, and every service runs a command this project has."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from assessment_async.cli import parser as app_parser
from assessment_bench.cli import parser as bench_parser

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_and_commands_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "fake-llm", "app", "twin", "bench"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["bench"]["profiles"] == ["bench"]
    for name, service in services.items():
        command = service.get("command")
        if command is None:
            continue
        program, *args = command
        if program == "assessment-async":
            app_parser().parse_args(args)  # exits (fails the test) on an unknown command
        elif program == "assessment-bench":
            bench_parser().parse_args(args)
        elif program == "bash":
            assert (ROOT / args[0]).is_file(), name
        else:
            raise AssertionError(f"{name}: unknown program {shlex.join(command)}")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "wrk" in dockerfile
    # The image installs the lock, hashes checked, then the project without resolving again.
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps --no-build-isolation ." in dockerfile
