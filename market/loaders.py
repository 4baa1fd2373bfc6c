"""DataLoaders of the market domain, one instance per request (see `core.api.Context.loader`).

Loaders named `Visible…` or `Readable…` return only what the caller may see, by the rules of
`market.access`: single rows are tested with a rule's predicate, lists selected with its clause.
The others load rows that the object they hang from already made visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, select

from core.api import ContextLoader, RowByIdLoader, by_key, group_by_key, rows_by_id
from core.auth import Actor
from market import access, catalogue, tenders
from market import models as m


class RegionByIdLoader(RowByIdLoader):
    model = m.Region


class DepartmentByIdLoader(RowByIdLoader):
    model = m.Department


class AuditFirmByIdLoader(RowByIdLoader):
    model = m.AuditFirm


class ProviderByIdLoader(RowByIdLoader):
    model = m.Provider


class UserByIdLoader(RowByIdLoader):
    model = m.User


class ServicePackageByIdLoader(RowByIdLoader):
    model = m.ServicePackage


class TenderByIdLoader(RowByIdLoader):
    model = m.Tender


class _VisibleByIdLoader(ContextLoader):
    """Rows of `model` by primary key; None for those `visible(actor, row)` hides from the caller."""

    model: type
    visible: Callable[[Actor | None, Any], bool]

    async def load_batch(self, session, keys):
        rows = await rows_by_id(session, self.model, keys)
        actor = self.ctx.actor
        return [row if row is not None and self.visible(actor, row) else None for row in map(rows.get, keys)]


class VisibleProviderByIdLoader(_VisibleByIdLoader):
    model = m.Provider
    visible = staticmethod(access.can_see_provider)


class VisibleUserByIdLoader(_VisibleByIdLoader):
    model = m.User
    visible = staticmethod(access.can_see_user)


class VisibleTenderByIdLoader(_VisibleByIdLoader):
    model = m.Tender
    visible = staticmethod(access.can_see_tender)


class _VisibleOfTenderByIdLoader(ContextLoader):
    """Rows of `model` (that belong to a tender) by primary key; None for those the caller may not see."""

    model: type
    visible: Callable[[Actor | None, Any, m.Tender], bool]

    async def load_batch(self, session, keys):
        rows = await rows_by_id(session, self.model, keys)
        tenders_by_id = await rows_by_id(session, m.Tender, [row.tender_id for row in rows.values()])
        actor = self.ctx.actor
        return [
            row if row is not None and self.visible(actor, row, tenders_by_id[row.tender_id]) else None
            for row in map(rows.get, keys)
        ]


class VisibleClarificationByIdLoader(_VisibleOfTenderByIdLoader):
    model = m.Clarification
    visible = staticmethod(access.can_see_clarification)


class VisibleChallengeByIdLoader(_VisibleOfTenderByIdLoader):
    model = m.Challenge
    visible = staticmethod(access.can_see_challenge)


# ---------------------------------------------------------------- providers and the catalogue


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
        rows = await catalogue.package_kpis(session=session, package_ids=keys)
        return group_by_key(rows, keys, lambda row: row.package_id)


class CategoryByCodeLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(select(m.ServiceCategory).where(m.ServiceCategory.code.in_(keys)))
        ).all()
        return by_key(rows, keys, lambda row: row.code)


# ---------------------------------------------------------------- tenders


class KpisByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await tenders.kpis_of(session, keys)
        return group_by_key(rows, keys, lambda row: row.tender_id)


class AmendmentsByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.scalars(
                select(m.TenderAmendment)
                .where(m.TenderAmendment.tender_id.in_(keys))
                .order_by(m.TenderAmendment.tender_id, m.TenderAmendment.version)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row.tender_id)


class _VisibleByTenderLoader(ContextLoader):
    """Rows of `model` of each tender that `clause(actor)` lets the caller see, oldest first."""

    model: type
    clause: Callable[[Actor | None], ColumnElement[bool]]

    async def load_batch(self, session, keys):
        statement = (
            select(self.model)
            .where(self.model.tender_id.in_(keys), self.clause(self.ctx.actor))
            .order_by(self.model.id)
        )
        return group_by_key((await session.scalars(statement)).all(), keys, lambda row: row.tender_id)


class VisibleClarificationsByTenderLoader(_VisibleByTenderLoader):
    """Answered questions for everyone; unanswered ones for the asker and the tender's officers."""

    model = m.Clarification
    clause = staticmethod(access.clarifications_visible_clause)


class VisibleChallengesByTenderLoader(_VisibleByTenderLoader):
    """All challenges for the tender's officers; a bidder's own for that bidder."""

    model = m.Challenge
    clause = staticmethod(access.challenges_visible_clause)


class VisiblePanelByTenderLoader(ContextLoader):
    """The panel's seats with their evaluators, for the tender's officers; empty for anyone else."""

    async def load_batch(self, session, keys):
        rows = (
            await session.execute(
                select(m.PanelMember, m.User)
                .join(m.User, m.User.id == m.PanelMember.user_id)
                .join(m.Tender, m.Tender.id == m.PanelMember.tender_id)
                .where(m.PanelMember.tender_id.in_(keys), access.tender_officer_clause(self.ctx.actor))
                .order_by(m.User.name)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row[0].tender_id)


# ---------------------------------------------------------------- sealed bids


class OpeningRecordByTenderLoader(ContextLoader):
    """Each tender's opening record, or None while the caller may not read the opened bids."""

    async def load_batch(self, session, keys):
        tenders_by_id = await rows_by_id(session, m.Tender, keys)
        bid_access = await access.bid_access(session, self.ctx.actor, list(tenders_by_id.values()))
        return [access.opening_record(bid_access[key], tenders_by_id[key]) for key in keys]


class ReadableBidsByTenderLoader(ContextLoader):
    """The bids of each tender that the caller may read, as they read them (`access.TenderBids`)."""

    async def load_batch(self, session, keys):
        tenders_by_id = await rows_by_id(session, m.Tender, keys)
        bid_access = await access.bid_access(session, self.ctx.actor, list(tenders_by_id.values()))
        # One statement per kind of access: a caller has the same access to most tenders of a page.
        groups: dict[access.BidAccess, list[int]] = {}
        for tender_id, kind in bid_access.items():
            groups.setdefault(kind, []).append(tender_id)
        bids = []
        for kind, tender_ids in groups.items():
            if kind.sealed:
                continue
            statement = (
                select(m.Bid)
                .where(m.Bid.tender_id.in_(tender_ids), access.bids_visible_clause(kind))
                .order_by(m.Bid.tender_id, m.Bid.rank.is_(None), m.Bid.rank, m.Bid.id)
            )
            bids.extend((await session.scalars(statement)).all())
        grouped = group_by_key(bids, keys, lambda row: row.tender_id)
        return [
            access.tender_bids(bid_access[key], tenders_by_id[key], group)
            for key, group in zip(keys, grouped, strict=True)
        ]


class ReadableBidByIdLoader(ContextLoader):
    """Bids by primary key as the caller reads them (`access.ReadableBid`); None for sealed ones."""

    async def load_batch(self, session, keys):
        bids = await rows_by_id(session, m.Bid, keys)
        tenders_by_id = await rows_by_id(session, m.Tender, [bid.tender_id for bid in bids.values()])
        bid_access = await access.bid_access(session, self.ctx.actor, list(tenders_by_id.values()))
        return [
            access.readable_bid(bid_access[bid.tender_id], bid) if bid is not None else None
            for bid in map(bids.get, keys)
        ]
