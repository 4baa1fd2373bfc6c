"""DataLoaders of the contracts domain, one instance per request.

The `Visible...` loaders and those of a contract's details load only what the request's caller may
see (`contracts.access`), so that the types map rows without deciding anything.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from contracts import access, lifecycle
from contracts import models as m
from core import clock
from core.api import ContextLoader, Page, RowByIdLoader, by_key, group_by_key, rows_by_id
from core.auth import Actor

# ---------------------------------------------------------------- by ID, for relations of rows shown


class ContractByIdLoader(RowByIdLoader):
    model = m.Contract


class DeliveryByIdLoader(RowByIdLoader):
    model = m.Delivery


class AuditByIdLoader(RowByIdLoader):
    model = m.Audit


# ---------------------------------------------------------------- node(id:): what the caller may see


class _VisibleByIdLoader(ContextLoader):
    """Rows of `model` by primary key among those `visible(actor)` selects; None for the others."""

    model: type
    visible: Callable[[Actor | None], Select]

    async def load_batch(self, session, keys):
        statement = self.visible(self.ctx.actor).where(self.model.id.in_(keys))
        return by_key((await session.scalars(statement)).all(), keys, lambda row: row.id)


class VisibleContractByIdLoader(_VisibleByIdLoader):
    model, visible = m.Contract, staticmethod(access.visible_contracts)


class VisibleDeliveryByIdLoader(_VisibleByIdLoader):
    model, visible = m.Delivery, staticmethod(access.visible_deliveries)


class VisibleComplaintByIdLoader(_VisibleByIdLoader):
    model, visible = m.Complaint, staticmethod(access.visible_complaints)


class VisibleAuditByIdLoader(_VisibleByIdLoader):
    model, visible = m.Audit, staticmethod(access.visible_audits)


class VisibleAppealByIdLoader(_VisibleByIdLoader):
    model, visible = m.Appeal, staticmethod(access.visible_appeals)


class ContractByTenderLoader(ContextLoader):
    """The contract of each tender, when the caller may see it."""

    async def load_batch(self, session, keys):
        rows = await lifecycle.contracts_by_tender(session, keys, actor=self.ctx.actor)
        return by_key(rows, keys, lambda row: row.tender_id)


class KpisByContractLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await lifecycle.contract_kpis(session, keys)
        return group_by_key(rows, keys, lambda row: row.contract_id)


class RatingByDeliveryLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (await session.scalars(select(m.Rating).where(m.Rating.delivery_id.in_(keys)))).all()
        return by_key(rows, keys, lambda row: row.delivery_id)


# ---------------------------------------------------------------- a contract's details


class _DetailsLoader(ContextLoader):
    """Keyed by contract ID (first of a tuple key): what `load_details` finds for the contracts whose
    details the caller may see, `hidden` for the others (no statement when none is visible)."""

    hidden: object = None

    async def load_batch(self, session, keys):
        contract_ids = list(dict.fromkeys(self.contract_id(key) for key in keys))
        contracts = await rows_by_id(session, m.Contract, contract_ids)
        visible = {i for i, c in contracts.items() if access.can_see_contract_details(self.ctx.actor, c)}
        shown = [key for key in keys if self.contract_id(key) in visible]
        found = await self.load_details(session, shown) if shown else {}
        return [found.get(key, self.hidden) for key in keys]

    @staticmethod
    def contract_id(key):
        return key

    async def load_details(self, session, keys: list) -> dict:
        """What each key finds, for keys of contracts whose details the caller may see."""
        raise NotImplementedError


class RatingsCountByContractLoader(_DetailsLoader):
    """Ratings given on each contract, summed over its period rollups (one row per period, kept current
    by scoring: no count over the rating rows); None where the caller may not see them."""

    async def load_details(self, session, keys):
        from scoring.models import PeriodRollup  # downstream: imported where used, never at module level

        counts = dict(
            (
                await session.execute(
                    select(PeriodRollup.contract_id, func.sum(PeriodRollup.ratings_given))
                    .where(PeriodRollup.contract_id.in_(keys))
                    .group_by(PeriodRollup.contract_id)
                )
            ).all()
        )
        return {key: int(counts.get(key) or 0) for key in keys}


class _ListByContractLoader(_DetailsLoader):
    """Rows of `model` of each contract, in the order made; empty where the caller may not see them."""

    model: type
    hidden = ()

    async def load_details(self, session, keys):
        rows = (
            await session.scalars(
                select(self.model).where(self.model.contract_id.in_(keys)).order_by(self.model.id)
            )
        ).all()
        return dict(zip(keys, group_by_key(rows, keys, lambda row: row.contract_id), strict=True))


class ComplaintsByContractLoader(_ListByContractLoader):
    model = m.Complaint


class AuditsByContractLoader(_ListByContractLoader):
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


class DeliveryPagesByContractLoader(_DetailsLoader):
    """A page of deliveries of each contract, keyed (contract id, size, start): two statements for all;
    an empty page where the caller may not see them.

    Numbered per contract with a window function, newest first, so a page of contracts costs the
    same as one contract.
    """

    hidden = Page.empty()

    @staticmethod
    def contract_id(key):
        return key[0]

    async def load_details(self, session, keys):
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
        return pages


def _group_pages(keys):
    groups: dict[tuple[int, int], list[int]] = {}
    for contract_id, size, start in keys:
        groups.setdefault((size, start), []).append(contract_id)
    return groups
