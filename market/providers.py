"""Providers (SPEC §3): self-registration, approval and sanctions by staff, qualifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor, Role, hash_password
from core.errors import DomainError, ErrorCode, Validator
from market import access
from market.accounts import check_new_account, email_taken, normalise_email
from market.directory import valid_credit_code
from market.models import (
    Provider,
    ProviderKind,
    ProviderRegion,
    ProviderStatus,
    Qualification,
    Region,
    User,
)


@dataclass(frozen=True)
class Registration:
    provider: Provider
    user: User


async def register_provider(
    *,
    session: AsyncSession,
    actor: Actor | None,
    legal_name: str,
    credit_code: str,
    kind: ProviderKind,
    region_ids: Sequence[int],
    admin_email: str,
    admin_password: str,
    admin_name: str,
) -> Registration:
    """Self-registration: the provider starts PENDING, with its first PROVIDER account."""
    admin_email = normalise_email(admin_email)
    check = Validator()
    check.check(bool(legal_name.strip()), "the legal name is required", field=["input", "legalName"])
    credit_code = valid_credit_code(check, credit_code, field=["input", "creditCode"])
    check.check(bool(region_ids), "name at least one region served", field=["input", "regionIds"])
    check_new_account(
        check,
        email=admin_email,
        password=admin_password,
        name=admin_name,
        fields=("adminEmail", "adminPassword", "adminName"),
    )
    check.raise_if_any()
    unique_regions = list(dict.fromkeys(region_ids))
    found = set((await session.scalars(select(Region.id).where(Region.id.in_(unique_regions)))).all())
    for index, region_id in enumerate(region_ids):
        if region_id not in found:
            raise DomainError(
                ErrorCode.NOT_FOUND, "no region with this ID", field=["input", "regionIds", str(index)]
            )
    if await session.scalar(select(exists().where(Provider.credit_code == credit_code))):
        raise DomainError(
            ErrorCode.ALREADY_EXISTS,
            "a provider with this credit code is registered",
            field=["input", "creditCode"],
        )
    if await email_taken(session, admin_email):
        raise DomainError(
            ErrorCode.ALREADY_EXISTS, "an account with this email exists", field=["input", "adminEmail"]
        )

    now = await clock.now(session)
    provider = Provider(legal_name=legal_name.strip(), credit_code=credit_code, kind=kind, registered_at=now)
    session.add(provider)
    await session.flush()
    session.add_all(ProviderRegion(provider_id=provider.id, region_id=r) for r in unique_regions)
    user = User(
        email=admin_email,
        name=admin_name.strip(),
        role=Role.PROVIDER,
        password_hash=hash_password(admin_password),
        provider_id=provider.id,
        created_at=now,
    )
    session.add(user)
    await journal.record(session, actor=actor, action="provider.registered", entity=provider)
    await journal.record(session, actor=actor, action="user.created", entity=user)
    return Registration(provider=provider, user=user)


async def _provider(session: AsyncSession, provider_id: int, *, field: Sequence[str]) -> Provider:
    provider = await session.get(Provider, provider_id, with_for_update=True)
    if provider is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no provider with this ID", field=field)
    return provider


# What each status change is called, the statuses it starts from, and where it leads.
PROVIDER_TRANSITIONS = {
    "approved": ((ProviderStatus.PENDING,), ProviderStatus.ACTIVE),
    "suspended": ((ProviderStatus.ACTIVE,), ProviderStatus.SUSPENDED),
    "reinstated": ((ProviderStatus.SUSPENDED,), ProviderStatus.ACTIVE),
    "debarred": (
        (ProviderStatus.PENDING, ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED),
        ProviderStatus.DEBARRED,
    ),
}


async def _change_status(
    session: AsyncSession, actor: Actor, provider_id: int, change: str, reason: str | None = None
) -> Provider:
    if reason is not None and not reason.strip():
        raise DomainError(ErrorCode.INVALID, "a reason is required", field=["reason"])
    allowed_from, to = PROVIDER_TRANSITIONS[change]
    provider = await _provider(session, provider_id, field=["id"])
    if provider.status not in allowed_from:
        raise DomainError(
            ErrorCode.INVALID_STATE, f"the provider is {provider.status.value}; it cannot be {change}"
        )
    before = journal.snapshot(provider)
    provider.status = to
    provider.status_reason = reason.strip() if reason else None
    if to == ProviderStatus.ACTIVE and provider.approved_at is None:
        provider.approved_at = await clock.now(session)
    await journal.record(session, actor=actor, action=f"provider.{change}", entity=provider, before=before)
    return provider


async def approve_provider(*, session: AsyncSession, actor: Actor, provider_id: int) -> Provider:
    """An OFFICER or ADMIN admits a PENDING provider to the market."""
    return await _change_status(session, actor, provider_id, "approved")


async def suspend_provider(*, session: AsyncSession, actor: Actor, provider_id: int, reason: str) -> Provider:
    """Temporarily bars an ACTIVE provider from bidding."""
    return await _change_status(session, actor, provider_id, "suspended", reason)


async def reinstate_provider(*, session: AsyncSession, actor: Actor, provider_id: int) -> Provider:
    """Lifts a suspension."""
    return await _change_status(session, actor, provider_id, "reinstated")


async def debar_provider(*, session: AsyncSession, actor: Actor, provider_id: int, reason: str) -> Provider:
    """Excludes a provider from the market (列入不良行为记录名单); final."""
    return await _change_status(session, actor, provider_id, "debarred", reason)


async def add_qualification(
    *,
    session: AsyncSession,
    actor: Actor,
    provider_id: int,
    type: str,
    number: str,
    valid_from: dt.date,
    valid_to: dt.date,
    document: str | None = None,
) -> Provider:
    """The provider's own staff (or an OFFICER/ADMIN) record a licence with its validity."""
    if not access.can_manage_provider(actor, provider_id):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "only the provider's own staff, officers or admins may add qualifications",
        )
    check = Validator()
    check.check(bool(type.strip()), "the qualification type is required", field=["input", "type"])
    check.check(bool(number.strip()), "the certificate number is required", field=["input", "number"])
    check.check(valid_from <= valid_to, "validFrom must not be after validTo", field=["input", "validTo"])
    check.raise_if_any()
    provider = await _provider(session, provider_id, field=["input", "providerId"])
    if provider.status == ProviderStatus.DEBARRED:
        raise DomainError(ErrorCode.INVALID_STATE, "the provider is debarred")
    qualification = Qualification(
        provider_id=provider.id,
        type=type.strip(),
        number=number.strip(),
        valid_from=valid_from,
        valid_to=valid_to,
        document=document.strip() if document else None,
    )
    session.add(qualification)
    await journal.record(session, actor=actor, action="qualification.added", entity=qualification)
    return provider


def providers_statement(
    *,
    actor: Actor | None,
    status: ProviderStatus | None = None,
    kind: ProviderKind | None = None,
    region_id: int | None = None,
    search: str | None = None,
) -> Select:
    statement = select(Provider).where(access.providers_visible_clause(actor))
    if status is not None:
        statement = statement.where(Provider.status == status)
    if kind is not None:
        statement = statement.where(Provider.kind == kind)
    if region_id is not None:
        statement = statement.where(
            exists().where(ProviderRegion.provider_id == Provider.id, ProviderRegion.region_id == region_id)
        )
    if search:
        pattern = f"%{search.strip()}%"
        statement = statement.where(
            or_(Provider.legal_name.ilike(pattern), Provider.credit_code.ilike(pattern))
        )
    return statement.order_by(Provider.id)


async def acting_provider(session: AsyncSession, actor: Actor) -> Provider:
    """The provider a PROVIDER account works for: the one whose bids, questions and challenges it makes."""
    provider = await session.get(Provider, actor.provider_id) if actor.provider_id is not None else None
    if provider is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "this account belongs to no provider")
    return provider
