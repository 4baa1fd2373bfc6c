"""Third-party audits (第三方评估, SPEC §5.6): the assigned firm audits each contract period (measured KPI
values, a weighted checklist, spot checks of deliveries); the provider appeals items of a submitted
audit within 10 days and the department's officer decides each item."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import access, lifecycle
from contracts.models import (
    Appeal,
    Audit,
    AuditCheck,
    AuditKpiValue,
    AuditStatus,
    Contract,
    ContractKpi,
    Delivery,
    Severity,
)
from core import clock, hooks, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator
from market.models import KpiSource

APPEAL_DAYS = dt.timedelta(days=10)


async def create_audit(*, session: AsyncSession, actor: Actor, contract_id: int, period_index: int) -> Audit:
    """An auditor of the assigned firm starts the audit of one period (one audit per period)."""
    contract = await session.get(Contract, contract_id)
    if contract is None or not access.is_assigned_auditor(actor, contract):
        raise DomainError(
            ErrorCode.NOT_FOUND, "no contract with this ID assigned to your firm", field=["contractId"]
        )
    if not 1 <= period_index <= contract.periods:
        raise DomainError(
            ErrorCode.INVALID, f"the contract has periods 1 to {contract.periods}", field=["periodIndex"]
        )
    if await session.scalar(
        select(exists().where(Audit.contract_id == contract.id, Audit.period_index == period_index))
    ):
        raise DomainError(ErrorCode.ALREADY_EXISTS, "this period has an audit already", field=["periodIndex"])
    audit = Audit(
        contract_id=contract.id,
        period_index=period_index,
        audit_firm_id=contract.audit_firm_id,
        auditor_id=actor.user_id,
        created_at=await clock.now(session),
    )
    session.add(audit)
    await journal.record(session, actor=actor, action="audit.created", entity=audit)
    return audit


async def _draft_audit(session: AsyncSession, actor: Actor, audit_id: int) -> tuple[Audit, Contract]:
    """A DRAFT audit, locked, for its firm's auditors; for others it does not exist."""
    audit = await session.get(Audit, audit_id, with_for_update=True)
    contract = await session.get(Contract, audit.contract_id) if audit else None
    if audit is None or not access.may_work_on_audit(actor, audit, contract):
        raise DomainError(ErrorCode.NOT_FOUND, "no audit with this ID", field=["auditId"])
    if audit.status != AuditStatus.DRAFT:
        raise DomainError(ErrorCode.INVALID_STATE, "the audit is submitted")
    return audit, contract


async def record_kpi_value(
    *, session: AsyncSession, actor: Actor, audit_id: int, kpi_id: int, value: float
) -> Audit:
    """The measured value of one of the contract's AUDIT KPIs (again: the new value)."""
    audit, contract = await _draft_audit(session, actor, audit_id)
    kpi = await session.get(ContractKpi, kpi_id)
    if kpi is None or kpi.contract_id != contract.id:
        raise DomainError(ErrorCode.NOT_FOUND, "no KPI of this contract with this ID", field=["kpiId"])
    if kpi.source != KpiSource.AUDIT:
        raise DomainError(
            ErrorCode.INVALID,
            f"{kpi.name} is computed ({kpi.source.value}), not measured by audit",
            field=["kpiId"],
        )
    if value < 0:
        raise DomainError(ErrorCode.INVALID, "a measured value cannot be negative", field=["value"])
    entry = await session.get(AuditKpiValue, (audit.id, kpi.id))
    before = journal.snapshot(entry) if entry else None
    entry = entry or AuditKpiValue(audit_id=audit.id, kpi_id=kpi.id, value=value)
    entry.value = value
    session.add(entry)
    await journal.record(session, actor=actor, action="audit.kpi_value_recorded", entity=entry, before=before)
    return audit


@dataclass(frozen=True)
class CheckSpec:
    item: str
    passed: bool
    weight: float
    severity: Severity
    note: str | None = None
    evidence: str | None = None


async def add_audit_check(*, session: AsyncSession, actor: Actor, audit_id: int, check: CheckSpec) -> Audit:
    audit, _contract = await _draft_audit(session, actor, audit_id)
    problems = Validator()
    problems.check(bool(check.item.strip()), "name the checklist item", field=["input", "item"])
    problems.check(check.weight > 0, "a weight is above 0", field=["input", "weight"])
    problems.raise_if_any()
    entry = AuditCheck(
        audit_id=audit.id,
        item=check.item.strip(),
        passed=check.passed,
        weight=check.weight,
        severity=check.severity,
        note=(check.note or "").strip() or None,
        evidence=(check.evidence or "").strip() or None,
    )
    session.add(entry)
    await journal.record(session, actor=actor, action="audit.check_added", entity=entry)
    return audit


async def mark_delivery_false(
    *, session: AsyncSession, actor: Actor, audit_id: int, delivery_id: int
) -> Audit:
    """A spot check found that the delivery did not happen: it no longer counts for payment."""
    audit, contract = await _draft_audit(session, actor, audit_id)
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.contract_id != contract.id:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no delivery of this contract with this ID", field=["deliveryId"]
        )
    period = lifecycle.period_of(contract, delivery.delivered_on)
    if period is None or period.index != audit.period_index:
        raise DomainError(
            ErrorCode.INVALID, "the delivery is not in the audited period", field=["deliveryId"]
        )
    before = journal.snapshot(delivery)
    delivery.marked_false_by_audit_id = audit.id
    await journal.record(session, actor=actor, action="delivery.marked_false", entity=delivery, before=before)
    return audit


async def submit_audit(*, session: AsyncSession, actor: Actor, audit_id: int) -> Audit:
    """The audit is final once submitted; every AUDIT KPI needs a value first."""
    audit, contract = await _draft_audit(session, actor, audit_id)
    measured = set(
        (await session.scalars(select(AuditKpiValue.kpi_id).where(AuditKpiValue.audit_id == audit.id))).all()
    )
    audit_kpis = (
        await session.scalars(
            select(ContractKpi).where(
                ContractKpi.contract_id == contract.id, ContractKpi.source == KpiSource.AUDIT
            )
        )
    ).all()
    missing = [k.name for k in audit_kpis if k.id not in measured]
    if missing:
        raise DomainError(
            ErrorCode.INVALID, "record a value for every audited KPI first: " + ", ".join(missing)
        )
    before = journal.snapshot(audit)
    audit.status, audit.submitted_at = AuditStatus.SUBMITTED, await clock.now(session)
    await journal.record(session, actor=actor, action="audit.submitted", entity=audit, before=before)
    return audit


def audit_score(checks: Sequence[AuditCheck]) -> float:
    """100 × passed weight / all weight, overturned items left out; 100 when no item remains."""
    counted = [c for c in checks if not c.overturned]
    total = sum(c.weight for c in counted)
    return 100.0 if total == 0 else 100.0 * sum(c.weight for c in counted if c.passed) / total


# ---------------------------------------------------------------- appeals


async def appeal_audit(
    *, session: AsyncSession, actor: Actor, audit_id: int, check_ids: Sequence[int], reason: str
) -> Appeal:
    """The contracted provider appeals items of a submitted audit, within 10 days of its submission."""
    audit = await session.get(Audit, audit_id, with_for_update=True)
    contract = await session.get(Contract, audit.contract_id) if audit else None
    if audit is None or not access.is_contract_provider(actor, contract):
        raise DomainError(ErrorCode.NOT_FOUND, "no audit of your contracts with this ID", field=["auditId"])
    if audit.status != AuditStatus.SUBMITTED:
        raise DomainError(ErrorCode.INVALID_STATE, "the audit is not submitted yet")
    if await clock.now(session) >= audit.submitted_at + APPEAL_DAYS:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "an audit can be appealed within 10 days")
    if await session.scalar(select(exists().where(Appeal.audit_id == audit.id))):
        raise DomainError(ErrorCode.ALREADY_EXISTS, "this audit has been appealed already")
    check = Validator()
    check.check(bool(check_ids), "name the items appealed", field=["checkIds"])
    check.check(bool(reason.strip()), "give the reasons", field=["reason"])
    check.raise_if_any()
    items = set((await session.scalars(select(AuditCheck.id).where(AuditCheck.audit_id == audit.id))).all())
    for index, check_id in enumerate(check_ids):
        if check_id not in items:
            raise DomainError(
                ErrorCode.NOT_FOUND, "not an item of this audit", field=["checkIds", str(index)]
            )
    appeal = Appeal(
        audit_id=audit.id,
        reason=reason.strip(),
        check_ids=sorted(set(check_ids)),
        filed_at=await clock.now(session),
    )
    session.add(appeal)
    await journal.record(session, actor=actor, action="appeal.filed", entity=appeal)
    return appeal


@dataclass(frozen=True)
class ItemDecision:
    check_id: int
    upheld: bool
    note: str | None = None


async def decide_appeal(
    *, session: AsyncSession, actor: Actor, appeal_id: int, decisions: Sequence[ItemDecision]
) -> Appeal:
    """The department's officer upholds or overturns each appealed item; overturned items drop out."""
    appeal = await session.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no appeal with this ID", field=["id"])
    audit = await session.get(Audit, appeal.audit_id)
    await lifecycle.contract_for_officer(session, actor, audit.contract_id, field=["id"])
    if appeal.decided_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "the appeal has been decided")
    decided = [d.check_id for d in decisions]
    if sorted(decided) != sorted(appeal.check_ids):
        raise DomainError(ErrorCode.INVALID, "decide every appealed item exactly once", field=["decisions"])
    before = journal.snapshot(appeal)
    for decision in decisions:
        item = await session.get(AuditCheck, decision.check_id, with_for_update=True)
        if not decision.upheld:
            item_before = journal.snapshot(item)
            item.overturned = True
            await journal.record(
                session, actor=actor, action="audit.check_overturned", entity=item, before=item_before
            )
    appeal.decisions = [{"check_id": d.check_id, "upheld": d.upheld, "note": d.note} for d in decisions]
    appeal.decided_at = await clock.now(session)
    await journal.record(session, actor=actor, action="appeal.decided", entity=appeal, before=before)
    # A period scored before the decision is scored again downstream (scoring), in this transaction.
    await hooks.emit(session, hooks.APPEAL_DECIDED, appeal=appeal, audit=audit, actor=actor)
    return appeal
