"""Drafting, publishing, amending and clarifying tenders (SPEC §4.1)."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.api import encode_id
from core.errors import DomainError, ErrorCode
from market import bids, catalogue, tenders
from market import models as m
from tests import factories
from tests.market import world as w


def _problems(error: pytest.ExceptionInfo) -> set[tuple[ErrorCode, tuple | None]]:
    return {(p.code, p.field) for p in error.value.problems}


async def test_a_draft_copies_the_package_defaults_and_can_override_them(session):
    world = await w.build(session)
    tender = await world.draft()
    assert (tender.status, tender.version, tender.min_valid_bids) == (m.TenderStatus.DRAFT, 1, 3)
    assert tender.payment_tiers == tenders.DEFAULT_PAYMENT_TIERS and tender.holdback_rate == 0.10
    kpis = [catalogue.KpiSpec("满意度", "%", 90, m.KpiDirection.HIGHER_IS_BETTER, 1.0, m.KpiSource.AUDIT)]
    custom = await world.draft(kpis=kpis, satisfaction_weight=0.5, kpi_weight=0.3, audit_weight=0.2)
    assert [k.name for k in await tenders.kpis_of(session, [custom.id])] == ["满意度"]
    assert (custom.satisfaction_weight, custom.kpi_weight) == (0.5, 0.3)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": 0}, ("input", "quantity")),
        ({"period_months": 13}, ("input", "periodMonths")),
        ({"max_unit_price": Decimal("59.99")}, ("input", "maxUnitPrice")),
        ({"max_unit_price": Decimal("120.01")}, ("input", "maxUnitPrice")),
        ({"start_date": dt.date(2020, 1, 1)}, ("input", "startDate")),
        ({"price_weight": 0.35, "quality_weight": 0.55}, ("input", "priceWeight")),
        (
            {"satisfaction_weight": 0.2, "kpi_weight": 0.6, "audit_weight": 0.2},
            ("input", "satisfactionWeight"),
        ),
        ({"evaluator_ids": []}, ("input", "evaluatorIds")),
    ],
)
async def test_bad_terms_are_invalid(session, overrides, field):
    world = await w.build(session)
    with pytest.raises(DomainError) as refused:
        await world.draft(**overrides)
    assert (ErrorCode.INVALID, field) in _problems(refused)


async def test_a_deadline_in_the_past_is_invalid(session):
    world = await w.build(session)
    with pytest.raises(DomainError) as refused:
        await world.draft(bid_deadline=await world.now() - dt.timedelta(minutes=1))
    assert (ErrorCode.INVALID, ("input", "bidDeadline")) in _problems(refused)


async def test_references_are_checked(session):
    world = await w.build(session)
    with pytest.raises(DomainError) as refused:
        await world.draft(evaluator_ids=[world.bidders[0].user_id])  # a provider cannot evaluate
    assert _problems(refused) == {(ErrorCode.NOT_FOUND, ("input", "evaluatorIds", "0"))}
    await catalogue.revise_service_package(
        session=session, actor=factories.ADMIN, package_id=world.package.id, changes={"name": "v2"}
    )
    with pytest.raises(DomainError) as superseded:
        await world.draft()
    assert _problems(superseded) == {(ErrorCode.INVALID_STATE, ("input", "packageId"))}


async def test_a_draft_is_edited_until_published(session):
    world = await w.build(session)
    tender = await world.draft()
    await tenders.update_tender(
        session=session, actor=world.officer, tender_id=tender.id,
        changes={"quantity": 800, "required_qualifications": ["甲", "乙", "甲"]},
    )  # fmt: skip
    assert (tender.quantity, tender.required_qualifications) == (800, ["甲", "乙"])
    await tenders.publish_tender(session=session, actor=world.officer, tender_id=tender.id)
    assert tender.published_at is not None
    with pytest.raises(DomainError) as refused:
        await tenders.update_tender(
            session=session, actor=world.officer, tender_id=tender.id, changes={"quantity": 1}
        )
    assert _problems(refused) == {(ErrorCode.INVALID_STATE, None)}
    with pytest.raises(DomainError) as twice:
        await tenders.publish_tender(session=session, actor=world.officer, tender_id=tender.id)
    assert _problems(twice) == {(ErrorCode.INVALID_STATE, None)}


async def test_a_draft_whose_deadline_passed_cannot_be_published(session):
    world = await w.build(session)
    tender = await world.draft()
    await world.past_deadline(tender)
    with pytest.raises(DomainError) as refused:
        await tenders.publish_tender(session=session, actor=world.officer, tender_id=tender.id)
    assert (ErrorCode.INVALID, ("input", "bidDeadline")) in _problems(refused)


async def test_an_amendment_is_public_moves_the_deadline_and_requires_reconfirmation(session):
    world = await w.build(session)
    tender = await world.published()
    for i in range(3):
        await world.bid(tender, i, "100.00")
    await world.advance(10 * w.DAY)  # 10 of the 20 days have passed
    amended_at = await world.now()
    await tenders.amend_tender(
        session=session, actor=world.officer, tender_id=tender.id, reason="价格上限调整",
        changes={"max_unit_price": Decimal("105.00")},
    )  # fmt: skip
    assert tender.version == 2
    assert tender.bid_deadline >= amended_at + dt.timedelta(days=15)
    (amendment,) = await _amendments(session, tender)
    assert (amendment.version, amendment.reason) == (2, "价格上限调整")
    changes = {c["field"]: (c["before"], c["after"]) for c in amendment.changes}
    assert changes["maxUnitPrice"] == ("110.00", "105.00")
    assert "bidDeadline" in changes

    # Bidder 0 re-confirms, bidder 1 amends its price, bidder 2 does nothing.
    await bids.confirm_bid(session=session, actor=world.bidders[0], bid_id=(await world.bids(tender))[0].id)
    await world.bid(tender, 1, "99.00")
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    status = [(b.status, b.invalid_reason) for b in await world.bids(tender)]
    assert status == [
        (m.BidStatus.VALID, None),
        (m.BidStatus.VALID, None),
        (m.BidStatus.INVALID, "not re-confirmed after amendment 2"),
    ]
    assert tender.status == m.TenderStatus.UNSUCCESSFUL  # 2 valid bids, fewer than 3


async def test_a_confirmation_above_a_lowered_ceiling_is_refused(session):
    world = await w.build(session)
    tender = await world.published()
    bid = (await world.bid(tender, 0, "108.00")).bid
    await tenders.amend_tender(
        session=session, actor=world.officer, tender_id=tender.id, reason="budget",
        changes={"max_unit_price": Decimal("105.00")},
    )  # fmt: skip
    with pytest.raises(DomainError) as refused:
        await bids.confirm_bid(session=session, actor=world.bidders[0], bid_id=bid.id)
    assert refused.value.problems[0].code == ErrorCode.PRICE_ABOVE_CEILING


async def test_amendments_need_a_change_a_reason_and_a_running_tender(session):
    world = await w.build(session)
    tender = await world.published()
    with pytest.raises(DomainError) as nothing:
        await tenders.amend_tender(
            session=session, actor=world.officer, tender_id=tender.id, reason="x", changes={}
        )
    assert nothing.value.problems[0].code == ErrorCode.INVALID
    with pytest.raises(DomainError) as no_reason:
        await tenders.amend_tender(
            session=session, actor=world.officer, tender_id=tender.id, reason=" ", changes={"title": "t"}
        )
    assert _problems(no_reason) == {(ErrorCode.INVALID, ("reason",))}
    await world.past_deadline(tender)
    with pytest.raises(DomainError) as late:
        await tenders.amend_tender(
            session=session, actor=world.officer, tender_id=tender.id, reason="x", changes={"title": "t"}
        )
    assert late.value.problems[0].code == ErrorCode.DEADLINE_PASSED


async def _amendments(session, tender):
    return (
        await session.scalars(select(m.TenderAmendment).where(m.TenderAmendment.tender_id == tender.id))
    ).all()


CLARIFICATIONS = "query($id: ID!) { node(id: $id) { ... on Tender { clarifications { question answer } } } }"


async def test_answers_are_public_to_all_bidders_and_questions_private_until_answered(session, api):
    world = await w.build(session)
    tender = await world.published()
    asked = await tenders.ask_clarification(
        session=session, actor=world.bidders[0], tender_id=tender.id, question="周末是否需要上门?"
    )
    await tenders.ask_clarification(
        session=session, actor=world.bidders[1], tender_id=tender.id, question="Unanswered question"
    )
    await tenders.answer_clarification(
        session=session, actor=world.officer, clarification_id=asked.id, answer="是, 周末同样提供服务。"
    )
    await session.commit()
    tid = encode_id("Tender", tender.id)

    async def seen_by(key):
        token = await api.login(world.users[key].email, factories.PASSWORD) if key else None
        return (await api(CLARIFICATIONS, {"id": tid}, token=token))["node"]["clarifications"]

    answered = {"question": "周末是否需要上门?", "answer": "是, 周末同样提供服务。"}
    unanswered = {"question": "Unanswered question", "answer": None}
    assert await seen_by(None) == [answered]
    assert await seen_by("bidder2") == [answered]
    assert await seen_by("bidder1") == [answered, unanswered]
    assert await seen_by("officer") == [answered, unanswered]
    assert await seen_by("other_officer") == [answered]
    # Only the officers of the tender answer, once.
    with pytest.raises(DomainError) as other:
        await tenders.answer_clarification(
            session=session, actor=world.other_officer, clarification_id=asked.id, answer="x"
        )
    assert other.value.problems[0].code == ErrorCode.PERMISSION_DENIED
    with pytest.raises(DomainError) as twice:
        await tenders.answer_clarification(
            session=session, actor=world.officer, clarification_id=asked.id, answer="y"
        )
    assert twice.value.problems[0].code == ErrorCode.INVALID_STATE


CLARIFICATION = "query($id: ID!) { node(id: $id) { id ... on Clarification { question answer } } }"


async def test_a_question_is_a_node_under_the_same_rule_as_the_tenders_list(session, api):
    # Given an answered question and an unanswered one, asked by two bidders
    world = await w.build(session)
    tender = await world.published()
    answered = await tenders.ask_clarification(
        session=session, actor=world.bidders[0], tender_id=tender.id, question="Weekends?"
    )
    await tenders.answer_clarification(
        session=session, actor=world.officer, clarification_id=answered.id, answer="Yes"
    )
    unanswered = await tenders.ask_clarification(
        session=session, actor=world.bidders[1], tender_id=tender.id, question="Nights?"
    )
    await session.commit()
    ids = {
        "answered": encode_id("Clarification", answered.id),
        "unanswered": encode_id("Clarification", unanswered.id),
    }

    async def node(key, question):
        token = await api.login(world.users[key].email, factories.PASSWORD) if key else None
        return (await api(CLARIFICATION, {"id": ids[question]}, token=token))["node"]

    # When each caller asks for each question by its ID, then the answered one is public
    for key in (None, "bidder2", "other_officer", "evaluator0", "bidder1"):
        assert await node(key, "answered") == {
            "id": ids["answered"],
            "question": "Weekends?",
            "answer": "Yes",
        }
    # And the unanswered one is seen only by its asker and the tender's officers
    for key in ("bidder1", "officer"):
        assert await node(key, "unanswered") == {
            "id": ids["unanswered"],
            "question": "Nights?",
            "answer": None,
        }
    for key in (None, "bidder0", "bidder2", "other_officer", "evaluator0"):
        assert await node(key, "unanswered") is None, key


async def test_questions_close_with_the_deadline(session):
    world = await w.build(session)
    tender = await world.published()
    await world.past_deadline(tender)
    with pytest.raises(DomainError) as late:
        await tenders.ask_clarification(
            session=session, actor=world.bidders[0], tender_id=tender.id, question="?"
        )
    assert late.value.problems[0].code == ErrorCode.DEADLINE_PASSED
