"""Writing many rows at once, around the ORM: for bulk loads and set-based runs.

IDs come from one round trip (`reserve_ids`), so the caller knows them before writing and can
point other rows at them; `insert_rows` then COPYs the rows (PostgreSQL) or inserts up to a
thousand per statement (SQLite). Values go through their columns' own types (money in fen, enums,
JSON, UTC times), as an ORM flush would convert them. No ORM event runs: the caller keeps whatever
follows the rows (rollups, journal events) itself, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

SQLITE_PARAMETERS = 30_000
"""Bound values per SQLite statement (SQLite's own limit is 32,766)."""
SQLITE_ROWS = 1_000


async def reserve_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    """`count` new IDs of `table`: from its sequence on PostgreSQL; after the largest on SQLite.

    On SQLite a writing transaction holds the write lock (BEGIN IMMEDIATE) from its first statement,
    so nobody else takes these IDs meanwhile.
    """
    if count == 0:
        return []
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # The sequence's name once, then one round trip for the whole block of IDs.
        sequence = await session.scalar(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        )
        ids = await session.scalar(
            text("SELECT array_agg(nextval(CAST(:sequence AS regclass))) FROM generate_series(1, :n)"),
            {"sequence": sequence, "n": count},
        )
        return sorted(ids)
    largest = await session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    return list(range(largest + 1, largest + 1 + count))


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Write `rows` (dicts of Python values) into `table`, in the session's transaction.

    `columns`: the columns to write (default: every column of the table; each row must hold them).
    """
    if not rows:
        return
    columns = list(columns or table.c.keys())
    connection = await session.connection()
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]

    def values(row: dict[str, Any]) -> list[Any]:
        return [
            value if process is None or value is None else process(value)
            for value, process in zip((row[c] for c in columns), processors, strict=True)
        ]

    if dialect.name == "postgresql":
        raw = (await connection.get_raw_connection()).driver_connection
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        async with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row(values(row))
        return
    # The SQL is written here: SQLAlchemy's compiler takes longer over 1,000 rows of VALUES than SQLite.
    per_statement = max(1, min(SQLITE_ROWS, SQLITE_PARAMETERS // len(columns)))
    row_sql = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "  # noqa: S608 - names from the models
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        flat = [value for row in chunk for value in values(row)]
        await connection.exec_driver_sql(head + ", ".join([row_sql] * len(chunk)), tuple(flat))


@cache
def field_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The defaults a model's constructor would fill in, for rows written with `insert_rows`
    (fields with a default factory are left out: the caller gives those)."""
    return {
        name: info.default
        for name, info in model.model_fields.items()
        if not info.is_required() and info.default_factory is None
    }
