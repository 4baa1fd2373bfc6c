"""Rules of the contracts domain (SPEC §5). Reads the market through `market.tendering` only."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Integer, Select, and_, cast, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import verhoeff

from contracts.models import (
    Appeal,
    Audit,
    AuditCheck,
    AuditKpiValue,
    AuditStatus,
    Complaint,
    ComplaintStatus,
    Contract,
    ContractKpi,
    ContractStatus,
    Delivery,
    Light,
    Notification,
    NotificationStatus,
    Rating,
    Severity,
    StaffPhone,
)
from core import clock, journal, sealing
from core.auth import Actor, Role, require
from core.db import to_money
from core.errors import (
    AlreadyExists,
    DomainError,
    ErrorCode,
    Invalid,
    InvalidState,
    NotFound,
    PermissionDenied,
    Validator,
)
from core.settings import get_settings
from market import tendering
from market.models import AuditFirm, KpiSource, Provider, ServicePackage

log = logging.getLogger("market.notify")


async def finalize_award(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Contract:
    """After the challenge period, with no challenge open: the award becomes public and the contract is made.

    Its terms are copied from the tender and the winning bid.
    """
    award = await tendering.close_award(session=session, actor=actor, tender_id=tender_id)
    tender, bid = award.tender, award.bid
    contract = Contract(
        tender_id=tender.id,
        bid_id=bid.id,
        provider_id=bid.provider_id,
        department_id=tender.department_id,
        package_id=tender.package_id,
        region_id=tender.region_id,
        unit_price=bid.unit_price,
        quantity=tender.quantity,
        total_value=to_money(bid.unit_price * tender.quantity),
        start_date=tender.start_date,
        periods=tender.periods,
        period_months=tender.period_months,
        satisfaction_weight=tender.satisfaction_weight,
        kpi_weight=tender.kpi_weight,
        audit_weight=tender.audit_weight,
        holdback_rate=tender.holdback_rate,
        payment_tiers=list(tender.payment_tiers),
        signed_at=tender.awarded_at,
    )
    session.add(contract)
    await session.flush()
    session.add_all(
        ContractKpi(
            contract_id=contract.id,
            position=k.position,
            name=k.name,
            unit=k.unit,
            target=k.target,
            direction=k.direction,
            weight=k.weight,
            source=k.source,
        )
        for k in await tendering.kpis_of(session, [tender.id])
    )
    await journal.record(session, actor=award.actor, action="contract.made", entity=contract)
    return contract


@dataclass(frozen=True)
class Period:
    index: int
    starts_on: dt.date
    ends_on: dt.date


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day when it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def periods(*, start_date: dt.date, count: int, months: int) -> list[Period]:
    """Consecutive payment periods of `months` each; a period ends the day before the next begins."""
    return [
        Period(
            index=i + 1,
            starts_on=add_months(start_date, i * months),
            ends_on=add_months(start_date, (i + 1) * months) - dt.timedelta(days=1),
        )
        for i in range(count)
    ]


async def contracts_by_tender(session: AsyncSession, tender_ids: Sequence[int]) -> list[Contract]:
    return list((await session.scalars(select(Contract).where(Contract.tender_id.in_(tender_ids)))).all())


async def contract_kpis(session: AsyncSession, contract_ids: Sequence[int]) -> list[ContractKpi]:
    return list(
        (
            await session.scalars(
                select(ContractKpi)
                .where(ContractKpi.contract_id.in_(contract_ids))
                .order_by(ContractKpi.contract_id, ContractKpi.position)
            )
        ).all()
    )


# ---------------------------------------------------------------- who may see what


def is_contract_officer(actor: Actor | None, contract: Contract) -> bool:
    return actor is not None and actor.role == Role.OFFICER and actor.department_id == contract.department_id


def can_see_contract_details(actor: Actor | None, contract: Contract) -> bool:
    """Deliveries, ratings, complaints, audits: the department's officers, the provider, the assigned firm."""
    if actor is None:
        return False
    return (
        actor.role == Role.ADMIN
        or is_contract_officer(actor, contract)
        or (actor.role == Role.PROVIDER and actor.provider_id == contract.provider_id)
        or (
            actor.role == Role.AUDITOR
            and contract.audit_firm_id is not None
            and actor.audit_firm_id == contract.audit_firm_id
        )
    )


def can_see_contract(actor: Actor | None, contract: Contract) -> bool:
    """The summary of a contract is public, except to auditors of firms not assigned to it."""
    if actor is not None and actor.role == Role.AUDITOR:
        return can_see_contract_details(actor, contract)
    return True


def contracts_statement(
    *, actor: Actor | None, status: ContractStatus | None = None, mine: bool = False
) -> Select:
    """Contracts the caller may see, newest first; `mine`: those whose details the caller may see."""
    statement = select(Contract)
    if actor is not None and actor.role == Role.AUDITOR:
        statement = statement.where(
            Contract.audit_firm_id == actor.audit_firm_id, Contract.audit_firm_id.is_not(None)
        )
    elif mine and actor is not None and actor.role == Role.PROVIDER:
        statement = statement.where(Contract.provider_id == actor.provider_id)
    elif mine and actor is not None and actor.role == Role.OFFICER:
        statement = statement.where(Contract.department_id == actor.department_id)
    elif mine:
        statement = statement.where(false())  # the public, admins and evaluators hold no contracts
    if status is not None:
        statement = statement.where(Contract.status == status)
    return statement.order_by(Contract.id.desc())


async def _contract(
    session: AsyncSession, actor: Actor | None, contract_id: int, *, field: Sequence[str], lock: bool = False
) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=lock, populate_existing=lock)
    if contract is None or not can_see_contract(actor, contract):
        raise NotFound("no contract with this ID", field=field)
    return contract


async def _officer_contract(
    session: AsyncSession, actor: Actor | None, contract_id: int, *, field: Sequence[str] = ("contractId",)
) -> tuple[Actor, Contract]:
    actor = require(actor, Role.OFFICER)
    contract = await _contract(session, actor, contract_id, field=field, lock=True)
    if not is_contract_officer(actor, contract):
        raise PermissionDenied("only officers of the purchasing department may do this")
    return actor, contract


# ---------------------------------------------------------------- contract status


CONTRACT_TRANSITIONS = {
    "suspended": ((ContractStatus.ACTIVE,), ContractStatus.SUSPENDED),
    "reinstated": ((ContractStatus.SUSPENDED,), ContractStatus.ACTIVE),
    "terminated": ((ContractStatus.ACTIVE, ContractStatus.SUSPENDED), ContractStatus.TERMINATED),
    "completed": ((ContractStatus.ACTIVE,), ContractStatus.COMPLETED),
}


async def change_contract_status(
    *, session: AsyncSession, actor: Actor | None, contract_id: int, change: str, reason: str | None = None
) -> Contract:
    """ACTIVE ⇄ SUSPENDED → COMPLETED | TERMINATED, by the department's officers."""
    actor, contract = await _officer_contract(session, actor, contract_id, field=["id"])
    allowed_from, to = CONTRACT_TRANSITIONS[change]
    if change in ("suspended", "terminated") and not (reason or "").strip():
        raise Invalid("a reason is required", field=["reason"])
    if contract.status not in allowed_from:
        raise InvalidState(f"the contract is {contract.status.value}; it cannot be {change}")
    if change == "completed":
        last = periods(start_date=contract.start_date, count=contract.periods, months=contract.period_months)[
            -1
        ]
        if clock.today(await clock.now(session)) <= last.ends_on:
            raise DomainError(f"the contract runs until {last.ends_on}", code=ErrorCode.TOO_EARLY)
    before = journal.snapshot(contract)
    contract.status = to
    contract.status_reason = reason.strip() if reason else None
    await journal.record(session, actor=actor, action=f"contract.{change}", entity=contract, before=before)
    return contract


async def assign_audit_firm(
    *, session: AsyncSession, actor: Actor | None, contract_id: int, audit_firm_id: int
) -> Contract:
    actor, contract = await _officer_contract(session, actor, contract_id)
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.SUSPENDED):
        raise InvalidState(f"the contract is {contract.status.value}")
    if await session.get(AuditFirm, audit_firm_id) is None:
        raise NotFound("no audit firm with this ID", field=["auditFirmId"])
    before = journal.snapshot(contract)
    contract.audit_firm_id = audit_firm_id
    await journal.record(
        session, actor=actor, action="contract.audit_firm_assigned", entity=contract, before=before
    )
    return contract


def contract_term(contract: Contract) -> tuple[dt.date, dt.date]:
    term = periods(start_date=contract.start_date, count=contract.periods, months=contract.period_months)
    return term[0].starts_on, term[-1].ends_on


def period_of(contract: Contract, day: dt.date) -> Period | None:
    for period in periods(
        start_date=contract.start_date, count=contract.periods, months=contract.period_months
    ):
        if period.starts_on <= day <= period.ends_on:
            return period
    return None


# ---------------------------------------------------------------- deliveries and resident links

TOKEN_LIFETIME = dt.timedelta(days=30)
DISPUTE_DAYS = 7
RATING_EDIT_WINDOW = dt.timedelta(hours=48)
RATINGS_PER_ADDRESS_PER_HOUR = 5
MAX_TEXT = 2000  # characters of a comment, complaint or dispute reason
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(phone: str) -> str | None:
    """A mainland mobile number as 11 digits, or None when it is not one."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under a key derived from SECRET_KEY: equal inputs match, the input cannot be read back."""
    key = hashlib.sha256(f"{purpose}:{get_settings().secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def phone_hash(phone: str) -> str:
    return keyed_hash("phone", phone)


def address_hash(client_address: str) -> str:
    """The keyed hash a rating keeps of the client's address (the many-ratings-per-hour rule)."""
    return keyed_hash("address", client_address)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def resident_link(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/r/{token}"


@dataclass(frozen=True)
class RecordedDelivery:
    delivery: Delivery
    notification: Notification


async def record_delivery(
    *,
    session: AsyncSession,
    actor: Actor | None,
    contract_id: int,
    delivered_on: dt.date,
    units: int,
    resident_phone: str,
    note: str | None = None,
) -> RecordedDelivery:
    """The contract's provider records a delivery; the platform queues the resident's link by SMS."""
    actor = require(actor, Role.PROVIDER)
    contract = await _contract(session, actor, contract_id, field=["input", "contractId"])
    if contract.provider_id != actor.provider_id:
        raise PermissionDenied("only the contracted provider records deliveries")
    if contract.status == ContractStatus.SUSPENDED:
        raise DomainError("the contract is suspended", code=ErrorCode.CONTRACT_SUSPENDED)
    if contract.status != ContractStatus.ACTIVE:
        raise InvalidState(f"the contract is {contract.status.value}")
    now = await clock.now(session)
    first_day, last_day = contract_term(contract)
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
    notification = queue_text(
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


async def register_staff_phones(
    *, session: AsyncSession, actor: Actor | None, provider_id: int, phones: Sequence[str]
) -> int:
    """The provider's staff numbers, kept hashed: a rating from one of them is flagged as self-rating."""
    # Not officers: a number registered as staff silences that resident's ratings.
    actor = require(actor, Role.PROVIDER, Role.ADMIN)
    if actor.role == Role.PROVIDER and actor.provider_id != provider_id:
        raise PermissionDenied("only the provider's own staff may register its phones")
    if await session.get(Provider, provider_id) is None:
        raise NotFound("no provider with this ID", field=["providerId"])
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


@dataclass(frozen=True)
class ResidentView:
    delivery: Delivery
    rating: Rating | None
    service_name: str
    provider_name: str
    rating_editable_until: dt.datetime | None
    complaints: list[Complaint]
    """Complaints about the delivery (by the link or the hotline), newest first."""


async def _by_token(session: AsyncSession, token: str, *, lock: bool = False) -> Delivery:
    delivery = await session.scalar(
        select(Delivery).where(Delivery.token_hash == token_hash(token)).with_for_update(of=Delivery)
        if lock
        else select(Delivery).where(Delivery.token_hash == token_hash(token))
    )
    if delivery is None:
        raise DomainError("this link is not valid", code=ErrorCode.TOKEN_INVALID, field=["token"])
    if await clock.now(session) >= delivery.token_expires_at:
        raise DomainError("this link has expired (links are valid 30 days)", code=ErrorCode.TOKEN_EXPIRED,
                          field=["token"])  # fmt: skip
    return delivery


async def resident_view(*, session: AsyncSession, token: str) -> ResidentView:
    """What the resident sees through the link."""
    delivery = await _by_token(session, token)
    return await _view(session, delivery)


async def _view(session: AsyncSession, delivery: Delivery) -> ResidentView:
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
    delivery = await _by_token(session, token, lock=True)
    if delivery.disputed_at is not None:
        raise InvalidState("this delivery is disputed already")
    if len(reason or "") > MAX_TEXT:
        raise Invalid(f"at most {MAX_TEXT} characters", field=["reason"])
    now = await clock.now(session)
    if now >= dispute_deadline(delivery):
        raise DomainError("a delivery can be disputed within 7 days", code=ErrorCode.DEADLINE_PASSED)
    before = journal.snapshot(delivery)
    delivery.disputed_at, delivery.dispute_reason = now, (reason or "").strip() or None
    await journal.record(session, actor=None, action="delivery.disputed", entity=delivery, before=before)
    return await _view(session, delivery)


def is_verified(delivery: Delivery) -> bool:
    """Counts for payment unless disputed by the resident or found false by an auditor (SPEC §5.3)."""
    return delivery.disputed_at is None and delivery.marked_false_by_audit_id is None


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
    delivery = await _by_token(session, token, lock=True)
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
        raise InvalidState("a disputed delivery cannot be rated")
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
            raise DomainError("the rating is final 48 hours after it was given", code=ErrorCode.RATING_FINAL)
        before = journal.snapshot(existing)
        for key, value in values.items():
            setattr(existing, key, value)
        existing.updated_at = now
        await journal.record(session, actor=None, action="rating.changed", entity=existing, before=before)
        return await _view(session, delivery)
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
    return await _view(session, delivery)


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


async def clear_rating_flag(*, session: AsyncSession, actor: Actor | None, delivery_id: int) -> Rating:
    """An officer of the contract's department lets a flagged rating count again."""
    actor = require(actor, Role.OFFICER)
    rating = await session.get(Rating, delivery_id, with_for_update=True)
    if rating is None:
        raise NotFound("no rating for this delivery", field=["deliveryId"])
    await _officer_contract(session, actor, rating.contract_id, field=["deliveryId"])
    if not is_flagged(rating):
        raise InvalidState("the rating is not flagged")
    before = journal.snapshot(rating)
    rating.flag_cleared_at = await clock.now(session)
    await journal.record(session, actor=actor, action="rating.flag_cleared", entity=rating, before=before)
    return rating


# ---------------------------------------------------------------- the outbox


class NotificationBackend(Protocol):
    """Delivers one message; raises to leave it pending for a retry. An SMS gateway implements this."""

    def send(self, *, channel: str, recipient: str, body: str) -> str | None: ...


_TOKEN_IN_LINK = re.compile(r"(/r/)[A-Za-z0-9_\-]+")
# A mainland mobile number however it was written: +86 159-8765-4321, 0086 15987654321, 159 8765 4321.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d)")
MAX_SEND_ATTEMPTS = 5


def mask_links(text: str) -> str:
    """The text with the token of every resident link masked: /r/••••••."""
    return _TOKEN_IN_LINK.sub(r"\1••••••", text)


def mask_personal_data(text: str) -> str:
    """The text with resident links' tokens and mainland mobile numbers masked (logs, stored errors)."""
    return _MOBILE_IN_TEXT.sub(
        lambda m: mask_phone(normalise_phone(m.group()) or m.group()), mask_links(text)
    )


@dataclass(frozen=True)
class Text:
    """A message as the gateway receives it; it exists only in memory."""

    recipient: str
    body: str


def queue_text(
    *, recipient: str, body: str, created_at: dt.datetime, delivery_id: int | None = None
) -> Notification:
    """An SMS for the outbox: readable only as masks, the clear text sealed until it is sent."""
    return Notification(
        channel="sms",
        recipient=mask_phone(recipient),
        body=mask_links(body),
        sealed=sealing.seal({"recipient": recipient, "body": body}),
        created_at=created_at,
        delivery_id=delivery_id,
    )


def unseal(message: Notification) -> Text:
    """The clear text of a pending message; raises `sealing.Unreadable` when it cannot be opened."""
    if message.sealed is None:
        raise sealing.Unreadable(f"the message is {message.status.value}: only its masks are kept")
    values = sealing.unseal(message.sealed)
    return Text(recipient=values["recipient"], body=values["body"])


class ConsoleBackend:
    """Writes messages to the log: for development, and where no SMS gateway is configured.

    Outside production it writes the whole text, so that a developer can open the link; in
    production only the masks, since logs are kept and read by more people than the outbox.
    """

    def __init__(self, write=None, *, reveal: bool | None = None):
        self.write = write or log.info
        self.reveal = get_settings().environment != "production" if reveal is None else reveal

    def send(self, *, channel: str, recipient: str, body: str) -> str | None:
        if self.reveal:
            self.write(f"[{channel} to {recipient}] {body}")
        else:
            self.write(f"[{channel} to {mask_phone(recipient)}] {mask_personal_data(body)}")
        return None


def backend_from_settings() -> NotificationBackend:
    return {"console": ConsoleBackend}[get_settings().notify_backend]()


async def send_notifications(
    *, session: AsyncSession, backend: NotificationBackend, limit: int = 500
) -> tuple[int, int]:
    """Send pending messages; a sent (or given-up) message keeps only its masks. (sent, failed)."""
    pending = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    sent = failed = 0
    for message in pending:
        message.attempts += 1
        try:
            text = unseal(message)
            backend.send(channel=message.channel, recipient=text.recipient, body=text.body)
        except Exception as error:  # any gateway failure leaves the message for a retry
            # A gateway may quote the number or the link back: the stored error does not.
            message.last_error = mask_personal_data(str(error))[:500]
            failed += 1
            if message.attempts >= MAX_SEND_ATTEMPTS:
                # Given up: the clear text is not kept for ever either.
                message.status, message.sealed = NotificationStatus.FAILED, None
            continue
        message.status, message.sent_at = NotificationStatus.SENT, await clock.now(session)
        message.sealed, message.last_error = None, None
        sent += 1
    return sent, failed


async def reseal_pending(*, session: AsyncSession) -> tuple[int, int]:
    """Seal pending messages again under the first of OUTBOX_KEYS, so that older keys can be dropped.

    (resealed, unreadable): a message no configured key opens is left as it is.
    """
    pending = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING, Notification.sealed.is_not(None))
            .with_for_update(skip_locked=True)
        )
    ).all()
    resealed = unreadable = 0
    for message in pending:
        try:
            message.sealed = sealing.reseal(message.sealed)
            resealed += 1
        except sealing.Unreadable:
            unreadable += 1
    return resealed, unreadable


def notifications_statement() -> Select:
    return select(Notification).order_by(Notification.id.desc())


# ---------------------------------------------------------------- complaints

FIRST_RESPONSE = dt.timedelta(hours=24)
RESOLUTION = dt.timedelta(days=7)
YELLOW_FROM = 0.75


def current_deadline(complaint: Complaint) -> dt.datetime | None:
    """24 hours to respond while OPEN, 7 days from filing to resolve once RESPONDED; None when closed."""
    if complaint.status == ComplaintStatus.OPEN:
        return complaint.created_at + FIRST_RESPONSE
    if complaint.status == ComplaintStatus.RESPONDED:
        return complaint.created_at + RESOLUTION
    return None


def light(complaint: Complaint, now: dt.datetime) -> Light | None:
    """红黄绿灯: GREEN under 75% of the current deadline passed, YELLOW from 75%, RED when overdue."""
    deadline = current_deadline(complaint)
    if deadline is None:
        return None
    passed = (now - complaint.created_at) / (deadline - complaint.created_at)
    if passed >= 1:
        return Light.RED
    return Light.YELLOW if passed >= YELLOW_FROM else Light.GREEN


def light_clause(wanted: Light, now: dt.datetime):
    """The SQL form of `light`, to filter open complaints by light."""
    conditions = []
    for status, span in ((ComplaintStatus.OPEN, FIRST_RESPONSE), (ComplaintStatus.RESPONDED, RESOLUTION)):
        red_from, yellow_from = now - span, now - span * YELLOW_FROM
        by_light = {
            Light.RED: Complaint.created_at <= red_from,
            Light.YELLOW: and_(Complaint.created_at <= yellow_from, Complaint.created_at > red_from),
            Light.GREEN: Complaint.created_at > yellow_from,
        }
        conditions.append(and_(Complaint.status == status, by_light[wanted]))
    return or_(*conditions)


def new_complaint_reference() -> str:
    """11 random digits (the first not 0) and a Verhoeff check digit, as 4-4-4: 3720-5481-9634.

    Random rather than a running number: a reference says nothing about how many complaints
    there are, and a neighbouring one cannot be guessed.
    """
    body = secrets.choice("123456789") + "".join(secrets.choice("0123456789") for _ in range(10))
    digits = body + verhoeff.calc_check_digit(body)
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


def parse_complaint_reference(value: str) -> str:
    """The reference as read out or typed (spaces, dashes or none), as 4-4-4; refused if a digit is off."""
    digits = re.sub(r"[\s\-]", "", value)
    if not (len(digits) == 12 and digits.isdigit() and verhoeff.is_valid(digits)):
        raise Invalid("not a complaint reference: 12 digits, the last a check digit", field=["reference"])
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


async def _unused_reference(session: AsyncSession) -> str:
    for _ in range(5):  # 10^11 numbers: a second try is already rare
        reference = new_complaint_reference()
        if not await session.scalar(select(exists().where(Complaint.reference == reference))):
            return reference
    raise RuntimeError("no unused complaint reference after 5 tries")


COMPLAINT_CATEGORIES: dict[str, tuple[str, str]] = {
    "QUALITY": ("服务质量", "Quality of the service"),
    "ATTITUDE": ("服务态度", "Staff attitude"),
    "LATE": ("未按时上门", "Late or missed visit"),
    "CHARGES": ("违规收费", "Asked to pay"),
    "SAFETY": ("安全隐患", "Safety concern"),
    "OTHER": ("其他", "Other"),
}
"""What a complaint is about (code: Chinese and English names): a closed set, so that complaints
can be counted by category; the resident's page and the hotline pick from it."""


def complaint_category(value: str) -> str | None:
    """The category code a value names (its code in any case), or None."""
    code = value.strip().upper()
    return code if code in COMPLAINT_CATEGORIES else None


async def _file_complaint(
    session: AsyncSession, actor: Actor | None, delivery: Delivery, *, category: str, text: str, channel: str
) -> Complaint:
    check = Validator()
    code = complaint_category(category)
    check.check(
        code is not None,
        f"the category is one of {', '.join(COMPLAINT_CATEGORIES)}",
        field=["input", "category"],
    )
    check.check(0 < len(text.strip()) <= MAX_TEXT, f"describe the problem in at most {MAX_TEXT} characters",
                field=["input", "text"])  # fmt: skip
    check.raise_if_any()
    complaint = Complaint(
        reference=await _unused_reference(session),
        contract_id=delivery.contract_id,
        delivery_id=delivery.id,
        channel=channel,
        category=code,
        text=text.strip(),
        created_at=await clock.now(session),
        filed_by_id=actor.user_id if actor else None,
    )
    session.add(complaint)
    await journal.record(session, actor=actor, action="complaint.filed", entity=complaint)
    return complaint


async def file_complaint(*, session: AsyncSession, token: str, category: str, text: str) -> Complaint:
    """A resident complains through the link."""
    delivery = await _by_token(session, token)
    return await _file_complaint(session, None, delivery, category=category, text=text, channel="LINK")


async def file_complaint_for_resident(
    *, session: AsyncSession, actor: Actor | None, delivery_id: int, category: str, text: str
) -> Complaint:
    """An officer records a complaint a resident made by phone (12345 hotline)."""
    actor = require(actor, Role.OFFICER)
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("no delivery with this ID", field=["input", "deliveryId"])
    await _officer_contract(session, actor, delivery.contract_id, field=["input", "deliveryId"])
    return await _file_complaint(session, actor, delivery, category=category, text=text, channel="HOTLINE")


async def _complaint(session: AsyncSession, actor: Actor, complaint_id: int) -> tuple[Complaint, Contract]:
    complaint = await session.get(Complaint, complaint_id, with_for_update=True)
    contract = await session.get(Contract, complaint.contract_id) if complaint else None
    if complaint is None or not can_see_contract_details(actor, contract):
        raise NotFound("no complaint with this ID", field=["id"])
    return complaint, contract


async def respond_complaint(
    *, session: AsyncSession, actor: Actor | None, complaint_id: int, text: str
) -> Complaint:
    """The first response (within 24 hours), by the contracted provider or the department's officers."""
    actor = require(actor, Role.PROVIDER, Role.OFFICER)
    complaint, contract = await _complaint(session, actor, complaint_id)
    if not (is_contract_officer(actor, contract) or actor.provider_id == contract.provider_id):
        raise PermissionDenied("only the provider or the department's officers respond")
    if complaint.status != ComplaintStatus.OPEN:
        raise InvalidState(f"the complaint is {complaint.status.value}")
    if not text.strip():
        raise Invalid("the response is empty", field=["text"])
    before = journal.snapshot(complaint)
    complaint.status, complaint.response = ComplaintStatus.RESPONDED, text.strip()
    complaint.responded_at = await clock.now(session)
    await journal.record(session, actor=actor, action="complaint.responded", entity=complaint, before=before)
    return complaint


async def close_complaint(
    *,
    session: AsyncSession,
    actor: Actor | None,
    complaint_id: int,
    note: str,
    substantiated: bool | None,
    reject: bool = False,
) -> Complaint:
    """The department's officer resolves (substantiated or not) or rejects a complaint."""
    actor = require(actor, Role.OFFICER)
    complaint, contract = await _complaint(session, actor, complaint_id)
    if not is_contract_officer(actor, contract):
        raise PermissionDenied("only the department's officers resolve complaints")
    if complaint.status not in (ComplaintStatus.OPEN, ComplaintStatus.RESPONDED):
        raise InvalidState(f"the complaint is {complaint.status.value}")
    if not note.strip():
        raise Invalid("explain the decision", field=["note"])
    before = journal.snapshot(complaint)
    complaint.status = ComplaintStatus.REJECTED if reject else ComplaintStatus.RESOLVED
    complaint.substantiated = None if reject else substantiated
    complaint.resolution_note, complaint.closed_at = note.strip(), await clock.now(session)
    action = "complaint.rejected" if reject else "complaint.resolved"
    await journal.record(session, actor=actor, action=action, entity=complaint, before=before)
    return complaint


def complaints_statement(
    *,
    actor: Actor,
    now: dt.datetime,
    status: ComplaintStatus | None,
    light_filter: Light | None,
    open_only: bool,
    reference: str | None = None,
) -> Select:
    """Complaints of the contracts whose details the caller may see; `reference` as the resident read it."""
    statement = select(Complaint).join(Contract, Contract.id == Complaint.contract_id)
    if actor.role == Role.OFFICER:
        statement = statement.where(Contract.department_id == actor.department_id)
    elif actor.role == Role.PROVIDER:
        statement = statement.where(Contract.provider_id == actor.provider_id)
    elif actor.role == Role.AUDITOR:
        statement = statement.where(Contract.audit_firm_id == actor.audit_firm_id)
    elif actor.role != Role.ADMIN:
        statement = statement.where(false())
    if reference is not None:
        statement = statement.where(Complaint.reference == parse_complaint_reference(reference))
    if open_only:
        statement = statement.where(Complaint.status.in_([ComplaintStatus.OPEN, ComplaintStatus.RESPONDED]))
    if status is not None:
        statement = statement.where(Complaint.status == status)
    if light_filter is not None:
        statement = statement.where(light_clause(light_filter, now))
    return statement.order_by(Complaint.created_at, Complaint.id)


# ---------------------------------------------------------------- audits and appeals

APPEAL_DAYS = dt.timedelta(days=10)


async def _auditor_contract(
    session: AsyncSession, actor: Actor | None, contract_id: int
) -> tuple[Actor, Contract]:
    """Auditors of the assigned firm only; for others the contract does not exist."""
    actor = require(actor, Role.AUDITOR)
    contract = await session.get(Contract, contract_id)
    if contract is None or contract.audit_firm_id is None or contract.audit_firm_id != actor.audit_firm_id:
        raise NotFound("no contract with this ID assigned to your firm", field=["contractId"])
    return actor, contract


async def create_audit(
    *, session: AsyncSession, actor: Actor | None, contract_id: int, period_index: int
) -> Audit:
    actor, contract = await _auditor_contract(session, actor, contract_id)
    if not 1 <= period_index <= contract.periods:
        raise Invalid(f"the contract has periods 1 to {contract.periods}", field=["periodIndex"])
    if await session.scalar(
        select(exists().where(Audit.contract_id == contract.id, Audit.period_index == period_index))
    ):
        raise AlreadyExists("this period has an audit already", field=["periodIndex"])
    audit = Audit(
        contract_id=contract.id,
        period_index=period_index,
        audit_firm_id=contract.audit_firm_id,
        auditor_id=actor.user_id,
        created_at=await clock.now(session),
    )
    session.add(audit)
    await journal.record(session, actor=actor, action="audit.created", entity=audit)
    return audit


async def _draft_audit(
    session: AsyncSession, actor: Actor | None, audit_id: int
) -> tuple[Actor, Audit, Contract]:
    actor = require(actor, Role.AUDITOR)
    audit = await session.get(Audit, audit_id, with_for_update=True)
    if audit is None or audit.audit_firm_id != actor.audit_firm_id:
        raise NotFound("no audit with this ID", field=["auditId"])
    contract = await session.get(Contract, audit.contract_id)
    if contract.audit_firm_id != actor.audit_firm_id:
        raise NotFound("no audit with this ID", field=["auditId"])
    if audit.status != AuditStatus.DRAFT:
        raise InvalidState("the audit is submitted")
    return actor, audit, contract


async def record_kpi_value(
    *, session: AsyncSession, actor: Actor | None, audit_id: int, kpi_id: int, value: float
) -> Audit:
    actor, audit, contract = await _draft_audit(session, actor, audit_id)
    kpi = await session.get(ContractKpi, kpi_id)
    if kpi is None or kpi.contract_id != contract.id:
        raise NotFound("no KPI of this contract with this ID", field=["kpiId"])
    if kpi.source != KpiSource.AUDIT:
        raise Invalid(f"{kpi.name} is computed ({kpi.source.value}), not measured by audit", field=["kpiId"])
    if value < 0:
        raise Invalid("a measured value cannot be negative", field=["value"])
    entry = await session.get(AuditKpiValue, (audit.id, kpi.id))
    before = journal.snapshot(entry) if entry else None
    entry = entry or AuditKpiValue(audit_id=audit.id, kpi_id=kpi.id, value=value)
    entry.value = value
    session.add(entry)
    await journal.record(session, actor=actor, action="audit.kpi_value_recorded", entity=entry, before=before)
    return audit


@dataclass(frozen=True)
class CheckSpec:
    item: str
    passed: bool
    weight: float
    severity: Severity
    note: str | None = None
    evidence: str | None = None


async def add_audit_check(
    *, session: AsyncSession, actor: Actor | None, audit_id: int, check: CheckSpec
) -> Audit:
    actor, audit, _contract = await _draft_audit(session, actor, audit_id)
    problems = Validator()
    problems.check(bool(check.item.strip()), "name the checklist item", field=["input", "item"])
    problems.check(check.weight > 0, "a weight is above 0", field=["input", "weight"])
    problems.raise_if_any()
    entry = AuditCheck(
        audit_id=audit.id,
        item=check.item.strip(),
        passed=check.passed,
        weight=check.weight,
        severity=check.severity,
        note=(check.note or "").strip() or None,
        evidence=(check.evidence or "").strip() or None,
    )
    session.add(entry)
    await journal.record(session, actor=actor, action="audit.check_added", entity=entry)
    return audit


async def mark_delivery_false(
    *, session: AsyncSession, actor: Actor | None, audit_id: int, delivery_id: int
) -> Audit:
    """A spot check found that the delivery did not happen: it no longer counts for payment."""
    actor, audit, contract = await _draft_audit(session, actor, audit_id)
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.contract_id != contract.id:
        raise NotFound("no delivery of this contract with this ID", field=["deliveryId"])
    period = period_of(contract, delivery.delivered_on)
    if period is None or period.index != audit.period_index:
        raise Invalid("the delivery is not in the audited period", field=["deliveryId"])
    before = journal.snapshot(delivery)
    delivery.marked_false_by_audit_id = audit.id
    await journal.record(session, actor=actor, action="delivery.marked_false", entity=delivery, before=before)
    return audit


async def submit_audit(*, session: AsyncSession, actor: Actor | None, audit_id: int) -> Audit:
    actor, audit, contract = await _draft_audit(session, actor, audit_id)
    measured = set(
        (await session.scalars(select(AuditKpiValue.kpi_id).where(AuditKpiValue.audit_id == audit.id))).all()
    )
    audit_kpis = (
        await session.scalars(
            select(ContractKpi).where(
                ContractKpi.contract_id == contract.id, ContractKpi.source == KpiSource.AUDIT
            )
        )
    ).all()
    missing = [k.name for k in audit_kpis if k.id not in measured]
    if missing:
        raise Invalid("record a value for every audited KPI first: " + ", ".join(missing))
    before = journal.snapshot(audit)
    audit.status, audit.submitted_at = AuditStatus.SUBMITTED, await clock.now(session)
    await journal.record(session, actor=actor, action="audit.submitted", entity=audit, before=before)
    return audit


async def appeal_audit(
    *, session: AsyncSession, actor: Actor | None, audit_id: int, check_ids: Sequence[int], reason: str
) -> Appeal:
    """The provider appeals items of a submitted audit, within 10 days of its submission."""
    actor = require(actor, Role.PROVIDER)
    audit = await session.get(Audit, audit_id, with_for_update=True)
    contract = await session.get(Contract, audit.contract_id) if audit else None
    if audit is None or contract.provider_id != actor.provider_id:
        raise NotFound("no audit of your contracts with this ID", field=["auditId"])
    if audit.status != AuditStatus.SUBMITTED:
        raise InvalidState("the audit is not submitted yet")
    if await clock.now(session) >= audit.submitted_at + APPEAL_DAYS:
        raise DomainError("an audit can be appealed within 10 days", code=ErrorCode.DEADLINE_PASSED)
    if await session.scalar(select(exists().where(Appeal.audit_id == audit.id))):
        raise AlreadyExists("this audit has been appealed already")
    check = Validator()
    check.check(bool(check_ids), "name the items appealed", field=["checkIds"])
    check.check(bool(reason.strip()), "give the reasons", field=["reason"])
    check.raise_if_any()
    items = set((await session.scalars(select(AuditCheck.id).where(AuditCheck.audit_id == audit.id))).all())
    for index, check_id in enumerate(check_ids):
        if check_id not in items:
            raise NotFound("not an item of this audit", field=["checkIds", str(index)])
    appeal = Appeal(
        audit_id=audit.id,
        reason=reason.strip(),
        check_ids=sorted(set(check_ids)),
        filed_at=await clock.now(session),
    )
    session.add(appeal)
    await journal.record(session, actor=actor, action="appeal.filed", entity=appeal)
    return appeal


@dataclass(frozen=True)
class ItemDecision:
    check_id: int
    upheld: bool
    note: str | None = None


async def decide_appeal(
    *, session: AsyncSession, actor: Actor | None, appeal_id: int, decisions: Sequence[ItemDecision]
) -> Appeal:
    """The department's officer upholds or overturns each appealed item; overturned items drop out."""
    actor = require(actor, Role.OFFICER)
    appeal = await session.get(Appeal, appeal_id, with_for_update=True)
    audit = await session.get(Audit, appeal.audit_id) if appeal else None
    if appeal is None:
        raise NotFound("no appeal with this ID", field=["id"])
    await _officer_contract(session, actor, audit.contract_id, field=["id"])
    if appeal.decided_at is not None:
        raise InvalidState("the appeal has been decided")
    decided = [d.check_id for d in decisions]
    if sorted(decided) != sorted(appeal.check_ids):
        raise Invalid("decide every appealed item exactly once", field=["decisions"])
    before = journal.snapshot(appeal)
    for decision in decisions:
        item = await session.get(AuditCheck, decision.check_id, with_for_update=True)
        if not decision.upheld:
            item_before = journal.snapshot(item)
            item.overturned = True
            await journal.record(
                session, actor=actor, action="audit.check_overturned", entity=item, before=item_before
            )
    appeal.decisions = [{"check_id": d.check_id, "upheld": d.upheld, "note": d.note} for d in decisions]
    appeal.decided_at = await clock.now(session)
    await journal.record(session, actor=actor, action="appeal.decided", entity=appeal, before=before)
    return appeal


def audit_score(checks: Sequence[AuditCheck]) -> float:
    """100 × passed weight / all weight, overturned items left out; 100 when no item remains."""
    counted = [c for c in checks if not c.overturned]
    total = sum(c.weight for c in counted)
    return 100.0 if total == 0 else 100.0 * sum(c.weight for c in counted if c.passed) / total
