"""GraphQL types of purchasing (SPEC §4): tenders, clarifications, sealed bids, awards, challenges.

Scalars are plain attributes; relations and `node(id:)` go through loaders, which return only what
the caller may see (`market.access`, the sealed-bid rule above all): a type maps what they return.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from core.api import Connection, Relation, SealedNode, context_of, now_or_later
from market import access, loaders
from market import models as m
from market.types import Department, Kpi, Provider, Region, ServicePackage, User, resolve_rows

# ---------------------------------------------------------------- tenders (SPEC §4)

TenderStatusType = strawberry.enum(
    m.TenderStatus,
    name="TenderStatus",
    description="DRAFT → PUBLISHED → EVALUATING → AWARD_PENDING → AWARDED, or UNSUCCESSFUL or CANCELLED.",
)
BidStatusType = strawberry.enum(
    m.BidStatus,
    name="BidStatus",
    description="SUBMITTED until the opening decides VALID or INVALID; WITHDRAWN by its provider.",
)
ChallengeDecisionType = strawberry.enum(m.ChallengeDecision, name="ChallengeDecision")


@strawberry.type(description="One row of a payment tier table (阶梯化支付).")
class PaymentTier:
    tier: str = strawberry.field(description="A to E.")
    min_score: float = strawberry.field(description="Lowest composite score of the tier.")
    payout_rate: float = strawberry.field(description="Share of the base paid, e.g. 1.05.")


@strawberry.type(description="One change of a correction notice.")
class TenderChange:
    field: str = strawberry.field(description="The input field changed, e.g. maxUnitPrice.")
    before: JSON
    after: JSON


@strawberry.type(description="A correction notice (更正公告), public.")
class TenderAmendment:
    version: int = strawberry.field(description="The tender version this notice made.")
    reason: str
    changes: list[TenderChange]
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: m.TenderAmendment) -> TenderAmendment:
        return cls(
            version=row.version,
            reason=row.reason,
            changes=[
                TenderChange(field=c["field"], before=c["before"], after=c["after"]) for c in row.changes
            ],
            created_at=row.created_at,
        )


@strawberry.type(description="A bidder's question and the officer's answer; the asker is not shown.")
class Clarification(SealedNode, relay.Node):
    id: relay.NodeID[int]
    question: str
    asked_at: dt.datetime
    answer: str | None = strawberry.field(description="Null until answered.")
    answered_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: m.Clarification) -> Clarification:
        return cls(
            id=row.id,
            question=row.question,
            asked_at=row.asked_at,
            answer=row.answer,
            answered_at=row.answered_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.VisibleClarificationByIdLoader, cls.from_row)


@strawberry.type(description="One line of the opening record (开标记录).")
class OpeningRecordEntry:
    provider_name: str
    unit_price: Decimal
    submitted_at: dt.datetime
    receipt_sha256: str


@strawberry.type(description="A seat on the evaluation panel; seen by the tender's officers.")
class PanelSeat:
    evaluator: User
    declared: bool = strawberry.field(description="Has declared conflicts of interest.")
    removed: bool = strawberry.field(description="Declared a conflict and left the panel for this tender.")


@strawberry.type(description="A call for bids for a quantity of one package version in one region.")
class Tender(relay.Node):
    id: relay.NodeID[int]
    title: str
    status: TenderStatusType
    version: int = strawberry.field(description="1 when published, +1 per correction notice.")
    quantity: int = strawberry.field(description="Units bought over the whole contract.")
    periods: int = strawberry.field(description="Number of payment periods.")
    period_months: int = strawberry.field(description="Length of a payment period in months.")
    start_date: dt.date = strawberry.field(description="First day of the contract.")
    max_unit_price: Decimal = strawberry.field(description="Ceiling unit price (最高限价), CNY.")
    bid_deadline: dt.datetime = strawberry.field(description="Bids must be committed before this instant.")
    min_valid_bids: int = strawberry.field(description="Fewer valid bids make the tender UNSUCCESSFUL.")
    price_weight: float = strawberry.field(description="0.10-0.30; the three weights sum to 1.")
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] = strawberry.field(
        description="Qualification types every bidder must hold, valid on the deadline."
    )
    satisfaction_weight: float = strawberry.field(description="w_S of the future contract (≥ 0.30).")
    kpi_weight: float = strawberry.field(description="w_K of the future contract.")
    audit_weight: float = strawberry.field(description="w_A of the future contract.")
    holdback_rate: float = strawberry.field(description="Share of each payout retained until completion.")
    payment_tiers: list[PaymentTier]
    published_at: dt.datetime | None
    opened_at: dt.datetime | None = strawberry.field(description="When the bids were opened.")
    challenge_deadline: dt.datetime | None = strawberry.field(
        description="End of the 7-working-day challenge period (质疑期) after the recommendation."
    )
    closed_reason: str | None = strawberry.field(description="Why it was cancelled or unsuccessful.")
    row: strawberry.Private[m.Tender]

    @strawberry.field(description="The package version the tender was made from.")
    def package(self, info: Info) -> ServicePackage:
        return now_or_later(
            info, loaders.ServicePackageByIdLoader, self.row.package_id, ServicePackage.from_row
        )

    @strawberry.field
    def region(self, info: Info) -> Region:
        return now_or_later(info, loaders.RegionByIdLoader, self.row.region_id, Region.from_row)

    @strawberry.field(description="The purchasing department.")
    def department(self, info: Info) -> Department:
        return now_or_later(info, loaders.DepartmentByIdLoader, self.row.department_id, Department.from_row)

    @strawberry.field(description="KPIs of the future contract.")
    def kpis(self, info: Info) -> list[Kpi]:
        return now_or_later(
            info, loaders.KpisByTenderLoader, self.id, lambda rows: [Kpi.from_row(r) for r in rows]
        )

    @strawberry.field(
        description="Empty until the bids are opened, and for callers not entitled to see them: the "
        "tender's officers, its panel and its bidders after opening; everyone after the award."
    )
    def bids(self, info: Info) -> list[Bid]:
        return now_or_later(
            info,
            loaders.ReadableBidsByTenderLoader,
            self.id,
            lambda bids: [Bid.from_view(v) for v in bids.opened],
        )

    @strawberry.field(description="The caller's own bid (PROVIDER), at any stage; null for others.")
    def my_bid(self, info: Info) -> Bid | None:
        return now_or_later(
            info,
            loaders.ReadableBidsByTenderLoader,
            self.id,
            lambda bids: bids.own and Bid.from_view(bids.own),
        )

    @strawberry.field(description="Bidders and unit prices as opened; for those who may see the bids.")
    async def opening_record(self, info: Info) -> list[OpeningRecordEntry] | None:
        record = await context_of(info).loader(loaders.OpeningRecordByTenderLoader).load(self.id)
        if record is None:
            return None
        return [
            OpeningRecordEntry(
                provider_name=e["provider"],
                unit_price=Decimal(e["unit_price"]),
                submitted_at=dt.datetime.fromisoformat(e["submitted_at"]),
                receipt_sha256=e["receipt_sha256"],
            )
            for e in record
        ]

    @strawberry.field(description="Correction notices, oldest first.")
    async def amendments(self, info: Info) -> list[TenderAmendment]:
        rows = await context_of(info).loader(loaders.AmendmentsByTenderLoader).load(self.id)
        return [TenderAmendment.from_row(row) for row in rows]

    @strawberry.field(
        description="Answered questions (public); unanswered ones only to the asker and the officers."
    )
    def clarifications(self, info: Info) -> list[Clarification]:
        return now_or_later(
            info,
            loaders.VisibleClarificationsByTenderLoader,
            self.id,
            lambda rows: [Clarification.from_row(r) for r in rows],
        )

    @strawberry.field(description="Challenges: all for the tender's officers, its own for a bidder.")
    async def challenges(self, info: Info) -> list[Challenge]:
        rows = await context_of(info).loader(loaders.VisibleChallengesByTenderLoader).load(self.id)
        return [Challenge.from_row(row) for row in rows]

    @strawberry.field(description="The evaluation panel; only the tender's officers see it.")
    async def panel(self, info: Info) -> list[PanelSeat]:
        rows = await context_of(info).loader(loaders.VisiblePanelByTenderLoader).load(self.id)
        return [
            PanelSeat(
                evaluator=User.from_row(user), declared=seat.declared_at is not None, removed=seat.removed
            )
            for seat, user in rows
        ]

    @strawberry.field(
        description="The recommended bid (中标候选人) and, once final, the contract; null while the caller "
        "may not see the bid."
    )
    async def award(self, info: Info) -> Award | None:
        readable = await context_of(info).loader(loaders.ReadableBidsByTenderLoader).load(self.id)
        if readable.recommended is None:
            return None
        return Award(
            bid=Bid.from_view(readable.recommended), finalized_at=self.row.awarded_at, tender_id=self.id
        )

    @strawberry.field(
        description="Red flags of the award (Cardinal's indicators and the platform's own): for the "
        "tender's officers once the bids are opened, for everyone once the award is final; null before."
    )
    async def red_flags(
        self, info: Info
    ) -> list[Annotated["RedFlag", strawberry.lazy("disclosure.red_flags.types")]] | None:  # noqa: F821, UP037
        from disclosure.red_flags.types import red_flags_of_tender

        return await red_flags_of_tender(info, self.id)

    @classmethod
    def from_row(cls, row: m.Tender) -> Tender:
        return cls(
            id=row.id,
            title=row.title,
            status=row.status,
            version=row.version,
            quantity=row.quantity,
            periods=row.periods,
            period_months=row.period_months,
            start_date=row.start_date,
            max_unit_price=row.max_unit_price,
            bid_deadline=row.bid_deadline,
            min_valid_bids=row.min_valid_bids,
            price_weight=row.price_weight,
            quality_weight=row.quality_weight,
            record_weight=row.record_weight,
            required_qualifications=list(row.required_qualifications),
            satisfaction_weight=row.satisfaction_weight,
            kpi_weight=row.kpi_weight,
            audit_weight=row.audit_weight,
            holdback_rate=row.holdback_rate,
            payment_tiers=[PaymentTier(**t) for t in row.payment_tiers],
            published_at=row.published_at,
            opened_at=row.opened_at,
            challenge_deadline=row.challenge_deadline,
            closed_reason=row.closed_reason,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.VisibleTenderByIdLoader, cls.from_row)


@strawberry.type(description="Proof of a sealed bid (投标回执): SHA-256 of its canonical content.")
class BidReceipt:
    sha256: str = strawberry.field(description="Hex SHA-256 of `Bid.canonicalContent` at this version.")
    submitted_at: dt.datetime = strawberry.field(description="Server time of the submission.")


@strawberry.type(
    description="A provider's sealed offer. Before the opening nobody but its provider can read anything "
    "of it, not even that it exists: its ID is keyed and tells nothing of how many bids there are."
)
class Bid(SealedNode, relay.Node):
    id: relay.NodeID[int]
    status: BidStatusType
    version: int = strawberry.field(
        description="1 for the first submission, +1 per amendment or confirmation."
    )
    unit_price: Decimal
    proposal: str = strawberry.field(
        description="Technical proposal; empty for callers not entitled to read proposals (the public, "
        "other bidders)."
    )
    receipt: BidReceipt
    abnormally_low: bool = strawberry.field(description="Below 80% of the mean valid unit price.")
    justification: str | None = strawberry.field(
        description="The provider's written justification of the price."
    )
    justification_accepted: bool | None
    invalid_reason: str | None
    price_score: float | None = strawberry.field(description="100 × lowest valid price / this price.")
    quality_score: float | None = strawberry.field(description="Mean of the evaluators' scores.")
    record_score: float | None = strawberry.field(description="From the provider's stars at the deadline.")
    total_score: float | None
    rank: int | None = strawberry.field(description="1 is best; null for bids not ranked.")
    view: strawberry.Private[access.ReadableBid]

    @strawberry.field(description="The exact text the receipt's SHA-256 covers, to check it.")
    def canonical_content(self) -> str:
        return self.view.canonical_content

    @strawberry.field
    async def tender(self, info: Info) -> Tender:
        return Tender.from_row(
            await context_of(info).loader(loaders.TenderByIdLoader).load(self.view.row.tender_id)
        )

    @strawberry.field
    def provider(self, info: Info) -> Provider:
        return now_or_later(info, loaders.ProviderByIdLoader, self.view.row.provider_id, Provider.from_row)

    @classmethod
    def from_view(cls, view: access.ReadableBid) -> Bid:
        row = view.row
        return cls(
            id=row.id,
            status=row.status,
            version=row.version,
            unit_price=row.unit_price,
            proposal=view.proposal,
            receipt=BidReceipt(sha256=row.receipt_sha256, submitted_at=row.submitted_at),
            abnormally_low=row.abnormally_low,
            justification=view.justification,
            justification_accepted=row.justification_accepted,
            invalid_reason=row.invalid_reason,
            price_score=row.price_score,
            quality_score=row.quality_score,
            record_score=row.record_score,
            total_score=row.total_score,
            rank=row.rank,
            view=view,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.ReadableBidByIdLoader, cls.from_view)


@strawberry.type(description="The recommended or final award of a tender.")
class Award:
    bid: Bid
    finalized_at: dt.datetime | None = strawberry.field(
        description="When the award became final; null while pending."
    )
    tender_id: strawberry.Private[int]

    @strawberry.field(description="The contract made when the award became final.")
    async def contract(self, info: Info) -> Annotated["Contract", strawberry.lazy("contracts.types")] | None:  # noqa: F821, UP037
        from contracts.types import contract_of_tender

        return await contract_of_tender(info, self.tender_id)


@strawberry.type(description="A bidder's challenge (质疑) of a recommended award.")
class Challenge(relay.Node):
    id: relay.NodeID[int]
    reason: str
    filed_at: dt.datetime
    decision: ChallengeDecisionType | None = strawberry.field(description="Null while open.")
    decision_note: str | None
    decided_at: dt.datetime | None
    row: strawberry.Private[m.Challenge]

    @strawberry.field
    async def tender(self, info: Info) -> Tender:
        return Tender.from_row(
            await context_of(info).loader(loaders.TenderByIdLoader).load(self.row.tender_id)
        )

    @classmethod
    def from_row(cls, row: m.Challenge) -> Challenge:
        return cls(
            id=row.id,
            reason=row.reason,
            filed_at=row.filed_at,
            decision=row.decision,
            decision_note=row.decision_note,
            decided_at=row.decided_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.VisibleChallengeByIdLoader, cls.from_row)


TenderConnection = Connection[Tender]


# ---------------------------------------------------------------- what a list of tenders loads at once


def _bid_views(bids: access.TenderBids) -> list[access.ReadableBid]:
    return [
        *bids.opened,
        *([bids.own] if bids.own else []),
        *([bids.recommended] if bids.recommended else []),
    ]


def _bid_relations() -> dict[str, Relation]:
    return {"provider": Relation(loaders.ProviderByIdLoader, lambda view: view.row.provider_id)}


def tender_relations() -> dict[str, Relation]:
    """The relations of a tender that a page of tenders loads in batches when its query selects them."""
    by_tender = lambda row: row.id  # noqa: E731
    bids = Relation(loaders.ReadableBidsByTenderLoader, by_tender, nested=_bid_relations, children=_bid_views)
    return {
        "package": Relation(loaders.ServicePackageByIdLoader, lambda row: row.package_id),
        "region": Relation(loaders.RegionByIdLoader, lambda row: row.region_id),
        "department": Relation(loaders.DepartmentByIdLoader, lambda row: row.department_id),
        "kpis": Relation(loaders.KpisByTenderLoader, by_tender),
        "bids": bids,
        "myBid": bids,
        "clarifications": Relation(loaders.VisibleClarificationsByTenderLoader, by_tender),
    }
