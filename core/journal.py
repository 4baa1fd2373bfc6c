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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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
    session.info.setdefault(_PENDING, []).append(
        {
            "occurred_at": await clock.now(session),
            "actor_id": actor.user_id if actor else None,
            "action": action,
            "entity_type": type(entity).__name__,
            "entity_id": ":".join(str(part) for part in identity),
            "before": canonical_json(before) if before is not None else None,
            "after": None if deleted else canonical_json(snapshot(entity)),
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
    for values in pending:
        entry = JournalEvent(seq=head.seq + 1, prev_hash=head.hash, hash="", **values)
        entry.hash = event_hash(head.hash, entry)
        session.add(entry)
        head.seq, head.hash = entry.seq, entry.hash
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
    reason: str | None = None


async def verify(session: AsyncSession, *, batch_size: int = 1000) -> Verification:
    """Walk the chain from the start and name the first broken link."""
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    last_seq = 0
    while True:
        batch = (
            await session.scalars(
                select(JournalEvent)
                .where(JournalEvent.seq > last_seq)
                .order_by(JournalEvent.seq)
                .limit(batch_size)
            )
        ).all()
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected_seq:
                return Verification(
                    False, checked, expected_seq, f"event #{expected_seq} is missing (next is #{entry.seq})"
                )
            if entry.prev_hash != prev_hash:
                return Verification(
                    False, checked, entry.seq, f"event #{entry.seq} does not follow event #{entry.seq - 1}"
                )
            if event_hash(prev_hash, entry) != entry.hash:
                return Verification(
                    False,
                    checked,
                    entry.seq,
                    f"event #{entry.seq} ({entry.action} {entry.entity_type} {entry.entity_id}) "
                    "was altered: its content does not match its hash",
                )
            prev_hash, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
            last_seq = entry.seq
        session.expunge_all()
    head = await session.get(JournalHead, 1)
    head_seq = head.seq if head else 0
    if head_seq != checked:
        return Verification(
            False,
            checked,
            checked + 1,
            f"event #{checked + 1} is missing (the journal has {head_seq} events)",
        )
    if head and head.hash != prev_hash:
        return Verification(False, checked, checked, f"event #{checked} does not match the journal head")
    return Verification(True, checked)
