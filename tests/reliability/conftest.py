"""Fixtures for the fault suite: the stack a fault drives (database, fake LLM, a work folder)."""

from __future__ import annotations

import tempfile
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
def _own_stack(fake_llm_url: str) -> Iterator[Stack]:
    """A PostgreSQL of its own (own data folder and port), for faults that stop it.

    Its folder is not under pytest's temporary tree: another pytest session starting on the
    machine resets that tree's root to mode 0700, which locks out PostgreSQL's own user.
    """
    with tempfile.TemporaryDirectory(prefix="assessment-own-postgres-") as folder, \
            dedicated_stack(Path(folder), fake_llm_url) as stack:
        yield stack
