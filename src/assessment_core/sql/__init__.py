"""Every SQL statement of both apps, written once, in the .sql files beside this module.

A file holds named statements, each after a `-- name: <name>` line and the comments that
say what it does; parameters are `:name`. Both apps run the same text: asyncpg takes it
numbered (`$1`, `$2`, ... in order of first use), psycopg2 and psycopg 3 take it named
(`%(name)s`). The two forms are made once, when this module is imported, so running a
statement costs what the hand-written string cost.

    from assessment_core.sql import SQL
    await conn.fetchrow(SQL.upsert_response.asyncpg, *SQL.upsert_response.args(**values))
    conn.exec_driver_sql(SQL.upsert_response.psycopg, values)

(each app wraps those two lines once: assessment_async/infra/db.py, assessment_twin/db.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SQL", "Statement", "parse"]

# What a parameter can be mistaken for is matched first: a quoted string or identifier, a
# comment, a `::type` cast. What is left of the form `:name` is a parameter.
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|::|:([A-Za-z_]\w*)|%""")
# What this loader does not read, refused rather than misread: escape strings (E'...'),
# dollar-quoted bodies ($$...$$) and block comments, inside which a `:name` is not one.
_UNREAD = re.compile(r"""(?<![\w'])[eE]'|\$\w*\$|/\*""")
_RESERVED = {"get", "items", "keys", "values"}  # Mapping's own: SQL.keys would not be a query
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Statement:
    name: str
    doc: str  # the comment lines under its name
    params: tuple[str, ...]  # in order of first use: asyncpg's $1, $2, ...
    asyncpg: str
    psycopg: str

    def args(self, **values: Any) -> list[Any]:
        """The values in asyncpg's order; TypeError naming what is missing or unknown."""
        if len(values) != len(self.params) or not values.keys() >= set(self.params):
            missing = sorted(set(self.params) - values.keys())
            unknown = sorted(values.keys() - set(self.params))
            raise TypeError(f"{self.name}: missing {missing}, unknown {unknown}")
        return [values[name] for name in self.params]


def _compile(name: str, body: str) -> Statement:
    doc: list[str] = []
    lines = body.strip().splitlines()
    while lines and lines[0].startswith("--"):
        doc.append(lines.pop(0).removeprefix("--").strip())
    text = "\n".join(lines).strip().removesuffix(";")
    if name in _RESERVED:
        raise ValueError(f"a statement may not be named {name!r} (SQL.{name} is a method)")
    if (unread := _UNREAD.search(text)) is not None:
        raise ValueError(f"{name}: {unread.group(0)!r} is not read by this loader: write the "
                         "statement without escape strings, dollar quoting or block comments")
    params: list[str] = []

    def render(numbered: bool) -> str:
        out: list[str] = []
        last = 0
        for match in _TOKENS.finditer(text):
            token, param = match.group(0), match.group(1)
            if param is not None:
                if param not in params:
                    params.append(param)
                token = f"${params.index(param) + 1}" if numbered else f"%({param})s"
            elif token.startswith("--"):
                token = ""  # comments stay in the file, not on the wire
            elif not numbered:
                token = token.replace("%", "%%")  # psycopg reads % as a placeholder's start
            out.append(text[last:match.start()] + token)
            last = match.end()
        out.append(text[last:])
        return "".join(out)

    asyncpg = render(numbered=True)
    return Statement(name, " ".join(doc), tuple(params), asyncpg, render(numbered=False))


def parse(source: str) -> Iterator[Statement]:
    """The named statements of one .sql file's text."""
    parts = _NAME.split(source)
    if parts[0].strip():
        raise ValueError("SQL before the first '-- name:' line")
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        yield _compile(name, body)


class Statements(Mapping[str, Statement]):
    """The statements by name, also as attributes: SQL.upsert_response."""

    def __init__(self, folder: Path) -> None:
        self._by_name: dict[str, Statement] = {}
        for file in sorted(folder.glob("*.sql")):
            for statement in parse(file.read_text()):
                if statement.name in self._by_name:
                    raise ValueError(f"{file.name}: a second statement named {statement.name}")
                self._by_name[statement.name] = statement

    def __getattr__(self, name: str) -> Statement:
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no SQL statement named {name!r}") from None

    def __getitem__(self, name: str) -> Statement:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


SQL = Statements(Path(__file__).parent)
