"""Each portal page reads in a fixed number of SQL statements, whatever the data: counted on the demo,
then again with many more rows of what the page lists (in the test's rolled-back transaction)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from contracts.models import Contract
from core.auth import Role
from market.models import (
    Bid,
    BidStatus,
    Clarification,
    Provider,
    ProviderKind,
    ProviderStatus,
    QualityScore,
    Tender,
    TenderAmendment,
    TenderStatus,
    User,
)
from tests.disclosure import helpers

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def count(portal, path: str) -> int:
    with portal.statements:
        response = await portal.get(path)
    assert response.status_code == 200, path
    return portal.statements.count


async def more_providers(session, n: int) -> list[Provider]:
    providers = [
        Provider(
            legal_name=f"计数测试服务机构{i:02d}",
            credit_code=f"TEST{i:014d}",
            kind=ProviderKind.ENTERPRISE,
            status=ProviderStatus.ACTIVE,
            registered_at=NOW,
        )
        for i in range(n)
    ]
    session.add_all(providers)
    await session.flush()
    return providers


async def test_the_home_page_reads_the_same_statements_for_many_open_tenders(portal):
    before = await count(portal, "/portal?q=项目&soon=")
    published = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    columns = {k: v for k, v in published.model_dump().items() if k != "id"}
    portal.session.add_all(Tender(**{**columns, "title": f"计数测试项目{n}"}) for n in range(25))
    await portal.session.commit()
    assert await count(portal, "/portal?q=项目&soon=") == before
    assert await count(portal, "/portal?page=2") == before
    assert 5 <= before <= 8


async def test_the_award_notice_reads_the_same_statements_for_many_bids(portal):
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED)
    path = f"/portal/tenders/{tender.id}"
    before = await count(portal, path)
    evaluators = (await portal.session.scalars(select(User.id).where(User.role == Role.EVALUATOR))).all()
    for n, provider in enumerate(await more_providers(portal.session, 15)):
        bid = Bid(tender_id=tender.id, provider_id=provider.id, status=BidStatus.VALID, unit_price=Decimal("100.00"),
                  proposal="计数测试", submitted_at=NOW, receipt_sha256="0" * 64, price_score=90.0,
                  quality_score=70.0, record_score=80.0, total_score=75.0, rank=n + 3)  # fmt: skip
        portal.session.add(bid)
        await portal.session.flush()
        portal.session.add_all(
            QualityScore(bid_id=bid.id, evaluator_id=e, score=70.0, scored_at=NOW) for e in evaluators
        )
        portal.session.add(
            Clarification(
                tender_id=tender.id,
                provider_id=provider.id,
                question="问",
                asked_at=NOW,
                answer="答",
                answered_at=NOW,
            )
        )
        portal.session.add(
            TenderAmendment(tender_id=tender.id, version=n + 2, reason="更正", changes=[], created_at=NOW)
        )
    await portal.session.commit()
    after = await count(portal, path)
    # The page's own reads (at most 10) and its red flags' (at most 8, disclosure.red_flags).
    assert after == before and 5 <= before <= 18
    assert (await portal.get(path)).text.count("计数测试服务机构") == 15


async def test_every_tender_page_reads_a_bounded_number_of_statements(portal):
    for tender in (
        await portal.session.scalars(select(Tender).where(Tender.status != TenderStatus.DRAFT))
    ).all():
        limit = 18 if tender.status == TenderStatus.AWARDED else 10  # an award notice reads its red flags
        assert await count(portal, f"/portal/tenders/{tender.id}") <= limit


async def test_contract_pages_read_the_same_statements_scored_or_not(portal):
    contracts = (await portal.session.scalars(select(Contract.id))).all()
    counts = {await count(portal, f"/portal/contracts/{i}") for i in contracts}
    assert len(contracts) == 3 and len(counts) == 1 and 3 <= counts.pop() <= 4


async def test_provider_pages_read_the_same_statements_with_or_without_awards(portal):
    providers = (await portal.session.scalars(select(Provider.id))).all()
    counts = {await count(portal, f"/portal/providers/{i}") for i in providers}
    assert len(counts) == 1 and 3 <= counts.pop() <= 6
