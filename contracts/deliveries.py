"""Deliveries and the resident's link (SPEC §5.3): the provider records a delivery, the platform texts
the resident a link, and through it the resident sees the delivery and may say it did not happen.

Ratings given through the link are in `ratings`, complaints in `complaints`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import access, lifecycle, outbox
from contracts.models import Complaint, Contract, ContractStatus, Delivery, Notification, Rating
from contracts.residents import MAX_TEXT, normalise_phone, phone_hash, token_hash
from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator
from core.settings import get_settings
from market.models import Provider, ServicePackage

# The link's time limits: it opens for 30 days; the delivery may be disputed within 7 days, and a
# rating changed within 48 hours of being given.
TOKEN_LIFETIME = dt.timedelta(days=30)
DISPUTE_DAYS = 7
RATING_EDIT_WINDOW = dt.timedelta(hours=48)


def resident_link(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/r/{token}"


@dataclass(frozen=True)
class RecordedDelivery:
    delivery: Delivery
    notification: Notification


async def record_delivery(
    *,
    session: AsyncSession,
    actor: Actor,
    contract_id: int,
    delivered_on: dt.date,
    units: int,
    resident_phone: str,
    note: str | None = None,
) -> RecordedDelivery:
    """The contract's provider records a delivery; the platform queues the resident's link by SMS."""
    contract = await lifecycle.visible_contract(session, actor, contract_id, field=["input", "contractId"])
    if not access.is_contract_provider(actor, contract):
        raise access.refusal(actor, "only the contracted provider records deliveries")
    if contract.status == ContractStatus.SUSPENDED:
        raise DomainError(ErrorCode.CONTRACT_SUSPENDED, "the contract is suspended")
    if contract.status != ContractStatus.ACTIVE:
        raise DomainError(ErrorCode.INVALID_STATE, f"the contract is {contract.status.value}")
    now = await clock.now(session)
    first_day, last_day = lifecycle.contract_term(contract)
    phone = normalise_phone(resident_phone)
    check = Validator()
    check.check(
        delivered_on <= clock.today(now), "a delivery cannot be in the future", field=["input", "deliveredOn"]
    )
    check.check(
        first_day <= delivered_on <= last_day,
        f"the contract runs from {first_day} to {last_day}",
        field=["input", "deliveredOn"],
    )
    check.check(units >= 1, "at least 1 unit", field=["input", "units"])
    check.check(phone is not None, "not a mainland mobile number", field=["input", "residentPhone"])
    check.raise_if_any()
    token = secrets.token_urlsafe(32)  # 256 random bits; only its hash is stored
    delivery = Delivery(
        contract_id=contract.id,
        delivered_on=delivered_on,
        units=units,
        note=note.strip() if note else None,
        phone_hash=phone_hash(phone),
        token_hash=token_hash(token),
        token_expires_at=now + TOKEN_LIFETIME,
        recorded_at=now,
        recorded_by_id=actor.user_id,
    )
    session.add(delivery)
    await session.flush()
    provider_name, service_name = await _names(session, contract)
    notification = outbox.queue_text(
        recipient=phone,
        body=(
            f"【政府购买服务】{provider_name}于{delivered_on:%m月%d日}为您提供了“{service_name}”服务。"
            f"请确认、评价或投诉: {resident_link(token)} (30天内有效)"
        ),
        created_at=now,
        delivery_id=delivery.id,
    )
    session.add(notification)
    await journal.record(session, actor=actor, action="delivery.recorded", entity=delivery)
    return RecordedDelivery(delivery=delivery, notification=notification)


async def _names(session: AsyncSession, contract: Contract) -> tuple[str, str]:
    provider = await session.get(Provider, contract.provider_id)
    package = await session.get(ServicePackage, contract.package_id)
    return provider.legal_name, package.name


def is_verified(delivery: Delivery) -> bool:
    """Counts for payment unless disputed by the resident or found false by an auditor (SPEC §5.3)."""
    return delivery.disputed_at is None and delivery.marked_false_by_audit_id is None


# ---------------------------------------------------------------- the resident's link


@dataclass(frozen=True)
class ResidentView:
    delivery: Delivery
    rating: Rating | None
    service_name: str
    provider_name: str
    rating_editable_until: dt.datetime | None
    complaints: list[Complaint]
    """Complaints about the delivery (by the link or the hotline), newest first."""


async def by_token(session: AsyncSession, token: str, *, lock: bool = False) -> Delivery:
    """The delivery behind a link: the token is the key (TOKEN_INVALID, TOKEN_EXPIRED after 30 days)."""
    statement = select(Delivery).where(Delivery.token_hash == token_hash(token))
    delivery = await session.scalar(statement.with_for_update(of=Delivery) if lock else statement)
    if delivery is None:
        raise DomainError(ErrorCode.TOKEN_INVALID, "this link is not valid", field=["token"])
    if await clock.now(session) >= delivery.token_expires_at:
        raise DomainError(ErrorCode.TOKEN_EXPIRED, "this link has expired (links are valid 30 days)",
                          field=["token"])  # fmt: skip
    return delivery


async def resident_view(*, session: AsyncSession, token: str) -> ResidentView:
    """What the resident sees through the link."""
    delivery = await by_token(session, token)
    return await view_of(session, delivery)


async def view_of(session: AsyncSession, delivery: Delivery) -> ResidentView:
    contract = await session.get(Contract, delivery.contract_id)
    provider_name, service_name = await _names(session, contract)
    rating = await session.get(Rating, delivery.id)
    editable = None
    if rating is not None:
        until = rating.created_at + RATING_EDIT_WINDOW
        editable = until if await clock.now(session) < until else None
    complaints = (
        await session.scalars(
            select(Complaint)
            .where(Complaint.delivery_id == delivery.id)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
        )
    ).all()
    return ResidentView(delivery, rating, service_name, provider_name, editable, list(complaints))


def dispute_deadline(delivery: Delivery) -> dt.datetime:
    """End of the 7th day after the delivery, in the deployment's zone."""
    zone = get_settings().zone
    last_day = delivery.delivered_on + dt.timedelta(days=DISPUTE_DAYS)
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(dt.UTC)


async def dispute_delivery(*, session: AsyncSession, token: str, reason: str) -> ResidentView:
    """The resident says the service did not happen; only within 7 days of the delivery."""
    delivery = await by_token(session, token, lock=True)
    if delivery.disputed_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "this delivery is disputed already")
    if len(reason or "") > MAX_TEXT:
        raise DomainError(ErrorCode.INVALID, f"at most {MAX_TEXT} characters", field=["reason"])
    now = await clock.now(session)
    if now >= dispute_deadline(delivery):
        raise DomainError(ErrorCode.DEADLINE_PASSED, "a delivery can be disputed within 7 days")
    before = journal.snapshot(delivery)
    delivery.disputed_at, delivery.dispute_reason = now, (reason or "").strip() or None
    await journal.record(session, actor=None, action="delivery.disputed", entity=delivery, before=before)
    return await view_of(session, delivery)
