"""A contract's life (SPEC §5.1-5.2): made from a final award, its term and payment periods, its
status (ACTIVE ⇄ SUSPENDED → COMPLETED | TERMINATED) and its audit firm.

Reads the market through `market.awards` and `market.tenders` only; who may see or run a
contract is in `access`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import access
from contracts.models import Contract, ContractKpi, ContractStatus
from core import clock, hooks, journal
from core.auth import Actor
from core.db import to_money
from core.errors import DomainError, ErrorCode
from market import awards, tenders
from market.models import AuditFirm


async def finalize_award(*, session: AsyncSession, actor: Actor, tender_id: int) -> Contract:
    """After the challenge period, with no challenge open: the award becomes public and the contract is made.

    Its terms are copied from the tender and the winning bid.
    """
    award = await awards.close_award(session=session, actor=actor, tender_id=tender_id)
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
        for k in await tenders.kpis_of(session, [tender.id])
    )
    await journal.record(session, actor=award.actor, action="contract.made", entity=contract)
    return contract


# ---------------------------------------------------------------- term and periods


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


def periods_of(contract: Contract) -> list[Period]:
    return periods(start_date=contract.start_date, count=contract.periods, months=contract.period_months)


def contract_term(contract: Contract) -> tuple[dt.date, dt.date]:
    term = periods_of(contract)
    return term[0].starts_on, term[-1].ends_on


def period_of(contract: Contract, day: dt.date) -> Period | None:
    return next((p for p in periods_of(contract) if p.starts_on <= day <= p.ends_on), None)


# ---------------------------------------------------------------- reading contracts


async def contracts_by_tender(
    session: AsyncSession, tender_ids: Sequence[int], *, actor: Actor | None
) -> list[Contract]:
    """The contracts of these tenders that the caller may see."""
    statement = access.visible_contracts(actor).where(Contract.tender_id.in_(tender_ids))
    return list((await session.scalars(statement)).all())


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


def contracts_statement(
    *, actor: Actor | None, status: ContractStatus | None = None, mine: bool = False
) -> Select:
    """Contracts the caller may see, newest first; `mine`: those the caller works on."""
    statement = access.visible_contracts(actor)
    if mine:
        statement = statement.where(access.held_contracts_clause(actor))
    if status is not None:
        statement = statement.where(Contract.status == status)
    return statement.order_by(Contract.id.desc())


async def visible_contract(
    session: AsyncSession, actor: Actor | None, contract_id: int, *, field: Sequence[str], lock: bool = False
) -> Contract:
    """The contract, when the caller may see it; NOT_FOUND otherwise, as for a contract that is not there."""
    contract = await session.get(Contract, contract_id, with_for_update=lock, populate_existing=lock)
    if contract is None or not access.can_see_contract(actor, contract):
        raise DomainError(ErrorCode.NOT_FOUND, "no contract with this ID", field=field)
    return contract


async def contract_for_officer(
    session: AsyncSession, actor: Actor, contract_id: int, *, field: Sequence[str] = ("contractId",)
) -> Contract:
    """The contract, locked, for an officer of its purchasing department (PERMISSION_DENIED for others)."""
    contract = await visible_contract(session, actor, contract_id, field=field, lock=True)
    if not access.is_contract_officer(actor, contract):
        raise access.refusal(actor, "only officers of the purchasing department may do this")
    return contract


# ---------------------------------------------------------------- status and audit firm


CONTRACT_TRANSITIONS = {
    "suspended": ((ContractStatus.ACTIVE,), ContractStatus.SUSPENDED),
    "reinstated": ((ContractStatus.SUSPENDED,), ContractStatus.ACTIVE),
    "terminated": ((ContractStatus.ACTIVE, ContractStatus.SUSPENDED), ContractStatus.TERMINATED),
    "completed": ((ContractStatus.ACTIVE,), ContractStatus.COMPLETED),
}


async def change_contract_status(
    *, session: AsyncSession, actor: Actor, contract_id: int, change: str, reason: str | None = None
) -> Contract:
    """ACTIVE ⇄ SUSPENDED → COMPLETED | TERMINATED, by the department's officers."""
    contract = await contract_for_officer(session, actor, contract_id, field=["id"])
    allowed_from, _to = CONTRACT_TRANSITIONS[change]
    if change in ("suspended", "terminated") and not (reason or "").strip():
        raise DomainError(ErrorCode.INVALID, "a reason is required", field=["reason"])
    if contract.status not in allowed_from:
        raise DomainError(
            ErrorCode.INVALID_STATE, f"the contract is {contract.status.value}; it cannot be {change}"
        )
    if change == "completed":
        _first_day, last_day = contract_term(contract)
        if clock.today(await clock.now(session)) <= last_day:
            raise DomainError(ErrorCode.TOO_EARLY, f"the contract runs until {last_day}")
    await set_contract_status(session, actor=actor, contract=contract, change=change, reason=reason)
    if change == "completed":
        # The holdback is settled downstream (scoring), in this transaction.
        await hooks.emit(session, hooks.CONTRACT_COMPLETED, contract=contract, actor=actor)
    return contract


async def set_contract_status(
    session: AsyncSession, *, actor: Actor | None, contract: Contract, change: str, reason: str | None
) -> Contract:
    """The status change itself, journaled: for the officer's mutations above and for rules that change
    it on their own (two periods in tier E suspend the contract); the caller has locked the contract."""
    allowed_from, to = CONTRACT_TRANSITIONS[change]
    if contract.status not in allowed_from:
        raise DomainError(
            ErrorCode.INVALID_STATE, f"the contract is {contract.status.value}; it cannot be {change}"
        )
    before = journal.snapshot(contract)
    contract.status = to
    contract.status_reason = reason.strip() if reason else None
    await journal.record(session, actor=actor, action=f"contract.{change}", entity=contract, before=before)
    return contract


async def assign_audit_firm(
    *, session: AsyncSession, actor: Actor, contract_id: int, audit_firm_id: int
) -> Contract:
    """The department's officers assign the third-party audit firm; its auditors then see the contract."""
    contract = await contract_for_officer(session, actor, contract_id)
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.SUSPENDED):
        raise DomainError(ErrorCode.INVALID_STATE, f"the contract is {contract.status.value}")
    if await session.get(AuditFirm, audit_firm_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no audit firm with this ID", field=["auditFirmId"])
    before = journal.snapshot(contract)
    contract.audit_firm_id = audit_firm_id
    await journal.record(
        session, actor=actor, action="contract.audit_firm_assigned", entity=contract, before=before
    )
    return contract
