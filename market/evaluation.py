"""Bid evaluation (综合评分法, SPEC §4.3): the formulas, the panel, justifications, the ranking.

The formulas are pure functions: no database, no clock. Scores are Decimals rounded half-even to
0.01, as published in the award notice; ranking uses the rounded totals.

The panel's EVALUATORs (or OFFICERs named to it) declare their conflicts of interest, and those left
score every valid bid's quality; PROVIDERs justify abnormally low prices in writing and the tender's
officers accept or reject each justification; then the officers rank the valid bids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode
from market import access
from market.models import Bid, BidStatus, PanelMember, QualityScore, Tender, TenderStatus
from market.tenders import close_if_too_few, load_tender, owned_tender, require_status

HUNDRED = Decimal(100)
SCORE_PLACES = Decimal("0.01")
ABNORMALLY_LOW_SHARE = Decimal("0.8")  # below 80% of the mean valid price

# Track-record score by star certification at the deadline; unrated entrants are not punished.
RECORD_SCORE_BY_STARS = {5: 100, 4: 90, 3: 80, 2: 60, 1: 40, None: 80}


# ---------------------------------------------------------------- formulas


def score(value: Decimal) -> Decimal:
    return value.quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN)


def price_score(lowest: Decimal, unit_price: Decimal) -> Decimal:
    """100 × lowest valid unit price / this bid's unit price."""
    return score(HUNDRED * lowest / unit_price)


def quality_score(evaluator_scores: Sequence[float]) -> Decimal:
    """The mean of the remaining evaluators' scores."""
    values = [Decimal(str(s)) for s in evaluator_scores]
    return score(sum(values) / len(values))


def record_score(stars: int | None) -> Decimal:
    return Decimal(RECORD_SCORE_BY_STARS[stars])


def total_score(
    *, price: Decimal, quality: Decimal, record: Decimal, weights: tuple[float, float, float]
) -> Decimal:
    price_weight, quality_weight, record_weight = (Decimal(str(w)) for w in weights)
    return score(price_weight * price + quality_weight * quality + record_weight * record)


def abnormally_low(prices: Sequence[Decimal]) -> list[bool]:
    """Which prices are below 80% of the mean of all given (valid) prices."""
    if not prices:
        return []
    threshold = ABNORMALLY_LOW_SHARE * sum(prices) / len(prices)
    return [price < threshold for price in prices]


@dataclass(frozen=True)
class Ranked:
    bid_id: int
    unit_price: Decimal
    submitted_at: dt.datetime
    total: Decimal


def rank(bids: Sequence[Ranked]) -> list[int]:
    """Bid ids best first: highest total, then lower unit price, then earlier final submission."""
    ordered = sorted(bids, key=lambda b: (-b.total, b.unit_price, b.submitted_at, b.bid_id))
    return [b.bid_id for b in ordered]


# ---------------------------------------------------------------- the track record


StarsLookup = Callable[[AsyncSession, Sequence[int], dt.datetime], Awaitable[dict[int, int]]]


async def _no_certificates(_session, _provider_ids, _moment) -> dict[int, int]:
    return {}


# Stars of providers at a moment, for the track-record score (SPEC §4.3). The scoring domain owns
# certificates; app.py installs its lookup here, since market may not import scoring. Until then,
# and until a certification run has happened, every provider is unrated.
track_record_stars: StarsLookup = _no_certificates


def install_track_record(lookup: StarsLookup) -> None:
    """The composition root (app.py) hands in the scoring domain's `stars_at`."""
    global track_record_stars
    track_record_stars = lookup


# ---------------------------------------------------------------- the panel and its scores


async def _panel_member(session: AsyncSession, actor: Actor, tender_id: int) -> PanelMember:
    member = await session.get(PanelMember, (tender_id, actor.user_id), with_for_update=True)
    if member is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "you are not on this tender's evaluation panel")
    return member


async def declare_conflicts(
    *, session: AsyncSession, actor: Actor, tender_id: int, provider_ids: Sequence[int]
) -> Tender:
    """Each panel member declares once; a conflict with any bidder removes them from the panel."""
    tender = await load_tender(session, actor, tender_id, field=["tenderId"])
    member = await _panel_member(session, actor, tender_id)
    require_status(tender, TenderStatus.EVALUATING, doing="declare conflicts")
    if member.declared_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "you have declared already")
    bidders = set(
        (
            await session.scalars(
                select(Bid.provider_id).where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
            )
        ).all()
    )
    for index, provider_id in enumerate(provider_ids):
        if provider_id not in bidders:
            raise DomainError(
                ErrorCode.NOT_FOUND, "not a bidder of this tender", field=["providerIds", str(index)]
            )
    before = journal.snapshot(member)
    member.declared_at = await clock.now(session)
    member.conflicted_provider_ids = sorted(set(provider_ids))
    await journal.record(session, actor=actor, action="panel.declared", entity=member, before=before)
    return tender


async def score_bid(*, session: AsyncSession, actor: Actor, bid_id: int, score: float) -> Bid:
    """A remaining panel member's quality score (0-100) of a valid bid; may be revised until ranking."""
    bid = await access.visible_bid(session, actor, bid_id, field=["bidId"], lock=True)
    member = await _panel_member(session, actor, bid.tender_id)
    tender = await session.get(Tender, bid.tender_id)
    require_status(tender, TenderStatus.EVALUATING, doing="score bids")
    if member.declared_at is None:
        raise DomainError(ErrorCode.INVALID_STATE, "declare your conflicts of interest first")
    if member.removed:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "you declared a conflict and were removed from this panel"
        )
    if bid.status != BidStatus.VALID:
        raise DomainError(ErrorCode.INVALID_STATE, "only valid bids are scored")
    if not 0 <= score <= 100:
        raise DomainError(ErrorCode.INVALID, "a quality score is from 0 to 100", field=["score"])
    existing = await session.get(QualityScore, (bid.id, actor.user_id))
    before = journal.snapshot(existing) if existing else None
    entry = existing or QualityScore(
        bid_id=bid.id, evaluator_id=actor.user_id, score=score, scored_at=await clock.now(session)
    )
    entry.score, entry.scored_at = score, await clock.now(session)
    session.add(entry)
    tender.ranked_at = None
    await journal.record(session, actor=actor, action="bid.scored", entity=entry, before=before)
    return bid


# ---------------------------------------------------------------- abnormally low prices


async def justify_bid(*, session: AsyncSession, actor: Actor, bid_id: int, text: str) -> Bid:
    """The provider explains an abnormally low price in writing."""
    bid = await access.own_bid(session, actor, bid_id)
    tender = await session.get(Tender, bid.tender_id)
    require_status(tender, TenderStatus.EVALUATING, doing="justify prices")
    if not bid.abnormally_low or bid.status != BidStatus.VALID:
        raise DomainError(ErrorCode.INVALID_STATE, "only a valid, abnormally low bid needs a justification")
    if bid.justification_accepted is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "the justification has been decided")
    if not text.strip():
        raise DomainError(ErrorCode.INVALID, "the justification is empty", field=["text"])
    before = journal.snapshot(bid)
    bid.justification = text.strip()
    await journal.record(session, actor=actor, action="bid.justified", entity=bid, before=before)
    return bid


async def decide_justification(*, session: AsyncSession, actor: Actor, bid_id: int, accept: bool) -> Bid:
    """The officer accepts (the bid stays valid) or rejects (it becomes invalid) before ranking."""
    bid = await access.visible_bid(session, actor, bid_id, field=["bidId"], lock=True)
    tender = await owned_tender(session, actor, bid.tender_id, field=["bidId"])
    require_status(tender, TenderStatus.EVALUATING, doing="decide justifications")
    if not bid.abnormally_low or bid.status != BidStatus.VALID or bid.justification_accepted is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "this bid awaits no decision")
    if accept and bid.justification is None:
        raise DomainError(ErrorCode.INVALID_STATE, "the provider has not justified its price yet")
    before = journal.snapshot(bid)
    bid.justification_accepted = accept
    if not accept:
        bid.status, bid.invalid_reason = BidStatus.INVALID, "abnormally low price, justification rejected"
    tender.ranked_at = None
    await journal.record(session, actor=actor, action="bid.justification_decided", entity=bid, before=before)
    return bid


# ---------------------------------------------------------------- ranking


async def rank_bids(*, session: AsyncSession, actor: Actor, tender_id: int) -> Tender:
    """Score and rank the valid bids, keeping every intermediate number."""
    tender = await owned_tender(session, actor, tender_id, field=["tenderId"])
    await score_and_rank(session, actor, tender)
    return tender


async def score_and_rank(session: AsyncSession, actor: Actor, tender: Tender) -> list[Bid]:
    """Every score of the valid bids and their ranks, kept on the bids; the valid bids, best first."""
    require_status(tender, TenderStatus.EVALUATING, doing="rank bids")
    now = await clock.now(session)
    bids = (
        await session.scalars(
            select(Bid).where(Bid.tender_id == tender.id).order_by(Bid.id).with_for_update()
        )
    ).all()
    valid = [b for b in bids if b.status == BidStatus.VALID]
    pending = [b for b in valid if b.abnormally_low and b.justification_accepted is None]
    if pending:
        raise DomainError(
            ErrorCode.INVALID_STATE, "decide the justification of every abnormally low bid first"
        )
    before = journal.snapshot(tender)
    if close_if_too_few(tender, len(valid), now):
        await journal.record(session, actor=actor, action="tender.unsuccessful", entity=tender, before=before)
        return []
    panel = (await session.scalars(select(PanelMember).where(PanelMember.tender_id == tender.id))).all()
    evaluators = [m.user_id for m in panel if not m.removed]
    if not evaluators:
        raise DomainError(ErrorCode.SCORES_MISSING, "no evaluator is left on the panel")
    scores = (
        await session.scalars(
            select(QualityScore).where(
                QualityScore.bid_id.in_([b.id for b in valid]), QualityScore.evaluator_id.in_(evaluators)
            )
        )
    ).all()
    by_bid: dict[int, dict[int, float]] = {b.id: {} for b in valid}
    for entry in scores:
        by_bid[entry.bid_id][entry.evaluator_id] = entry.score
    missing = sum(len(set(evaluators) - set(given)) for given in by_bid.values())
    if missing:
        raise DomainError(
            ErrorCode.SCORES_MISSING,
            f"{missing} quality score(s) missing: every remaining evaluator scores every valid bid",
        )
    stars = await track_record_stars(session, [b.provider_id for b in valid], tender.bid_deadline)
    lowest = min(b.unit_price for b in valid)
    weights = (tender.price_weight, tender.quality_weight, tender.record_weight)
    ranked = []
    for bid in valid:
        price = price_score(lowest, bid.unit_price)
        quality = quality_score(list(by_bid[bid.id].values()))
        bid.record_stars = stars.get(bid.provider_id)
        record = record_score(bid.record_stars)
        total = total_score(price=price, quality=quality, record=record, weights=weights)
        bid.price_score, bid.quality_score = float(price), float(quality)
        bid.record_score, bid.total_score = float(record), float(total)
        ranked.append(Ranked(bid.id, bid.unit_price, bid.submitted_at, total))
    order = {bid_id: i + 1 for i, bid_id in enumerate(rank(ranked))}
    for bid in bids:
        bid.rank = order.get(bid.id)
    tender.ranked_at = now
    await journal.record(session, actor=actor, action="tender.ranked", entity=tender, before=before)
    return sorted(valid, key=lambda b: b.rank)
