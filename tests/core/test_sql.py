"""The shared statements: written once, run by both drivers, every one of them used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from assessment_core.sql import SQL, parse

SRC = Path(__file__).resolve().parents[2] / "src"
SQL_FILES = sorted((SRC / "assessment_core" / "sql").glob("*.sql"))


def test_parameters_are_numbered_for_asyncpg_and_named_for_psycopg() -> None:
    [statement] = parse("-- name: pick\n-- Pick one.\n"
                        "SELECT :a::int, ':not' AS \":nor\", 5 % 2 -- :c is a comment\n"
                        "WHERE x = :b AND y = :a;\n")
    assert (statement.name, statement.doc, statement.params) == ("pick", "Pick one.", ("a", "b"))
    assert statement.asyncpg == ("SELECT $1::int, ':not' AS \":nor\", 5 % 2 \n"
                                 "WHERE x = $2 AND y = $1")
    assert statement.psycopg == ("SELECT %(a)s::int, ':not' AS \":nor\", 5 %% 2 \n"
                                 "WHERE x = %(b)s AND y = %(a)s")
    assert statement.args(b=2, a=1) == [1, 2]


def test_a_percent_sign_in_a_string_is_doubled_for_psycopg_only() -> None:
    [statement] = parse("-- name: like\nSELECT 'a%' || :x, 'e', 5 % 2 WHERE y LIKE '50%';")
    assert statement.asyncpg == "SELECT 'a%' || $1, 'e', 5 % 2 WHERE y LIKE '50%'"
    assert statement.psycopg == "SELECT 'a%%' || %(x)s, 'e', 5 %% 2 WHERE y LIKE '50%%'"


@pytest.mark.parametrize(("sql", "refused"), [
    ("-- name: escape\nSELECT E'it''s', :x;", "E'"),
    ("-- name: dollars\nSELECT $$ :x $$;", "$$"),
    ("-- name: block\nSELECT /* :x */ 1;", "/*"),
])
def test_what_the_loader_cannot_read_is_refused(sql: str, refused: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(refused))):
        list(parse(sql))


def test_a_statement_cannot_hide_behind_a_mapping_method() -> None:
    with pytest.raises(ValueError, match="may not be named 'items'"):
        list(parse("-- name: items\nSELECT 1;"))


def test_a_call_with_missing_or_unknown_values_names_them() -> None:
    named = r"upsert_response: missing \['answer'\], unknown \['anser'\]"
    with pytest.raises(TypeError, match=named):
        SQL.upsert_response.args(session_id=1, token_hash=b"", instrument="phq9",
                                 question_id=1, anser=2)


def test_an_unknown_statement_and_sql_before_the_first_name_are_refused() -> None:
    with pytest.raises(AttributeError, match="no SQL statement named 'upsert_answer'"):
        SQL.upsert_answer  # noqa: B018
    with pytest.raises(ValueError, match="before the first"):
        list(parse("SELECT 1;\n-- name: x\nSELECT 2;"))


def python_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in SRC.rglob("*.py")
            if "migrations" not in path.parts}


def statements_used() -> dict[str, set[str]]:
    """Each `SQL.<name>` in the code (attribute nodes, not docstrings), by package."""
    used: dict[str, set[str]] = {}
    for path, text in python_sources().items():
        package = path.relative_to(SRC).parts[0]
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "SQL"):
                used.setdefault(package, set()).add(node.attr)
    return used


def test_every_statement_is_used_by_an_app_and_every_use_exists() -> None:
    used = statements_used()
    by_apps = used.get("assessment_async", set()) | used.get("assessment_twin", set())
    assert sorted(set().union(*used.values()) - set(SQL)) == []
    # The bench may run the apps' statements; every statement is there for an app.
    assert sorted(set(SQL) - by_apps) == []


def test_no_statement_is_written_outside_the_sql_files() -> None:
    """Each table's INSERT and UPDATE (and any DELETE) is in assessment_core/sql alone."""
    writes = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b")
    assert [str(path) for path, text in python_sources().items() if writes.search(text)] == []


def test_the_token_is_checked_in_one_place() -> None:
    """Every statement that authenticates selects from session_for_token(); the predicate
    itself is written once, in the migration that creates that function."""
    predicate = re.compile(r"token_hash\s*=")
    sql_text = "".join(path.read_text() for path in SQL_FILES)
    assert not predicate.search(sql_text)
    authenticating = [s.name for s in SQL.values() if "session_for_token(" in s.asyncpg]
    assert sorted(authenticating) == ["select_owner_and_history", "select_session_id_by_token",
                                      "upsert_response", "upsert_responses"]
    migrations = (SRC / "assessment_core" / "migrations" / "versions").glob("*.py")
    assert sum(len(predicate.findall(path.read_text())) for path in migrations) == 1
