"""docker-compose.yml and the Dockerfile (no Docker here to run them): every service runs a
command this project has, every long-running one restarts and says when it is healthy, every
file it mounts exists, the app's replicas reach PostgreSQL through PgBouncer and keep frames in
MinIO, and the runtime image runs as a user without the twin or the bench."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from assessment_async.cli import parser as app_parser
from assessment_bench.cli import parser as bench_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"migrate", "minio-bucket"}
OPT_IN = {"twin", "bench"}


def test_the_topology_has_every_part() -> None:
    assert set(SERVICES) == {"postgres", "pgbouncer", "minio", "minio-bucket", "migrate",
                             "fake-llm", "app", "nginx", "prometheus", "twin", "bench"}
    assert SERVICES["app"]["deploy"]["replicas"] >= 2
    assert "ports" not in SERVICES["app"]  # reached through nginx only
    assert {s for s, spec in SERVICES.items() if "profiles" in spec} == OPT_IN


def test_every_long_running_service_restarts_and_has_a_healthcheck() -> None:
    for name, spec in SERVICES.items():
        if name in ONE_SHOT | OPT_IN:
            continue
        assert spec.get("restart") == "unless-stopped", name
        assert spec.get("healthcheck", {}).get("test"), name


def test_every_command_exists_and_every_mounted_file_is_in_the_tree() -> None:
    for name, spec in SERVICES.items():
        command = spec.get("command")
        if command and spec.get("image", "").startswith("assessment-async"):
            program, *args = command
            if program == "assessment-async":
                app_parser().parse_args(args)  # exits (fails the test) on an unknown command
            elif program == "assessment-bench":
                bench_parser().parse_args(args)
            elif program == "bash":
                assert (ROOT / args[0]).is_file(), name
            else:
                raise AssertionError(f"{name}: unknown program {shlex.join(command)}")
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"


def test_the_replicas_use_the_pooler_the_object_store_and_a_private_metrics_port() -> None:
    env = SERVICES["app"]["environment"]
    assert "@pgbouncer:6432/" in env["DATABASE_URL"] and env["DB_STATEMENT_CACHE_SIZE"] == "0"
    assert env["STORAGE_URL"].startswith("s3://") and "minio" in env["AWS_ENDPOINT_URL"]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [target] = prometheus["scrape_configs"][0]["dns_sd_configs"]
    assert target["port"] == int(env["METRICS_PORT"]) and target["names"] == ["app"]
    # Migrations go straight to PostgreSQL, holding none of the pooler's backends.
    assert "@postgres:5432/" in SERVICES["migrate"]["environment"]["DATABASE_URL"]
    nginx = SERVICES["nginx"]["environment"]
    template = (ROOT / "deploy/nginx/assessment.conf.template").read_text()
    for blank in re.findall(r"\$\{([A-Z_]+)\}", template):
        assert blank in nginx, f"nginx's {blank} is not set"


def test_the_runtime_image_is_the_product_alone_run_by_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", dockerfile,
                             re.MULTILINE | re.DOTALL))
    assert set(stages) == {"runtime", "bench", "pgbouncer"}
    runtime = stages["runtime"]
    assert "--require-hashes -r requirements-serve.lock" in runtime
    assert re.search(r"^USER (?!root)\w+", runtime, re.MULTILINE)
    for package in ("assessment_twin", "assessment_bench", "assessment_dev"):
        assert f'"$site/{package}"' in runtime
    assert "wrk" in stages["bench"] and "--require-hashes -r requirements.lock" in stages["bench"]
    for stage in ("runtime", "bench"):
        assert "--no-deps --no-build-isolation ." in stages[stage]
    assert "USER postgres" in stages["pgbouncer"]  # PgBouncer refuses to run as root
