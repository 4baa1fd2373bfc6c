"""DataLoaders of the market domain, one instance per request (see `core.api.Context.loader`)."""

from __future__ import annotations

from sqlalchemy import select

from core.api import ContextLoader, RowByIdLoader, by_key, group_by_key, rows_by_id
from market import models as m
from market import service, tendering


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


# ---------------------------------------------------------------- tenders


class TenderByIdLoader(RowByIdLoader):
    model = m.Tender


class BidByIdLoader(RowByIdLoader):
    model = m.Bid


class KpisByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = await tendering.kpis_of(session, keys)
        return group_by_key(rows, keys, lambda row: row.tender_id)


class BidAccessByTenderLoader(ContextLoader):
    """What the caller may read of each tender's bids (tendering.BidAccess)."""

    async def load_batch(self, session, keys):
        tenders = list((await rows_by_id(session, m.Tender, keys)).values())
        access = await tendering.bid_access_many(session, self.ctx.actor, tenders)
        return [access.get(key) for key in keys]


class VisibleBidsByTenderLoader(ContextLoader):
    """The bids of each tender that the caller may read, with what it may read of them."""

    async def load_batch(self, session, keys):
        tenders = list((await rows_by_id(session, m.Tender, keys)).values())
        access = await tendering.bid_access_many(session, self.ctx.actor, tenders)
        readable = [t.id for t in tenders if access[t.id].own_provider_id or access[t.id].all_opened]
        bids = []
        # One statement per kind of access: a caller has the same access to most tenders of a page.
        groups: dict[tendering.BidAccess, list[int]] = {}
        for tender_id in readable:
            groups.setdefault(access[tender_id], []).append(tender_id)
        for kind, tender_ids in groups.items():
            statement = tendering.visible_bids_statement(kind, tender_ids)
            bids.extend((await session.scalars(statement)).all())
        grouped = group_by_key(bids, keys, lambda row: row.tender_id)
        return [[(bid, access[key]) for bid in group] for key, group in zip(keys, grouped, strict=True)]


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


class _OfficersSeeAllLoader(ContextLoader):
    """Rows of each tender: all for the tender's officers; for others those `visible(actor)` allows."""

    model: type
    visible = staticmethod(lambda actor: True)

    async def load_batch(self, session, keys):
        tenders = list((await rows_by_id(session, m.Tender, keys)).values())
        owned = [t.id for t in tenders if tendering.is_owner(self.ctx.actor, t)]
        others = [t.id for t in tenders if t.id not in owned]
        rows = []
        for tender_ids, clause in ((owned, True), (others, self.visible(self.ctx.actor))):
            if tender_ids:
                statement = (
                    select(self.model)
                    .where(self.model.tender_id.in_(tender_ids), clause)
                    .order_by(self.model.id)
                )
                rows += (await session.scalars(statement)).all()
        return group_by_key(rows, keys, lambda row: row.tender_id)


class ClarificationsByTenderLoader(_OfficersSeeAllLoader):
    """Answered questions for everyone; unanswered ones for the asker and the tender's officers."""

    model = m.Clarification
    visible = staticmethod(tendering.clarifications_visible_clause)


class ChallengesByTenderLoader(_OfficersSeeAllLoader):
    """All challenges for the tender's officers; a bidder's own for that bidder."""

    model = m.Challenge
    visible = staticmethod(tendering.challenges_visible_clause)


class PanelByTenderLoader(ContextLoader):
    async def load_batch(self, session, keys):
        rows = (
            await session.execute(
                select(m.PanelMember, m.User)
                .join(m.User, m.User.id == m.PanelMember.user_id)
                .where(m.PanelMember.tender_id.in_(keys))
                .order_by(m.User.name)
            )
        ).all()
        return group_by_key(rows, keys, lambda row: row[0].tender_id)
