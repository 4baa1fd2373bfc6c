"""Builders of test data, through the services (so the data obeys the same rules as real data)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from stdnum.cn import uscc

from core.auth import Actor, Role
from market import accounts, catalogue, directory, providers
from market import models as m

ADMIN = Actor(user_id=None, role=Role.ADMIN)
PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


def credit_code(prefix: str = "91310000") -> str:
    """A Unified Social Credit Code with a correct check digit, unique per call."""
    body = f"{prefix}{next(_numbers):09d}"
    return body + uscc.calc_check_digit(body)


def with_wrong_check_digit(code: str) -> str:
    wrong = next(c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != code[-1])
    return code[:-1] + wrong


async def region(session, *, kind=m.RegionKind.URBAN, population=100_000, code=None) -> m.Region:
    return await directory.create_region(
        session=session,
        actor=ADMIN,
        code=code or f"R{next(_numbers):05d}",
        name="Test district",
        kind=kind,
        population=population,
    )


async def department(session, *, region_row=None) -> m.Department:
    region_row = region_row or await region(session)
    return await directory.create_department(
        session=session, actor=ADMIN, name="Civil Affairs Bureau", region_id=region_row.id
    )


async def audit_firm(session) -> m.AuditFirm:
    return await directory.create_audit_firm(
        session=session, actor=ADMIN, name="Fair Audit Ltd", credit_code=credit_code()
    )


async def user(session, role: Role, *, email=None, password=PASSWORD, **links) -> m.User:
    if role == Role.OFFICER and "department_id" not in links:
        links["department_id"] = (await department(session)).id
    if role == Role.AUDITOR and "audit_firm_id" not in links:
        links["audit_firm_id"] = (await audit_firm(session)).id
    if role == Role.PROVIDER and "provider_id" not in links:
        links["provider_id"] = (await provider(session)).id
    return await accounts.create_user(
        session=session,
        actor=ADMIN,
        email=email or f"{role.value.lower()}{next(_numbers)}@example.org",
        password=password,
        name=f"Test {role.value.title()}",
        role=role,
        **links,
    )


async def provider(session, *, status=m.ProviderStatus.ACTIVE, regions=None, email=None) -> m.Provider:
    regions = regions or [await region(session)]
    registration = await providers.register_provider(
        session=session,
        actor=None,
        legal_name=f"Provider {next(_numbers)}",
        credit_code=credit_code(),
        kind=m.ProviderKind.SOCIAL_ORGANISATION,
        region_ids=[r.id for r in regions],
        admin_email=email or f"provider{next(_numbers)}@example.org",
        admin_password=PASSWORD,
        admin_name="Provider Admin",
    )
    provider_row = registration.provider
    if status != m.ProviderStatus.PENDING:
        await providers.approve_provider(session=session, actor=ADMIN, provider_id=provider_row.id)
    if status == m.ProviderStatus.SUSPENDED:
        await providers.suspend_provider(
            session=session, actor=ADMIN, provider_id=provider_row.id, reason="test"
        )
    if status == m.ProviderStatus.DEBARRED:
        await providers.debar_provider(
            session=session, actor=ADMIN, provider_id=provider_row.id, reason="test"
        )
    return provider_row


async def qualification(session, provider_row, *, type="养老机构设立许可", valid_to=None) -> None:
    await providers.add_qualification(
        session=session,
        actor=ADMIN,
        provider_id=provider_row.id,
        type=type,
        number=f"Q-{next(_numbers)}",
        valid_from=dt.date(2025, 1, 1),
        valid_to=valid_to or dt.date(2030, 12, 31),
    )


def kpi_specs() -> list[catalogue.KpiSpec]:
    return [
        catalogue.KpiSpec("按时上门率", "%", 95, m.KpiDirection.HIGHER_IS_BETTER, 0.5, m.KpiSource.AUDIT),
        catalogue.KpiSpec(
            "服务完成率", "%", 100, m.KpiDirection.HIGHER_IS_BETTER, 0.3, m.KpiSource.DELIVERY_RATE
        ),
        catalogue.KpiSpec(
            "有效投诉率", "per 100", 1, m.KpiDirection.LOWER_IS_BETTER, 0.2, m.KpiSource.COMPLAINT_RATE
        ),
    ]


def package_spec(**overrides) -> catalogue.PackageSpec:
    values = dict(
        name="居家养老上门服务",
        name_en="Home elderly care visit",
        category="ELDERLY_CARE",
        tier=m.PackageTier.BASIC,
        unit="visit",
        standard="Two hours of personal care by a certified carer.",
        min_unit_price=Decimal("60.00"),
        max_unit_price=Decimal("120.00"),
        kpis=kpi_specs(),
    )
    values.update(overrides)
    return catalogue.PackageSpec(**values)


async def package(session, *, code=None, **overrides) -> m.ServicePackage:
    return await catalogue.create_service_package(
        session=session, actor=ADMIN, code=code or f"PKG-{next(_numbers)}", spec=package_spec(**overrides)
    )
