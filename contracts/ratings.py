"""Residents' ratings of deliveries (SPEC §5.4): one per delivery, given through the link, changed
within 48 hours; and the abuse rules: a rating from the provider's own staff, or one of too many
from one address within an hour, is kept but flagged until an officer clears it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import access, deliveries, lifecycle
from contracts.deliveries import RATING_EDIT_WINDOW, ResidentView
from contracts.models import Contract, Delivery, Rating, StaffPhone
from contracts.residents import MAX_TEXT, address_hash, normalise_phone, phone_hash
from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator
from market.models import Provider

RATINGS_PER_ADDRESS_PER_HOUR = 5


@dataclass(frozen=True)
class Stars:
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    professionalism: int | None = None
    comment: str | None = None


async def rate_delivery(
    *, session: AsyncSession, token: str, rating: Stars, client_address: str | None = None
) -> ResidentView:
    """One rating per delivery; it may be changed within 48 hours, then it is final."""
    # The delivery row is locked, so two concurrent submissions are one rating and one edit.
    delivery = await deliveries.by_token(session, token, lock=True)
    check = Validator()
    for name in ("stars", "timeliness", "attitude", "professionalism"):
        value = getattr(rating, name)
        if value is not None or name == "stars":
            check.check(value is not None and 1 <= value <= 5, "from 1 to 5 stars", field=["input", name])
    check.check(
        len(rating.comment or "") <= MAX_TEXT, f"at most {MAX_TEXT} characters", field=["input", "comment"]
    )
    check.raise_if_any()
    if delivery.disputed_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "a disputed delivery cannot be rated")
    address = address_hash(client_address) if client_address else None
    if address is not None:
        # Before the clock is read, so that ratings from one address are stamped in lock order.
        await _lock_address(session, address)
    now = await clock.now(session)
    existing = await session.get(Rating, delivery.id, populate_existing=True)
    values = {
        "stars": rating.stars,
        "timeliness": rating.timeliness,
        "attitude": rating.attitude,
        "professionalism": rating.professionalism,
        "comment": (rating.comment or "").strip() or None,
    }
    if existing is not None:
        if now >= existing.created_at + RATING_EDIT_WINDOW:
            raise DomainError(ErrorCode.RATING_FINAL, "the rating is final 48 hours after it was given")
        before = journal.snapshot(existing)
        for key, value in values.items():
            setattr(existing, key, value)
        existing.updated_at = now
        await journal.record(session, actor=None, action="rating.changed", entity=existing, before=before)
        return await deliveries.view_of(session, delivery)
    contract = await session.get(Contract, delivery.contract_id)
    entry = Rating(
        delivery_id=delivery.id,
        contract_id=delivery.contract_id,
        created_at=now,
        updated_at=now,
        client_address=address,
        flag_reason=await _abuse(session, contract, delivery, address, now),
        **values,
    )
    session.add(entry)
    await journal.record(session, actor=None, action="rating.given", entity=entry)
    return await deliveries.view_of(session, delivery)


# pg_advisory_xact_lock(class, key): the class keeps these keys apart from any other advisory lock.
_ADDRESS_LOCK_CLASS = 5_400_004


async def _lock_address(session: AsyncSession, address: str) -> None:
    """Serialise the new ratings of one client address until this transaction ends (SPEC §5.4).

    The per-hour count and the insert must not interleave with another rating from the
    same address, or each counts the other as not yet there. Each rating locks only its
    own delivery, so PostgreSQL takes a transaction-scoped advisory lock keyed by the
    address hash (at READ COMMITTED the count, run after the lock is granted, sees every
    rating committed before). SQLite needs nothing: the server's writing transactions are
    BEGIN IMMEDIATE (`core.db.sqlite_writes`), one at a time.
    """
    if (await session.connection()).dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(address[:8]), "big", signed=True)
        await session.execute(
            select(func.pg_advisory_xact_lock(cast(_ADDRESS_LOCK_CLASS, Integer), cast(key, Integer)))
        )


async def _abuse(
    session: AsyncSession, contract: Contract, delivery: Delivery, address: str | None, now: dt.datetime
) -> str | None:
    """Why a new rating is excluded until an officer clears it (SPEC §5.4), or None."""
    if await session.scalar(
        select(
            exists().where(
                StaffPhone.provider_id == contract.provider_id, StaffPhone.phone_hash == delivery.phone_hash
            )
        )
    ):
        return "the resident's phone is registered to the provider's own staff"
    if address is not None:
        recent = await session.scalar(
            select(func.count())
            .select_from(Rating)
            .where(Rating.client_address == address, Rating.created_at > now - dt.timedelta(hours=1))
        )
        if recent >= RATINGS_PER_ADDRESS_PER_HOUR:
            return f"more than {RATINGS_PER_ADDRESS_PER_HOUR} ratings from one address within an hour"
    return None


def is_flagged(rating: Rating) -> bool:
    return rating.flag_reason is not None and rating.flag_cleared_at is None


async def clear_rating_flag(*, session: AsyncSession, actor: Actor, delivery_id: int) -> Rating:
    """An officer of the contract's department lets a flagged rating count again."""
    rating = await session.get(Rating, delivery_id, with_for_update=True)
    if rating is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no rating for this delivery", field=["deliveryId"])
    await lifecycle.contract_for_officer(session, actor, rating.contract_id, field=["deliveryId"])
    if not is_flagged(rating):
        raise DomainError(ErrorCode.INVALID_STATE, "the rating is not flagged")
    before = journal.snapshot(rating)
    rating.flag_cleared_at = await clock.now(session)
    await journal.record(session, actor=actor, action="rating.flag_cleared", entity=rating, before=before)
    return rating


async def register_staff_phones(
    *, session: AsyncSession, actor: Actor, provider_id: int, phones: Sequence[str]
) -> int:
    """The provider's staff numbers, kept hashed: a rating from one of them is flagged as self-rating."""
    if not access.may_register_staff_phones(actor, provider_id):
        raise access.refusal(actor, "only the provider's own staff may register its phones")
    if await session.get(Provider, provider_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no provider with this ID", field=["providerId"])
    check = Validator()
    normalised = []
    for index, phone in enumerate(phones):
        number = normalise_phone(phone)
        check.check(number is not None, "not a mainland mobile number", field=["phones", str(index)])
        normalised.append(number)
    check.raise_if_any()
    now = await clock.now(session)
    added = 0
    for number in dict.fromkeys(normalised):
        key = (provider_id, phone_hash(number))
        if await session.get(StaffPhone, key) is None:
            entry = StaffPhone(provider_id=provider_id, phone_hash=key[1], registered_at=now)
            session.add(entry)
            await journal.record(session, actor=actor, action="staff_phone.registered", entity=entry)
            added += 1
    return added
