"""GraphQL types of the market's participants and catalogue: accounts, regions, departments, audit firms,
providers, service packages. Scalars are plain attributes; relations and `node(id:)` go through loaders,
which return only what the caller may see (`market.access`); a type maps what they return."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from core.api import Connection, context_of, encode_id, parse_pk
from core.auth import Actor, Role
from core.cache import volatile_field
from market import loaders
from market import models as m

RoleType = strawberry.enum(Role, name="Role", description="What an account may do (SPEC §2).")
RegionKindType = strawberry.enum(
    m.RegionKind, name="RegionKind", description="Urban or rural, for urban–rural equality figures."
)
ProviderKindType = strawberry.enum(
    m.ProviderKind,
    name="ProviderKind",
    description="Company, social organisation (社会组织) or public institution.",
)
ProviderStatusType = strawberry.enum(
    m.ProviderStatus,
    name="ProviderStatus",
    description="PENDING until approved; only ACTIVE providers may bid.",
)
PackageTierType = strawberry.enum(
    m.PackageTier, name="PackageTier", description="BASIC packages are guaranteed; OPTIONAL ones extra."
)
KpiDirectionType = strawberry.enum(
    m.KpiDirection, name="KpiDirection", description="Whether a value above the target is good or bad."
)
KpiSourceType = strawberry.enum(
    m.KpiSource,
    name="KpiSource",
    description="AUDIT: measured by the auditor; DELIVERY_RATE and COMPLAINT_RATE: computed.",
)


async def resolve_rows(
    info: Info,
    node_ids: Iterable[str],
    loader_class: type[DataLoader],
    present: Callable[[Any], Any],
    visible: Callable[[Actor | None, Any], bool] | None = None,
) -> list[Any]:
    """`node(id:)` for a table-backed type: the loader's rows by primary key, mapped; None where it has none.

    Market's loaders for nodes return only what the caller may see; `visible` (one of the domain's access
    predicates) is for a loader that does not.
    """
    ctx = context_of(info)
    keys = [parse_pk(i) or 0 for i in node_ids]
    rows = await ctx.loader(loader_class).load_many(keys)
    return [
        present(row) if row is not None and (visible is None or visible(ctx.actor, row)) else None
        for row in rows
    ]


@strawberry.type(description="An administrative area (区/县/街道), urban or rural.")
class Region(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Administrative division code, e.g. 310101.")
    name: str = strawberry.field(description="Official name, e.g. 上海市黄浦区.")
    kind: RegionKindType
    population: int = strawberry.field(description="Residents, for coverage per 1,000 residents.")
    parent_id: strawberry.Private[int | None]

    @strawberry.field(description="The enclosing region, if any.")
    async def parent(self, info: Info) -> Region | None:
        if self.parent_id is None:
            return None
        row = await context_of(info).loader(loaders.RegionByIdLoader).load(self.parent_id)
        return Region.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: m.Region) -> Region:
        return cls(
            id=row.id,
            code=row.code,
            name=row.name,
            kind=row.kind,
            population=row.population,
            parent_id=row.parent_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.RegionByIdLoader, cls.from_row)


@strawberry.type(description="A purchasing department (采购人) of a local government.")
class Department(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="e.g. 黄浦区民政局.")
    region_id: strawberry.Private[int]

    @strawberry.field(description="The region whose government the department belongs to.")
    async def region(self, info: Info) -> Region:
        return Region.from_row(await context_of(info).loader(loaders.RegionByIdLoader).load(self.region_id))

    @classmethod
    def from_row(cls, row: m.Department) -> Department:
        return cls(id=row.id, name=row.name, region_id=row.region_id)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.DepartmentByIdLoader, cls.from_row)


@strawberry.type(description="A third-party evaluation firm (第三方评估机构).")
class AuditFirm(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Registered name of the firm.")
    credit_code: str = strawberry.field(description="Unified Social Credit Code (统一社会信用代码).")

    @classmethod
    def from_row(cls, row: m.AuditFirm) -> AuditFirm:
        return cls(id=row.id, name=row.name, credit_code=row.credit_code)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.AuditFirmByIdLoader, cls.from_row)


@strawberry.type(description="An account. Visible to itself and to ADMINs.")
class User(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="Login name, stored lower-case.")
    name: str = strawberry.field(description="Display name.")
    role: RoleType
    department_id: strawberry.Private[int | None]
    provider_id: strawberry.Private[int | None]
    audit_firm_id: strawberry.Private[int | None]

    @strawberry.field(description="The department of an OFFICER (or EVALUATOR, when set).")
    async def department(self, info: Info) -> Department | None:
        if self.department_id is None:
            return None
        row = await context_of(info).loader(loaders.DepartmentByIdLoader).load(self.department_id)
        return Department.from_row(row)

    @strawberry.field(description="The provider a PROVIDER account works for.")
    async def provider(self, info: Info) -> Provider | None:
        if self.provider_id is None:
            return None
        row = await context_of(info).loader(loaders.ProviderByIdLoader).load(self.provider_id)
        return Provider.from_row(row)

    @strawberry.field(description="The audit firm of an AUDITOR account.")
    async def audit_firm(self, info: Info) -> AuditFirm | None:
        if self.audit_firm_id is None:
            return None
        row = await context_of(info).loader(loaders.AuditFirmByIdLoader).load(self.audit_firm_id)
        return AuditFirm.from_row(row)

    @classmethod
    def from_row(cls, row: m.User) -> User:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            department_id=row.department_id,
            provider_id=row.provider_id,
            audit_firm_id=row.audit_firm_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.VisibleUserByIdLoader, cls.from_row)


@strawberry.type(description="A kind of public service: education, health, elderly care...")
class ServiceCategory:
    code: str = strawberry.field(description="Stable code, e.g. ELDERLY_CARE; used as `category`.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str

    @classmethod
    def from_row(cls, row: m.ServiceCategory) -> ServiceCategory:
        return cls(code=row.code, name=row.name, name_en=row.name_en)


@strawberry.type(description="A performance indicator (SPEC §5.2).")
class Kpi:
    id: strawberry.ID = strawberry.field(description="Opaque ID of this KPI.")
    name: str = strawberry.field(description="e.g. 按时上门率 (on-time visits).")
    unit: str = strawberry.field(description="Unit of the measured value, e.g. %, minutes.")
    target: float = strawberry.field(description="The value that earns full attainment.")
    direction: KpiDirectionType
    weight: float = strawberry.field(description="Share of the KPI score; a set of KPIs sums to 1.")
    source: KpiSourceType = strawberry.field(description="Who or what measures the value.")

    @classmethod
    def from_row(cls, row: m.PackageKpi) -> Kpi:
        return cls(
            id=strawberry.ID(encode_id("Kpi", row.id)),
            name=row.name,
            unit=row.unit,
            target=row.target,
            direction=row.direction,
            weight=row.weight,
            source=row.source,
        )


@strawberry.type(
    description="One version of a standardised service package (标准化服务包). "
    "Editing a package makes a new version; earlier versions stay readable."
)
class ServicePackage(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Stable across versions, e.g. ELDER-HOME-VISIT.")
    version: int = strawberry.field(description="1 for the first version, +1 per edit.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str | None = strawberry.field(description="English name.")
    category: str = strawberry.field(description="Code of the service category.")
    tier: PackageTierType = strawberry.field(description="BASIC (guaranteed) or OPTIONAL.")
    unit: str = strawberry.field(description='The unit priced and delivered, e.g. "visit".')
    standard: str = strawberry.field(description="The service standard (服务标准) providers must meet.")
    min_unit_price: Decimal = strawberry.field(description="Reference unit price range, CNY: lower end.")
    max_unit_price: Decimal = strawberry.field(description="Reference unit price range, CNY: upper end.")
    satisfaction_weight: float = strawberry.field(description="Default w_S of contract scoring (≥ 0.30).")
    kpi_weight: float = strawberry.field(description="Default w_K of contract scoring.")
    audit_weight: float = strawberry.field(description="Default w_A of contract scoring.")
    created_at: dt.datetime = strawberry.field(description="When this version was made.")

    @strawberry.field(description="Default KPI templates, in order.")
    async def kpis(self, info: Info) -> list[Kpi]:
        rows = await context_of(info).loader(loaders.KpisByPackageLoader).load(self.id)
        return [Kpi.from_row(row) for row in rows]

    @strawberry.field(name="categoryDetails", description="The service category, with its names.")
    async def category_details(self, info: Info) -> ServiceCategory:
        row = await context_of(info).loader(loaders.CategoryByCodeLoader).load(self.category)
        return ServiceCategory.from_row(row)

    @classmethod
    def from_row(cls, row: m.ServicePackage) -> ServicePackage:
        return cls(
            id=row.id,
            code=row.code,
            version=row.version,
            name=row.name,
            name_en=row.name_en,
            category=row.category_code,
            tier=row.tier,
            unit=row.unit,
            standard=row.standard,
            min_unit_price=row.min_unit_price,
            max_unit_price=row.max_unit_price,
            satisfaction_weight=row.satisfaction_weight,
            kpi_weight=row.kpi_weight,
            audit_weight=row.audit_weight,
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.ServicePackageByIdLoader, cls.from_row)


@strawberry.type(description="A licence or certificate a provider holds (资质).")
class Qualification:
    id: strawberry.ID = strawberry.field(description="Opaque ID of this qualification.")
    type: str = strawberry.field(description="What it certifies, as named in tenders' requirements.")
    number: str = strawberry.field(description="Certificate or licence number.")
    valid_from: dt.date = strawberry.field(description="First day of validity.")
    valid_to: dt.date = strawberry.field(description="Last day of validity.")
    document: str | None = strawberry.field(description="Reference to the scanned document.")

    @classmethod
    def from_row(cls, row: m.Qualification) -> Qualification:
        return cls(
            id=strawberry.ID(encode_id("Qualification", row.id)),
            type=row.type,
            number=row.number,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            document=row.document,
        )


@strawberry.type(
    description="A company or social organisation that delivers services. Public once approved; "
    "PENDING providers are seen only by officers, admins and their own staff."
)
class Provider(relay.Node):
    id: relay.NodeID[int]
    legal_name: str = strawberry.field(description="Registered legal name.")
    credit_code: str = strawberry.field(description="Unified Social Credit Code (统一社会信用代码).")
    kind: ProviderKindType
    status: ProviderStatusType = strawberry.field(description="Only ACTIVE providers may bid.")
    status_reason: str | None = strawberry.field(description="Why it was suspended or debarred.")
    registered_at: dt.datetime = strawberry.field(description="When it registered itself.")

    @strawberry.field(description="Licences and certificates, latest expiry first.")
    async def qualifications(self, info: Info) -> list[Qualification]:
        rows = await context_of(info).loader(loaders.QualificationsByProviderLoader).load(self.id)
        return [Qualification.from_row(row) for row in rows]

    @strawberry.field(description="Regions the provider serves.")
    async def regions(self, info: Info) -> list[Region]:
        rows = await context_of(info).loader(loaders.RegionsByProviderLoader).load(self.id)
        return [Region.from_row(row) for row in rows]

    @volatile_field(
        description="The current certificate, null before the first certification run and once it has "
        "expired or was revoked."
    )
    async def certification(
        self, info: Info
    ) -> Annotated["Certification", strawberry.lazy("scoring.types")] | None:  # noqa: F821, UP037
        from scoring.types import current_certification

        return await current_certification(info, provider_id=self.id)

    @classmethod
    def from_row(cls, row: m.Provider) -> Provider:
        return cls(
            id=row.id,
            legal_name=row.legal_name,
            credit_code=row.credit_code,
            kind=row.kind,
            status=row.status,
            status_reason=row.status_reason,
            registered_at=row.registered_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.VisibleProviderByIdLoader, cls.from_row)


ServicePackageConnection = Connection[ServicePackage]
ProviderConnection = Connection[Provider]
