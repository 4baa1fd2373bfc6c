"""Database access: async engines for SQLite and PostgreSQL, sessions, column types.

`DATABASE_URL` is a plain SQLAlchemy URL (`sqlite:///var/market.db`,
`postgresql://user@host/db`); the async driver (aiosqlite, psycopg 3) is chosen
here, and migrations use the matching sync driver.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Enum, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from core.errors import DomainError, ErrorCode

# Stable constraint names: Alembic batch mode on SQLite needs named constraints.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")


ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str | URL, drivers: dict[str, str]) -> URL:
    url = make_url(url)
    backend = url.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return url.set(drivername=drivers[backend])


def async_url(url: str | URL) -> URL:
    """The URL with the async driver the app uses (aiosqlite, psycopg 3)."""
    return _with_driver(url, ASYNC_DRIVERS)


def sync_url(url: str | URL) -> URL:
    """The URL with the sync driver Alembic uses."""
    return _with_driver(url, SYNC_DRIVERS)


ROOT = Path(__file__).resolve().parents[1]


def alembic_config(url: str | None = None):
    """Alembic's configuration for this project; `url` overrides DATABASE_URL."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    if url:
        config.attributes["url"] = url
    return config


def ensure_sqlite_folder(url: str | URL) -> None:
    """Create the folder of a SQLite file so that the first run just works."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


# Whether new SQLite transactions take the write lock up front. True unless a caller
# declares it only reads (GraphQL queries): readers then do not queue behind writers.
_sqlite_writes: ContextVar[bool] = ContextVar("sqlite_writes", default=True)


@contextmanager
def sqlite_writes(enabled: bool) -> Iterator[None]:
    token = _sqlite_writes.set(enabled)
    try:
        yield
    finally:
        _sqlite_writes.reset(token)


def configure_sqlite(sync_engine) -> None:
    """Foreign keys, WAL, a busy timeout, and writer-serialising transactions.

    pysqlite's own transaction handling breaks SAVEPOINTs; we switch it off
    and emit BEGIN ourselves: BEGIN IMMEDIATE for work that may write, so that
    two writers queue on SQLite's lock instead of failing when the second one
    upgrades its read lock; a plain BEGIN where the caller only reads.
    """

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _sqlite_writes.get() else "BEGIN")


def create_engine(url: str | URL, **kwargs) -> AsyncEngine:
    ensure_sqlite_folder(url)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine.sync_engine)
    return engine


class CancelSafeSession(AsyncSession):
    """An AsyncSession whose database operations finish even when the awaiting task is cancelled.

    graphql-core cancels the sibling fields of a field that fails (`gather_with_cancel`). An
    operation cut off halfway leaves SQLAlchemy's session mid-state ("_connection_for_bind() is
    already in progress") and, on PostgreSQL, the connection unusable. Here the operation runs
    to its end first; the cancellation is raised after it, with the session in a sound state.
    """

    async def _to_the_end(self, operation):
        task = asyncio.ensure_future(operation)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await task
            raise

    async def execute(self, *args, **kwargs):
        return await self._to_the_end(super().execute(*args, **kwargs))

    async def scalar(self, *args, **kwargs):
        return await self._to_the_end(super().scalar(*args, **kwargs))

    async def scalars(self, *args, **kwargs):
        return await self._to_the_end(super().scalars(*args, **kwargs))

    async def get(self, *args, **kwargs):
        return await self._to_the_end(super().get(*args, **kwargs))

    async def flush(self, *args, **kwargs):
        return await self._to_the_end(super().flush(*args, **kwargs))

    async def commit(self):
        return await self._to_the_end(super().commit())

    async def rollback(self):
        return await self._to_the_end(super().rollback())

    async def refresh(self, *args, **kwargs):
        return await self._to_the_end(super().refresh(*args, **kwargs))

    async def connection(self, *args, **kwargs):
        return await self._to_the_end(super().connection(*args, **kwargs))

    async def run_sync(self, *args, **kwargs):
        return await self._to_the_end(super().run_sync(*args, **kwargs))


def create_sessionmaker(bind, **options) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=bind, class_=CancelSafeSession, **({"expire_on_commit": False, "autoflush": True} | options)
    )


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC (naive in SQLite, timestamptz in PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: times are stored in UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Money(TypeDecorator):
    """CNY as an exact Decimal with 2 places, stored as integer fen."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(to_money(value) * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


def to_money(value: Decimal | int | str) -> Decimal:
    """Round half-even to the fen."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def enum_type(enum_class) -> Enum:
    """An enum stored as its name in a VARCHAR: no native type to migrate, same on both databases."""
    return Enum(enum_class, native_enum=False, length=40, validate_strings=True)


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back on any error (nothing half-written).

    The API's mutations, the residents' pages and the command line all write through it.
    """
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


_COMMIT_CHECKS = "commit_checks"


def check_at_commit(session: AsyncSession, check) -> None:
    """Run `check()` as the very last step before COMMIT; if it raises, nothing is committed.

    For rules that must hold when the transaction commits, not when it began:
    a bid must be in before the deadline at the moment it is committed.
    """
    session.info.setdefault(_COMMIT_CHECKS, []).append(check)


def run_commit_checks(session) -> None:
    for check in session.info.pop(_COMMIT_CHECKS, []):
        check()


def drop_commit_checks(session) -> None:
    session.info.pop(_COMMIT_CHECKS, None)


# ---------------------------------------------------------------- text every database stores alike


def bad_text(value: str) -> str | None:
    """Why a text cannot be stored as it is (PostgreSQL refuses what SQLite would keep), or None."""
    if "\x00" in value:
        return "text must not contain NUL characters (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (it holds a lone surrogate)"
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@event.listens_for(Session, "before_flush")
def _text_fits_its_column(session, _flush_context, _instances) -> None:
    """The last line of defence for text: too long for its column, or unstorable, is a user error.

    The API checks its inputs' limits first; this keeps SQLite and PostgreSQL answering alike for
    whatever reaches a row by another path (the command line, a service, a limit forgotten).
    """

    for row in (*session.new, *session.dirty):
        for attribute in sa_inspect(row).mapper.column_attrs:
            value = getattr(row, attribute.key, None)
            if not isinstance(value, str):
                continue
            column_type = attribute.columns[0].type
            length = getattr(column_type, "length", None)
            if length is not None and len(value) > length:
                raise DomainError(
                    ErrorCode.INVALID, f"at most {length} characters", field=[_camel(attribute.key)]
                )
            if reason := bad_text(value):
                raise DomainError(ErrorCode.INVALID, reason, field=[_camel(attribute.key)])
