"""Hand-made tenders for the red-flag rules: rows as the services leave them after the opening,
evaluation and award, written directly so that each case holds exactly the bids it needs (a price
tie, a disqualified lowest bid, a winner one cent under the ceiling).

Departments, packages and providers are made through the services (`tests.factories`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from market import models as m
from tests import factories

T0 = dt.datetime(2030, 3, 2, 2, 0, tzinfo=dt.UTC)
VALID, INVALID, WITHDRAWN = m.BidStatus.VALID, m.BidStatus.INVALID, m.BidStatus.WITHDRAWN


@dataclass
class Market:
    session: object
    package: m.ServicePackage
    region: m.Region
    departments: list[m.Department]
    providers: list[m.Provider]
    tenders: list[m.Tender] = field(default_factory=list)

    def provider_id(self, index: int) -> int:
        return self.providers[index].id

    async def tender(
        self,
        bids: list[tuple[int, str] | tuple[int, str, m.BidStatus]],
        *,
        winner: int | None = 0,
        status: m.TenderStatus = m.TenderStatus.AWARDED,
        department: int = 0,
        max_unit_price: str = "120.00",
        period_days: float = 20,
        ranked: bool = True,
        opened: bool = True,
    ) -> m.Tender:
        """A tender with `bids` (provider index, unit price[, status]) after the opening; `winner` is the
        provider index of the recommended (or, while EVALUATING, top-ranked) bid."""
        published = T0 + dt.timedelta(days=40 * len(self.tenders))
        deadline = published + dt.timedelta(days=period_days)
        tender = m.Tender(
            department_id=self.departments[department].id,
            title=f"Tender {len(self.tenders) + 1}",
            status=status,
            package_id=self.package.id,
            region_id=self.region.id,
            quantity=1000,
            periods=4,
            period_months=3,
            start_date=dt.date(2031, 1, 1),
            max_unit_price=Decimal(max_unit_price),
            bid_deadline=deadline,
            min_valid_bids=1,
            price_weight=0.3,
            quality_weight=0.6,
            record_weight=0.1,
            created_at=published,
            published_at=published,
            opened_at=deadline + dt.timedelta(minutes=30) if opened else None,
            ranked_at=deadline + dt.timedelta(days=2) if ranked and opened else None,
        )
        self.session.add(tender)
        await self.session.flush()
        rows = []
        for spec in bids:
            index, price, bid_status = (*spec, VALID) if len(spec) == 2 else spec
            rows.append(
                m.Bid(
                    tender_id=tender.id,
                    provider_id=self.provider_id(index),
                    status=bid_status,
                    unit_price=Decimal(price),
                    proposal=f"Proposal of provider {index}",
                    submitted_at=published + dt.timedelta(days=1),
                    receipt_sha256="0" * 64,
                    rank=1 if index == winner and ranked else None,
                )
            )
        self.session.add_all(rows)
        await self.session.flush()
        if winner is not None and status in (m.TenderStatus.AWARD_PENDING, m.TenderStatus.AWARDED):
            tender.recommended_bid_id = next(b.id for b in rows if b.provider_id == self.provider_id(winner))
            tender.recommended_at = deadline + dt.timedelta(days=3)
            if status == m.TenderStatus.AWARDED:
                tender.awarded_at = deadline + dt.timedelta(days=15)
        await self.session.flush()
        self.tenders.append(tender)
        return tender


async def build(session, *, providers: int = 4, departments: int = 2) -> Market:
    region = await factories.region(session)
    return Market(
        session=session,
        package=await factories.package(session),
        region=region,
        departments=[await factories.department(session, region_row=region) for _ in range(departments)],
        providers=[await factories.provider(session, regions=[region]) for _ in range(providers)],
    )
