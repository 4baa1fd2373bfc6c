"""Who may see what in the market, each rule stated once (SPEC §2, §4.2, §7).

Every rule is a Python predicate and the SQL clause that selects the same rows: services and the
by-ID loaders test the rows they hold with the predicate, list statements and loaders select with the
clause, and the GraphQL types only map what those return. `tests/market/test_access.py` checks
that each predicate and its clause agree, for every kind of caller.

The sealed-bid rule above all (SPEC §4.2): before the opening nobody but the bidding provider can
read anything about a bid, not even that it exists; after it, the tender's officers and panel read
the bids with their texts, its bidders read the bids without the others' texts, and everyone does
once the award is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor, Role
from core.errors import DomainError, ErrorCode
from market.models import (
    Bid,
    BidStatus,
    Challenge,
    Clarification,
    PanelMember,
    Provider,
    ProviderStatus,
    Tender,
    TenderStatus,
    User,
)
from market.receipts import canonical_bid

STAFF = (Role.ADMIN, Role.OFFICER)

# ---------------------------------------------------------------- accounts


def can_see_user(actor: Actor | None, user: User) -> bool:
    """An account is seen by itself and by ADMINs."""
    return actor is not None and (actor.role == Role.ADMIN or actor.user_id == user.id)


def users_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    if actor is None:
        return false()
    if actor.role == Role.ADMIN:
        return true()
    return User.id == actor.user_id if actor.user_id is not None else false()


# ---------------------------------------------------------------- providers


def can_see_provider(actor: Actor | None, provider: Provider) -> bool:
    """PENDING providers are seen only by staff and by their own users; the rest are public."""
    return provider.status != ProviderStatus.PENDING or (
        actor is not None and (actor.role in STAFF or actor.provider_id == provider.id)
    )


def providers_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    if actor is not None and actor.role in STAFF:
        return true()
    clause = Provider.status != ProviderStatus.PENDING
    if actor is not None and actor.provider_id is not None:
        clause = or_(clause, Provider.id == actor.provider_id)
    return clause


def can_manage_provider(actor: Actor, provider_id: int) -> bool:
    """Staff manage every provider's record; a provider's own users manage only theirs."""
    return actor.role in STAFF or actor.provider_id == provider_id


# ---------------------------------------------------------------- tenders


def is_tender_officer(actor: Actor | None, tender: Tender) -> bool:
    """The OFFICERs of the purchasing department own a tender: they run it and see all of it."""
    return (
        actor is not None
        and actor.role == Role.OFFICER
        and actor.department_id is not None
        and actor.department_id == tender.department_id
    )


def tender_officer_clause(actor: Actor | None) -> ColumnElement[bool]:
    """`is_tender_officer` on the Tender table."""
    if actor is not None and actor.role == Role.OFFICER and actor.department_id is not None:
        return Tender.department_id == actor.department_id
    return false()


def can_see_tender(actor: Actor | None, tender: Tender) -> bool:
    """Drafts belong to their department; published tenders are public notices."""
    return tender.status != TenderStatus.DRAFT or is_tender_officer(actor, tender)


def tender_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    return or_(Tender.status != TenderStatus.DRAFT, tender_officer_clause(actor))


# ---------------------------------------------------------------- sealed bids


@dataclass(frozen=True)
class BidAccess:
    """What a caller may read of the bids of one tender."""

    own_provider_id: int | None  # a PROVIDER reads its own bid, at any stage
    all_opened: bool  # the opened bids: officers, panel and bidders after opening; everyone after award
    proposals: bool  # the texts of others' bids: the tender's officers and panel, after opening

    @property
    def sealed(self) -> bool:
        """Nothing of the tender's bids is readable (`bids_visible_clause` is false)."""
        return self.own_provider_id is None and not self.all_opened


async def bid_access(
    session: AsyncSession, actor: Actor | None, tenders: Sequence[Tender]
) -> dict[int, BidAccess]:
    """Bid access for several tenders in at most one query (panel seats, or the caller's own bids)."""
    own = actor.provider_id if actor is not None and actor.role == Role.PROVIDER else None
    opened = [t.id for t in tenders if t.opened_at is not None]
    seats: set[int] = set()
    bidding: set[int] = set()
    if (
        opened
        and actor is not None
        and actor.user_id is not None
        and actor.role in (Role.EVALUATOR, Role.OFFICER)
    ):
        statement = select(PanelMember.tender_id).where(
            PanelMember.tender_id.in_(opened), PanelMember.user_id == actor.user_id
        )
        seats = set((await session.scalars(statement)).all())
    if opened and own is not None:
        statement = select(Bid.tender_id).where(
            Bid.tender_id.in_(opened), Bid.provider_id == own, Bid.status != BidStatus.WITHDRAWN
        )
        bidding = set((await session.scalars(statement)).all())
    access = {}
    for tender in tenders:
        if tender.opened_at is None:
            access[tender.id] = BidAccess(own, False, False)
        elif is_tender_officer(actor, tender) or tender.id in seats:
            access[tender.id] = BidAccess(own, True, True)
        elif tender.id in bidding:
            access[tender.id] = BidAccess(own, True, False)
        else:
            access[tender.id] = BidAccess(own, tender.status == TenderStatus.AWARDED, False)
    return access


def _is_own(access: BidAccess, bid: Bid) -> bool:
    return access.own_provider_id is not None and bid.provider_id == access.own_provider_id


def _is_opened_to(access: BidAccess, bid: Bid) -> bool:
    return access.all_opened and bid.status != BidStatus.WITHDRAWN


def can_see_bid(access: BidAccess, bid: Bid) -> bool:
    return _is_own(access, bid) or _is_opened_to(access, bid)


def bids_visible_clause(access: BidAccess) -> ColumnElement[bool]:
    clauses = []
    if access.own_provider_id is not None:
        clauses.append(Bid.provider_id == access.own_provider_id)
    if access.all_opened:
        clauses.append(Bid.status != BidStatus.WITHDRAWN)
    return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class ReadableBid:
    """A bid as one caller may read it: its texts only for its provider, the tender's officers and panel."""

    row: Bid
    texts: bool

    @property
    def proposal(self) -> str:
        return self.row.proposal if self.texts else ""

    @property
    def justification(self) -> str | None:
        return self.row.justification if self.texts else None

    @property
    def canonical_content(self) -> str:
        if not self.texts:
            return ""
        return canonical_bid(self.row, tender_id=self.row.tender_id, provider_id=self.row.provider_id)


def readable_bid(access: BidAccess, bid: Bid) -> ReadableBid | None:
    """The bid as a caller with `access` reads it; None when the bid is sealed to them."""
    if not can_see_bid(access, bid):
        return None
    return ReadableBid(bid, texts=_is_own(access, bid) or access.proposals)


async def read_bid(
    session: AsyncSession,
    actor: Actor | None,
    bid: Bid,
    *,
    field: Sequence[str] = ("id",),
    tender: Tender | None = None,
) -> ReadableBid:
    """The bid as the caller reads it; NOT_FOUND when it is sealed to them (bid IDs cannot be probed).

    `tender`: the bid's tender when the caller holds it already.
    """
    if tender is None or tender.id != bid.tender_id:
        tender = await session.get(Tender, bid.tender_id)
    view = readable_bid((await bid_access(session, actor, [tender]))[tender.id], bid)
    if view is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no bid with this ID", field=field)
    return view


async def visible_bid(
    session: AsyncSession, actor: Actor, bid_id: int, *, field: Sequence[str], lock: bool = False
) -> Bid:
    """A bid the caller may read, locked when asked; NOT_FOUND for any other."""
    bid = await session.get(Bid, bid_id, with_for_update=lock)
    if bid is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no bid with this ID", field=field)
    return (await read_bid(session, actor, bid, field=field)).row


async def own_bid(session: AsyncSession, actor: Actor, bid_id: int) -> Bid:
    """The caller's own bid. Anyone else's reads as not found: a bid's existence is sealed too."""
    bid = await session.get(Bid, bid_id)
    if bid is None or actor.provider_id is None or bid.provider_id != actor.provider_id:
        raise DomainError(ErrorCode.NOT_FOUND, "no bid of yours with this ID", field=["id"])
    return bid


@dataclass(frozen=True)
class TenderBids:
    """The bids of one tender that a caller may read, as they read them."""

    opened: list[
        ReadableBid
    ]  # the opened bids (none before the opening, nor for the uninvolved before the award)
    own: ReadableBid | None  # the caller's own bid
    recommended: ReadableBid | None  # the bid recommended for award, when readable


def tender_bids(access: BidAccess, tender: Tender, bids: Sequence[Bid]) -> TenderBids:
    """Sorts the bids of `tender` that `bids_visible_clause(access)` selected."""
    views = [view for view in (readable_bid(access, bid) for bid in bids) if view is not None]
    return TenderBids(
        opened=[v for v in views if _is_opened_to(access, v.row)],
        own=next((v for v in views if _is_own(access, v.row)), None),
        recommended=next((v for v in views if v.row.id == tender.recommended_bid_id), None),
    )


def opening_record_is_public(tender: Tender) -> bool:
    """SPEC §7: the opening record (开标记录) is public once the bids are opened, never before; the
    bids themselves (their scores, statuses, texts) only to the parties until the award is final."""
    return tender.opened_at is not None and tender.status != TenderStatus.DRAFT


def opening_record(access: BidAccess, tender: Tender) -> list[dict] | None:
    """The opening record (bidders, unit prices, receipts): public after the opening (SPEC §7)."""
    return tender.opening_record if access.all_opened or opening_record_is_public(tender) else None


# ---------------------------------------------------------------- clarifications and challenges


def _asked_by(actor: Actor | None, clarification_or_challenge: Clarification | Challenge) -> bool:
    return (
        actor is not None
        and actor.provider_id is not None
        and clarification_or_challenge.provider_id == actor.provider_id
    )


def can_see_clarification(actor: Actor | None, clarification: Clarification, tender: Tender) -> bool:
    """Answered questions for whoever sees the tender; unanswered ones for the asker and its officers."""
    return can_see_tender(actor, tender) and (
        clarification.answer is not None
        or _asked_by(actor, clarification)
        or is_tender_officer(actor, tender)
    )


def clarifications_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    own = (
        Clarification.provider_id == actor.provider_id if actor and actor.provider_id is not None else false()
    )
    return exists().where(
        Tender.id == Clarification.tender_id,
        tender_visible_clause(actor),
        or_(Clarification.answer.is_not(None), own, tender_officer_clause(actor)),
    )


def can_see_challenge(actor: Actor | None, challenge: Challenge, tender: Tender) -> bool:
    """All challenges of a tender for its officers; a bidder's own for that bidder."""
    return _asked_by(actor, challenge) or is_tender_officer(actor, tender)


def challenges_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    own = Challenge.provider_id == actor.provider_id if actor and actor.provider_id is not None else false()
    return or_(own, exists().where(Tender.id == Challenge.tender_id, tender_officer_clause(actor)))
