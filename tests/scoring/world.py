"""A contract with periods to score: deliveries on chosen days, ratings, audits (tests/contracts/world.py).

The contract of `tests.contracts.world`: 1 200 visits at 100.00 (total 120 000.00), four quarterly
periods from 2030-01-01, KPIs 按时上门率 (AUDIT, target 95, weight 0.5), 服务完成率 (DELIVERY_RATE,
target 100, weight 0.3) and 有效投诉率 (COMPLAINT_RATE, target 1, lower is better, weight 0.2),
weights S 0.4 / K 0.4 / A 0.2, holdback 10%, the default tiers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from contracts import audits, complaints, lifecycle, ratings
from contracts import models as cm
from core import clock
from market.models import KpiSource
from tests.contracts import world as cw

PERIOD_ENDS = {
    1: dt.date(2030, 3, 31),
    2: dt.date(2030, 6, 30),
    3: dt.date(2030, 9, 30),
    4: dt.date(2030, 12, 31),
}

_phones = iter(range(10**7))


def phone() -> str:
    return f"139{next(_phones):08d}"


async def build(session, *, on: dt.date = dt.date(2030, 3, 20)) -> cw.ContractWorld:
    """The contract world with the clock at 10:00 on `on` (Asia/Shanghai)."""
    world = await cw.build(session)
    await move_to(world, on)
    return world


async def move_to(world: cw.ContractWorld, day: dt.date, hour: int = 10) -> None:
    target = dt.datetime.combine(day, dt.time(hour), tzinfo=clock.get_settings().zone)
    now = await world.now()
    if target > now:
        await world.advance((target - now).total_seconds() + 1)  # the clock moves in whole seconds


async def deliver(world: cw.ContractWorld, on: dt.date, units: int = 1, *, to: str | None = None):
    """A delivery on `on` (not after today); returns (delivery, link token)."""
    return await world.deliver(on=on, units=units, phone=to or phone())


async def rate(world: cw.ContractWorld, token: str, stars: int, address: str | None = None) -> None:
    await ratings.rate_delivery(
        session=world.session, token=token, rating=ratings.Stars(stars), client_address=address
    )
    await world.session.commit()


async def complaint(world: cw.ContractWorld, token: str, *, substantiated: bool | None) -> cm.Complaint:
    """A complaint through the link, resolved (substantiated or not) by the officer; None: left open."""
    filed = await complaints.file_complaint(session=world.session, token=token, category="LATE", text="迟到")
    if substantiated is not None:
        await complaints.close_complaint(
            session=world.session, actor=world.officer, complaint_id=filed.id, note="查实",
            substantiated=substantiated,
        )  # fmt: skip
    await world.session.commit()
    return filed


async def audit(
    world: cw.ContractWorld,
    index: int,
    *,
    value: float,
    checks: Sequence[tuple[float, bool]] = ((1.0, True),),
    submit: bool = True,
) -> tuple[cm.Audit, list[cm.AuditCheck]]:
    """The period's audit: 按时上门率 measured at `value`, checklist items (weight, passed), submitted."""
    session = world.session
    made = await audits.create_audit(session=session, actor=world.auditor, contract_id=world.contract.id,
                                     period_index=index)  # fmt: skip
    for kpi in await lifecycle.contract_kpis(session, [world.contract.id]):
        if kpi.source == KpiSource.AUDIT:
            await audits.record_kpi_value(
                session=session, actor=world.auditor, audit_id=made.id, kpi_id=kpi.id, value=value
            )
    for i, (weight, passed) in enumerate(checks):
        spec = audits.CheckSpec(f"检查项 {i + 1}", passed, weight, cm.Severity.MAJOR)
        await audits.add_audit_check(session=session, actor=world.auditor, audit_id=made.id, check=spec)
    if submit:
        await audits.submit_audit(session=session, actor=world.auditor, audit_id=made.id)
    await session.commit()
    from sqlalchemy import select

    items = (
        await session.scalars(
            select(cm.AuditCheck).where(cm.AuditCheck.audit_id == made.id).order_by(cm.AuditCheck.id)
        )
    ).all()
    return made, list(items)


async def appeal_and_decide(
    world: cw.ContractWorld, audit_row: cm.Audit, decisions: dict[int, bool]
) -> cm.Appeal:
    """The provider appeals these items; the officer upholds (True) or overturns (False) each."""
    appeal = await audits.appeal_audit(
        session=world.session, actor=world.provider, audit_id=audit_row.id, check_ids=list(decisions),
        reason="理由",
    )  # fmt: skip
    await world.session.commit()
    decided = await audits.decide_appeal(
        session=world.session, actor=world.officer, appeal_id=appeal.id,
        decisions=[audits.ItemDecision(check_id, upheld) for check_id, upheld in decisions.items()],
    )  # fmt: skip
    await world.session.commit()
    return decided
