"""What scoring does when upstream things happen; `install()` is called once by the composition root.

- every flush: the period rollups follow deliveries, ratings and complaints (`scoring.rollups`);
- a bulk load of deliveries and ratings: their counts are added to the rollups;
- an appeal decided: the period is rescored if it was finalised (`scorecards.rescore_after_appeal`);
- a contract completed: its holdback is settled if nothing can change its scorecards any more.
"""

from __future__ import annotations

from core import hooks
from scoring import rollups, scorecards


async def _appeal_decided(session, *, appeal, audit, actor) -> None:
    await scorecards.rescore_after_appeal(session, appeal=appeal, audit=audit, actor=actor)


async def _contract_completed(session, *, contract, actor) -> None:
    await scorecards.settle_holdback(session, actor=actor, contract_id=contract.id)


async def _bulk_written(session, *, contract_id, deliveries, ratings) -> None:
    await rollups.add_bulk_rows(session, contract_id=contract_id, deliveries=deliveries, ratings=ratings)


SUBSCRIPTIONS = (
    (hooks.APPEAL_DECIDED, _appeal_decided),
    (hooks.CONTRACT_COMPLETED, _contract_completed),
    (hooks.DELIVERIES_BULK_WRITTEN, _bulk_written),
)


def install() -> None:
    """Subscribe scoring to the upstream hooks and the rollups to every flush (idempotent)."""
    rollups.install()
    for name, handler in SUBSCRIPTIONS:
        hooks.subscribe(name, handler)


def installed() -> bool:
    return rollups.installed() and all(handler in hooks.subscribers(name) for name, handler in SUBSCRIPTIONS)
