"""Sealed bids (SPEC §4.2): submission with receipts, amendment, re-confirmation, withdrawal, and
the opening (开标) that decides each bid's validity (SPEC §4.3).

Nothing about a bid is readable by anyone but its provider before the opening (`access`). Bids and
the opening serialise on the tender row (SELECT … FOR UPDATE), and the deadline is checked again
as the last step before COMMIT with the application clock, so a bid whose transaction commits late
never gets in (PostgreSQL's now() would give the transaction's start time instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor
from core.db import CENT, check_at_commit
from core.errors import DomainError, ErrorCode
from market import access, evaluation
from market.models import (
    Bid,
    BidStatus,
    BidVersion,
    Provider,
    ProviderStatus,
    Qualification,
    ServicePackage,
    Tender,
    TenderStatus,
)
from market.providers import acting_provider
from market.receipts import receipt_sha256
from market.tenders import close_if_too_few, load_tender, owned_tender, require_status


def _refuse_after_deadline(session: AsyncSession, deadline: dt.datetime) -> None:
    """Check again at COMMIT, not just when the work began: a late commit is a late bid.

    Registered last, once everything else passed, so a refused bid leaves no check behind.
    """

    def check() -> None:
        if clock.now_at_commit(session) >= deadline:
            raise DomainError(
                ErrorCode.DEADLINE_PASSED, "the bid deadline passed before the bid was committed"
            )

    check_at_commit(session, check)


async def _open_for_bids(
    session: AsyncSession, actor: Actor, tender_id: int, *, field
) -> tuple[Tender, dt.datetime]:
    """The tender, locked against the opening, while it still takes bids."""
    tender = await load_tender(session, actor, tender_id, field=field, lock=True)
    now = await clock.now(session)
    if tender.status == TenderStatus.PUBLISHED and now >= tender.bid_deadline:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the bid deadline has passed")
    require_status(tender, TenderStatus.PUBLISHED, doing="take bids")
    return tender, now


def _check_price(tender: Tender, package: ServicePackage, unit_price: Decimal) -> None:
    field = ["input", "unitPrice"]
    if unit_price <= 0 or unit_price != unit_price.quantize(CENT):
        raise DomainError(
            ErrorCode.INVALID, "the unit price is positive, with at most 2 decimals", field=field
        )
    if unit_price > tender.max_unit_price:
        raise DomainError(
            ErrorCode.PRICE_ABOVE_CEILING,
            f"the unit price is above the ceiling of {tender.max_unit_price}",
            field=field,
        )
    if not package.min_unit_price <= unit_price <= package.max_unit_price:
        raise DomainError(
            ErrorCode.PRICE_OUT_OF_RANGE,
            f"the unit price is outside the package's reference range "
            f"{package.min_unit_price}-{package.max_unit_price}",
            field=field,
        )


@dataclass(frozen=True)
class Submission:
    bid: Bid
    receipt: BidVersion
    tender: Tender  # locked by the submission; kept so that reading the bid back needs no statement


async def _new_version(
    session: AsyncSession, bid: Bid, tender: Tender, *, now: dt.datetime, content: dict[str, Any]
) -> BidVersion:
    bid.unit_price = content["unit_price"]
    bid.proposal = content["proposal"]
    bid.capacity = content["capacity"]
    bid.attachments = list(content["attachments"])
    bid.submitted_at = now
    bid.status = BidStatus.SUBMITTED
    bid.confirmed_tender_version = tender.version
    bid.receipt_sha256 = receipt_sha256(bid, tender_id=tender.id)
    session.add(bid)
    await session.flush()
    receipt = BidVersion(
        bid_id=bid.id,
        version=bid.version,
        unit_price=bid.unit_price,
        proposal=bid.proposal,
        capacity=bid.capacity,
        attachments=list(bid.attachments),
        submitted_at=now,
        receipt_sha256=bid.receipt_sha256,
    )
    session.add(receipt)
    return receipt


async def submit_bid(
    *,
    session: AsyncSession,
    actor: Actor,
    tender_id: int,
    unit_price: Decimal,
    proposal: str,
    capacity: str | None = None,
    attachments: Sequence[str] | None = None,
) -> Submission:
    """A sealed bid, or a new version of the provider's live bid; both get a receipt."""
    provider = await acting_provider(session, actor)
    if provider.status != ProviderStatus.ACTIVE:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, f"your provider is {provider.status.value} and cannot bid"
        )
    tender, now = await _open_for_bids(session, actor, tender_id, field=["input", "tenderId"])
    package = await session.get(ServicePackage, tender.package_id)
    _check_price(tender, package, unit_price)
    if not proposal.strip():
        raise DomainError(ErrorCode.INVALID, "the technical proposal is empty", field=["input", "proposal"])
    bid = await session.scalar(
        select(Bid).where(Bid.tender_id == tender.id, Bid.provider_id == provider.id).with_for_update()
    )
    before = journal.snapshot(bid) if bid else None
    if bid is None:
        bid = Bid(tender_id=tender.id, provider_id=provider.id, version=1, unit_price=unit_price, proposal="",
                  submitted_at=now, receipt_sha256="")  # fmt: skip
    else:
        bid.version += 1
    content = {
        "unit_price": unit_price,
        "proposal": proposal.strip(),
        "capacity": capacity.strip() if capacity else None,
        "attachments": [a.strip() for a in attachments or () if a.strip()],
    }
    receipt = await _new_version(session, bid, tender, now=now, content=content)
    action = "bid.submitted" if before is None else "bid.amended"
    await journal.record(session, actor=actor, action=action, entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return Submission(bid=bid, receipt=receipt, tender=tender)


async def confirm_bid(*, session: AsyncSession, actor: Actor, bid_id: int) -> Submission:
    """Re-confirm a bid unchanged after an amendment of the tender: a new version and receipt."""
    bid = await access.own_bid(session, actor, bid_id)
    tender, now = await _open_for_bids(session, actor, bid.tender_id, field=["id"])
    if bid.status == BidStatus.WITHDRAWN:
        raise DomainError(ErrorCode.INVALID_STATE, "the bid was withdrawn; submit a new one")
    package = await session.get(ServicePackage, tender.package_id)
    _check_price(tender, package, bid.unit_price)
    before = journal.snapshot(bid)
    bid.version += 1
    content = {"unit_price": bid.unit_price, "proposal": bid.proposal, "capacity": bid.capacity,
               "attachments": bid.attachments}  # fmt: skip
    receipt = await _new_version(session, bid, tender, now=now, content=content)
    await journal.record(session, actor=actor, action="bid.confirmed", entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return Submission(bid=bid, receipt=receipt, tender=tender)


async def withdraw_bid(*, session: AsyncSession, actor: Actor, bid_id: int) -> Bid:
    bid = await access.own_bid(session, actor, bid_id)
    tender, _now = await _open_for_bids(session, actor, bid.tender_id, field=["id"])
    if bid.status == BidStatus.WITHDRAWN:
        raise DomainError(ErrorCode.INVALID_STATE, "the bid is withdrawn already")
    before = journal.snapshot(bid)
    bid.status = BidStatus.WITHDRAWN
    await journal.record(session, actor=actor, action="bid.withdrawn", entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return bid


# ---------------------------------------------------------------- opening and validity


async def _qualified(session: AsyncSession, provider_ids: Sequence[int], on: dt.date) -> dict[int, set[str]]:
    """Qualification types each provider holds, valid on a date."""
    rows = (
        await session.execute(
            select(Qualification.provider_id, Qualification.type).where(
                Qualification.provider_id.in_(provider_ids),
                Qualification.valid_from <= on,
                Qualification.valid_to >= on,
            )
        )
    ).all()
    held: dict[int, set[str]] = {p: set() for p in provider_ids}
    for provider_id, qualification_type in rows:
        held[provider_id].add(qualification_type)
    return held


def _invalid_reason(
    bid: Bid, tender: Tender, package: ServicePackage, provider: Provider, held: set[str]
) -> str | None:
    if bid.confirmed_tender_version < tender.version:
        return f"not re-confirmed after amendment {tender.version}"
    if bid.unit_price > tender.max_unit_price:
        return f"unit price above the ceiling of {tender.max_unit_price}"
    if not package.min_unit_price <= bid.unit_price <= package.max_unit_price:
        return "unit price outside the package's reference range"
    if provider.status != ProviderStatus.ACTIVE:
        return f"provider is {provider.status.value}"
    missing = [q for q in tender.required_qualifications if q not in held]
    if missing:
        return "missing or expired qualification: " + ", ".join(missing)
    return None


async def open_bids(*, session: AsyncSession, actor: Actor, tender_id: int) -> Tender:
    """开标: after the deadline, decide each bid's validity, flag abnormally low prices."""
    tender = await owned_tender(session, actor, tender_id, field=["tenderId"])
    require_status(tender, TenderStatus.PUBLISHED, doing="open bids")
    now = await clock.now(session)
    if now < tender.bid_deadline:
        raise DomainError(ErrorCode.TOO_EARLY, "bids can be opened only after the bid deadline")
    before = journal.snapshot(tender)
    package = await session.get(ServicePackage, tender.package_id)
    bids = (
        await session.scalars(
            select(Bid)
            .where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
            .order_by(Bid.submitted_at, Bid.id)
            .with_for_update()
        )
    ).all()
    providers = {
        p.id: p
        for p in (
            await session.scalars(select(Provider).where(Provider.id.in_([b.provider_id for b in bids])))
        ).all()
    }
    held = await _qualified(session, list(providers), clock.today(tender.bid_deadline))
    for bid in bids:
        reason = _invalid_reason(bid, tender, package, providers[bid.provider_id], held[bid.provider_id])
        bid.status = BidStatus.INVALID if reason else BidStatus.VALID
        bid.invalid_reason = reason
    valid = [b for b in bids if b.status == BidStatus.VALID]
    for bid, low in zip(valid, evaluation.abnormally_low([b.unit_price for b in valid]), strict=True):
        bid.abnormally_low = low
    tender.opening_record = [
        {
            "bid_id": b.id,
            "provider": providers[b.provider_id].legal_name,
            "unit_price": str(b.unit_price),
            "submitted_at": journal.plain(b.submitted_at),
            "receipt_sha256": b.receipt_sha256,
        }
        for b in bids
    ]
    tender.opened_at = now
    tender.status = TenderStatus.EVALUATING
    close_if_too_few(tender, len(valid), now)
    await journal.record(session, actor=actor, action="tender.opened", entity=tender, before=before)
    return tender
