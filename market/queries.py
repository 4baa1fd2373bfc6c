"""Read side of the market domain."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from core import clock
from core.api import (
    connection,
    context_of,
    decode_id,
    node_selections,
    paginate,
    prefetch,
    query_errors,
    resolve_node,
)
from core.cache import volatile_field
from market import catalogue, directory, loaders, providers, tenders
from market.tender_types import Tender, TenderConnection, TenderStatusType, tender_relations
from market.types import (
    AuditFirm,
    Department,
    PackageTierType,
    Provider,
    ProviderConnection,
    ProviderKindType,
    ProviderStatusType,
    Region,
    ServiceCategory,
    ServicePackage,
    ServicePackageConnection,
    User,
)


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global ID; null when unknown or hidden from the caller.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="The logged-in account, or null for anonymous callers.")
    async def me(self, info: Info) -> User | None:
        ctx = context_of(info)
        if ctx.actor is None:
            return None
        row = await ctx.loader(loaders.UserByIdLoader).load(ctx.actor.user_id)
        return User.from_row(row) if row else None

    @volatile_field(description="The platform clock (the test clock where enabled).")
    async def now(self, info: Info) -> dt.datetime:
        async with context_of(info).db() as session:
            return await clock.now(session)

    @strawberry.field(description="All regions, by code. Public.")
    async def regions(self, info: Info) -> list[Region]:
        async with context_of(info).db() as session:
            rows = (await session.scalars(directory.regions_statement())).all()
        return [Region.from_row(row) for row in rows]

    @strawberry.field(description="Purchasing departments. Public.")
    async def departments(self, info: Info) -> list[Department]:
        async with context_of(info).db() as session:
            rows = (await session.scalars(directory.departments_statement())).all()
        return [Department.from_row(row) for row in rows]

    @strawberry.field(description="Third-party audit firms. Public.")
    async def audit_firms(self, info: Info) -> list[AuditFirm]:
        async with context_of(info).db() as session:
            rows = (await session.scalars(directory.audit_firms_statement())).all()
        return [AuditFirm.from_row(row) for row in rows]

    @strawberry.field(description="Service categories of the catalogue. Public.")
    async def service_categories(self, info: Info) -> list[ServiceCategory]:
        async with context_of(info).db() as session:
            rows = (await session.scalars(catalogue.categories_statement())).all()
        return [ServiceCategory.from_row(row) for row in rows]

    @strawberry.field(
        description="The public catalogue: latest versions by code, unless `allVersions`. "
        "`first` at most 100 (default 20)."
    )
    async def service_packages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        category: Annotated[str | None, strawberry.argument(description="Category code.")] = None,
        tier: PackageTierType | None = None,
        code: Annotated[str | None, strawberry.argument(description="One package's versions.")] = None,
        search: Annotated[str | None, strawberry.argument(description="Part of the name (zh or en).")] = None,
        all_versions: Annotated[bool, strawberry.argument(description="Include earlier versions.")] = False,
    ) -> ServicePackageConnection:
        statement = catalogue.packages_statement(
            category=category, tier=tier, code=code, search=search, all_versions=all_versions
        )
        with query_errors():
            async with context_of(info).db() as session:
                page = await paginate(session, statement, first=first, after=after)
        return connection(page, ServicePackage.from_row)

    @strawberry.field(
        description="Providers visible to the caller: everyone sees approved providers; officers, "
        "admins and a provider's own staff also see PENDING ones. `first` at most 100."
    )
    async def providers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ProviderStatusType | None = None,
        kind: ProviderKindType | None = None,
        region_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Serving this region.")
        ] = None,
        search: Annotated[
            str | None, strawberry.argument(description="Part of the name or credit code.")
        ] = None,
    ) -> ProviderConnection:
        ctx = context_of(info)
        with query_errors():
            region_pk = decode_id(region_id, "Region", field=["regionId"]) if region_id else None
            statement = providers.providers_statement(
                actor=ctx.actor, status=status, kind=kind, region_id=region_pk, search=search
            )
            async with ctx.db() as session:
                page = await paginate(session, statement, first=first, after=after)
        return connection(page, Provider.from_row)

    @strawberry.field(
        description="Tenders visible to the caller, newest first: published notices for everyone, drafts for "
        "their department's officers. `first` at most 100."
    )
    async def tenders(
        self,
        info: Info,
        status: TenderStatusType | None = None,
        first: int | None = None,
        after: str | None = None,
        region_id: Annotated[strawberry.ID | None, strawberry.argument(description="In this region.")] = None,
        package_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Made from this package version.")
        ] = None,
    ) -> TenderConnection:
        ctx = context_of(info)
        with query_errors():
            statement = tenders.tenders_statement(
                actor=ctx.actor,
                status=status,
                region_id=decode_id(region_id, "Region", field=["regionId"]) if region_id else None,
                package_id=decode_id(package_id, "ServicePackage", field=["packageId"])
                if package_id
                else None,
            )
            async with ctx.db() as session:
                page = await paginate(session, statement, first=first, after=after)
        await prefetch(info, page.rows, tender_relations(), node_selections(info))
        return connection(page, Tender.from_row)
