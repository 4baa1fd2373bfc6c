"""The journal (SPEC §8): every state change appends a hash-chained event.

Services call `record()` while they work; the events are written when the
session commits (a `before_commit` hook), so they land in the same transaction
as the change and a rolled-back mutation leaves no event behind. Appending
locks the single `journal_head` row; taking it last, at commit, keeps the
lock order the same in every transaction.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import LargeBinary, cast, event, extract, func, insert, inspect, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from core import clock
from core.auth import Actor
from core.db import drop_commit_checks, run_commit_checks
from core.models import JournalEvent, JournalHead

_PENDING = "journal_pending"
GENESIS_HASH = "0" * 64


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, default=plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def snapshot(entity: Any) -> dict[str, Any]:
    """The entity's column values; columns listed in `__journal_redact__` are left out."""
    redacted = getattr(entity, "__journal_redact__", ())
    return {
        attr.key: plain(getattr(entity, attr.key))
        for attr in inspect(entity).mapper.column_attrs
        if attr.key not in redacted
    }


async def record(
    session: AsyncSession,
    *,
    actor: Actor | None,
    action: str,
    entity: Any,
    before: dict[str, Any] | None = None,
    deleted: bool = False,
) -> None:
    """Queue one event; it is written, chained, when the session commits."""
    identity = inspect(entity).identity
    if identity is None:
        await session.flush()
        identity = inspect(entity).identity
    await record_row(
        session,
        actor=actor,
        action=action,
        entity_type=type(entity).__name__,
        entity_id=":".join(str(part) for part in identity),
        before=before,
        after=None if deleted else snapshot(entity),
    )


async def record_row(
    session: AsyncSession,
    *,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None,
) -> None:
    """`record` for a row written around the ORM (`core.bulk`): `after` holds every column's value,
    as `snapshot` of the entity would."""
    session.info.setdefault(_PENDING, []).append(
        {
            "occurred_at": await clock.now(session),
            "actor_id": actor.user_id if actor else None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "before": canonical_json(before) if before is not None else None,
            "after": canonical_json(after) if after is not None else None,
        }
    )


def event_hash(prev_hash: str, event: JournalEvent) -> str:
    content = canonical_json(
        [
            event.seq,
            plain(event.occurred_at),
            event.actor_id,
            event.action,
            event.entity_type,
            event.entity_id,
            event.before,
            event.after,
        ]
    )
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _append_pending(session)
    # Last, so that the time checks run as close to COMMIT as we can get.
    run_commit_checks(session)


def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    head = session.execute(
        select(JournalHead)
        .where(JournalHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        head = JournalHead(id=1, seq=0, hash=GENESIS_HASH)
        session.add(head)
    rows = []
    for values in pending:
        entry = SimpleNamespace(seq=head.seq + 1, prev_hash=head.hash, hash="", **values)
        entry.hash = event_hash(head.hash, entry)
        rows.append(vars(entry))
        head.seq, head.hash = entry.seq, entry.hash
    session.flush()  # the head (new, or its ORM state) first
    session.execute(insert(JournalEvent), rows)  # one executemany, not an ORM object per event
    session.flush()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    drop_commit_checks(session)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    """The first broken event's number (None when intact, or when the head is what is broken)."""
    reason: str | None = None
    """One line naming the broken event, or the head, and what is wrong with it."""
    at_head: bool = False


# Reading for verification goes around the ORM's type processing: a raw UPDATE can write anything
# SQLite's dynamic typing accepts (text in an integer column, garbage in a datetime column, bytes,
# text that is not UTF-8), which the ORM would choke on. Each value is read as the database holds
# it, checked for the type the journal writes, and only then hashed.
EVENT_COLUMNS = (
    "seq", "occurred_at", "actor_id", "action", "entity_type", "entity_id",
    "before", "after", "prev_hash", "hash",
)  # fmt: skip
HEAD_COLUMNS = ("id", "seq", "hash")
_SQLITE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6})")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Undecodable:
    """SQLite text that is not UTF-8 (written with a CAST of bytes)."""

    data: bytes


class _Broken(Exception):
    """A value is not of the type the journal writes; the message completes "its …"."""


def _raw_select(table, columns: Sequence[str], dialect: str):
    """SELECT of the columns as stored: SQLite's typeof() and bytes of each, elsewhere the driver's value."""
    raw: list = []
    for name in columns:
        column = table.c[name]
        if dialect == "sqlite":
            raw.append(func.typeof(column).label(f"{name}__type"))
            raw.append(type_coerce(cast(column, LargeBinary), NullType()).label(name))
        elif name == "occurred_at" and dialect == "postgresql":
            # psycopg cannot load 'infinity' or years outside 1..9999; the epoch (numeric) it can.
            raw.append(type_coerce(extract("epoch", column), NullType()).label(name))
        else:
            raw.append(type_coerce(column, NullType()).label(name))
    return select(*raw)


def _decode(row, columns: Sequence[str], dialect: str) -> dict[str, Any]:
    values = {}
    for name in columns:
        value = row._mapping[name]
        if dialect == "sqlite":
            kind, data = row._mapping[f"{name}__type"], value
            if kind == "null":
                value = None
            elif kind == "integer":
                value = int(data)
            elif kind == "real":
                value = float(data)
            elif kind == "text":
                try:
                    value = bytes(data).decode("utf-8")
                except UnicodeDecodeError:
                    value = _Undecodable(bytes(data))
            else:
                value = bytes(data)
        values[name] = value
    return values


def _shown(value: Any) -> str:
    """A value as a message shows it: on one line, and short."""
    if value is None:
        return "nothing (NULL)"
    if isinstance(value, _Undecodable):
        return f"{len(value.data)} bytes of text that is not UTF-8"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{len(value)} bytes of binary data"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        return f"the text {text!r}"
    return f"the value {value!r}"


def _integer(value: Any, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Broken(f"holds {_shown(value)}, not a whole number")


def _text(value: Any, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if isinstance(value, str):
        return value
    raise _Broken(f"holds {_shown(value)}, not text")


def _moment(value: Any, dialect: str) -> dt.datetime:
    """An occurred_at as the journal writes it (SQLite: UTC text to the microsecond), as an aware UTC time."""
    try:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        if isinstance(value, decimal.Decimal | float) and dialect != "sqlite":
            # Seconds since 1970 (PostgreSQL's EXTRACT(epoch …), numeric from version 14).
            micro = decimal.Decimal(str(value)) * 1_000_000
            if micro.is_finite() and micro == micro.to_integral_value():
                return _EPOCH + dt.timedelta(microseconds=int(micro))
        if isinstance(value, str) and dialect == "sqlite" and (match := _SQLITE_TIME.fullmatch(value)):
            return dt.datetime(*(int(part) for part in match.groups()), tzinfo=dt.UTC)
    except (ValueError, OverflowError, ArithmeticError):
        pass
    raise _Broken(f"holds {_shown(value)}, not a time")


def _event(values: dict[str, Any], dialect: str) -> SimpleNamespace:
    """The row's values as the journal wrote them, for hashing; _Broken names the first ill-typed column."""
    checked: dict[str, Any] = {}
    for name, check in (
        ("occurred_at", lambda v: _moment(v, dialect)),
        ("actor_id", lambda v: _integer(v, nullable=True)),
        ("action", _text),
        ("entity_type", _text),
        ("entity_id", _text),
        ("before", lambda v: _text(v, nullable=True)),
        ("after", lambda v: _text(v, nullable=True)),
        ("prev_hash", _text),
        ("hash", _text),
    ):
        try:
            checked[name] = check(values[name])
        except _Broken as broken:
            raise _Broken(f"its {name} {broken}") from None
    return SimpleNamespace(seq=values["seq"], **checked)


def _label(text: str) -> str:
    """Text from a row, safe in a one-line message."""
    return text if text.isprintable() else repr(text)


async def verify(session: AsyncSession, *, batch_size: int = 1000) -> Verification:
    """Walk the chain from the start and name the first broken event, or the head."""
    dialect = (await session.connection()).dialect.name
    events = JournalEvent.__table__
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    last_seq: int | None = None

    def broken(seq: int, reason: str) -> Verification:
        return Verification(False, checked, seq, reason)

    while True:
        query = _raw_select(events, EVENT_COLUMNS, dialect).order_by(events.c.seq).limit(batch_size)
        if last_seq is not None:
            query = query.where(events.c.seq > last_seq)
        rows = (await session.execute(query)).all()
        if not rows:
            break
        for row in rows:
            values = _decode(row, EVENT_COLUMNS, dialect)
            seq = values["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool):
                return broken(
                    expected_seq,
                    f"event #{expected_seq} is missing: the next event's seq holds {_shown(seq)}",
                )
            if seq > expected_seq:
                return broken(expected_seq, f"event #{expected_seq} is missing (next is #{seq})")
            if seq < expected_seq:
                return broken(
                    seq, f"event #{seq} is out of sequence (#{expected_seq} is next; numbers start at #1)"
                )
            try:
                entry = _event(values, dialect)
            except _Broken as problem:
                return broken(seq, f"event #{seq} was altered: {problem}")
            if entry.prev_hash != prev_hash:
                return broken(
                    seq,
                    f"event #{seq} does not follow event #{seq - 1}: its prev_hash is not #{seq - 1}'s hash",
                )
            if event_hash(prev_hash, entry) != entry.hash:
                what = " ".join(_label(part) for part in (entry.action, entry.entity_type, entry.entity_id))
                return broken(seq, f"event #{seq} ({what}) was altered: its content does not match its hash")
            prev_hash, expected_seq, checked, last_seq = entry.hash, expected_seq + 1, checked + 1, seq
    return await _verify_head(session, dialect, checked, prev_hash)


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


async def _verify_head(session: AsyncSession, dialect: str, checked: int, last_hash: str) -> Verification:
    """The head must be one row (id 1) naming the last event: its number and its hash."""

    def broken(reason: str, seq: int | None = None) -> Verification:
        return Verification(False, checked, seq, reason, at_head=seq is None)

    heads = JournalHead.__table__
    rows = (await session.execute(_raw_select(heads, HEAD_COLUMNS, dialect).order_by(heads.c.id))).all()
    if not rows:
        return broken("the journal head is missing: journal_head has no row")
    if len(rows) > 1:
        return broken(f"the journal head has {len(rows)} rows in journal_head; it must have one, with id 1")
    head = _decode(rows[0], HEAD_COLUMNS, dialect)
    if head["id"] != 1:
        return broken(f"the journal head's id holds {_shown(head['id'])}, not 1")
    try:
        head_seq = _integer(head["seq"])
    except _Broken as problem:
        return broken(f"the journal head's seq {problem}")
    try:
        head_hash = _text(head["hash"])
    except _Broken as problem:
        return broken(f"the journal head's hash {problem}")
    last = f"that of event #{checked}, the last one" if checked else "the genesis hash of an empty chain"
    if head_seq == checked:
        if head_hash != last_hash:
            return broken(f"the journal head's hash is not {last}")
        return Verification(True, checked)
    if head_seq > checked:
        if head_hash == last_hash:
            return broken(
                f"the journal head was altered: it counts {_events(head_seq)}, but its hash is {last}"
            )
        return broken(
            f"event #{checked + 1} is missing (the journal head counts {_events(head_seq)})", checked + 1
        )
    # The head counts fewer events than the chain holds.
    if head_seq < 0:
        return broken(f"the journal head's seq is {head_seq}: it counts no such number of events")
    events = JournalEvent.__table__
    # Events up to `checked` were read and checked above: this hash is plain text.
    hash_at_head = GENESIS_HASH
    if head_seq > 0:
        hash_at_head = await session.scalar(select(events.c.hash).where(events.c.seq == head_seq))
    if head_hash == hash_at_head:
        return broken(
            f"the journal head was set back: it ends at event #{head_seq}, "
            f"but the chain goes on to event #{checked}"
        )
    return broken(
        f"the journal head counts {_events(head_seq)} and matches none of them; the chain has {checked}"
    )
