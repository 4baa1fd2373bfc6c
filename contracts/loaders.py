"""DataLoaders of the contracts domain, one instance per request."""

from __future__ import annotations

from sqlalchemy import select

from contracts import models as m
from contracts import service
from core.api import ContextLoader, by_key, group_by_key


class ContractByIdLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (await session.scalars(select(m.Contract).where(m.Contract.id.in_(keys)))).all()
        return by_key(rows, keys, lambda row: row.id)


class ContractByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await service.contracts_by_tender(session, keys)
        return by_key(rows, keys, lambda row: row.tender_id)


class KpisByContractLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await service.contract_kpis(session, keys)
        return group_by_key(rows, keys, lambda row: row.contract_id)
