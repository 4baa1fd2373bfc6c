"""DataLoaders of the market domain, one instance per request (see `core.api.Context.loader`)."""

from __future__ import annotations

from sqlalchemy import select

from core.api import ContextLoader, by_key, group_by_key
from market import models as m
from market import service


class _RowByIdLoader(ContextLoader):
    model: type

    async def load_batch(self, session, keys):
        rows = (await session.scalars(select(self.model).where(self.model.id.in_(keys)))).all()
        return by_key(rows, keys, lambda row: row.id)


class RegionByIdLoader(_RowByIdLoader):
    model = m.Region


class DepartmentByIdLoader(_RowByIdLoader):
    model = m.Department


class AuditFirmByIdLoader(_RowByIdLoader):
    model = m.AuditFirm


class ProviderByIdLoader(_RowByIdLoader):
    model = m.Provider


class UserByIdLoader(_RowByIdLoader):
    model = m.User


class ServicePackageByIdLoader(_RowByIdLoader):
    model = m.ServicePackage


class QualificationsByProviderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(
                select(m.Qualification)
                .where(m.Qualification.provider_id.in_(keys))
                .order_by(m.Qualification.provider_id, m.Qualification.valid_to.desc(), m.Qualification.id)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row.provider_id)


class RegionsByProviderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.execute(
                select(m.ProviderRegion.provider_id, m.Region)
                .join(m.Region, m.Region.id == m.ProviderRegion.region_id)
                .where(m.ProviderRegion.provider_id.in_(keys))
                .order_by(m.Region.code)
            )
        ).all()
        grouped = group_by_key(rows, keys, lambda row: row[0])
        return [[region for _, region in group] for group in grouped]


class KpisByPackageLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await service.package_kpis(session=session, package_ids=keys)
        return group_by_key(rows, keys, lambda row: row.package_id)


class CategoryByCodeLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(select(m.ServiceCategory).where(m.ServiceCategory.code.in_(keys)))
        ).all()
        return by_key(rows, keys, lambda row: row.code)
