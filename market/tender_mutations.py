"""Write side of purchasing (SPEC §4): parse input, call the service, map the result.

Each mutation names the roles that may call it where it is registered (`core.api.mutation`); the
services check what depends on the objects: the officers of the tender's department, its panel, the
provider of a bid (`market.access`). A bid in a payload is shown as its caller may read it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from core.api import UserError, mutate, mutation
from core.auth import Role
from core.limits import LONG_TEXT, LongText, list_field, text_field
from market import access, awards, bids, challenges, evaluation, tenders
from market import models as m
from market.mutations import Action, Fields, Id, KpiInput, Parsed, call, kpi_specs
from market.tender_types import (
    Bid,
    BidReceipt,
    Challenge,
    ChallengeDecisionType,
    Clarification,
    Tender,
)

# ---------------------------------------------------------------- inputs and payloads


@strawberry.input(description="A payment tier; the table lists A to E with falling minimum scores, E from 0.")
class PaymentTierInput:
    tier: str = text_field(max_length=10)
    min_score: float
    payout_rate: float


@strawberry.input(
    description="OFFICER: a new DRAFT tender for the officer's department. Weights are shares: price "
    "0.10-0.30, and the three sum to 1. KPIs, scoring weights and payment tiers default to the package's."
)
class CreateTenderInput:
    package_id: strawberry.ID = strawberry.field(description="The latest version of a package.")
    region_id: strawberry.ID
    title: str = text_field(max_length=300)
    quantity: int = strawberry.field(description="Units over the whole contract; at least 1.")
    periods: int = strawberry.field(description="Payment periods; at least 1.")
    period_months: int = strawberry.field(description="1 to 12.")
    start_date: dt.date = strawberry.field(description="After the bid deadline.")
    max_unit_price: Decimal = strawberry.field(description="Ceiling (最高限价), CNY with at most 2 decimals.")
    bid_deadline: dt.datetime = strawberry.field(description="In the future; with a UTC offset.")
    min_valid_bids: int | None = strawberry.field(default=None, description="Default 3.")
    price_weight: float
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] | None = list_field(
        "Qualification types every bidder must hold on the deadline.",
        max_items=20,
        max_length=100,
        default=None,
    )
    evaluator_ids: list[strawberry.ID] = list_field("EVALUATOR or OFFICER accounts.", max_items=20)
    kpis: list[KpiInput] | None = list_field("Default: the package's KPIs.", max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None
    holdback_rate: float | None = strawberry.field(default=None, description="Default 0.10.")
    payment_tiers: list[PaymentTierInput] | None = list_field(
        "Default SPEC §6.2.", max_items=10, default=None
    )


@strawberry.input(description="Changes to a DRAFT tender; omitted fields keep their value.")
class UpdateTenderInput:
    package_id: strawberry.ID | None = None
    region_id: strawberry.ID | None = None
    title: str | None = text_field(max_length=300, default=None)
    quantity: int | None = None
    periods: int | None = None
    period_months: int | None = None
    start_date: dt.date | None = None
    max_unit_price: Decimal | None = None
    bid_deadline: dt.datetime | None = None
    min_valid_bids: int | None = None
    price_weight: float | None = None
    quality_weight: float | None = None
    record_weight: float | None = None
    required_qualifications: list[str] | None = list_field(max_items=20, max_length=100, default=None)
    evaluator_ids: list[strawberry.ID] | None = list_field(max_items=20, default=None)
    kpis: list[KpiInput] | None = list_field(max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None
    holdback_rate: float | None = None
    payment_tiers: list[PaymentTierInput] | None = list_field(max_items=10, default=None)


@strawberry.input(
    description="A correction notice on a PUBLISHED tender. At least 15 days remain after it (the deadline "
    "moves when needed); existing bids must be re-confirmed."
)
class AmendTenderInput:
    reason: str = text_field(max_length=LONG_TEXT)
    title: str | None = text_field(max_length=300, default=None)
    quantity: int | None = None
    max_unit_price: Decimal | None = None
    bid_deadline: dt.datetime | None = None
    min_valid_bids: int | None = None
    required_qualifications: list[str] | None = list_field(max_items=20, max_length=100, default=None)
    start_date: dt.date | None = None


@strawberry.input(description="PROVIDER: a sealed bid before the deadline, or a new version of its live bid.")
class SubmitBidInput:
    tender_id: strawberry.ID
    unit_price: Decimal = strawberry.field(description="CNY; ≤ the ceiling and within the package's range.")
    proposal: str = text_field("Technical proposal.", max_length=50000)
    capacity: str | None = text_field("Capacity statement.", max_length=10000, default=None)
    attachments: list[str] | None = list_field(
        "References to documents.", max_items=20, max_length=500, default=None
    )


@strawberry.type(description="The tender, or errors (then nothing was written).")
class TenderPayload:
    tender: Tender | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The bid and its receipt, or errors (then nothing was written).")
class BidPayload:
    bid: Bid | None = None
    receipt: BidReceipt | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The challenge, or errors.")
class ChallengePayload:
    challenge: Challenge | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The clarification, or errors.")
class ClarificationPayload:
    clarification: Clarification | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


class TermsChanges(Parsed):
    """A tender input as TenderTerms fields: IDs decoded, KPIs and tiers converted, unset ones left out."""

    def __init__(self, input: CreateTenderInput | UpdateTenderInput):
        self.fields = Fields(input, package_id="ServicePackage", region_id="Region", evaluator_ids="User")

    def value(self) -> dict[str, Any]:
        changes = {name: value for name, value in self.fields.value().items() if value is not None}
        if "kpis" in changes:
            changes["kpis"] = kpi_specs(changes["kpis"])
        if "payment_tiers" in changes:
            changes["payment_tiers"] = [dataclasses.asdict(tier) for tier in changes["payment_tiers"]]
        return changes


class NewTerms(TermsChanges):
    """The terms of a new tender; what the input leaves out takes the defaults."""

    def value(self) -> tenders.TenderTerms:
        return tenders.TenderTerms(**super().value())


def _tender(row: m.Tender) -> dict[str, Any]:
    return {"tender": Tender.from_row(row)}


def _clarification(row: m.Clarification) -> dict[str, Any]:
    return {"clarification": Clarification.from_row(row)}


def _challenge(row: m.Challenge) -> dict[str, Any]:
    return {"challenge": Challenge.from_row(row)}


def _tender_step(step: Callable[..., Awaitable[m.Tender]], description: str) -> Any:
    """A mutation that takes a tender through one step of its purchase, by its officers."""

    @mutation(description, roles=[Role.OFFICER])
    async def resolve(self, info: Info, tender_id: strawberry.ID) -> TenderPayload:
        return await mutate(
            info, TenderPayload, call(step, tender_id=Id(tender_id, "Tender", "tenderId")), _tender
        )

    return resolve


@strawberry.type
class TenderMutation:
    @mutation("Draft a tender for the officer's department.", roles=[Role.OFFICER])
    async def create_tender(self, info: Info, input: CreateTenderInput) -> TenderPayload:
        return await mutate(info, TenderPayload, call(tenders.create_tender, terms=NewTerms(input)), _tender)

    @mutation("OFFICER of the department: edit a DRAFT tender.", roles=[Role.OFFICER])
    async def update_tender(self, info: Info, id: strawberry.ID, input: UpdateTenderInput) -> TenderPayload:
        action = call(tenders.update_tender, tender_id=Id(id, "Tender"), changes=TermsChanges(input))
        return await mutate(info, TenderPayload, action, _tender)

    @mutation(
        "OFFICER of the department: publish a DRAFT; bids open until the deadline.", roles=[Role.OFFICER]
    )
    async def publish_tender(self, info: Info, id: strawberry.ID) -> TenderPayload:
        return await mutate(
            info, TenderPayload, call(tenders.publish_tender, tender_id=Id(id, "Tender")), _tender
        )

    @mutation("OFFICER of the department: a correction notice on a PUBLISHED tender.", roles=[Role.OFFICER])
    async def amend_tender(self, info: Info, id: strawberry.ID, input: AmendTenderInput) -> TenderPayload:
        changes = {name: value for name in tenders.AMENDABLE if (value := getattr(input, name)) is not None}
        action = call(tenders.amend_tender, tender_id=Id(id, "Tender"), reason=input.reason, changes=changes)
        return await mutate(info, TenderPayload, action, _tender)

    @mutation(
        "OFFICER of the department: cancel, with a reason, any time before AWARDED.", roles=[Role.OFFICER]
    )
    async def cancel_tender(self, info: Info, id: strawberry.ID, reason: LongText) -> TenderPayload:
        action = call(tenders.cancel_tender, tender_id=Id(id, "Tender"), reason=reason)
        return await mutate(info, TenderPayload, action, _tender)

    @mutation("Ask a question about a PUBLISHED tender before its deadline.", roles=[Role.PROVIDER])
    async def ask_clarification(
        self, info: Info, tender_id: strawberry.ID, question: LongText
    ) -> ClarificationPayload:
        action = call(
            tenders.ask_clarification, tender_id=Id(tender_id, "Tender", "tenderId"), question=question
        )
        return await mutate(info, ClarificationPayload, action, _clarification)

    @mutation("OFFICER of the department: answer a question; the answer is public.", roles=[Role.OFFICER])
    async def answer_clarification(
        self, info: Info, id: strawberry.ID, answer: LongText
    ) -> ClarificationPayload:
        action = call(tenders.answer_clarification, clarification_id=Id(id, "Clarification"), answer=answer)
        return await mutate(info, ClarificationPayload, action, _clarification)

    @mutation(
        "An ACTIVE provider's sealed bid, or a new version of its live bid, before the deadline.",
        roles=[Role.PROVIDER],
    )
    async def submit_bid(self, info: Info, input: SubmitBidInput) -> BidPayload:
        return await _submitted(info, call(bids.submit_bid, Fields(input, tender_id="Tender")))

    @mutation("Re-confirm its bid unchanged after an amendment (new receipt).", roles=[Role.PROVIDER])
    async def confirm_bid(self, info: Info, id: strawberry.ID) -> BidPayload:
        return await _submitted(info, call(bids.confirm_bid, bid_id=Id(id, "Bid")))

    @mutation("Withdraw its bid before the deadline.", roles=[Role.PROVIDER])
    async def withdraw_bid(self, info: Info, id: strawberry.ID) -> BidPayload:
        return await _bid_changed(info, call(bids.withdraw_bid, bid_id=Id(id, "Bid")))

    open_bids = _tender_step(
        bids.open_bids,
        "OFFICER of the department: open the bids (开标) after the deadline; decides validity.",
    )

    @mutation(
        "Panel member: declare conflicts with bidders (an empty list: none); a conflict removes the member "
        "from this tender's panel.",
        roles=[Role.EVALUATOR, Role.OFFICER],
    )
    async def declare_conflicts(
        self, info: Info, tender_id: strawberry.ID, provider_ids: list[strawberry.ID]
    ) -> TenderPayload:
        action = call(
            evaluation.declare_conflicts,
            tender_id=Id(tender_id, "Tender", "tenderId"),
            provider_ids=Id(provider_ids, "Provider", "providerIds"),
        )
        return await mutate(info, TenderPayload, action, _tender)

    @mutation(
        "Panel member (declared, not conflicted): quality score 0-100 of a valid bid.",
        roles=[Role.EVALUATOR, Role.OFFICER],
    )
    async def score_bid(self, info: Info, bid_id: strawberry.ID, score: float) -> BidPayload:
        return await _bid_changed(
            info, call(evaluation.score_bid, bid_id=Id(bid_id, "Bid", "bidId"), score=score)
        )

    @mutation("Justify its abnormally low price in writing.", roles=[Role.PROVIDER])
    async def justify_bid(self, info: Info, bid_id: strawberry.ID, text: LongText) -> BidPayload:
        return await _bid_changed(
            info, call(evaluation.justify_bid, bid_id=Id(bid_id, "Bid", "bidId"), text=text)
        )

    @mutation(
        "OFFICER of the department: accept (stays valid) or reject (invalid) a justification.",
        roles=[Role.OFFICER],
    )
    async def decide_justification(self, info: Info, bid_id: strawberry.ID, accept: bool) -> BidPayload:
        action = call(evaluation.decide_justification, bid_id=Id(bid_id, "Bid", "bidId"), accept=accept)
        return await _bid_changed(info, action)

    rank_bids = _tender_step(
        evaluation.rank_bids,
        "OFFICER of the department: compute and keep every score and the ranking (SCORES_MISSING until "
        "every remaining evaluator scored every valid bid).",
    )
    recommend_award = _tender_step(
        awards.recommend_award,
        "OFFICER of the department: rank and recommend the top bid; starts the challenge period.",
    )

    @mutation(
        "A bidder of the tender: challenge the recommended award within the period.", roles=[Role.PROVIDER]
    )
    async def file_challenge(
        self, info: Info, tender_id: strawberry.ID, reason: LongText
    ) -> ChallengePayload:
        action = call(challenges.file_challenge, tender_id=Id(tender_id, "Tender", "tenderId"), reason=reason)
        return await mutate(info, ChallengePayload, action, _challenge)

    @mutation(
        "OFFICER of the department: DISMISSED, or UPHELD (the tender goes back to EVALUATING).",
        roles=[Role.OFFICER],
    )
    async def decide_challenge(
        self, info: Info, id: strawberry.ID, decision: ChallengeDecisionType, note: LongText
    ) -> ChallengePayload:
        action = call(
            challenges.decide_challenge, challenge_id=Id(id, "Challenge"), decision=decision, note=note
        )
        return await mutate(info, ChallengePayload, action, _challenge)


async def _submitted(info: Info, submit: Action) -> BidPayload:
    """A bid submitted or confirmed; the payload shows it with its new receipt."""

    async def action(session, actor):
        submission = await submit(session, actor)
        return submission, await access.read_bid(session, actor, submission.bid, tender=submission.tender)

    return await mutate(info, BidPayload, action, _bid_with_receipt)


async def _bid_changed(info: Info, change: Action) -> BidPayload:
    """A change to one bid; the payload shows the bid as the caller reads it."""

    async def action(session, actor):
        return await access.read_bid(session, actor, await change(session, actor))

    return await mutate(info, BidPayload, action, lambda view: {"bid": Bid.from_view(view)})


def _bid_with_receipt(submitted: tuple[bids.Submission, access.ReadableBid]) -> dict[str, Any]:
    submission, view = submitted
    receipt = submission.receipt
    return {
        "bid": Bid.from_view(view),
        "receipt": BidReceipt(sha256=receipt.receipt_sha256, submitted_at=receipt.submitted_at),
    }
