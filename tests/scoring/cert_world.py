"""Scorecards for certification tests: rows as the scoring engineer's finalisation writes them, on a
contract in delivery built through the services (tests/contracts/world.py), and the audits behind
them made through the audit services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from contracts import audits
from contracts.models import AuditCheck, ContractKpi, Severity
from core import clock
from market.models import KpiSource
from scoring import certification
from scoring.models import Scorecard, Tier
from tests.contracts import world as cw
from tests.factories import ADMIN

START_IN_DAYS = 400
"""The contract starts on 2030-01-01; 400 days in, all four quarterly periods of 2030 are over."""


TIERS = ((90, Tier.A), (80, Tier.B), (70, Tier.C), (60, Tier.D))


def tier_of(composite: float) -> Tier:
    return next((tier for floor, tier in TIERS if composite >= floor), Tier.E)


async def build(session) -> cw.ContractWorld:
    return await cw.build(session, start_in_days=START_IN_DAYS)


async def scorecard(
    world: cw.ContractWorld,
    *,
    period_index: int,
    ends_on: dt.date,
    composite: float,
    base: str = "1000.00",
    ratings: int = 20,
    version: int = 1,
    contract=None,
) -> Scorecard:
    """A finalised scorecard of a period of the world's contract (or `contract`)."""
    session = world.session
    row = Scorecard(
        contract_id=(contract or world.contract).id,
        period_index=period_index,
        version=version,
        starts_on=ends_on - dt.timedelta(days=89),
        ends_on=ends_on,
        verified_units=10,
        deliveries_recorded=10,
        substantiated_complaints=0,
        ratings_counted=ratings,
        ratings_sum=ratings * 4,
        prior_mean=4.0,
        satisfaction=composite,
        kpi_score=composite,
        audit_score=composite,
        composite=composite,
        tier=tier_of(composite),
        payout_rate=Decimal("1.00"),
        base=Decimal(base),
        payout=Decimal(base),
        holdback=Decimal("0.00"),
        details={},
        finalized_at=await clock.now(session),
        reason="period finalised",
    )
    session.add(row)
    await session.flush()
    return row


async def audit(world: cw.ContractWorld, period_index: int, checks: list[tuple[Severity, bool]]):
    """The submitted audit of a period of the world's contract with these checklist items; the items."""
    session = world.session
    made = await audits.create_audit(
        session=session, actor=world.auditor, contract_id=world.contract.id, period_index=period_index
    )
    kpis = (
        await session.scalars(
            select(ContractKpi).where(
                ContractKpi.contract_id == world.contract.id, ContractKpi.source == KpiSource.AUDIT
            )
        )
    ).all()
    for kpi in kpis:
        await audits.record_kpi_value(
            session=session, actor=world.auditor, audit_id=made.id, kpi_id=kpi.id, value=kpi.target
        )
    for i, (severity, passed) in enumerate(checks):
        await audits.add_audit_check(
            session=session,
            actor=world.auditor,
            audit_id=made.id,
            check=audits.CheckSpec(f"item {i}", passed, 1.0, severity),
        )
    await audits.submit_audit(session=session, actor=world.auditor, audit_id=made.id)
    await session.flush()
    return made, (await session.scalars(select(AuditCheck).where(AuditCheck.audit_id == made.id))).all()


async def run(world: cw.ContractWorld, as_of: dt.date | None = None) -> certification.RunResult:
    result = await certification.run_certification(
        session=world.session, actor=ADMIN, as_of=as_of or await world.today()
    )
    await world.session.commit()
    return result


def issued_to(result: certification.RunResult, provider_id: int):
    """The certificate the run issued to the provider (exactly one)."""
    (found,) = [c for c in result.issued if c.provider_id == provider_id]
    return found
