"""A purchasing world for tender tests: a department with its officer, a panel, bidders, a package."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from core import clock
from core.auth import Actor, Role
from market import accounts, bids, evaluation, tenders
from market import models as m
from tests import factories

QUALIFICATION = "养老机构设立许可"
DAY = 86400


@dataclass
class World:
    session: object
    officer: Actor
    other_officer: Actor
    evaluators: list[Actor]
    providers: list[m.Provider]
    bidders: list[Actor]
    package: m.ServicePackage
    region: m.Region
    users: dict[str, m.User] = field(default_factory=dict)

    async def now(self) -> dt.datetime:
        return await clock.now(self.session)

    async def advance(self, seconds: float) -> None:
        """Time passes between requests: what was done so far is committed first."""
        await self.session.commit()
        await clock.advance(self.session, int(seconds))
        await self.session.commit()

    def terms(self, **overrides) -> tenders.TenderTerms:
        values = dict(
            package_id=self.package.id,
            region_id=self.region.id,
            title="黄浦区居家养老上门服务采购",
            quantity=1200,
            periods=4,
            period_months=3,
            start_date=dt.date(2030, 1, 1),
            max_unit_price=Decimal("110.00"),
            bid_deadline=self._deadline,
            price_weight=0.3,
            quality_weight=0.6,
            record_weight=0.1,
            evaluator_ids=[e.user_id for e in self.evaluators],
            required_qualifications=[QUALIFICATION],
        )
        values.update(overrides)
        return tenders.TenderTerms(**values)

    async def draft(self, **overrides) -> m.Tender:
        return await tenders.create_tender(
            session=self.session, actor=self.officer, terms=self.terms(**overrides)
        )

    async def published(self, **overrides) -> m.Tender:
        tender = await self.draft(**overrides)
        return await tenders.publish_tender(session=self.session, actor=self.officer, tender_id=tender.id)

    async def bid(self, tender: m.Tender, bidder: int, price: str, **kwargs) -> bids.Submission:
        """A bid, committed as its mutation would be."""
        submission = await bids.submit_bid(
            session=self.session,
            actor=self.bidders[bidder],
            tender_id=tender.id,
            unit_price=Decimal(price),
            proposal=kwargs.pop("proposal", f"Proposal of bidder {bidder}"),
            **kwargs,
        )
        await self.session.commit()
        return submission

    async def past_challenge(self, tender: m.Tender) -> None:
        now = await self.now()
        await self.advance((tender.challenge_deadline - now).total_seconds() + 1)

    async def past_deadline(self, tender: m.Tender) -> None:
        now = await self.now()
        await self.advance((tender.bid_deadline - now).total_seconds() + 1)

    async def opened(self, prices: list[str], **overrides) -> m.Tender:
        tender = await self.published(**overrides)
        for i, price in enumerate(prices):
            await self.bid(tender, i, price)
        await self.past_deadline(tender)
        return await bids.open_bids(session=self.session, actor=self.officer, tender_id=tender.id)

    async def declare_all(self, tender: m.Tender) -> None:
        for evaluator in self.evaluators:
            await evaluation.declare_conflicts(
                session=self.session, actor=evaluator, tender_id=tender.id, provider_ids=[]
            )

    async def score_all(self, tender: m.Tender, scores: dict[int, list[float]]) -> None:
        """scores: bidder index -> one score per evaluator."""
        bids = {b.provider_id: b for b in await self.bids(tender)}
        for bidder, per_evaluator in scores.items():
            bid = bids[self.providers[bidder].id]
            for evaluator, value in zip(self.evaluators, per_evaluator, strict=True):
                await evaluation.score_bid(session=self.session, actor=evaluator, bid_id=bid.id, score=value)

    async def bids(self, tender: m.Tender) -> list[m.Bid]:
        from sqlalchemy import select

        return list(
            (
                await self.session.scalars(
                    select(m.Bid).where(m.Bid.tender_id == tender.id).order_by(m.Bid.id)
                )
            ).all()
        )

    @property
    def _deadline(self) -> dt.datetime:
        return self._base + dt.timedelta(days=20)


async def build(session, *, bidders: int = 4, acting: m.User | None = None) -> World:
    """The world; an `acting` OFFICER owns its tenders, an EVALUATOR sits on its panel, a PROVIDER bids first."""
    region = await factories.region(session)
    department = await factories.department(session, region_row=region)
    other_department = await factories.department(session, region_row=region)
    acting_role = acting.role if acting else None
    if acting_role == Role.OFFICER:
        officer = acting
        officer.department_id = department.id
    else:
        officer = await factories.user(session, Role.OFFICER, department_id=department.id)
    other_officer = await factories.user(session, Role.OFFICER, department_id=other_department.id)
    evaluators = [await factories.user(session, Role.EVALUATOR) for _ in range(3)]
    if acting_role == Role.EVALUATOR:
        evaluators[0] = acting
    providers, provider_users = [], []
    for i in range(bidders):
        if i == 0 and acting_role == Role.PROVIDER:
            provider, user = await session.get(m.Provider, acting.provider_id), acting
            await factories.qualification(session, provider, type=QUALIFICATION)
        else:
            provider = await factories.provider(session, regions=[region])
            await factories.qualification(session, provider, type=QUALIFICATION)
            user = await factories.user(session, Role.PROVIDER, provider_id=provider.id)
        providers.append(provider)
        provider_users.append(user)
    package = await factories.package(session)
    world = World(
        session=session,
        officer=accounts.actor_of(officer),
        other_officer=accounts.actor_of(other_officer),
        evaluators=[accounts.actor_of(e) for e in evaluators],
        providers=providers,
        bidders=[accounts.actor_of(u) for u in provider_users],
        package=package,
        region=region,
        users={"officer": officer, "other_officer": other_officer}
        | {f"evaluator{i}": e for i, e in enumerate(evaluators)}
        | {f"bidder{i}": u for i, u in enumerate(provider_users)},
    )
    world._base = await clock.now(session)
    return world
