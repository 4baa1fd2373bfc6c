"""The public catalogue (SPEC §3): service categories and versioned service packages with their KPIs.

Editing a package makes a new version and leaves the edited one as it was: tenders and contracts
pin the version they were made from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import clock, journal
from core.auth import Actor
from core.db import CENT
from core.errors import DomainError, ErrorCode, Validator
from market.models import (
    KpiDirection,
    KpiFields,
    KpiSource,
    PackageKpi,
    PackageTier,
    ServiceCategory,
    ServicePackage,
)

MIN_SATISFACTION_WEIGHT = 0.30  # [seed 004] 市民满意度权重不低于30%
WEIGHT_TOLERANCE = 1e-6
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")


@dataclass(frozen=True)
class KpiSpec:
    """A performance indicator as given (SPEC §5.2), before it is stored for a package or a tender."""

    name: str
    unit: str
    target: float
    direction: KpiDirection
    weight: float
    source: KpiSource

    @classmethod
    def of(cls, kpi: KpiFields | KpiSpec) -> KpiSpec:
        """The spec of a stored KPI (a package's, a tender's), or of an input with the same fields."""
        return cls(kpi.name, kpi.unit, kpi.target, kpi.direction, kpi.weight, kpi.source)


Kpi = TypeVar("Kpi", bound=KpiFields)


def kpi_rows(model: type[Kpi], kpis: Sequence[KpiSpec], **owner: int) -> list[Kpi]:
    """The KPIs to store for their owner (`package_id=...`, `tender_id=...`), in the given order."""
    return [
        model(**owner, position=i, name=k.name.strip(), unit=k.unit.strip(), target=k.target,
              direction=k.direction, weight=k.weight, source=k.source)
        for i, k in enumerate(kpis)
    ]  # fmt: skip


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
        raise DomainError(
            ErrorCode.ALREADY_EXISTS,
            f"version {version} of {code} was just created by someone else; reload and edit again",
            field=["input", "code"],
        ) from error
    session.add_all(kpi_rows(PackageKpi, spec.kpis, package_id=package.id))
    await journal.record(
        session,
        actor=actor,
        action="service_package.versioned" if version > 1 else "service_package.created",
        entity=package,
    )
    return package


async def _check_category(session: AsyncSession, code: str) -> None:
    if await session.get(ServiceCategory, code) is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no service category {code!r}", field=["input", "category"])


async def create_service_package(
    *, session: AsyncSession, actor: Actor, code: str, spec: PackageSpec
) -> ServicePackage:
    """A new package in the public catalogue, as version 1."""
    code = code.strip().upper()
    spec = replace(spec, category=spec.category.strip().upper())
    check = Validator()
    check.check(
        bool(_CODE.match(code)), "a code is 1-40 letters, digits, '-' or '_'", field=["input", "code"]
    )
    check_package(check, spec)
    check.raise_if_any()
    await _check_category(session, spec.category)
    if await session.scalar(select(exists().where(ServicePackage.code == code))):
        raise DomainError(
            ErrorCode.ALREADY_EXISTS,
            "a package with this code exists; edit it instead",
            field=["input", "code"],
        )
    return await _store_version(session, actor, code=code, version=1, spec=spec)


async def revise_service_package(
    *, session: AsyncSession, actor: Actor, package_id: int, changes: dict[str, Any]
) -> ServicePackage:
    """Editing makes the next version from the latest one plus `changes` (PackageSpec fields).

    The edited version stays exactly as it was: tenders made from it keep it.
    """
    current = await session.get(ServicePackage, package_id)
    if current is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no service package with this ID", field=["id"])
    latest = await session.scalar(
        select(func.max(ServicePackage.version)).where(ServicePackage.code == current.code)
    )
    if current.version != latest:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            f"version {current.version} is not the latest ({latest}); edit the latest version",
        )
    kpis = await package_kpis(session=session, package_ids=[current.id])
    spec = replace(spec_of(current, kpis), **changes)
    spec = replace(spec, category=spec.category.strip().upper())
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
        kpis=[KpiSpec.of(k) for k in kpis],
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
    *, session: AsyncSession, actor: Actor, code: str, name: str, name_en: str
) -> ServiceCategory:
    code = code.strip().upper()
    check = Validator()
    check.check(
        bool(_CODE.match(code)), "a code is 1-40 letters, digits, '-' or '_'", field=["input", "code"]
    )
    check.check(bool(name.strip()), "a name is required", field=["input", "name"])
    check.check(bool(name_en.strip()), "an English name is required", field=["input", "nameEn"])
    check.raise_if_any()
    if await session.get(ServiceCategory, code) is not None:
        raise DomainError(
            ErrorCode.ALREADY_EXISTS, "a category with this code exists", field=["input", "code"]
        )
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


def categories_statement() -> Select:
    return select(ServiceCategory).order_by(ServiceCategory.code)
