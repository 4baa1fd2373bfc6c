"""A whole purchase, draft to contract, through the services."""

from decimal import Decimal

from sqlalchemy import select

from contracts import lifecycle
from contracts.models import Contract, ContractKpi
from market import awards, bids, tenders
from market import models as m
from tests.market import world as w


async def test_draft_to_contract(session):
    world = await w.build(session)
    tender = await world.draft()
    kpis = await tenders.kpis_of(session, [tender.id])
    assert [k.name for k in kpis] == ["按时上门率", "服务完成率", "有效投诉率"]
    assert (tender.satisfaction_weight, tender.kpi_weight, tender.audit_weight) == (0.4, 0.4, 0.2)
    assert [t["tier"] for t in tender.payment_tiers] == ["A", "B", "C", "D", "E"]

    await tenders.publish_tender(session=session, actor=world.officer, tender_id=tender.id)
    for i, price in enumerate(["100.00", "95.00", "90.00", "105.00"]):
        await world.bid(tender, i, price)
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    assert tender.status == m.TenderStatus.EVALUATING
    assert len(tender.opening_record) == 4

    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 82, 84], 1: [90, 88, 86], 2: [70, 72, 74], 3: [95, 95, 95]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    assert tender.status == m.TenderStatus.AWARD_PENDING
    ranked = sorted(await world.bids(tender), key=lambda b: b.rank)
    assert tender.recommended_bid_id == ranked[0].id

    await world.past_challenge(tender)
    contract = await lifecycle.finalize_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    assert tender.status == m.TenderStatus.AWARDED
    winner = ranked[0]
    assert (contract.provider_id, contract.unit_price) == (winner.provider_id, winner.unit_price)
    assert contract.total_value == winner.unit_price * 1200
    assert contract.quantity == 1200 and contract.periods == 4
    copied = (await session.scalars(select(ContractKpi).where(ContractKpi.contract_id == contract.id))).all()
    assert [k.name for k in copied] == [k.name for k in kpis]
    assert (await session.scalar(select(Contract).where(Contract.tender_id == tender.id))).id == contract.id
    assert contract.total_value == Decimal(winner.unit_price) * 1200
