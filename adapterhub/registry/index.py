"""The SQLite index that makes listing fast. It is a cache: it can always be rebuilt from the directories.

Schema changes are numbered migration functions, applied in order and recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from adapterhub.cards.card import Card
from adapterhub.registry.aliases import Split, Target
from adapterhub.registry.files import create_new, temporary_path

# Numbered schema migrations: MIGRATIONS[n] takes the schema from user_version n to n + 1.
MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        task TEXT NOT NULL,
        base_id TEXT NOT NULL,
        card TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX IF NOT EXISTS versions_task ON versions (task);
    CREATE INDEX IF NOT EXISTS versions_base ON versions (base_id);
    CREATE TABLE IF NOT EXISTS aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    );
    """,
    # weighted aliases: one row per version of a split, with its weight (NULL for a plain alias)
    """
    CREATE TABLE aliases_weighted (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        weight REAL,
        PRIMARY KEY (name, alias, version)
    );
    INSERT INTO aliases_weighted (name, alias, version) SELECT name, alias, version FROM aliases;
    DROP TABLE aliases;
    ALTER TABLE aliases_weighted RENAME TO aliases;
    """,
]


class IndexDamaged(Exception):
    """The index file cannot be read as an index (not SQLite, malformed pages, tables gone): being a cache, it is
    rebuilt from the directories."""


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """Open the index, migrate it to the current schema, and commit (or roll back) when the block ends.

    Raises :class:`IndexDamaged` when the file is not a readable index; a busy index still raises sqlite's own
    ``OperationalError`` ("database is locked"), which a rebuild would not cure."""
    try:
        with closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, len(MIGRATIONS)):
                db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;")
            db.execute("BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise
        raise IndexDamaged(f"{path.name} is not a readable index ({exc})") from exc


def replace_name(db: sqlite3.Connection, name: str, cards: Iterable[Card], aliases: dict[str, Target]) -> None:
    """Make the rows of ``name`` exactly ``cards`` and ``aliases`` (a split: one row per version, weighted)."""
    db.execute("DELETE FROM versions WHERE name = ?", (name,))
    db.execute("DELETE FROM aliases WHERE name = ?", (name,))
    db.executemany(
        "INSERT INTO versions (name, version, task, base_id, card) VALUES (?, ?, ?, ?, ?)",
        [(c.name, c.version, c.task, c.base.id, c.to_json()) for c in cards],
    )
    db.executemany(
        "INSERT INTO aliases (name, alias, version, weight) VALUES (?, ?, ?, ?)",
        [
            (name, alias, version, weight)
            for alias, target in aliases.items()
            for version, weight in (target.weights if isinstance(target, Split) else ((target, None),))
        ],
    )


def add(db: sqlite3.Connection, card: Card) -> None:
    """Add one newly published version (cost independent of how many versions exist)."""
    db.execute(
        "INSERT OR REPLACE INTO versions (name, version, task, base_id, card) VALUES (?, ?, ?, ?, ?)",
        (card.name, card.version, card.task, card.base.id, card.to_json()),
    )


def names(db: sqlite3.Connection) -> list[str]:
    """Every indexed name, sorted, without reading a card."""
    return [name for (name,) in db.execute("SELECT DISTINCT name FROM versions ORDER BY name")]


def select(
    db: sqlite3.Connection,
    name: str | None = None,
    task: str | None = None,
    base: str | None = None,
    after: tuple[str, int] | None = None,
    limit: int | None = None,
) -> list[tuple[Card, tuple[str, ...], tuple[tuple[str, float], ...]]]:
    """Cards (with their aliases, and their weight in each weighted one) matching the filters, by name then
    newest version first; ``after`` (a name and version) starts past that row and ``limit`` caps the count, so
    pages never repeat or skip a row."""
    where: list[str] = []
    args: list[object] = []
    for column, value in (("name", name), ("task", task), ("base_id", base)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if after is not None:
        where.append("(name > ? OR (name = ? AND version < ?))")
        args += [after[0], after[0], after[1]]
    sql = "SELECT name, version, card FROM versions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY name, version DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    aliases: dict[tuple[str, int], list[str]] = {}
    weights: dict[tuple[str, int], list[tuple[str, float]]] = {}
    for alias_name, alias, version, weight in db.execute(
        "SELECT name, alias, version, weight FROM aliases ORDER BY alias"
    ):
        aliases.setdefault((alias_name, version), []).append(alias)
        if weight is not None:
            weights.setdefault((alias_name, version), []).append((alias, weight))
    return [
        (Card.from_json(card, f"{n}@{v} in the index"), tuple(aliases.get((n, v), ())), tuple(weights.get((n, v), ())))
        for n, v, card in db.execute(sql, args)
    ]


def alias_rows(db: sqlite3.Connection) -> set[tuple[str, str, int, float | None]]:
    """Every (name, alias, version, weight) row, for comparing the index with the folders."""
    return set(db.execute("SELECT name, alias, version, weight FROM aliases"))


def rebuild(path: Path, names: Iterable[tuple[str, list[Card], dict[str, Target]]]) -> None:
    """Write a fresh index from the directories' content, then swap it in atomically."""
    tmp = temporary_path(path)
    os.close(create_new(tmp))  # sqlite would open a file or a symlink planted at the name; this refuses both
    try:
        with connect(tmp) as db:
            for name, cards, aliases in names:
                replace_name(db, name, cards, aliases)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
