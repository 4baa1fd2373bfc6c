"""Complaints (投诉, SPEC §5.5): filed by the resident through the link or by an officer for a resident
on the hotline, answered within 24 hours, settled within 7 days, watched by their lights (红黄绿灯)."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import verhoeff

from contracts import access, deliveries, lifecycle
from contracts.models import Complaint, ComplaintStatus, Contract, Delivery, Light
from contracts.residents import MAX_TEXT
from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator

FIRST_RESPONSE = dt.timedelta(hours=24)
RESOLUTION = dt.timedelta(days=7)
YELLOW_FROM = 0.75

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


# ---------------------------------------------------------------- deadlines and lights


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


# ---------------------------------------------------------------- references and categories


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
        raise DomainError(
            ErrorCode.INVALID,
            "not a complaint reference: 12 digits, the last a check digit",
            field=["reference"],
        )
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


async def _unused_reference(session: AsyncSession) -> str:
    for _ in range(5):  # 10^11 numbers: a second try is already rare
        reference = new_complaint_reference()
        if not await session.scalar(select(exists().where(Complaint.reference == reference))):
            return reference
    raise RuntimeError("no unused complaint reference after 5 tries")


def complaint_category(value: str) -> str | None:
    """The category code a value names (its code in any case), or None."""
    code = value.strip().upper()
    return code if code in COMPLAINT_CATEGORIES else None


# ---------------------------------------------------------------- filing, answering, closing


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
    delivery = await deliveries.by_token(session, token)
    return await _file_complaint(session, None, delivery, category=category, text=text, channel="LINK")


async def file_complaint_for_resident(
    *, session: AsyncSession, actor: Actor, delivery_id: int, category: str, text: str
) -> Complaint:
    """An officer of the contract's department files a complaint a resident made by phone (12345)."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no delivery with this ID", field=["input", "deliveryId"])
    await lifecycle.contract_for_officer(session, actor, delivery.contract_id, field=["input", "deliveryId"])
    return await _file_complaint(session, actor, delivery, category=category, text=text, channel="HOTLINE")


async def _complaint(session: AsyncSession, actor: Actor, complaint_id: int) -> tuple[Complaint, Contract]:
    """The complaint, locked, with its contract, when the caller may see it; NOT_FOUND otherwise."""
    complaint = await session.get(Complaint, complaint_id, with_for_update=True)
    contract = await session.get(Contract, complaint.contract_id) if complaint else None
    if complaint is None or not access.can_see_contract_details(actor, contract):
        raise DomainError(ErrorCode.NOT_FOUND, "no complaint with this ID", field=["id"])
    return complaint, contract


async def respond_complaint(
    *, session: AsyncSession, actor: Actor, complaint_id: int, text: str
) -> Complaint:
    """The first response (within 24 hours), by the contracted provider or the department's officers."""
    complaint, contract = await _complaint(session, actor, complaint_id)
    if not access.may_respond_to_complaint(actor, contract):
        raise access.refusal(actor, "only the provider or the department's officers respond")
    if complaint.status != ComplaintStatus.OPEN:
        raise DomainError(ErrorCode.INVALID_STATE, f"the complaint is {complaint.status.value}")
    if not text.strip():
        raise DomainError(ErrorCode.INVALID, "the response is empty", field=["text"])
    before = journal.snapshot(complaint)
    complaint.status, complaint.response = ComplaintStatus.RESPONDED, text.strip()
    complaint.responded_at = await clock.now(session)
    await journal.record(session, actor=actor, action="complaint.responded", entity=complaint, before=before)
    return complaint


async def close_complaint(
    *,
    session: AsyncSession,
    actor: Actor,
    complaint_id: int,
    note: str,
    substantiated: bool | None,
    reject: bool = False,
) -> Complaint:
    """The department's officer resolves (substantiated or not) or rejects a complaint."""
    complaint, contract = await _complaint(session, actor, complaint_id)
    if not access.is_contract_officer(actor, contract):
        raise access.refusal(actor, "only the department's officers resolve complaints")
    if complaint.status not in (ComplaintStatus.OPEN, ComplaintStatus.RESPONDED):
        raise DomainError(ErrorCode.INVALID_STATE, f"the complaint is {complaint.status.value}")
    if not note.strip():
        raise DomainError(ErrorCode.INVALID, "explain the decision", field=["note"])
    before = journal.snapshot(complaint)
    complaint.status = ComplaintStatus.REJECTED if reject else ComplaintStatus.RESOLVED
    complaint.substantiated = None if reject else substantiated
    complaint.resolution_note, complaint.closed_at = note.strip(), await clock.now(session)
    action = "complaint.rejected" if reject else "complaint.resolved"
    await journal.record(session, actor=actor, action=action, entity=complaint, before=before)
    return complaint


# ---------------------------------------------------------------- the list


async def complaints_statement(
    *,
    session: AsyncSession,
    actor: Actor | None,
    status: ComplaintStatus | None = None,
    light_filter: Light | None = None,
    open_only: bool = True,
    reference: str | None = None,
) -> Select:
    """Complaints the caller may see, oldest first.

    `reference`: the one complaint with it, as the resident read it out, whatever its status.
    `open_only` (OPEN and RESPONDED) applies only when neither a status nor a reference is asked for.
    """
    if not access.can_list_complaints(actor):
        raise access.refusal(actor, "log in first")
    now = await clock.now(session)
    statement = access.visible_complaints(actor)
    if reference is not None:
        statement = statement.where(Complaint.reference == parse_complaint_reference(reference))
    if open_only and status is None and reference is None:
        statement = statement.where(Complaint.status.in_([ComplaintStatus.OPEN, ComplaintStatus.RESPONDED]))
    if status is not None:
        statement = statement.where(Complaint.status == status)
    if light_filter is not None:
        statement = statement.where(light_clause(light_filter, now))
    return statement.order_by(Complaint.created_at, Complaint.id)
