"""Write side of the market domain: parse input, call the service, map the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.types import Info

from core.api import UserError, context_of, decode_id, decode_ids, mutate
from market import service
from market.types import (
    AuditFirm,
    Bid,
    BidReceipt,
    Challenge,
    Department,
    KpiDirectionType,
    KpiSourceType,
    PackageTierType,
    Provider,
    ProviderKindType,
    Region,
    RegionKindType,
    RoleType,
    ServiceCategory,
    ServicePackage,
    Tender,
    User,
)

# ---------------------------------------------------------------- inputs


@strawberry.input(description="Credentials; the email is case-insensitive.")
class LoginInput:
    email: str
    password: str


@strawberry.input(
    description="ADMIN only. OFFICER needs departmentId, PROVIDER providerId, AUDITOR auditFirmId."
)
class CreateUserInput:
    email: str
    password: str = strawberry.field(description="At least 8 characters.")
    name: str
    role: RoleType
    department_id: strawberry.ID | None = None
    provider_id: strawberry.ID | None = None
    audit_firm_id: strawberry.ID | None = None


@strawberry.input(description="ADMIN: a region; the code is unique.")
class CreateRegionInput:
    code: str
    name: str
    kind: RegionKindType
    population: int
    parent_id: strawberry.ID | None = None


@strawberry.input(description="ADMIN: a purchasing department in a region.")
class CreateDepartmentInput:
    name: str
    region_id: strawberry.ID


@strawberry.input(description="ADMIN: a third-party audit firm.")
class CreateAuditFirmInput:
    name: str
    credit_code: str = strawberry.field(description="Checked with its check digit.")


@strawberry.input(description="Self-registration of a provider with its first account. Anyone may call it.")
class RegisterProviderInput:
    legal_name: str
    credit_code: str = strawberry.field(
        description="Unified Social Credit Code, checked with its check digit."
    )
    kind: ProviderKindType
    region_ids: list[strawberry.ID] = strawberry.field(description="Regions served; at least one.")
    admin_email: str
    admin_password: str = strawberry.field(description="At least 8 characters.")
    admin_name: str


@strawberry.input(description="A qualification of a provider.")
class AddQualificationInput:
    provider_id: strawberry.ID
    type: str = strawberry.field(description="e.g. 养老机构设立许可, as tenders name it.")
    number: str
    valid_from: dt.date
    valid_to: dt.date = strawberry.field(description="Last day of validity; not before validFrom.")
    document: str | None = strawberry.field(default=None, description="Reference to the scanned document.")


@strawberry.input(description="A KPI template; the weights of a set sum to 1.")
class KpiInput:
    name: str
    unit: str
    target: float
    direction: KpiDirectionType
    weight: float
    source: KpiSourceType


@strawberry.input(description="OFFICER or ADMIN. Prices in CNY with at most 2 decimals; min ≤ max.")
class CreateServicePackageInput:
    code: str
    name: str
    name_en: str | None = None
    category: str = strawberry.field(description="A service category code, e.g. ELDERLY_CARE.")
    tier: PackageTierType
    unit: str
    standard: str
    min_unit_price: Decimal
    max_unit_price: Decimal
    kpis: list[KpiInput]
    satisfaction_weight: float | None = strawberry.field(default=None, description="Default 0.4; ≥ 0.30.")
    kpi_weight: float | None = strawberry.field(default=None, description="Default 0.4.")
    audit_weight: float | None = strawberry.field(default=None, description="Default 0.2.")


@strawberry.input(description="Fields to change; omitted fields keep their value. `kpis` replaces the set.")
class UpdateServicePackageInput:
    name: str | None = None
    name_en: str | None = None
    category: str | None = None
    tier: PackageTierType | None = None
    unit: str | None = None
    standard: str | None = None
    min_unit_price: Decimal | None = None
    max_unit_price: Decimal | None = None
    kpis: list[KpiInput] | None = None
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None


@strawberry.input(description="ADMIN: a new service category; the code is unique.")
class CreateServiceCategoryInput:
    code: str
    name: str
    name_en: str


def _kpi_specs(kpis: list[KpiInput]) -> list[service.KpiSpec]:
    return [service.KpiSpec(k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in kpis]


# ---------------------------------------------------------------- payloads


@strawberry.type(description="The token, or why none was issued.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`; valid 12 hours."
    )
    expires_at: dt.datetime | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created account, or errors.")
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created region, or errors.")
class RegionPayload:
    region: Region | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created department, or errors.")
class DepartmentPayload:
    department: Department | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created audit firm, or errors.")
class AuditFirmPayload:
    audit_firm: AuditFirm | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The provider as changed, or errors (then nothing was written).")
class ProviderPayload:
    provider: Provider | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The package version made, or errors (then nothing was written).")
class ServicePackagePayload:
    service_package: ServicePackage | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created category, or errors.")
class ServiceCategoryPayload:
    service_category: ServiceCategory | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The platform time after the move, or errors.")
class ClockPayload:
    now: dt.datetime | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


# ---------------------------------------------------------------- mutations


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Exchange email and password for a token. After 5 failures for one email within "
        "15 minutes, attempts are refused (TOO_MANY_ATTEMPTS) for 15 minutes."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        secret = context_of(info).settings.secret_key
        return await mutate(
            info,
            LoginPayload,
            lambda s, a: service.login(
                session=s, email=input.email, password=input.password, secret_key=secret
            ),
            lambda r: {"token": r.token, "expires_at": r.expires_at, "user": User.from_row(r.user)},
        )

    @strawberry.mutation(description="ADMIN: create an account with a role.")
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        async def action(session, actor):
            return await service.create_user(
                session=session,
                actor=service.require_admin(actor),
                email=input.email,
                password=input.password,
                name=input.name,
                role=input.role,
                department_id=_optional_id(input.department_id, "Department", "departmentId"),
                provider_id=_optional_id(input.provider_id, "Provider", "providerId"),
                audit_firm_id=_optional_id(input.audit_firm_id, "AuditFirm", "auditFirmId"),
            )

        return await mutate(info, UserPayload, action, lambda r: {"user": User.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a region.")
    async def create_region(self, info: Info, input: CreateRegionInput) -> RegionPayload:
        async def action(session, actor):
            return await service.create_region(
                session=session,
                actor=service.require_admin(actor),
                code=input.code,
                name=input.name,
                kind=input.kind,
                population=input.population,
                parent_id=_optional_id(input.parent_id, "Region", "parentId"),
            )

        return await mutate(info, RegionPayload, action, lambda r: {"region": Region.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a purchasing department.")
    async def create_department(self, info: Info, input: CreateDepartmentInput) -> DepartmentPayload:
        async def action(session, actor):
            return await service.create_department(
                session=session,
                actor=service.require_admin(actor),
                name=input.name,
                region_id=decode_id(input.region_id, "Region", field=["input", "regionId"]),
            )

        return await mutate(info, DepartmentPayload, action, lambda r: {"department": Department.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a third-party audit firm.")
    async def create_audit_firm(self, info: Info, input: CreateAuditFirmInput) -> AuditFirmPayload:
        return await mutate(
            info,
            AuditFirmPayload,
            lambda s, a: service.create_audit_firm(
                session=s, actor=a, name=input.name, credit_code=input.credit_code
            ),
            lambda r: {"audit_firm": AuditFirm.from_row(r)},
        )

    @strawberry.mutation(
        description="Anyone: register a provider. It starts PENDING until an OFFICER or ADMIN approves it."
    )
    async def register_provider(self, info: Info, input: RegisterProviderInput) -> ProviderPayload:
        async def action(session, actor):
            return await service.register_provider(
                session=session,
                actor=actor,
                legal_name=input.legal_name,
                credit_code=input.credit_code,
                kind=input.kind,
                region_ids=decode_ids(input.region_ids, "Region", field=["input", "regionIds"]),
                admin_email=input.admin_email,
                admin_password=input.admin_password,
                admin_name=input.admin_name,
            )

        return await mutate(
            info, ProviderPayload, action, lambda r: {"provider": Provider.from_row(r.provider)}
        )

    @strawberry.mutation(description="OFFICER or ADMIN: admit a PENDING provider (→ ACTIVE).")
    async def approve_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_action(info, id, service.approve_provider)

    @strawberry.mutation(description="OFFICER or ADMIN: suspend an ACTIVE provider, with a reason.")
    async def suspend_provider(self, info: Info, id: strawberry.ID, reason: str) -> ProviderPayload:
        return await _provider_action(info, id, service.suspend_provider, reason=reason)

    @strawberry.mutation(description="OFFICER or ADMIN: lift a suspension (→ ACTIVE).")
    async def reinstate_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_action(info, id, service.reinstate_provider)

    @strawberry.mutation(description="OFFICER or ADMIN: debar a provider (final), with a reason.")
    async def debar_provider(self, info: Info, id: strawberry.ID, reason: str) -> ProviderPayload:
        return await _provider_action(info, id, service.debar_provider, reason=reason)

    @strawberry.mutation(description="The provider's own staff, an OFFICER or an ADMIN: add a qualification.")
    async def add_qualification(self, info: Info, input: AddQualificationInput) -> ProviderPayload:
        async def action(session, actor):
            return await service.add_qualification(
                session=session,
                actor=service.require_signed_in(actor),
                provider_id=decode_id(input.provider_id, "Provider", field=["input", "providerId"]),
                type=input.type,
                number=input.number,
                valid_from=input.valid_from,
                valid_to=input.valid_to,
                document=input.document,
            )

        return await mutate(info, ProviderPayload, action, lambda r: {"provider": Provider.from_row(r)})

    @strawberry.mutation(description="OFFICER or ADMIN: add a package to the catalogue, as version 1.")
    async def create_service_package(
        self, info: Info, input: CreateServicePackageInput
    ) -> ServicePackagePayload:
        weights = {
            key: value
            for key in ("satisfaction_weight", "kpi_weight", "audit_weight")
            if (value := getattr(input, key)) is not None
        }
        spec = service.PackageSpec(
            name=input.name,
            name_en=input.name_en,
            category=input.category.strip().upper(),
            tier=input.tier,
            unit=input.unit,
            standard=input.standard,
            min_unit_price=input.min_unit_price,
            max_unit_price=input.max_unit_price,
            kpis=_kpi_specs(input.kpis),
            **weights,
        )
        return await mutate(
            info,
            ServicePackagePayload,
            lambda s, a: service.create_service_package(session=s, actor=a, code=input.code, spec=spec),
            lambda r: {"service_package": ServicePackage.from_row(r)},
        )

    @strawberry.mutation(
        description="OFFICER or ADMIN: edit the latest version of a package; this makes the next version "
        "and leaves the edited one unchanged."
    )
    async def update_service_package(
        self, info: Info, id: strawberry.ID, input: UpdateServicePackageInput
    ) -> ServicePackagePayload:
        changes = {
            f.name: value
            for f in dataclasses.fields(service.PackageSpec)
            if (value := getattr(input, f.name, None)) is not None
        }
        if input.kpis is not None:
            changes["kpis"] = _kpi_specs(input.kpis)
        if input.category is not None:
            changes["category"] = input.category.strip().upper()

        async def action(session, actor):
            return await service.revise_service_package(
                session=session,
                actor=actor,
                package_id=decode_id(id, "ServicePackage", field=["id"]),
                changes=changes,
            )

        return await mutate(
            info, ServicePackagePayload, action, lambda r: {"service_package": ServicePackage.from_row(r)}
        )

    @strawberry.mutation(description="ADMIN: add a service category.")
    async def create_service_category(
        self, info: Info, input: CreateServiceCategoryInput
    ) -> ServiceCategoryPayload:
        return await mutate(
            info,
            ServiceCategoryPayload,
            lambda s, a: service.create_service_category(
                session=s, actor=a, code=input.code, name=input.name, name_en=input.name_en
            ),
            lambda r: {"service_category": ServiceCategory.from_row(r)},
        )

    @strawberry.mutation(
        description="Moves the shared test clock forward (ADMIN; only where the test clock is enabled)."
    )
    async def advance_clock(self, info: Info, seconds: int) -> ClockPayload:
        enabled = context_of(info).settings.market_test_clock
        return await mutate(
            info,
            ClockPayload,
            lambda s, a: service.advance_clock(session=s, actor=a, seconds=seconds, enabled=enabled),
            lambda r: {"now": r},
        )


def _optional_id(value: strawberry.ID | None, type_name: str, key: str) -> int | None:
    return decode_id(value, type_name, field=["input", key]) if value is not None else None


async def _provider_action(info: Info, id: strawberry.ID, action, **kwargs) -> ProviderPayload:
    async def run(session, actor):
        return await action(
            session=session,
            actor=service.require_staff(actor),
            provider_id=decode_id(id, "Provider", field=["id"]),
            **kwargs,
        )

    return await mutate(info, ProviderPayload, run, lambda r: {"provider": Provider.from_row(r)})


# ---------------------------------------------------------------- tender inputs and payloads (SPEC §4)
# Part of the published contract; their mutations come with the tender issue.


@strawberry.input(description="OFFICER: a new DRAFT tender. Weights: price 10%-30%, all three sum to 1.")
class CreateTenderInput:
    package_id: strawberry.ID
    region_id: strawberry.ID
    title: str
    quantity: int
    periods: int
    period_months: int
    start_date: dt.date
    max_unit_price: Decimal
    bid_deadline: dt.datetime
    min_valid_bids: int | None = None
    price_weight: float
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] | None = None
    evaluator_ids: list[strawberry.ID]


@strawberry.input(description="PROVIDER: a sealed bid, before the deadline.")
class SubmitBidInput:
    tender_id: strawberry.ID
    unit_price: Decimal
    proposal: str
    capacity: str | None = None


@strawberry.type(description="The tender, or errors (then nothing was written).")
class TenderPayload:
    tender: Tender | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The bid and its receipt, or errors (then nothing was written).")
class BidPayload:
    bid: Bid | None = None
    receipt: BidReceipt | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The challenge, or errors.")
class ChallengePayload:
    challenge: Challenge | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


CONTRACT_TYPES = [CreateTenderInput, SubmitBidInput, TenderPayload, BidPayload, ChallengePayload]
