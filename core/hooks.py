"""Hooks: an upstream domain says what happened; a downstream one, installed by the composition root,
reacts in the same transaction.

Data flows market → contracts → scoring and no upstream module imports a downstream one, yet some
upstream changes have downstream consequences (an appeal decided after its period was scored, a
contract completed, a bulk load of ratings). The upstream service calls `await emit(session, NAME,
...)`; `app.py` has each downstream part `subscribe` its handlers once (e.g. `scoring.hooks.install`).
A handler runs inside the caller's unit of work: what it writes commits or rolls back with the change
that caused it, and a `DomainError` it raises is the caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

APPEAL_DECIDED = "appeal.decided"
"""An officer decided an appeal of audit items: `appeal`, `audit`, `actor`."""
CONTRACT_COMPLETED = "contract.completed"
"""A contract was completed after its term: `contract`, `actor`."""
DELIVERIES_BULK_WRITTEN = "deliveries.bulk_written"
"""A bulk load wrote deliveries and ratings with Core inserts (no ORM events): `contract_id`,
`deliveries` and `ratings` (the rows written, as dicts of column values)."""

Handler = Callable[..., Awaitable[None]]
_handlers: dict[str, list[Handler]] = {}


def subscribe(name: str, handler: Handler) -> None:
    """Run `handler(session, **details)` whenever `name` is emitted; subscribing twice is one subscription."""
    handlers = _handlers.setdefault(name, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    if handler in _handlers.get(name, []):
        _handlers[name].remove(handler)


def subscribers(name: str) -> list[Handler]:
    return list(_handlers.get(name, []))


async def emit(session: AsyncSession, name: str, **details: Any) -> None:
    """Run the handlers subscribed to `name`, in order, in the caller's transaction."""
    for handler in list(_handlers.get(name, [])):
        await handler(session, **details)
