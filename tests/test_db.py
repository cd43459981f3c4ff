"""Which failures mean the database is unreachable (503) rather than a bug (500)."""

from __future__ import annotations

import asyncpg

from assessment_async.infra.db import database_unavailable


def test_a_connection_the_server_is_terminating_counts_as_unavailable() -> None:
    error = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) "
                                        "is in progress")
    assert database_unavailable(error)


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as refused:
            raise RuntimeError("checkout failed") from refused
    except RuntimeError as error:
        assert database_unavailable(error)


def test_a_plain_bug_is_not_an_outage() -> None:
    assert not database_unavailable(ValueError("bad value"))
    assert not database_unavailable(asyncpg.UniqueViolationError("duplicate key"))
