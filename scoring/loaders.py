"""DataLoaders of the scoring domain, one instance per request; `Visible…` ones apply `scoring.access`."""

from __future__ import annotations

from core.api import ContextLoader, by_key
from scoring import access
from scoring.models import Payment

# ---------------------------------------------------------------- payments


class VisiblePaymentByIdLoader(ContextLoader):
    """Payments by ID among those the caller may see; None for the others."""

    async def load_batch(self, session, keys):
        statement = access.visible_payments(self.ctx.actor).where(Payment.id.in_(keys))
        return by_key((await session.scalars(statement)).all(), keys, lambda row: row.id)
