"""What the OCDS export reads, in bulk: one page of published tenders and everything public about them,
in a fixed number of statements whatever the page's size (no statement per tender).

Only public data is read (SPEC §7): tenders once published (drafts never), the KPIs they set, answered
clarifications, correction notices, the bids of opened tenders only (nothing of a sealed bid: a bid is
not even selected before its tender's opening) and never a withdrawn one, the contract an award made
with its KPIs, finalised scorecards' scores and KPI values, PAID payments and the contract's status
changes. Nothing about residents is read at all: no deliveries, ratings, complaints or phone hashes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.models import Contract, ContractKpi
from core.models import JournalEvent
from market import tenders
from market.models import (
    Bid,
    BidStatus,
    Clarification,
    Department,
    Provider,
    Region,
    ServiceCategory,
    ServicePackage,
    Tender,
    TenderAmendment,
    TenderKpi,
)
from scoring.models import Payment, PaymentStatus, Scorecard

CONTRACT_CHANGES = ("contract.suspended", "contract.reinstated", "contract.completed", "contract.terminated")
"""Journal actions of a contract's status changes: their moments date the contract's releases."""


@dataclass(frozen=True)
class StatusChange:
    action: str
    occurred_at: dt.datetime


@dataclass
class TenderFacts:
    """One published tender and the public facts about it."""

    tender: Tender
    department: Department
    region: Region
    package: ServicePackage
    category: ServiceCategory
    tender_kpis: list[TenderKpi] = field(default_factory=list)
    amendments: list[TenderAmendment] = field(default_factory=list)
    clarifications: list[Clarification] = field(default_factory=list)
    bids: list[Bid] = field(default_factory=list)
    contract: Contract | None = None
    kpis: list[ContractKpi] = field(default_factory=list)
    scorecards: list[Scorecard] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    providers: dict[int, Provider] = field(default_factory=dict)


def published_tenders(
    *,
    region_id: int | None = None,
    published_until: dt.datetime | None = None,
    after_id: int = 0,
):
    """The statement of published tenders (ever: drafts are not disclosed), by ID, for keyset paging."""
    statement = (
        select(Tender, Department, Region, ServicePackage, ServiceCategory)
        .join(Department, Department.id == Tender.department_id)
        .join(Region, Region.id == Tender.region_id)
        .join(ServicePackage, ServicePackage.id == Tender.package_id)
        .join(ServiceCategory, ServiceCategory.code == ServicePackage.category_code)
        .where(Tender.published_at.is_not(None), Tender.id > after_id)
        .order_by(Tender.id)
    )
    if region_id is not None:
        statement = statement.where(Tender.region_id == region_id)
    if published_until is not None:
        statement = statement.where(Tender.published_at <= published_until)
    return statement


async def load_page(session: AsyncSession, rows: Sequence) -> list[TenderFacts]:
    """The public facts of the tenders of `rows` (from `published_tenders`), in nine more statements."""
    facts = {
        tender.id: TenderFacts(tender, department, region, package, category)
        for tender, department, region, package, category in rows
    }
    if not facts:
        return []
    ids = list(facts)
    for kpi in await tenders.kpis_of(session, ids):
        facts[kpi.tender_id].tender_kpis.append(kpi)
    for amendment in await session.scalars(
        select(TenderAmendment).where(TenderAmendment.tender_id.in_(ids)).order_by(TenderAmendment.version)
    ):
        facts[amendment.tender_id].amendments.append(amendment)
    for clarification in await session.scalars(
        select(Clarification)
        .where(Clarification.tender_id.in_(ids), Clarification.answered_at.is_not(None))
        .order_by(Clarification.answered_at, Clarification.id)
    ):
        facts[clarification.tender_id].clarifications.append(clarification)
    # The sealed-bid rule (SPEC §4.2): only the opened tenders' bids are selected, withdrawn ones never.
    opened = [t for t in ids if facts[t].tender.opened_at is not None]
    if opened:
        for bid in await session.scalars(
            select(Bid)
            .where(Bid.tender_id.in_(opened), Bid.status != BidStatus.WITHDRAWN)
            .order_by(Bid.submitted_at, Bid.id)
        ):
            facts[bid.tender_id].bids.append(bid)
    contracts = {
        contract.id: contract
        for contract in await session.scalars(select(Contract).where(Contract.tender_id.in_(ids)))
    }
    for contract in contracts.values():
        facts[contract.tender_id].contract = contract
    if contracts:
        of_contract = {c.id: facts[c.tender_id] for c in contracts.values()}
        for kpi in await session.scalars(
            select(ContractKpi).where(ContractKpi.contract_id.in_(contracts)).order_by(ContractKpi.position)
        ):
            of_contract[kpi.contract_id].kpis.append(kpi)
        for scorecard in await session.scalars(
            select(Scorecard)
            .where(Scorecard.contract_id.in_(contracts))
            .order_by(Scorecard.period_index, Scorecard.version)
        ):
            of_contract[scorecard.contract_id].scorecards.append(scorecard)
        for payment in await session.scalars(
            select(Payment)
            .where(Payment.contract_id.in_(contracts), Payment.status == PaymentStatus.PAID)
            .order_by(Payment.paid_at, Payment.id)
        ):
            of_contract[payment.contract_id].payments.append(payment)
        for event in await session.scalars(
            select(JournalEvent)
            .where(
                JournalEvent.entity_type == Contract.__name__,
                JournalEvent.entity_id.in_([str(c) for c in contracts]),
                JournalEvent.action.in_(CONTRACT_CHANGES),
            )
            .order_by(JournalEvent.seq)
        ):
            of_contract[int(event.entity_id)].changes.append(StatusChange(event.action, event.occurred_at))
    provider_ids = {b.provider_id for f in facts.values() for b in f.bids} | {
        c.provider_id for c in contracts.values()
    }
    if provider_ids:
        providers = {
            p.id: p for p in await session.scalars(select(Provider).where(Provider.id.in_(provider_ids)))
        }
        for f in facts.values():
            wanted = {b.provider_id for b in f.bids} | ({f.contract.provider_id} if f.contract else set())
            f.providers = {i: providers[i] for i in wanted}
    return list(facts.values())


async def tender_facts(session: AsyncSession, tender_id: int) -> TenderFacts | None:
    """One published tender's facts; None when there is no such tender or it was never published."""
    rows = (
        await session.execute(published_tenders(after_id=tender_id - 1).where(Tender.id == tender_id))
    ).all()
    page = await load_page(session, rows)
    return page[0] if page else None


async def region_id_of(session: AsyncSession, code: str) -> int | None:
    """The ID of the region with this code (e.g. 310101), or None."""
    return (await session.execute(select(Region.id).where(Region.code == code))).scalar_one_or_none()
