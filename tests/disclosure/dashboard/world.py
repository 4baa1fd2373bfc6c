"""Hand-made rows for the dashboard's figures: regions, tenders and bids, contracts, deliveries and
ratings, scorecards and payments, written straight to their tables so that each test sets exactly
the numbers it works out (the dashboard only reads them). Codes are unique per call."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import models as cm
from market import models as m
from scoring import models as sm
from tests import factories

_numbers = itertools.count(1)
T0 = dt.datetime(2030, 1, 15, 2, 0, tzinfo=dt.UTC)
TIERS = {"A": "1.05", "B": "1.00", "C": "0.90", "D": "0.75", "E": "0.50"}


def _n() -> int:
    return next(_numbers)


def phone_hash(resident: str) -> str:
    """What a delivery keeps of a resident's phone: a hash (here of the resident's name in the test)."""
    return hashlib.sha256(f"dashboard-test:{resident}".encode()).hexdigest()


@dataclass
class World:
    session: AsyncSession
    department_of: dict[int, int] = field(default_factory=dict)

    async def add(self, row):
        self.session.add(row)
        await self.session.flush()
        return row

    async def region(self, kind: m.RegionKind, population: int, name: str | None = None) -> m.Region:
        n = _n()
        region = await self.add(
            m.Region(code=f"D{n:05d}", name=name or f"测试区{n}", kind=kind, population=population)
        )
        department = await self.add(m.Department(name=f"民政局{n}", region_id=region.id))
        self.department_of[region.id] = department.id
        return region

    async def provider(self, name: str | None = None) -> m.Provider:
        return await self.add(
            m.Provider(
                legal_name=name or f"服务机构{_n()}",
                credit_code=factories.credit_code(),
                kind=m.ProviderKind.SOCIAL_ORGANISATION,
                status=m.ProviderStatus.ACTIVE,
                registered_at=T0,
            )
        )

    async def package(
        self, category: str = "ELDERLY_CARE", *, code: str | None = None, version: int = 1, name: str = "居家养老",
        low: str = "50.00", high: str = "150.00",
    ) -> m.ServicePackage:  # fmt: skip
        return await self.add(
            m.ServicePackage(
                code=code or f"PKG-{_n()}",
                version=version,
                name=name,
                name_en=f"{name} (en)",
                category_code=category,
                tier=m.PackageTier.BASIC,
                unit="visit",
                standard="上门服务不少于60分钟。",
                min_unit_price=Decimal(low),
                max_unit_price=Decimal(high),
                created_at=T0,
            )
        )

    async def tender(
        self,
        region: m.Region,
        package: m.ServicePackage,
        *,
        opened_at: dt.datetime | None = T0,
        bids: tuple[m.BidStatus, ...] = (),
        status: m.TenderStatus | None = None,
    ) -> tuple[m.Tender, list[m.Bid]]:
        """A tender with bids of new providers in these states; opened at `opened_at` (None: not yet)."""
        opened = opened_at is not None
        tender = await self.add(
            m.Tender(
                department_id=self.department_of[region.id],
                title=f"采购项目{_n()}",
                status=status or (m.TenderStatus.EVALUATING if opened else m.TenderStatus.PUBLISHED),
                package_id=package.id,
                region_id=region.id,
                quantity=100,
                periods=4,
                period_months=3,
                start_date=dt.date(2030, 1, 1),
                max_unit_price=package.max_unit_price,
                bid_deadline=(opened_at or T0) - dt.timedelta(hours=1),
                price_weight=0.3,
                quality_weight=0.6,
                record_weight=0.1,
                created_at=T0 - dt.timedelta(days=30),
                published_at=T0 - dt.timedelta(days=25),
                opened_at=opened_at,
            )
        )
        made = []
        for status_ in bids:
            provider = await self.provider()
            made.append(
                await self.add(
                    m.Bid(
                        tender_id=tender.id,
                        provider_id=provider.id,
                        status=status_,
                        unit_price=package.min_unit_price,
                        proposal="方案",
                        submitted_at=T0 - dt.timedelta(days=2),
                        receipt_sha256="0" * 64,
                    )
                )
            )
        return tender, made

    async def contract(
        self,
        region: m.Region,
        package: m.ServicePackage,
        *,
        unit_price: str = "100.00",
        quantity: int = 100,
        provider: m.Provider | None = None,
        signed_at: dt.datetime = T0,
    ) -> cm.Contract:
        """A contract of `provider` (a new one by default), from an awarded tender it alone bid for."""
        provider = provider or await self.provider()
        tender, _ = await self.tender(region, package, status=m.TenderStatus.AWARDED, opened_at=signed_at)
        bid = await self.add(
            m.Bid(
                tender_id=tender.id,
                provider_id=provider.id,
                status=m.BidStatus.VALID,
                unit_price=Decimal(unit_price),
                proposal="方案",
                submitted_at=T0 - dt.timedelta(days=2),
                receipt_sha256="0" * 64,
            )
        )
        return await self.add(
            cm.Contract(
                tender_id=tender.id,
                bid_id=bid.id,
                provider_id=provider.id,
                department_id=tender.department_id,
                package_id=package.id,
                region_id=region.id,
                unit_price=Decimal(unit_price),
                quantity=quantity,
                total_value=Decimal(unit_price) * quantity,
                start_date=dt.date(2030, 1, 1),
                periods=4,
                period_months=3,
                satisfaction_weight=0.4,
                kpi_weight=0.4,
                audit_weight=0.2,
                holdback_rate=0.1,
                signed_at=signed_at,
            )
        )

    async def delivery(
        self,
        contract: cm.Contract,
        resident: str,
        *,
        on: dt.date = dt.date(2030, 2, 1),
        units: int = 1,
        stars: int | None = None,
        disputed: bool = False,
        marked_false: bool = False,
        flagged: bool = False,
        flag_cleared: bool = False,
    ) -> cm.Delivery:
        n = _n()
        delivery = await self.add(
            cm.Delivery(
                contract_id=contract.id,
                delivered_on=on,
                units=units,
                phone_hash=phone_hash(resident),
                token_hash=f"{n:064d}",
                token_expires_at=T0 + dt.timedelta(days=400),
                recorded_at=T0,
                disputed_at=T0 if disputed else None,
                marked_false_by_audit_id=n if marked_false else None,
            )
        )
        if stars is not None:
            await self.add(
                cm.Rating(
                    delivery_id=delivery.id,
                    contract_id=contract.id,
                    stars=stars,
                    created_at=T0,
                    updated_at=T0,
                    flag_reason="staff phone" if flagged else None,
                    flag_cleared_at=T0 if flag_cleared else None,
                )
            )
        return delivery

    async def payment(
        self,
        contract: cm.Contract,
        tier: str | None,
        *,
        kind: sm.PaymentKind = sm.PaymentKind.PERIOD,
        status: sm.PaymentStatus = sm.PaymentStatus.CALCULATED,
        created_at: dt.datetime = T0,
    ) -> sm.Payment:
        """A payment of a period scored in `tier` (its scorecard made for it); None: no scorecard."""
        scorecard_id = None
        if tier is not None:
            index = _n()
            card = await self.add(
                sm.Scorecard(
                    contract_id=contract.id,
                    period_index=index,
                    version=1,
                    starts_on=dt.date(2030, 1, 1),
                    ends_on=dt.date(2030, 3, 31),
                    verified_units=10,
                    deliveries_recorded=10,
                    substantiated_complaints=0,
                    ratings_counted=5,
                    ratings_sum=20,
                    prior_mean=3.0,
                    satisfaction=75.0,
                    kpi_score=80.0,
                    audit_score=90.0,
                    composite=80.0,
                    tier=sm.Tier(tier),
                    payout_rate=Decimal(TIERS[tier]),
                    base=Decimal("1000.00"),
                    payout=Decimal(TIERS[tier]) * 1000,
                    holdback=Decimal("100.00"),
                    finalized_at=created_at,
                    reason="period finalised",
                )
            )
            scorecard_id = card.id
        return await self.add(
            sm.Payment(
                contract_id=contract.id,
                period_index=1,
                scorecard_id=scorecard_id,
                kind=kind,
                amount=Decimal("900.00"),
                status=status,
                created_at=created_at,
            )
        )
