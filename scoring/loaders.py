"""DataLoaders of the scoring domain, one instance per request; they apply `scoring.access`."""

from __future__ import annotations

from sqlalchemy import and_, func, select

from core.api import ContextLoader, by_key
from scoring import access, certification
from scoring.models import Payment, PaymentKind, Scorecard


class ScorecardByPeriodLoader(ContextLoader):
    """The current scorecard of each (contract ID, period index): public with the contract's summary."""

    async def load_batch(self, session, keys):
        contract_ids = list(dict.fromkeys(contract_id for contract_id, _ in keys))
        latest = (
            select(
                Scorecard.contract_id, Scorecard.period_index, func.max(Scorecard.version).label("version")
            )
            .where(Scorecard.contract_id.in_(contract_ids))
            .group_by(Scorecard.contract_id, Scorecard.period_index)
            .subquery()
        )
        rows = (
            await session.scalars(
                select(Scorecard).join(
                    latest,
                    and_(
                        latest.c.contract_id == Scorecard.contract_id,
                        latest.c.period_index == Scorecard.period_index,
                        latest.c.version == Scorecard.version,
                    ),
                )
            )
        ).all()
        return by_key(rows, keys, lambda row: (row.contract_id, row.period_index))


class PeriodPaymentByPeriodLoader(ContextLoader):
    """The PERIOD payment of each (contract ID, period index), for those who may see the contract's
    payments; None for the others (no statement for the anonymous public)."""

    async def load_batch(self, session, keys):
        if self.ctx.actor is None:
            return [None for _ in keys]
        contract_ids = list(dict.fromkeys(contract_id for contract_id, _ in keys))
        rows = (
            await session.scalars(
                access.visible_payments(self.ctx.actor).where(
                    Payment.contract_id.in_(contract_ids), Payment.kind == PaymentKind.PERIOD
                )
            )
        ).all()
        return by_key(rows, keys, lambda row: (row.contract_id, row.period_index))


class VisiblePaymentByIdLoader(ContextLoader):
    async def load_batch(self, session, keys):
        if self.ctx.actor is None:
            return [None for _ in keys]
        rows = (
            await session.scalars(access.visible_payments(self.ctx.actor).where(Payment.id.in_(keys)))
        ).all()
        return by_key(rows, keys, lambda row: row.id)


class CurrentCertificateByProviderLoader(ContextLoader):
    """Each provider's current certificate (or None), for a page of providers in one statement."""

    async def load_batch(self, session, keys):
        current = await certification.current_certificates(session, keys)
        return [current.get(key) for key in keys]
