"""Rules of the contracts domain (SPEC §5). Reads the market through `market.tendering` only."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.models import Contract, ContractKpi
from core import journal
from core.auth import Actor
from core.db import to_money
from market import tendering


async def finalize_award(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Contract:
    """After the challenge period, with no challenge open: the award becomes public and the contract is made.

    Its terms are copied from the tender and the winning bid.
    """
    award = await tendering.close_award(session=session, actor=actor, tender_id=tender_id)
    tender, bid = award.tender, award.bid
    contract = Contract(
        tender_id=tender.id,
        bid_id=bid.id,
        provider_id=bid.provider_id,
        department_id=tender.department_id,
        package_id=tender.package_id,
        region_id=tender.region_id,
        unit_price=bid.unit_price,
        quantity=tender.quantity,
        total_value=to_money(bid.unit_price * tender.quantity),
        start_date=tender.start_date,
        periods=tender.periods,
        period_months=tender.period_months,
        satisfaction_weight=tender.satisfaction_weight,
        kpi_weight=tender.kpi_weight,
        audit_weight=tender.audit_weight,
        holdback_rate=tender.holdback_rate,
        payment_tiers=list(tender.payment_tiers),
        signed_at=tender.awarded_at,
    )
    session.add(contract)
    await session.flush()
    session.add_all(
        ContractKpi(
            contract_id=contract.id,
            position=k.position,
            name=k.name,
            unit=k.unit,
            target=k.target,
            direction=k.direction,
            weight=k.weight,
            source=k.source,
        )
        for k in await tendering.kpis_of(session, [tender.id])
    )
    await journal.record(session, actor=award.actor, action="contract.made", entity=contract)
    return contract


@dataclass(frozen=True)
class Period:
    index: int
    starts_on: dt.date
    ends_on: dt.date


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day when it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def periods(*, start_date: dt.date, count: int, months: int) -> list[Period]:
    """Consecutive payment periods of `months` each; a period ends the day before the next begins."""
    return [
        Period(
            index=i + 1,
            starts_on=add_months(start_date, i * months),
            ends_on=add_months(start_date, (i + 1) * months) - dt.timedelta(days=1),
        )
        for i in range(count)
    ]


async def contracts_by_tender(session: AsyncSession, tender_ids: Sequence[int]) -> list[Contract]:
    return list((await session.scalars(select(Contract).where(Contract.tender_id.in_(tender_ids)))).all())


async def contract_kpis(session: AsyncSession, contract_ids: Sequence[int]) -> list[ContractKpi]:
    return list(
        (
            await session.scalars(
                select(ContractKpi)
                .where(ContractKpi.contract_id.in_(contract_ids))
                .order_by(ContractKpi.contract_id, ContractKpi.position)
            )
        ).all()
    )
