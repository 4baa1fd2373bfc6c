"""Write side of the market's participants and catalogue: parse input, call the service, map the result.

Each mutation names the roles that may call it where it is registered (`core.api.mutation`); the
services check what depends on the objects (`market.access`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from core.api import UserError, context_of, decode_id, decode_ids, mutate, mutation
from core.auth import Actor, Role
from core.errors import Problem
from core.limits import LongText, list_field, text_field
from market import accounts, catalogue, directory, platform, providers
from market.catalogue import KpiSpec, PackageSpec
from market.types import (
    AuditFirm,
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
    User,
)

# ---------------------------------------------------------------- inputs


@strawberry.input(description="Credentials; the email is case-insensitive.")
class LoginInput:
    email: str = text_field(max_length=254)
    password: str


@strawberry.input(
    description="ADMIN only. OFFICER needs departmentId, PROVIDER providerId, AUDITOR auditFirmId."
)
class CreateUserInput:
    email: str = text_field(max_length=254)
    password: str = strawberry.field(description="At least 8 characters.")
    name: str
    role: RoleType
    department_id: strawberry.ID | None = None
    provider_id: strawberry.ID | None = None
    audit_firm_id: strawberry.ID | None = None


@strawberry.input(description="ADMIN: a region; the code is unique.")
class CreateRegionInput:
    code: str = text_field(max_length=20)
    name: str = text_field(max_length=100)
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
    region_ids: list[strawberry.ID] = list_field("Regions served; at least one.", max_items=50)
    admin_email: str = text_field(max_length=254)
    admin_password: str = strawberry.field(description="At least 8 characters.")
    admin_name: str


@strawberry.input(description="A qualification of a provider.")
class AddQualificationInput:
    provider_id: strawberry.ID
    type: str = text_field("e.g. 养老机构设立许可, as tenders name it.", max_length=100)
    number: str = text_field(max_length=100)
    valid_from: dt.date
    valid_to: dt.date = strawberry.field(description="Last day of validity; not before validFrom.")
    document: str | None = text_field("Reference to the scanned document.", max_length=500, default=None)


@strawberry.input(description="A KPI template; the weights of a set sum to 1.")
class KpiInput:
    name: str
    unit: str = text_field(max_length=40)
    target: float
    direction: KpiDirectionType
    weight: float
    source: KpiSourceType


@strawberry.input(description="OFFICER or ADMIN. Prices in CNY with at most 2 decimals; min ≤ max.")
class CreateServicePackageInput:
    code: str = text_field(max_length=40)
    name: str
    name_en: str | None = None
    category: str = text_field("A service category code, e.g. ELDERLY_CARE.", max_length=40)
    tier: PackageTierType
    unit: str = text_field(max_length=40)
    standard: str = text_field(max_length=10000)
    min_unit_price: Decimal
    max_unit_price: Decimal
    kpis: list[KpiInput] = list_field(max_items=20)
    satisfaction_weight: float | None = strawberry.field(default=None, description="Default 0.4; ≥ 0.30.")
    kpi_weight: float | None = strawberry.field(default=None, description="Default 0.4.")
    audit_weight: float | None = strawberry.field(default=None, description="Default 0.2.")


@strawberry.input(description="Fields to change; omitted fields keep their value. `kpis` replaces the set.")
class UpdateServicePackageInput:
    name: str | None = None
    name_en: str | None = None
    category: str | None = text_field(max_length=40, default=None)
    tier: PackageTierType | None = None
    unit: str | None = text_field(max_length=40, default=None)
    standard: str | None = text_field(max_length=10000, default=None)
    min_unit_price: Decimal | None = None
    max_unit_price: Decimal | None = None
    kpis: list[KpiInput] | None = list_field(max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None


@strawberry.input(description="ADMIN: a new service category; the code is unique.")
class CreateServiceCategoryInput:
    code: str = text_field(max_length=40)
    name: str = text_field(max_length=100)
    name_en: str = text_field(max_length=100)


def kpi_specs(kpis: list[KpiInput]) -> list[KpiSpec]:
    return [KpiSpec.of(k) for k in kpis]


# ---------------------------------------------------------------- payloads


@strawberry.type(description="The token, or why none was issued.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`; valid 12 hours."
    )
    expires_at: dt.datetime | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


def _login_payload(*, errors: list[UserError], refusal: Problem | None = None, **fields: Any) -> LoginPayload:
    """A refused login is a payload with its error, though its transaction commits (the failure counts)."""
    refused = [UserError.from_problem(refusal)] if refusal else []
    return LoginPayload(errors=[*errors, *refused], **fields)


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


# ---------------------------------------------------------------- arguments

Action = Callable[[AsyncSession, Actor | None], Awaitable[Any]]


class Parsed:
    """An argument parsed inside the mutation's transaction, so that bad input is the payload's error."""

    def value(self) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Id(Parsed):
    """A global ID (or a list of them, or None) of the expected type, as its primary key."""

    given: Any
    type_name: str
    field: str | Sequence[str] = "id"

    def value(self) -> Any:
        at = [self.field] if isinstance(self.field, str) else list(self.field)
        if isinstance(self.given, list):
            return decode_ids(self.given, self.type_name, field=at)
        return decode_id(self.given, self.type_name, field=at) if self.given is not None else None


class Fields(Parsed):
    """An input object's fields as keyword arguments; `ids` names its global IDs with their types."""

    def __init__(self, input: Any, **ids: str):
        self.input, self.ids = input, ids

    def value(self) -> dict[str, Any]:
        values = {f.name: getattr(self.input, f.name) for f in dataclasses.fields(self.input)}
        for name, type_name in self.ids.items():
            values[name] = Id(values[name], type_name, ["input", to_camel_case(name)]).value()
        return values


def call(service: Callable[..., Awaitable[Any]], *fields: Fields, **arguments: Any) -> Action:
    """A mutation's action: `service` with the caller's session and actor, `fields` and `arguments`."""

    async def action(session: AsyncSession, actor: Actor | None) -> Any:
        given = {name: a.value() if isinstance(a, Parsed) else a for name, a in arguments.items()}
        for group in fields:
            given |= group.value()
        return await service(session=session, actor=actor, **given)

    return action


# ---------------------------------------------------------------- mutations


@strawberry.type
class Mutation:
    @mutation(
        "Exchange email and password for a token. After 5 failures for one email within 15 minutes, "
        "attempts are refused (TOO_MANY_ATTEMPTS) for 15 minutes.",
        anyone=True,
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        secret = context_of(info).settings.secret_key

        async def action(session, _actor):  # no actor: whoever calls is logging in
            return await accounts.login(session=session, secret_key=secret, **Fields(input).value())

        return await mutate(info, _login_payload, action, _logged_in)

    @mutation("Create an account with a role.", roles=[Role.ADMIN])
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        ids = {"department_id": "Department", "provider_id": "Provider", "audit_firm_id": "AuditFirm"}
        action = call(accounts.create_user, Fields(input, **ids))
        return await mutate(info, UserPayload, action, lambda r: {"user": User.from_row(r)})

    @mutation("Add a region.", roles=[Role.ADMIN])
    async def create_region(self, info: Info, input: CreateRegionInput) -> RegionPayload:
        action = call(directory.create_region, Fields(input, parent_id="Region"))
        return await mutate(info, RegionPayload, action, lambda r: {"region": Region.from_row(r)})

    @mutation("Add a purchasing department.", roles=[Role.ADMIN])
    async def create_department(self, info: Info, input: CreateDepartmentInput) -> DepartmentPayload:
        action = call(directory.create_department, Fields(input, region_id="Region"))
        return await mutate(info, DepartmentPayload, action, lambda r: {"department": Department.from_row(r)})

    @mutation("Add a third-party audit firm.", roles=[Role.ADMIN])
    async def create_audit_firm(self, info: Info, input: CreateAuditFirmInput) -> AuditFirmPayload:
        action = call(directory.create_audit_firm, Fields(input))
        return await mutate(info, AuditFirmPayload, action, lambda r: {"audit_firm": AuditFirm.from_row(r)})

    @mutation("Register a provider. It starts PENDING until an OFFICER or ADMIN approves it.", anyone=True)
    async def register_provider(self, info: Info, input: RegisterProviderInput) -> ProviderPayload:
        action = call(providers.register_provider, Fields(input, region_ids="Region"))
        return await mutate(
            info, ProviderPayload, action, lambda r: {"provider": Provider.from_row(r.provider)}
        )

    @mutation("Admit a PENDING provider (→ ACTIVE).", roles=[Role.ADMIN, Role.OFFICER])
    async def approve_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_changed(info, call(providers.approve_provider, provider_id=Id(id, "Provider")))

    @mutation("Suspend an ACTIVE provider, with a reason.", roles=[Role.ADMIN, Role.OFFICER])
    async def suspend_provider(self, info: Info, id: strawberry.ID, reason: LongText) -> ProviderPayload:
        action = call(providers.suspend_provider, provider_id=Id(id, "Provider"), reason=reason)
        return await _provider_changed(info, action)

    @mutation("Lift a suspension (→ ACTIVE).", roles=[Role.ADMIN, Role.OFFICER])
    async def reinstate_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_changed(
            info, call(providers.reinstate_provider, provider_id=Id(id, "Provider"))
        )

    @mutation("Debar a provider (final), with a reason.", roles=[Role.ADMIN, Role.OFFICER])
    async def debar_provider(self, info: Info, id: strawberry.ID, reason: LongText) -> ProviderPayload:
        action = call(providers.debar_provider, provider_id=Id(id, "Provider"), reason=reason)
        return await _provider_changed(info, action)

    @mutation(
        "Add a qualification: a provider's own staff to their provider, OFFICERs and ADMINs to any.",
        roles=[Role.PROVIDER, Role.OFFICER, Role.ADMIN],
    )
    async def add_qualification(self, info: Info, input: AddQualificationInput) -> ProviderPayload:
        return await _provider_changed(
            info, call(providers.add_qualification, Fields(input, provider_id="Provider"))
        )

    @mutation("Add a package to the catalogue, as version 1.", roles=[Role.ADMIN, Role.OFFICER])
    async def create_service_package(
        self, info: Info, input: CreateServicePackageInput
    ) -> ServicePackagePayload:
        given = {k: v for k, v in Fields(input).value().items() if v is not None and k != "code"}
        spec = PackageSpec(**given | {"name_en": input.name_en, "kpis": kpi_specs(input.kpis)})
        action = call(catalogue.create_service_package, code=input.code, spec=spec)
        return await mutate(info, ServicePackagePayload, action, _service_package)

    @mutation(
        "Edit the latest version of a package; this makes the next version and leaves the edited one "
        "unchanged.",
        roles=[Role.ADMIN, Role.OFFICER],
    )
    async def update_service_package(
        self, info: Info, id: strawberry.ID, input: UpdateServicePackageInput
    ) -> ServicePackagePayload:
        changes = {k: v for k, v in Fields(input).value().items() if v is not None}
        if input.kpis is not None:
            changes["kpis"] = kpi_specs(input.kpis)
        action = call(catalogue.revise_service_package, package_id=Id(id, "ServicePackage"), changes=changes)
        return await mutate(info, ServicePackagePayload, action, _service_package)

    @mutation("Add a service category.", roles=[Role.ADMIN])
    async def create_service_category(
        self, info: Info, input: CreateServiceCategoryInput
    ) -> ServiceCategoryPayload:
        action = call(catalogue.create_service_category, Fields(input))
        return await mutate(
            info, ServiceCategoryPayload, action, lambda r: {"service_category": ServiceCategory.from_row(r)}
        )

    @mutation(
        "Moves the shared test clock forward (only where the test clock is enabled).", roles=[Role.ADMIN]
    )
    async def advance_clock(self, info: Info, seconds: int) -> ClockPayload:
        enabled = context_of(info).settings.market_test_clock
        action = call(platform.advance_clock, seconds=seconds, enabled=enabled)
        return await mutate(info, ClockPayload, action, lambda r: {"now": r})


def _logged_in(result: accounts.LoginResult) -> dict[str, Any]:
    user = User.from_row(result.user) if result.user else None
    return {"token": result.token, "expires_at": result.expires_at, "user": user, "refusal": result.refusal}


def _service_package(row) -> dict[str, Any]:
    return {"service_package": ServicePackage.from_row(row)}


async def _provider_changed(info: Info, change: Action) -> ProviderPayload:
    return await mutate(info, ProviderPayload, change, lambda r: {"provider": Provider.from_row(r)})
