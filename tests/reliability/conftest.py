"""Fixtures for the fault suite: the stack a fault drives (database, fake LLM, a work folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assessment_bench.reliability.lifecycle import dedicated_stack
from assessment_bench.reliability.server import Stack


@pytest.fixture(name="stack")
def _stack(database_url: str, fake_llm_url: str, tmp_path: Path) -> Stack:
    """The shared test cluster: faults that stop PostgreSQL must not use this one."""
    return Stack(database_url=database_url, llm_url=fake_llm_url, workdir=tmp_path,
                 postgres=None)


@pytest.fixture(name="own_stack", scope="session")
def _own_stack(fake_llm_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A PostgreSQL of its own (own data folder and port), for faults that stop it."""
    with dedicated_stack(tmp_path_factory.mktemp("own-postgres"), fake_llm_url) as stack:
        yield stack
