"""Challenges (质疑, SPEC §4.4): the challenge period's calendar, bidders' challenges of a
recommended award, and the officers' decisions on them.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode
from market.models import Bid, BidStatus, Challenge, ChallengeDecision, TenderStatus
from market.providers import acting_provider
from market.tenders import load_tender, owned_tender, require_status

CHALLENGE_WORKING_DAYS = 7  # 质疑期


@lru_cache(maxsize=4)
def _calendar() -> holidays.HolidayBase:
    return holidays.China()


def is_working_day(day: dt.date) -> bool:
    """Weekdays that are not public holidays, plus the make-up working weekends (调休)."""
    return _calendar().is_working_day(day)


def challenge_deadline(recommended_at: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """End of the 7th working day after the day of recommendation, in the deployment's zone (UTC)."""
    day, counted = recommended_at.astimezone(zone).date(), 0
    while counted < CHALLENGE_WORKING_DAYS:
        day += dt.timedelta(days=1)
        counted += is_working_day(day)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return end.astimezone(dt.UTC)


async def file_challenge(*, session: AsyncSession, actor: Actor, tender_id: int, reason: str) -> Challenge:
    """A bidder of the tender challenges the recommendation during the challenge period."""
    provider = await acting_provider(session, actor)
    tender = await load_tender(session, actor, tender_id, field=["tenderId"])
    if not await session.scalar(
        select(
            exists().where(
                Bid.tender_id == tender.id, Bid.provider_id == provider.id, Bid.status != BidStatus.WITHDRAWN
            )
        )
    ):
        raise DomainError(ErrorCode.PERMISSION_DENIED, "only bidders of this tender may challenge its award")
    require_status(tender, TenderStatus.AWARD_PENDING, doing="challenge the award")
    now = await clock.now(session)
    if now >= tender.challenge_deadline:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the challenge period is over")
    if not reason.strip():
        raise DomainError(ErrorCode.INVALID, "give the reasons of the challenge", field=["reason"])
    challenge = Challenge(tender_id=tender.id, provider_id=provider.id, reason=reason.strip(), filed_at=now)
    session.add(challenge)
    await journal.record(session, actor=actor, action="challenge.filed", entity=challenge)
    return challenge


async def decide_challenge(
    *, session: AsyncSession, actor: Actor, challenge_id: int, decision: ChallengeDecision, note: str
) -> Challenge:
    """DISMISSED leaves the recommendation; UPHELD sends the tender back to EVALUATING."""
    challenge = await session.get(Challenge, challenge_id, with_for_update=True)
    if challenge is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no challenge with this ID", field=["id"])
    tender = await owned_tender(session, actor, challenge.tender_id)
    if challenge.decision is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "this challenge has been decided")
    if not note.strip():
        raise DomainError(ErrorCode.INVALID, "explain the decision", field=["note"])
    before = journal.snapshot(challenge)
    challenge.decision, challenge.decision_note = decision, note.strip()
    challenge.decided_at = await clock.now(session)
    await journal.record(session, actor=actor, action="challenge.decided", entity=challenge, before=before)
    if decision == ChallengeDecision.UPHELD and tender.status == TenderStatus.AWARD_PENDING:
        tender_before = journal.snapshot(tender)
        tender.status = TenderStatus.EVALUATING
        tender.recommended_bid_id = tender.recommended_at = tender.challenge_deadline = None
        tender.ranked_at = None
        await journal.record(session, actor=actor, action="tender.reopened_for_evaluation", entity=tender,
                             before=tender_before)  # fmt: skip
    return challenge
