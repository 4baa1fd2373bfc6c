"""Rules of the market domain: accounts, regions, departments, audit firms, providers, catalogue.

Plain functions with keyword-only arguments; every one that changes state
checks the actor's role first, validates its whole input, then journals what
it changed. The caller commits (one transaction per mutation).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from core import clock, journal
from core.auth import Actor, Role, hash_password, issue_token, require, verify_password
from core.db import CENT
from core.errors import (
    AlreadyExists,
    Invalid,
    InvalidState,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    Unauthenticated,
    Validator,
)
from core.models import ClockOffset
from market.models import (
    AuditFirm,
    Department,
    KpiDirection,
    KpiSource,
    LoginThrottle,
    PackageKpi,
    PackageTier,
    Provider,
    ProviderKind,
    ProviderRegion,
    ProviderStatus,
    Qualification,
    Region,
    RegionKind,
    ServiceCategory,
    ServicePackage,
    User,
)

LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MIN_SATISFACTION_WEIGHT = 0.30  # [seed 004] 市民满意度权重不低于30%
WEIGHT_TOLERANCE = 1e-6

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")

STAFF = (Role.ADMIN, Role.OFFICER)


# ---------------------------------------------------------------- accounts


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def load_actor(*, session: AsyncSession, user_id: int) -> Actor | None:
    """The actor behind a token; None when the account is gone or deactivated."""
    user = await session.get(User, user_id)
    if user is None or not user.active:
        return None
    return actor_of(user)


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        role=user.role,
        department_id=user.department_id,
        provider_id=user.provider_id,
        audit_firm_id=user.audit_firm_id,
    )


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: dt.datetime
    user: User


async def login(*, session: AsyncSession, email: str, password: str, secret_key: str) -> LoginResult:
    """Check the password and issue a 12-hour token.

    After 5 failures for one email within 15 minutes, attempts are refused for
    15 minutes without looking at the password. Failures are committed here,
    before the error is raised, because the caller rolls back on errors.
    """
    email = normalise_email(email)
    now = await clock.now(session)
    throttle = await session.get(LoginThrottle, email, with_for_update=True)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        raise TooManyAttempts("too many failed logins for this email; try again in 15 minutes")

    user = await session.scalar(select(User).where(User.email == email))
    if user is not None and user.active and verify_password(user.password_hash, password):
        if throttle is not None:
            await session.delete(throttle)
        token, expires = issue_token(user_id=user.id, secret_key=secret_key, now=now)
        return LoginResult(token=token, expires_at=expires, user=user)

    if throttle is None:
        throttle = LoginThrottle(email=email, failures=0, window_started_at=now)
        session.add(throttle)
    if now - throttle.window_started_at > LOGIN_WINDOW:
        throttle.failures, throttle.window_started_at = 0, now
    throttle.failures += 1
    if throttle.failures >= LOGIN_MAX_FAILURES:
        throttle.failures, throttle.window_started_at = 0, now
        throttle.locked_until = now + LOGIN_LOCKOUT
    await session.commit()
    raise Unauthenticated("wrong email or password")


def _check_new_account(
    check: Validator, *, email: str, password: str, name: str, prefix: Sequence[str]
) -> None:
    check.check(bool(_EMAIL.match(email)), "not a valid email address", field=[*prefix, "email"])
    check.check(
        len(password) >= MIN_PASSWORD_LENGTH,
        f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
        field=[*prefix, "password"],
    )
    check.check(bool(name.strip()), "a name is required", field=[*prefix, "name"])


async def _email_taken(session: AsyncSession, email: str) -> bool:
    return bool(await session.scalar(select(exists().where(User.email == email))))


async def create_user(
    *,
    session: AsyncSession,
    actor: Actor | None,
    email: str,
    password: str,
    name: str,
    role: Role,
    department_id: int | None = None,
    provider_id: int | None = None,
    audit_firm_id: int | None = None,
) -> User:
    """ADMIN creates an account. OFFICERs need a department, PROVIDERs a provider, AUDITORs a firm."""
    require(actor, Role.ADMIN)
    email = normalise_email(email)
    check = Validator()
    _check_new_account(check, email=email, password=password, name=name, prefix=["input"])
    needs = {Role.OFFICER: "departmentId", Role.PROVIDER: "providerId", Role.AUDITOR: "auditFirmId"}
    given = {"departmentId": department_id, "providerId": provider_id, "auditFirmId": audit_firm_id}
    for key, value in given.items():
        if needs.get(role) == key:
            check.check(value is not None, f"a {role.value} account needs {key}", field=["input", key])
        elif key != "departmentId" or role not in (Role.EVALUATOR,):
            check.check(
                value is None, f"{key} does not apply to a {role.value} account", field=["input", key]
            )
    check.raise_if_any()
    for model, pk, key in (
        (Department, department_id, "departmentId"),
        (Provider, provider_id, "providerId"),
        (AuditFirm, audit_firm_id, "auditFirmId"),
    ):
        if pk is not None and await session.get(model, pk) is None:
            raise NotFound(f"no {model.__name__} with this ID", field=["input", key])
    if await _email_taken(session, email):
        raise AlreadyExists("an account with this email exists", field=["input", "email"])
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        department_id=department_id,
        provider_id=provider_id,
        audit_firm_id=audit_firm_id,
        created_at=await clock.now(session),
    )
    session.add(user)
    await journal.record(session, actor=actor, action="user.created", entity=user)
    return user


def can_see_user(actor: Actor | None, user: User) -> bool:
    return actor is not None and (actor.role == Role.ADMIN or actor.user_id == user.id)


# ---------------------------------------------------------------- regions, departments, firms


async def create_region(
    *,
    session: AsyncSession,
    actor: Actor | None,
    code: str,
    name: str,
    kind: RegionKind,
    population: int,
    parent_id: int | None = None,
) -> Region:
    require(actor, Role.ADMIN)
    code = code.strip()
    check = Validator()
    check.check(bool(code), "a code is required", field=["input", "code"])
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.check(population >= 0, "population cannot be negative", field=["input", "population"])
    check.raise_if_any()
    if parent_id is not None and await session.get(Region, parent_id) is None:
        raise NotFound("no region with this ID", field=["input", "parentId"])
    if await session.scalar(select(exists().where(Region.code == code))):
        raise AlreadyExists("a region with this code exists", field=["input", "code"])
    region = Region(code=code, name=name.strip(), kind=kind, population=population, parent_id=parent_id)
    session.add(region)
    await journal.record(session, actor=actor, action="region.created", entity=region)
    return region


async def create_department(
    *, session: AsyncSession, actor: Actor | None, name: str, region_id: int
) -> Department:
    require(actor, Role.ADMIN)
    check = Validator()
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.raise_if_any()
    if await session.get(Region, region_id) is None:
        raise NotFound("no region with this ID", field=["input", "regionId"])
    department = Department(name=name.strip(), region_id=region_id)
    session.add(department)
    await journal.record(session, actor=actor, action="department.created", entity=department)
    return department


def valid_credit_code(check: Validator, code: str, *, field: Sequence[str]) -> str:
    """The compact Unified Social Credit Code (统一社会信用代码), or a problem noted."""
    compact = uscc.compact(code)
    try:
        uscc.validate(compact)
    except StdnumValidationError as error:
        check.check(False, f"not a valid Unified Social Credit Code: {error.message}", field=field)
    return compact


async def create_audit_firm(
    *, session: AsyncSession, actor: Actor | None, name: str, credit_code: str
) -> AuditFirm:
    require(actor, Role.ADMIN)
    check = Validator()
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    credit_code = valid_credit_code(check, credit_code, field=["input", "creditCode"])
    check.raise_if_any()
    if await session.scalar(select(exists().where(AuditFirm.credit_code == credit_code))):
        raise AlreadyExists("an audit firm with this credit code exists", field=["input", "creditCode"])
    firm = AuditFirm(name=name.strip(), credit_code=credit_code)
    session.add(firm)
    await journal.record(session, actor=actor, action="audit_firm.created", entity=firm)
    return firm


def regions_statement() -> Select:
    return select(Region).order_by(Region.code)


def departments_statement() -> Select:
    return select(Department).order_by(Department.id)


def audit_firms_statement() -> Select:
    return select(AuditFirm).order_by(AuditFirm.name)


def categories_statement() -> Select:
    return select(ServiceCategory).order_by(ServiceCategory.code)


# ---------------------------------------------------------------- providers


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
    check.check(bool(_EMAIL.match(admin_email)), "not a valid email address", field=["input", "adminEmail"])
    check.check(
        len(admin_password) >= MIN_PASSWORD_LENGTH,
        f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
        field=["input", "adminPassword"],
    )
    check.check(bool(admin_name.strip()), "a name is required", field=["input", "adminName"])
    check.raise_if_any()
    unique_regions = list(dict.fromkeys(region_ids))
    found = set((await session.scalars(select(Region.id).where(Region.id.in_(unique_regions)))).all())
    for index, region_id in enumerate(region_ids):
        if region_id not in found:
            raise NotFound("no region with this ID", field=["input", "regionIds", str(index)])
    if await session.scalar(select(exists().where(Provider.credit_code == credit_code))):
        raise AlreadyExists("a provider with this credit code is registered", field=["input", "creditCode"])
    if await _email_taken(session, admin_email):
        raise AlreadyExists("an account with this email exists", field=["input", "adminEmail"])

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
        raise NotFound("no provider with this ID", field=field)
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
    session: AsyncSession, actor: Actor | None, provider_id: int, change: str, reason: str | None = None
) -> Provider:
    require(actor, *STAFF)
    if reason is not None and not reason.strip():
        raise Invalid("a reason is required", field=["reason"])
    allowed_from, to = PROVIDER_TRANSITIONS[change]
    provider = await _provider(session, provider_id, field=["id"])
    if provider.status not in allowed_from:
        raise InvalidState(f"the provider is {provider.status.value}; it cannot be {change}")
    before = journal.snapshot(provider)
    provider.status = to
    provider.status_reason = reason.strip() if reason else None
    if to == ProviderStatus.ACTIVE and provider.approved_at is None:
        provider.approved_at = await clock.now(session)
    await journal.record(session, actor=actor, action=f"provider.{change}", entity=provider, before=before)
    return provider


async def approve_provider(*, session: AsyncSession, actor: Actor | None, provider_id: int) -> Provider:
    """An OFFICER or ADMIN admits a PENDING provider to the market."""
    return await _change_status(session, actor, provider_id, "approved")


async def suspend_provider(
    *, session: AsyncSession, actor: Actor | None, provider_id: int, reason: str
) -> Provider:
    """Temporarily bars an ACTIVE provider from bidding."""
    return await _change_status(session, actor, provider_id, "suspended", reason)


async def reinstate_provider(*, session: AsyncSession, actor: Actor | None, provider_id: int) -> Provider:
    """Lifts a suspension."""
    return await _change_status(session, actor, provider_id, "reinstated")


async def debar_provider(
    *, session: AsyncSession, actor: Actor | None, provider_id: int, reason: str
) -> Provider:
    """Excludes a provider from the market (列入不良行为记录名单); final."""
    return await _change_status(session, actor, provider_id, "debarred", reason)


def can_manage_provider(actor: Actor | None, provider_id: int) -> bool:
    return actor is not None and (actor.role in STAFF or actor.provider_id == provider_id)


async def add_qualification(
    *,
    session: AsyncSession,
    actor: Actor | None,
    provider_id: int,
    type: str,
    number: str,
    valid_from: dt.date,
    valid_to: dt.date,
    document: str | None = None,
) -> Provider:
    """The provider's own staff (or an OFFICER/ADMIN) record a licence with its validity."""
    require(actor)
    if not can_manage_provider(actor, provider_id):
        raise PermissionDenied("only the provider's own staff, officers or admins may add qualifications")
    check = Validator()
    check.check(bool(type.strip()), "the qualification type is required", field=["input", "type"])
    check.check(bool(number.strip()), "the certificate number is required", field=["input", "number"])
    check.check(valid_from <= valid_to, "validFrom must not be after validTo", field=["input", "validTo"])
    check.raise_if_any()
    provider = await _provider(session, provider_id, field=["input", "providerId"])
    if provider.status == ProviderStatus.DEBARRED:
        raise InvalidState("the provider is debarred")
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


def provider_visible_clause(actor: Actor | None):
    """PENDING providers are seen only by staff and by their own users; the rest are public."""
    if actor is not None and actor.role in STAFF:
        return True
    clause = Provider.status != ProviderStatus.PENDING
    if actor is not None and actor.provider_id is not None:
        clause = or_(clause, Provider.id == actor.provider_id)
    return clause


def can_see_provider(actor: Actor | None, provider: Provider) -> bool:
    return provider.status != ProviderStatus.PENDING or (
        actor is not None and (actor.role in STAFF or actor.provider_id == provider.id)
    )


def providers_statement(
    *,
    actor: Actor | None,
    status: ProviderStatus | None = None,
    kind: ProviderKind | None = None,
    region_id: int | None = None,
    search: str | None = None,
) -> Select:
    statement = select(Provider).where(provider_visible_clause(actor))
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


# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class KpiSpec:
    name: str
    unit: str
    target: float
    direction: KpiDirection
    weight: float
    source: KpiSource


@dataclass(frozen=True)
class PackageSpec:
    """The content of a package version, as given by an officer."""

    name: str
    name_en: str | None
    category: str
    tier: PackageTier
    unit: str
    standard: str
    min_unit_price: Decimal
    max_unit_price: Decimal
    kpis: Sequence[KpiSpec]
    satisfaction_weight: float = 0.4
    kpi_weight: float = 0.4
    audit_weight: float = 0.2


def _weights_sum_to_one(weights: Sequence[float]) -> bool:
    return abs(sum(weights) - 1.0) <= WEIGHT_TOLERANCE


def check_kpis(check: Validator, kpis: Sequence[KpiSpec], *, field: Sequence[str]) -> None:
    """KPI templates: named, unique, positive weights summing to 1, sensible targets."""
    check.check(bool(kpis), "at least one KPI is required", field=field)
    names = [k.name.strip() for k in kpis]
    for i, kpi in enumerate(kpis):
        at = [*field, str(i)]
        check.check(bool(kpi.name.strip()), "the KPI needs a name", field=[*at, "name"])
        check.check(names.count(kpi.name.strip()) == 1, "KPI names must be unique", field=[*at, "name"])
        check.check(bool(kpi.unit.strip()), "the KPI needs a unit", field=[*at, "unit"])
        check.check(0 < kpi.weight <= 1, "a KPI weight is above 0 and at most 1", field=[*at, "weight"])
        if kpi.direction == KpiDirection.HIGHER_IS_BETTER:
            check.check(kpi.target > 0, "a higher-is-better target must be above 0", field=[*at, "target"])
        else:
            check.check(kpi.target >= 0, "a target cannot be negative", field=[*at, "target"])
        if kpi.source == KpiSource.COMPLAINT_RATE:
            check.check(
                kpi.direction == KpiDirection.LOWER_IS_BETTER,
                "a complaint rate is lower-is-better",
                field=[*at, "direction"],
            )
        if kpi.source == KpiSource.DELIVERY_RATE:
            check.check(
                kpi.direction == KpiDirection.HIGHER_IS_BETTER,
                "a delivery rate is higher-is-better",
                field=[*at, "direction"],
            )
    if kpis:
        check.check(
            _weights_sum_to_one([k.weight for k in kpis]),
            "KPI weights must sum to 1",
            field=field,
        )


def _price(check: Validator, value: Decimal, *, field: Sequence[str]) -> None:
    check.check(value > 0, "a unit price is above 0", field=field)
    check.check(value == value.quantize(CENT), "prices have at most 2 decimals (fen)", field=field)


def check_package(check: Validator, spec: PackageSpec) -> None:
    check.check(bool(spec.name.strip()), "a name is required", field=["input", "name"])
    check.check(bool(spec.unit.strip()), "a unit is required, e.g. visit", field=["input", "unit"])
    check.check(bool(spec.standard.strip()), "the service standard is required", field=["input", "standard"])
    _price(check, spec.min_unit_price, field=["input", "minUnitPrice"])
    _price(check, spec.max_unit_price, field=["input", "maxUnitPrice"])
    check.check(
        spec.min_unit_price <= spec.max_unit_price,
        "the minimum unit price is above the maximum",
        field=["input", "minUnitPrice"],
    )
    check_kpis(check, spec.kpis, field=["input", "kpis"])
    check.check(
        spec.satisfaction_weight >= MIN_SATISFACTION_WEIGHT - WEIGHT_TOLERANCE,
        "resident satisfaction weighs at least 0.30",
        field=["input", "satisfactionWeight"],
    )
    check.check(
        min(spec.kpi_weight, spec.audit_weight) >= 0,
        "scoring weights cannot be negative",
        field=["input", "kpiWeight"],
    )
    check.check(
        _weights_sum_to_one([spec.satisfaction_weight, spec.kpi_weight, spec.audit_weight]),
        "satisfaction, KPI and audit weights must sum to 1",
        field=["input", "satisfactionWeight"],
    )


async def _store_version(
    session: AsyncSession, actor: Actor, *, code: str, version: int, spec: PackageSpec
) -> ServicePackage:
    package = ServicePackage(
        code=code,
        version=version,
        name=spec.name.strip(),
        name_en=spec.name_en.strip() if spec.name_en else None,
        category_code=spec.category,
        tier=spec.tier,
        unit=spec.unit.strip(),
        standard=spec.standard.strip(),
        min_unit_price=spec.min_unit_price,
        max_unit_price=spec.max_unit_price,
        satisfaction_weight=spec.satisfaction_weight,
        kpi_weight=spec.kpi_weight,
        audit_weight=spec.audit_weight,
        created_at=await clock.now(session),
        created_by_id=actor.user_id,
    )
    session.add(package)
    try:
        await session.flush()
    except IntegrityError as error:
        raise AlreadyExists(
            f"version {version} of {code} was just created by someone else; reload and edit again",
            field=["input", "code"],
        ) from error
    session.add_all(
        PackageKpi(
            package_id=package.id,
            position=i,
            name=k.name.strip(),
            unit=k.unit.strip(),
            target=k.target,
            direction=k.direction,
            weight=k.weight,
            source=k.source,
        )
        for i, k in enumerate(spec.kpis)
    )
    await journal.record(
        session,
        actor=actor,
        action="service_package.versioned" if version > 1 else "service_package.created",
        entity=package,
    )
    return package


async def _check_category(session: AsyncSession, code: str) -> None:
    if await session.get(ServiceCategory, code) is None:
        raise NotFound(f"no service category {code!r}", field=["input", "category"])


async def create_service_package(
    *, session: AsyncSession, actor: Actor | None, code: str, spec: PackageSpec
) -> ServicePackage:
    """A new package in the public catalogue, as version 1."""
    actor = require(actor, *STAFF)
    code = code.strip().upper()
    check = Validator()
    check.check(
        bool(_CODE.match(code)), "a code is 1-40 letters, digits, '-' or '_'", field=["input", "code"]
    )
    check_package(check, spec)
    check.raise_if_any()
    await _check_category(session, spec.category)
    if await session.scalar(select(exists().where(ServicePackage.code == code))):
        raise AlreadyExists("a package with this code exists; edit it instead", field=["input", "code"])
    return await _store_version(session, actor, code=code, version=1, spec=spec)


async def revise_service_package(
    *, session: AsyncSession, actor: Actor | None, package_id: int, changes: dict[str, Any]
) -> ServicePackage:
    """Editing makes the next version from the latest one plus `changes` (PackageSpec fields).

    The edited version stays exactly as it was: tenders made from it keep it.
    """
    actor = require(actor, *STAFF)
    current = await session.get(ServicePackage, package_id)
    if current is None:
        raise NotFound("no service package with this ID", field=["id"])
    latest = await session.scalar(
        select(func.max(ServicePackage.version)).where(ServicePackage.code == current.code)
    )
    if current.version != latest:
        raise InvalidState(f"version {current.version} is not the latest ({latest}); edit the latest version")
    kpis = await package_kpis(session=session, package_ids=[current.id])
    spec = replace(spec_of(current, kpis), **changes)
    check = Validator()
    check_package(check, spec)
    check.raise_if_any()
    await _check_category(session, spec.category)
    return await _store_version(session, actor, code=current.code, version=current.version + 1, spec=spec)


def spec_of(package: ServicePackage, kpis: Sequence[PackageKpi]) -> PackageSpec:
    return PackageSpec(
        name=package.name,
        name_en=package.name_en,
        category=package.category_code,
        tier=package.tier,
        unit=package.unit,
        standard=package.standard,
        min_unit_price=package.min_unit_price,
        max_unit_price=package.max_unit_price,
        kpis=[KpiSpec(k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in kpis],
        satisfaction_weight=package.satisfaction_weight,
        kpi_weight=package.kpi_weight,
        audit_weight=package.audit_weight,
    )


async def package_kpis(*, session: AsyncSession, package_ids: Sequence[int]) -> list[PackageKpi]:
    return list(
        (
            await session.scalars(
                select(PackageKpi)
                .where(PackageKpi.package_id.in_(package_ids))
                .order_by(PackageKpi.package_id, PackageKpi.position)
            )
        ).all()
    )


async def create_service_category(
    *, session: AsyncSession, actor: Actor | None, code: str, name: str, name_en: str
) -> ServiceCategory:
    require(actor, Role.ADMIN)
    code = code.strip().upper()
    check = Validator()
    check.check(
        bool(_CODE.match(code)), "a code is 1-40 letters, digits, '-' or '_'", field=["input", "code"]
    )
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.check(bool(name_en.strip()), "an English name is required", field=["input", "nameEn"])
    check.raise_if_any()
    if await session.get(ServiceCategory, code) is not None:
        raise AlreadyExists("a category with this code exists", field=["input", "code"])
    category = ServiceCategory(code=code, name=name.strip(), name_en=name_en.strip())
    session.add(category)
    await journal.record(session, actor=actor, action="service_category.created", entity=category)
    return category


def packages_statement(
    *,
    category: str | None = None,
    tier: PackageTier | None = None,
    code: str | None = None,
    search: str | None = None,
    all_versions: bool = False,
) -> Select:
    """The catalogue: latest versions unless `all_versions`, ordered by code then version."""
    statement = select(ServicePackage)
    if not all_versions:
        newer = aliased(ServicePackage)
        statement = statement.where(
            ~exists().where(newer.code == ServicePackage.code, newer.version > ServicePackage.version)
        )
    if category:
        statement = statement.where(ServicePackage.category_code == category.strip().upper())
    if tier is not None:
        statement = statement.where(ServicePackage.tier == tier)
    if code:
        statement = statement.where(ServicePackage.code == code.strip().upper())
    if search:
        pattern = f"%{search.strip()}%"
        statement = statement.where(
            or_(ServicePackage.name.ilike(pattern), ServicePackage.name_en.ilike(pattern))
        )
    return statement.order_by(ServicePackage.code, ServicePackage.version)


# ---------------------------------------------------------------- test clock


async def advance_clock(
    *, session: AsyncSession, actor: Actor | None, seconds: int, enabled: bool
) -> dt.datetime:
    """ADMIN moves the shared test clock forward (MARKET_TEST_CLOCK only)."""
    require(actor, Role.ADMIN)
    if not enabled:
        raise InvalidState("the test clock is disabled on this deployment (MARKET_TEST_CLOCK)")
    check = Validator()
    check.check(seconds > 0, "the clock only moves forward: seconds must be above 0", field=["seconds"])
    check.raise_if_any()
    offset = await session.get(ClockOffset, 1, with_for_update=True)
    before = journal.snapshot(offset) if offset else None
    moved = await clock.advance(session, seconds)
    offset = await session.get(ClockOffset, 1, populate_existing=True)
    await journal.record(session, actor=actor, action="clock.advanced", entity=offset, before=before)
    return moved


def require_role(actor: Actor | None, *roles: Role) -> Actor:
    """Role check before a resolver decodes IDs, so that anonymous callers learn nothing else."""
    return require(actor, *roles)


def require_admin(actor: Actor | None) -> Actor:
    return require(actor, Role.ADMIN)


def require_staff(actor: Actor | None) -> Actor:
    return require(actor, *STAFF)


def require_signed_in(actor: Actor | None) -> Actor:
    return require(actor)
