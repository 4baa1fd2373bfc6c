"""Role and ownership checks of every tender mutation, through the API."""

from dataclasses import dataclass
from typing import Any

import pytest

from contracts import lifecycle as contracts
from core.api import encode_id
from core.auth import Role
from market import awards, challenges, evaluation, tenders
from tests import factories
from tests.market import world as w

ROLES = [None, *Role]
E = "errors { field code message }"


@dataclass
class Case:
    name: str
    document: str
    allowed: Role
    setup: Any  # async (world) -> variables


def _tid(tender):
    return encode_id("Tender", tender.id)


def _bid_id(bid):
    return encode_id("Bid", bid.id)


async def _create(world):
    terms = world.terms()
    return {
        "i": {
            "packageId": encode_id("ServicePackage", terms.package_id),
            "regionId": encode_id("Region", terms.region_id),
            "title": terms.title,
            "quantity": terms.quantity,
            "periods": terms.periods,
            "periodMonths": terms.period_months,
            "startDate": terms.start_date.isoformat(),
            "maxUnitPrice": str(terms.max_unit_price),
            "bidDeadline": terms.bid_deadline.isoformat(),
            "priceWeight": 0.3,
            "qualityWeight": 0.6,
            "recordWeight": 0.1,
            "evaluatorIds": [encode_id("User", e) for e in terms.evaluator_ids],
        }
    }


async def _draft(world):
    return {"id": _tid(await world.draft())}


async def _published(world):
    return {"id": _tid(await world.published())}


async def _question(world):
    tender = await world.published()
    clarification = await tenders.ask_clarification(
        session=world.session, actor=world.bidders[1], tender_id=tender.id, question="Weekend visits?"
    )
    return {"id": encode_id("Clarification", clarification.id)}


async def _bid_input(world):
    tender = await world.published()
    return {"i": {"tenderId": _tid(tender), "unitPrice": "99.00", "proposal": "Our plan"}}


async def _own_bid(world):
    tender = await world.published()
    submission = await world.bid(tender, 0, "99.00")
    return {"id": _bid_id(submission.bid)}


async def _after_deadline(world):
    tender = await world.published()
    for i in range(3):
        await world.bid(tender, i, "100.00")
    await world.past_deadline(tender)
    return {"tenderId": _tid(tender)}


async def _opened(world):
    return await world.opened(["100.00", "98.00", "96.00", "60.00"])


async def _declare(world):
    tender = await _opened(world)
    return {"tenderId": _tid(tender), "providerIds": []}


async def _score(world):
    tender = await _opened(world)
    await world.declare_all(tender)
    bids = await world.bids(tender)
    return {"bidId": _bid_id(bids[1]), "score": 85.0}


async def _justify(world):
    tender = await world.opened(["60.00", "100.00", "98.00", "96.00"])
    bids = await world.bids(tender)
    assert bids[0].abnormally_low
    return {"bidId": _bid_id(bids[0]), "text": "Volunteers from our own network."}


async def _decide(world):
    tender = await _opened(world)
    low = next(b for b in await world.bids(tender) if b.abnormally_low)
    await evaluation.justify_bid(
        session=world.session, actor=world.bidders[3], bid_id=low.id, text="Volunteers."
    )
    return {"bidId": _bid_id(low), "accept": True}


async def _scored(world):
    tender = await world.opened(["100.00", "98.00", "96.00"])
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 80, 80], 1: [70, 70, 70], 2: [60, 60, 60]})
    return tender


async def _rank(world):
    return {"tenderId": _tid(await _scored(world))}


async def _recommended(world):
    tender = await _scored(world)
    await awards.recommend_award(session=world.session, actor=world.officer, tender_id=tender.id)
    return tender


async def _challenge(world):
    return {"tenderId": _tid(await _recommended(world)), "reason": "The winner lacks staff."}


async def _decide_challenge(world):
    tender = await _recommended(world)
    challenge = await challenges.file_challenge(
        session=world.session, actor=world.bidders[1], tender_id=tender.id, reason="The winner lacks staff."
    )
    return {
        "id": encode_id("Challenge", challenge.id),
        "decision": "DISMISSED",
        "note": "Staff lists checked.",
    }


async def _finalize(world):
    tender = await _recommended(world)
    await world.past_challenge(tender)
    return {"tenderId": _tid(tender)}


CASES = [
    Case("createTender", f"mutation($i: CreateTenderInput!) {{ createTender(input: $i) {{ tender {{ id }} {E} }} }}", Role.OFFICER, _create),
    Case("updateTender", f'mutation($id: ID!) {{ updateTender(id: $id, input: {{title: "New title"}}) {{ tender {{ title }} {E} }} }}', Role.OFFICER, _draft),
    Case("publishTender", f"mutation($id: ID!) {{ publishTender(id: $id) {{ tender {{ status }} {E} }} }}", Role.OFFICER, _draft),
    Case("amendTender", f'mutation($id: ID!) {{ amendTender(id: $id, input: {{reason: "typo", title: "Fixed"}}) {{ tender {{ version }} {E} }} }}', Role.OFFICER, _published),
    Case("cancelTender", f'mutation($id: ID!) {{ cancelTender(id: $id, reason: "budget cut") {{ tender {{ status }} {E} }} }}', Role.OFFICER, _draft),
    Case("askClarification", f'mutation($id: ID!) {{ askClarification(tenderId: $id, question: "Weekends?") {{ clarification {{ id }} {E} }} }}', Role.PROVIDER, _published),
    Case("answerClarification", f'mutation($id: ID!) {{ answerClarification(id: $id, answer: "Yes") {{ clarification {{ answer }} {E} }} }}', Role.OFFICER, _question),
    Case("submitBid", f"mutation($i: SubmitBidInput!) {{ submitBid(input: $i) {{ bid {{ id }} receipt {{ sha256 }} {E} }} }}", Role.PROVIDER, _bid_input),
    Case("confirmBid", f"mutation($id: ID!) {{ confirmBid(id: $id) {{ bid {{ version }} {E} }} }}", Role.PROVIDER, _own_bid),
    Case("withdrawBid", f"mutation($id: ID!) {{ withdrawBid(id: $id) {{ bid {{ status }} {E} }} }}", Role.PROVIDER, _own_bid),
    Case("openBids", f"mutation($tenderId: ID!) {{ openBids(tenderId: $tenderId) {{ tender {{ status }} {E} }} }}", Role.OFFICER, _after_deadline),
    Case("declareConflicts", f"mutation($tenderId: ID!, $providerIds: [ID!]!) {{ declareConflicts(tenderId: $tenderId, providerIds: $providerIds) {{ tender {{ id }} {E} }} }}", Role.EVALUATOR, _declare),
    Case("scoreBid", f"mutation($bidId: ID!, $score: Float!) {{ scoreBid(bidId: $bidId, score: $score) {{ bid {{ id }} {E} }} }}", Role.EVALUATOR, _score),
    Case("justifyBid", f"mutation($bidId: ID!, $text: String!) {{ justifyBid(bidId: $bidId, text: $text) {{ bid {{ justification }} {E} }} }}", Role.PROVIDER, _justify),
    Case("decideJustification", f"mutation($bidId: ID!, $accept: Boolean!) {{ decideJustification(bidId: $bidId, accept: $accept) {{ bid {{ status }} {E} }} }}", Role.OFFICER, _decide),
    Case("rankBids", f"mutation($tenderId: ID!) {{ rankBids(tenderId: $tenderId) {{ tender {{ id }} {E} }} }}", Role.OFFICER, _rank),
    Case("recommendAward", f"mutation($tenderId: ID!) {{ recommendAward(tenderId: $tenderId) {{ tender {{ status }} {E} }} }}", Role.OFFICER, _rank),
    Case("fileChallenge", f"mutation($tenderId: ID!, $reason: String!) {{ fileChallenge(tenderId: $tenderId, reason: $reason) {{ challenge {{ id }} {E} }} }}", Role.PROVIDER, _challenge),
    Case("decideChallenge", f"mutation($id: ID!, $decision: ChallengeDecision!, $note: String!) {{ decideChallenge(id: $id, decision: $decision, note: $note) {{ challenge {{ decision }} {E} }} }}", Role.OFFICER, _decide_challenge),
    Case("finalizeAward", f"mutation($tenderId: ID!) {{ finalizeAward(tenderId: $tenderId) {{ contract {{ id }} {E} }} }}", Role.OFFICER, _finalize),
]  # fmt: skip


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_role_check(case, role, session, api):
    user = await factories.user(session, role) if role else None
    world = await w.build(session, acting=user)
    variables = await case.setup(world)
    await session.commit()
    token = await api.login(user.email, factories.PASSWORD) if role else None
    payload = (await api(case.document, variables, token=token))[case.name]
    codes = [e["code"] for e in payload["errors"]]
    if role is None:
        assert codes == ["UNAUTHENTICATED"]
    elif role == case.allowed:
        assert payload["errors"] == []
    else:
        assert codes == ["PERMISSION_DENIED"], payload
    if payload["errors"]:
        assert all(value is None for key, value in payload.items() if key != "errors")


OWNER_ONLY = [c for c in CASES if c.allowed == Role.OFFICER and c.name != "createTender"]


@pytest.mark.parametrize("case", OWNER_ONLY, ids=lambda c: c.name)
async def test_officers_of_another_department_are_refused(case, session, api):
    world = await w.build(session)
    variables = await case.setup(world)
    await session.commit()
    token = await api.login(world.users["other_officer"].email, factories.PASSWORD)
    payload = (await api(case.document, variables, token=token))[case.name]
    codes = [e["code"] for e in payload["errors"]]
    # A draft is invisible outside its department; a published tender is visible but not theirs.
    assert codes in (["PERMISSION_DENIED"], ["NOT_FOUND"]), payload
    if case.setup in (_draft,):
        assert codes == ["NOT_FOUND"]


async def test_a_provider_cannot_touch_another_providers_bid(session, api):
    world = await w.build(session)
    variables = await _own_bid(world)
    await session.commit()
    token = await api.login(world.users["bidder1"].email, factories.PASSWORD)
    for case in (c for c in CASES if c.name in ("confirmBid", "withdrawBid")):
        payload = (await api(case.document, variables, token=token))[case.name]
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]


async def test_only_bidders_may_challenge(session, api):
    outsider = await factories.user(session, Role.PROVIDER)
    world = await w.build(session)
    variables = await _challenge(world)
    await session.commit()
    outsider_token = await api.login(outsider.email, factories.PASSWORD)
    case = next(c for c in CASES if c.name == "fileChallenge")
    payload = (await api(case.document, variables, token=outsider_token))[case.name]
    assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]


async def test_finalize_award_contract_is_readable(session, api):
    world = await w.build(session)
    variables = await _finalize(world)
    await session.commit()
    token = await api.login(world.users["officer"].email, factories.PASSWORD)
    case = next(c for c in CASES if c.name == "finalizeAward")
    assert (await api(case.document, variables, token=token))[case.name]["errors"] == []
    assert contracts is not None
