"""DataLoaders of the contracts domain, one instance per request."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from contracts import models as m
from contracts import service
from core import clock
from core.api import ContextLoader, Page, RowByIdLoader, by_key, group_by_key


class ContractByIdLoader(RowByIdLoader):
    model = m.Contract


class DeliveryByIdLoader(RowByIdLoader):
    model = m.Delivery


class ComplaintByIdLoader(RowByIdLoader):
    model = m.Complaint


class AuditByIdLoader(RowByIdLoader):
    model = m.Audit


class AppealByIdLoader(RowByIdLoader):
    model = m.Appeal


class ContractByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await service.contracts_by_tender(session, keys)
        return by_key(rows, keys, lambda row: row.tender_id)


class KpisByContractLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await service.contract_kpis(session, keys)
        return group_by_key(rows, keys, lambda row: row.contract_id)


class RatingByDeliveryLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (await session.scalars(select(m.Rating).where(m.Rating.delivery_id.in_(keys)))).all()
        return by_key(rows, keys, lambda row: row.delivery_id)


class RatingsCountByContractLoader(ContextLoader):
    async def load_batch(self, session, keys):
        counts = dict(
            (
                await session.execute(
                    select(m.Rating.contract_id, func.count())
                    .where(m.Rating.contract_id.in_(keys))
                    .group_by(m.Rating.contract_id)
                )
            ).all()
        )
        return [counts.get(key, 0) for key in keys]


class _ByContractLoader(ContextLoader):
    model: type

    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(
                select(self.model).where(self.model.contract_id.in_(keys)).order_by(self.model.id)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row.contract_id)


class ComplaintsByContractLoader(_ByContractLoader):
    model = m.Complaint


class AuditsByContractLoader(_ByContractLoader):
    model = m.Audit


class ChecksByAuditLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(
                select(m.AuditCheck).where(m.AuditCheck.audit_id.in_(keys)).order_by(m.AuditCheck.id)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row.audit_id)


class AppealsByAuditLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(select(m.Appeal).where(m.Appeal.audit_id.in_(keys)).order_by(m.Appeal.id))
        ).all()
        return group_by_key(rows, keys, lambda row: row.audit_id)


class KpiValuesByAuditLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.execute(
                select(m.AuditKpiValue, m.ContractKpi)
                .join(m.ContractKpi, m.ContractKpi.id == m.AuditKpiValue.kpi_id)
                .where(m.AuditKpiValue.audit_id.in_(keys))
                .order_by(m.ContractKpi.position)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row[0].audit_id)


class NowLoader(ContextLoader):
    """The platform clock, read once per request (complaint lights)."""

    async def load_batch(self, session, keys):
        now = await clock.now(session)
        return [now for _ in keys]


class DeliveryPagesByContractLoader(ContextLoader):
    """A page of deliveries of each contract, keyed (contract id, size, start): two statements for all.

    Numbered per contract with a window function, newest first, so a page of contracts costs the
    same as one contract.
    """

    async def load_batch(self, session, keys):
        pages = {}
        for (size, start), contract_ids in _group_pages(keys).items():
            numbered = (
                select(
                    m.Delivery,
                    func.row_number()
                    .over(
                        partition_by=m.Delivery.contract_id,
                        order_by=(m.Delivery.delivered_on.desc(), m.Delivery.id.desc()),
                    )
                    .label("position"),
                )
                .where(m.Delivery.contract_id.in_(contract_ids))
                .subquery()
            )
            window = aliased(m.Delivery, numbered)
            rows = (
                await session.execute(
                    select(window, numbered.c.position)
                    .where(numbered.c.position > start, numbered.c.position <= start + size + 1)
                    .order_by(numbered.c.contract_id, numbered.c.position)
                )
            ).all()
            totals = dict(
                (
                    await session.execute(
                        select(m.Delivery.contract_id, func.count())
                        .where(m.Delivery.contract_id.in_(contract_ids))
                        .group_by(m.Delivery.contract_id)
                    )
                ).all()
            )
            found = {contract_id: [] for contract_id in contract_ids}
            for delivery, _position in rows:
                found[delivery.contract_id].append(delivery)
            for contract_id in contract_ids:
                got = found[contract_id]
                pages[(contract_id, size, start)] = Page(
                    rows=got[:size],
                    offsets=list(range(start, start + min(size, len(got)))),
                    has_next=len(got) > size,
                    has_previous=start > 0,
                    total=totals.get(contract_id, 0),
                )
        return [pages[key] for key in keys]


def _group_pages(keys):
    groups: dict[tuple[int, int], list[int]] = {}
    for contract_id, size, start in keys:
        groups.setdefault((size, start), []).append(contract_id)
    return groups
