"""Awards (SPEC §4.4): recommending the top-ranked bid, and closing the award once the challenge
period has passed with no challenge open. The contract an award makes is the contracts domain's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode
from core.settings import get_settings
from market import challenges, evaluation
from market.models import Bid, Challenge, Tender, TenderStatus
from market.tenders import owned_tender, require_status


async def recommend_award(*, session: AsyncSession, actor: Actor, tender_id: int) -> Tender:
    """Rank, put the top bid forward (AWARD_PENDING) and start the 7-working-day challenge period."""
    tender = await owned_tender(session, actor, tender_id, field=["tenderId"])
    ranked = await evaluation.score_and_rank(session, actor, tender)
    if not ranked:
        return tender
    now = await clock.now(session)
    before = journal.snapshot(tender)
    tender.status = TenderStatus.AWARD_PENDING
    tender.recommended_bid_id = ranked[0].id
    tender.recommended_at = now
    tender.challenge_deadline = challenges.challenge_deadline(now, get_settings().zone)
    await journal.record(
        session, actor=actor, action="tender.award_recommended", entity=tender, before=before
    )
    return tender


@dataclass(frozen=True)
class AwardDecision:
    tender: Tender
    bid: Bid
    actor: Actor


async def close_award(*, session: AsyncSession, actor: Actor, tender_id: int) -> AwardDecision:
    """Check that the award can be finalised and mark the tender AWARDED.

    `contracts` calls this when it finalises the award (`finalizeAward`) and makes the contract.
    """
    tender = await owned_tender(session, actor, tender_id, field=["tenderId"])
    require_status(tender, TenderStatus.AWARD_PENDING, doing="finalise the award")
    now = await clock.now(session)
    if now < tender.challenge_deadline:
        raise DomainError(ErrorCode.TOO_EARLY, "the challenge period is still running")
    if await session.scalar(
        select(exists().where(Challenge.tender_id == tender.id, Challenge.decision.is_(None)))
    ):
        raise DomainError(ErrorCode.CHALLENGE_OPEN, "a challenge is still open; decide it first")
    bid = await session.get(Bid, tender.recommended_bid_id)
    before = journal.snapshot(tender)
    tender.status, tender.awarded_at = TenderStatus.AWARDED, now
    await journal.record(session, actor=actor, action="tender.awarded", entity=tender, before=before)
    return AwardDecision(tender=tender, bid=bid, actor=actor)
