"""The tuning step's choice: the setting with the best geometric mean against the default,
over every swept scenario; and what `run --full` reads of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assessment_bench.modes import MODES
from assessment_bench.sweep import GRID, SWEPT_AS, best, overrides, settings_of


def rows(table: dict[str, dict[str, list[int]]]) -> list[dict[str, Any]]:
    out = []
    for pool, scenarios in table.items():
        for scenario, values in scenarios.items():
            out += [{"variant": "asgi", "setting": {"DB_POOL_SIZE": pool}, "repeat": r + 1,
                     "scenario": scenario, "headline": v} for r, v in enumerate(values)]
    return out


def test_the_grid_is_every_combination() -> None:
    assert len(settings_of("gthread")) == 9 and len(settings_of("asgi")) == 3
    assert {"DB_POOL_SIZE": "10", "THREADS": "32"} in settings_of("gthread")


def test_a_setting_must_help_over_all_scenarios_to_be_chosen() -> None:
    # 32 doubles db-latency and halves phq-save (worth the default); 64 helps both a little.
    table = {"10": {"phq-save": [1000, 1010], "db-latency": [500, 505]},
             "32": {"phq-save": [500, 505], "db-latency": [1000, 1010]},
             "64": {"phq-save": [1050, 1060], "db-latency": [520, 530]}}
    choice = best(rows(table), "asgi")
    assert choice["setting"] == {"DB_POOL_SIZE": "64"}
    assert 1.0 < choice["score"] < 1.1
    assert abs(choice["scores"]['{"DB_POOL_SIZE": "32"}'] - 1.0) < 0.01


def test_the_default_stays_when_nothing_beats_it(tmp_path: Path) -> None:
    table = {"10": {"phq-save": [1000]}, "32": {"phq-save": [900]}}
    choice = best(rows(table), "asgi")
    assert choice["setting"] == {"DB_POOL_SIZE": "10"}
    recorded = tmp_path / "latest.json"
    recorded.write_text(json.dumps({"best": {"asgi": choice, "gthread": {"setting": {}}}}))
    chosen = overrides(recorded)
    assert chosen["asgi"] == {"DB_POOL_SIZE": "10"} and "gthread" not in chosen
    assert overrides(tmp_path / "none.json") == {}


def test_a_lever_switch_runs_at_its_base_variants_setting(tmp_path: Path) -> None:
    recorded = tmp_path / "latest.json"
    recorded.write_text(json.dumps({"best": {
        "asgi": {"setting": {"DB_POOL_SIZE": "64"}},
        "gevent-tuned": {"setting": {"DB_POOL_SIZE": "32"}}}}))
    chosen = overrides(recorded)
    for variant in ("asgi-no-group-commit", "asgi-no-admission", "asgi-hypercorn"):
        assert chosen[variant] == {"DB_POOL_SIZE": "64"}
    assert chosen["gevent-tuned-no-group-commit"] == {"DB_POOL_SIZE": "32"}
    assert "gevent" not in chosen  # gevent-green was not in this sweep
    # Every variant the full run measures has its setting from the sweep, its own or its base's.
    assert set(SWEPT_AS) | set(GRID) == set(MODES["full"].variants)
