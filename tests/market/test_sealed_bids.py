"""Sealed bids (SPEC §4.2), through the API: before the opening nobody but the bidding provider learns
anything of a bid, by any query path, not even how many bids exist.

Every bid carries unique strings (price, proposal, global ID, receipt hash); a caller's whole JSON
answer is searched for the strings it may not know. Before the opening the answers must also equal
those given before any bid existed: whatever a caller sees then cannot depend on the bids.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from strawberry import relay

from contracts import lifecycle
from core import api as core_api
from core.api import encode_id
from core.auth import Role
from core.settings import Settings
from demo import marketplace as demo
from market import awards, bids, tenders
from market import models as m
from tests import factories
from tests.market import world as w

TENDER_FIELDS = """
  id status openedAt
  bids {
    id status unitPrice proposal canonicalContent justification receipt { sha256 }
    provider { id legalName } priceScore qualityScore recordScore totalScore rank
  }
  myBid { id status version unitPrice proposal canonicalContent receipt { sha256 } }
  award { bid { id unitPrice proposal } }
  openingRecord { providerName unitPrice receiptSha256 }
"""
LOOK = f"""
query($tender: ID!) {{
  tenders(first: 100) {{ totalCount edges {{ node {{ {TENDER_FIELDS} }} }} }}
  tender: node(id: $tender) {{ id ... on Tender {{ {TENDER_FIELDS} }} }}
  providers(first: 100) {{
    totalCount
    edges {{ node {{ id legalName status qualifications {{ type }} regions {{ code }} }} }}
  }}
}}"""
BID_NODE = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on Bid { status unitPrice proposal canonicalContent receipt { sha256 } tender { id } provider { legalName } }
  }
}"""
E = "errors { field code message }"
CALLERS = ["anonymous", "officer", "other_officer", "evaluator0", "bidder4", "bidder0"]
# bidder4 never bids; bidder3 bids and withdraws; bidder2 amends its bid once.
LIVE = ["bidder0", "bidder1", "bidder2"]


@dataclass
class SealedBid:
    """What a bidder knows of its bid, every version included: nobody else may learn any of it."""

    bid: m.Bid
    prices: list[str] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)

    @property
    def global_id(self) -> str:
        return encode_id("Bid", self.bid.id)

    @property
    def secrets(self) -> list[str]:
        return [*self.prices, *self.proposals, *self.receipts, f'"{self.global_id}"']


@dataclass
class Sealed:
    world: w.World
    api: Any
    tender: m.Tender
    bids: dict[str, SealedBid] = field(default_factory=dict)
    tokens: dict[str, str | None] = field(default_factory=dict)

    async def login(self) -> None:
        """Fresh tokens, after the last clock move (tokens expire 12 h later by the platform clock)."""
        self.tokens = {"anonymous": None}
        for name, user in self.world.users.items():
            self.tokens[name] = await self.api.login(user.email, factories.PASSWORD)

    async def look(self, caller: str) -> dict:
        """Everything a caller can ask about the tender and the providers, in one answer."""
        token = self.tokens[caller]
        data = await self.api(LOOK, {"tender": encode_id("Tender", self.tender.id)}, token=token)
        nodes = {}
        for name, sealed in self.bids.items():
            nodes[name] = (await self.api(BID_NODE, {"id": sealed.global_id}, token=token))["node"]
        return {"queries": data, "bid_nodes": nodes}

    async def bid(self, bidder: str, price: str, proposal: str) -> None:
        submission = await self.world.bid(self.tender, int(bidder[-1]), price, proposal=proposal)
        sealed = self.bids.setdefault(bidder, SealedBid(submission.bid))
        sealed.prices.append(price)
        sealed.proposals.append(proposal)
        sealed.receipts.append(submission.receipt.receipt_sha256)

    def others_secrets(self, caller: str) -> list[str]:
        return [s for name, sealed in self.bids.items() if name != caller for s in sealed.secrets]


def _text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _leaks(data: Any, secrets: list[str]) -> list[str]:
    text = _text(data)
    return [s for s in secrets if s in text]


def _tender_nodes(look: dict) -> list[dict]:
    listed = [e["node"] for e in look["queries"]["tenders"]["edges"]]
    return [*listed, look["queries"]["tender"]]


def _without_my_bid(look: dict) -> dict:
    """The answer with the caller's own bid taken out: what must not depend on the bids."""
    copy = json.loads(_text(look))
    for node in _tender_nodes(copy):
        node["myBid"] = None
    copy["bid_nodes"] = {}
    return copy


async def _sealed(session, api) -> Sealed:
    """A published tender; its bids come later, see `_submit`."""
    world = await w.build(session, bidders=5)
    tender = await world.published()
    await session.commit()
    sealed = Sealed(world=world, api=api, tender=tender)
    await sealed.login()
    return sealed


async def _submit(sealed: Sealed) -> None:
    """Three live bids with unique prices and proposals, one amended, plus one withdrawn bid."""
    await sealed.bid("bidder0", "97.31", "Proposal ALPHA-5521: carers within 2 km")
    await sealed.bid("bidder1", "93.47", "Proposal BRAVO-8830: night shifts covered")
    await sealed.bid("bidder2", "91.13", "Proposal CHARLIE-1207: first draft")
    await sealed.bid("bidder3", "88.59", "Proposal DELTA-4419: withdrawn later")
    await sealed.bid("bidder2", "89.17", "Proposal CHARLIE-1208: amended")
    await bids.withdraw_bid(
        session=sealed.world.session, actor=sealed.world.bidders[3], bid_id=sealed.bids["bidder3"].bid.id
    )
    await sealed.world.session.commit()


def _assert_nothing_learnt(sealed: Sealed, caller: str, before: dict, after: dict) -> None:
    assert _leaks(after, sealed.others_secrets(caller)) == []
    assert _without_my_bid(after) == _without_my_bid(before)
    for node in _tender_nodes(after):
        assert node["bids"] == [] and node["award"] is None and node["openingRecord"] is None
    for name, node in after["bid_nodes"].items():
        if name != caller:
            assert node is None, (caller, name)
    own = sealed.bids.get(caller)
    for node in _tender_nodes(after):
        if own is None:
            assert node["myBid"] is None
        else:
            assert node["myBid"]["id"] == own.global_id
            assert (node["myBid"]["unitPrice"], node["myBid"]["proposal"]) == (
                own.prices[-1],
                own.proposals[-1],
            )
            assert node["myBid"]["receipt"]["sha256"] == own.receipts[-1]
    if own is not None:
        assert after["bid_nodes"][caller]["unitPrice"] == own.prices[-1]


# ---------------------------------------------------------------- before the opening


@pytest.mark.parametrize("caller", CALLERS)
async def test_before_the_opening_a_caller_learns_nothing_of_others_bids(caller, session, api):
    # Given a published tender, and what the caller sees of it while nobody has bid
    sealed = await _sealed(session, api)
    before = await sealed.look(caller)

    # When three providers bid (one amends), a fourth bids and withdraws
    await _submit(sealed)

    # Then the caller's answer is the same as before (except its own bid), and has no other bid's strings
    _assert_nothing_learnt(sealed, caller, before, await sealed.look(caller))

    # And the same after the deadline, until the bids are opened
    await sealed.world.past_deadline(sealed.tender)
    await sealed.login()
    _assert_nothing_learnt(sealed, caller, before, await sealed.look(caller))


async def test_a_withdrawn_bid_stays_readable_by_its_provider_only(session, api):
    sealed = await _sealed(session, api)
    await _submit(sealed)
    withdrawn = sealed.bids["bidder3"]

    look = await sealed.look("bidder3")

    assert look["queries"]["tender"]["myBid"]["status"] == "WITHDRAWN"
    assert look["bid_nodes"]["bidder3"]["status"] == "WITHDRAWN"
    assert _leaks(look, sealed.others_secrets("bidder3")) == []
    for caller in CALLERS:
        assert _leaks(await sealed.look(caller), withdrawn.secrets) == []


MUTATIONS = {
    "withdrawBid": f"mutation($id: ID!) {{ withdrawBid(id: $id) {{ bid {{ id unitPrice }} {E} }} }}",
    "confirmBid": f"mutation($id: ID!) {{ confirmBid(id: $id) {{ bid {{ id unitPrice }} {E} }} }}",
    "justifyBid": f'mutation($id: ID!) {{ justifyBid(bidId: $id, text: "Cheap") {{ bid {{ id }} {E} }} }}',
    "scoreBid": f"mutation($id: ID!) {{ scoreBid(bidId: $id, score: 80) {{ bid {{ id }} {E} }} }}",
    "decideJustification": (
        f"mutation($id: ID!) {{ decideJustification(bidId: $id, accept: true) {{ bid {{ id }} {E} }} }}"
    ),
}
ERROR_CASES = [
    *(
        (mutation, caller)
        for mutation in ("withdrawBid", "confirmBid", "justifyBid")
        for caller in ("bidder1", "bidder4")  # another bidder, a provider that did not bid
    ),
    ("scoreBid", "bidder1"),
    ("scoreBid", "anonymous"),
    ("scoreBid", "evaluator0"),  # on the panel
    ("scoreBid", "officer"),  # owns the tender, not on the panel
    ("scoreBid", "other_officer"),
    ("decideJustification", "officer"),
    ("decideJustification", "other_officer"),
]


@pytest.mark.parametrize("past_deadline", [False, True], ids=["before-deadline", "after-deadline"])
@pytest.mark.parametrize(("mutation", "caller"), ERROR_CASES, ids=[f"{m}-{c}" for m, c in ERROR_CASES])
async def test_a_bid_of_another_provider_answers_like_a_bid_that_does_not_exist(
    mutation, caller, past_deadline, session, api
):
    # Given bidder0's sealed bid (before or after the deadline, not opened), and an ID no bid has
    sealed = await _sealed(session, api)
    await _submit(sealed)
    if past_deadline:
        await sealed.world.past_deadline(sealed.tender)
        await sealed.login()
    token = sealed.tokens[caller]
    real = sealed.bids["bidder0"].global_id
    unknown = encode_id("Bid", sealed.bids["bidder0"].bid.id + 10_000)

    # When the caller acts on each
    on_real = (await api(MUTATIONS[mutation], {"id": real}, token=token))[mutation]
    on_unknown = (await api(MUTATIONS[mutation], {"id": unknown}, token=token))[mutation]

    # Then both answers are the same refusal: nothing says the bid exists
    assert on_real["errors"], on_real
    assert on_real == on_unknown
    assert _leaks(on_real, sealed.others_secrets(caller)) == []


async def test_opening_before_the_deadline_is_too_early_and_counts_nothing(session, api):
    # Given two published tenders of the same officer, one with bids and one without
    sealed = await _sealed(session, api)
    empty = await sealed.world.published()
    await session.commit()
    await _submit(sealed)
    document = f"mutation($id: ID!) {{ openBids(tenderId: $id) {{ tender {{ status }} {E} }} }}"
    token = sealed.tokens["officer"]

    # When the officer tries to open both before the deadline
    with_bids = (await api(document, {"id": encode_id("Tender", sealed.tender.id)}, token=token))["openBids"]
    without = (await api(document, {"id": encode_id("Tender", empty.id)}, token=token))["openBids"]

    # Then both are refused alike, with a message that mentions no number
    assert [e["code"] for e in with_bids["errors"]] == ["TOO_EARLY"]
    assert with_bids == without
    assert not re.search(r"\d", with_bids["errors"][0]["message"])
    assert sealed.tender.status == m.TenderStatus.PUBLISHED


# ---------------------------------------------------------------- after the opening


async def _opened(session, api) -> Sealed:
    sealed = await _sealed(session, api)
    await _submit(sealed)
    await sealed.world.past_deadline(sealed.tender)
    await bids.open_bids(session=session, actor=sealed.world.officer, tender_id=sealed.tender.id)
    await session.commit()
    await sealed.login()
    return sealed


def _names(sealed: Sealed) -> dict[str, str]:
    return {f"bidder{i}": p.legal_name for i, p in enumerate(sealed.world.providers)}


def _assert_opening_record(sealed: Sealed, node: dict) -> None:
    names = _names(sealed)
    record = {(e["providerName"], e["unitPrice"], e["receiptSha256"]) for e in node["openingRecord"]}
    assert record == {(names[b], sealed.bids[b].prices[-1], sealed.bids[b].receipts[-1]) for b in LIVE}
    assert {b["provider"]["legalName"] for b in node["bids"]} == {names[b] for b in LIVE}
    assert {b["id"]: b["unitPrice"] for b in node["bids"]} == {
        sealed.bids[b].global_id: sealed.bids[b].prices[-1] for b in LIVE
    }


@pytest.mark.parametrize("caller", ["officer", "evaluator0"])
async def test_after_the_opening_the_officer_and_the_panel_read_every_live_bid(caller, session, api):
    sealed = await _opened(session, api)

    look = await sealed.look(caller)

    for node in _tender_nodes(look):
        assert node["status"] == "EVALUATING"
        _assert_opening_record(sealed, node)
        proposals = {b["id"]: b["proposal"] for b in node["bids"]}
        assert proposals == {sealed.bids[b].global_id: sealed.bids[b].proposals[-1] for b in LIVE}
    for name in LIVE:
        assert look["bid_nodes"][name]["proposal"] == sealed.bids[name].proposals[-1]
    # A withdrawn bid is never shown to others
    assert look["bid_nodes"]["bidder3"] is None
    assert _leaks(look, sealed.bids["bidder3"].secrets) == []


async def test_after_the_opening_the_officer_checks_every_receipt(session, api):
    sealed = await _opened(session, api)

    look = await sealed.look("officer")

    bids = look["queries"]["tender"]["bids"]
    assert len(bids) == len(LIVE)
    for bid in bids:
        content = bid["canonicalContent"]
        assert bid["proposal"] in json.loads(content)["proposal"]
        assert hashlib.sha256(content.encode()).hexdigest() == bid["receipt"]["sha256"]
    assert {b["receipt"]["sha256"] for b in bids} == {sealed.bids[b].receipts[-1] for b in LIVE}


async def test_after_the_opening_a_bidder_sees_prices_but_not_the_others_proposals(session, api):
    sealed = await _opened(session, api)
    own = sealed.bids["bidder0"]

    look = await sealed.look("bidder0")

    for node in _tender_nodes(look):
        _assert_opening_record(sealed, node)
        for bid in node["bids"]:
            if bid["id"] == own.global_id:
                assert bid["proposal"] == own.proposals[-1]
                sha = hashlib.sha256(bid["canonicalContent"].encode()).hexdigest()
                assert sha == own.receipts[-1]
            else:
                assert (bid["proposal"], bid["canonicalContent"], bid["justification"]) == ("", "", None)
        assert node["myBid"]["id"] == own.global_id
    for name in ("bidder1", "bidder2"):
        node = look["bid_nodes"][name]
        assert node["unitPrice"] == sealed.bids[name].prices[-1]
        assert (node["proposal"], node["canonicalContent"]) == ("", "")
    assert look["bid_nodes"]["bidder3"] is None
    others = [p for name in ("bidder1", "bidder2", "bidder3") for p in sealed.bids[name].proposals]
    assert _leaks(look, others + sealed.bids["bidder3"].secrets) == []


def _public_record(sealed: Sealed, node: dict) -> None:
    """SPEC §7: once the bids are opened, the opening record (bidders, final unit prices, receipts) is
    public; the bids themselves are not."""
    names = _names(sealed)
    record = {(e["providerName"], e["unitPrice"], e["receiptSha256"]) for e in node["openingRecord"]}
    assert record == {(names[b], sealed.bids[b].prices[-1], sealed.bids[b].receipts[-1]) for b in LIVE}


def _unpublished(sealed: Sealed, caller: str) -> list[str]:
    """The others' secrets less what the opening record made public."""
    published = {s for b in LIVE for s in (sealed.bids[b].prices[-1], sealed.bids[b].receipts[-1])}
    return [s for s in sealed.others_secrets(caller) if s not in published]


@pytest.mark.parametrize("caller", ["anonymous", "other_officer", "bidder4"])
async def test_after_the_opening_outsiders_read_the_opening_record_and_nothing_of_the_bids(
    caller, session, api
):
    sealed = await _opened(session, api)

    look = await sealed.look(caller)

    for node in _tender_nodes(look):
        assert node["status"] == "EVALUATING"
        assert (node["bids"], node["award"], node["myBid"]) == ([], None, None)
        _public_record(sealed, node)
    assert all(node is None for node in look["bid_nodes"].values())
    assert _leaks(look, _unpublished(sealed, caller)) == []


async def test_after_the_opening_a_provider_that_withdrew_is_not_a_bidder(session, api):
    sealed = await _opened(session, api)

    look = await sealed.look("bidder3")

    node = look["queries"]["tender"]
    assert node["bids"] == []
    _public_record(sealed, node)
    assert node["myBid"]["status"] == "WITHDRAWN"
    assert _leaks(look, _unpublished(sealed, "bidder3")) == []


@pytest.mark.parametrize(
    ("mutation", "caller"), [("scoreBid", "evaluator0"), ("decideJustification", "officer")]
)
async def test_after_the_opening_a_withdrawn_bid_answers_like_a_bid_that_does_not_exist(
    mutation, caller, session, api
):
    sealed = await _opened(session, api)
    token = sealed.tokens[caller]
    withdrawn = sealed.bids["bidder3"]
    unknown = encode_id("Bid", withdrawn.bid.id + 10_000)

    on_withdrawn = (await api(MUTATIONS[mutation], {"id": withdrawn.global_id}, token=token))[mutation]
    on_unknown = (await api(MUTATIONS[mutation], {"id": unknown}, token=token))[mutation]

    assert [e["code"] for e in on_withdrawn["errors"]] == ["NOT_FOUND"]
    assert on_withdrawn == on_unknown


# ---------------------------------------------------------------- after the award


async def test_after_the_award_the_public_sees_every_score_but_no_proposal(session, api):
    # Given an opened tender, scored, recommended and final after the challenge period
    sealed = await _opened(session, api)
    world, tender = sealed.world, sealed.tender
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 82, 84], 1: [90, 88, 86], 2: [70, 72, 74]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await world.past_challenge(tender)
    await lifecycle.finalize_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    await sealed.login()
    assert tender.status == m.TenderStatus.AWARDED

    # When anonymous callers read the tender
    look = await sealed.look("anonymous")

    # Then they see the live bids with every score and rank, in rank order, but no proposal
    for node in _tender_nodes(look):
        bids = node["bids"]
        assert {b["id"] for b in bids} == {sealed.bids[b].global_id for b in LIVE}
        assert [b["rank"] for b in bids] == [1, 2, 3]
        for bid in bids:
            assert None not in (bid["priceScore"], bid["qualityScore"], bid["recordScore"], bid["totalScore"])
            assert (bid["proposal"], bid["canonicalContent"], bid["justification"]) == ("", "", None)
        assert node["award"]["bid"]["id"] == bids[0]["id"]
        assert node["award"]["bid"]["proposal"] == ""
        assert len(node["openingRecord"]) == len(LIVE)
    proposals = [p for sealed_bid in sealed.bids.values() for p in sealed_bid.proposals]
    assert _leaks(look, proposals + sealed.bids["bidder3"].secrets) == []
    assert look["bid_nodes"]["bidder3"] is None
    assert look["bid_nodes"]["bidder0"]["unitPrice"] == "97.31"


# ---------------------------------------------------------------- IDs


def _sealed_block(global_id: str) -> int:
    type_name, raw = relay.from_base64(global_id)
    assert type_name == "Bid"
    return int.from_bytes(base64.urlsafe_b64decode(raw + "=="), "big")


async def test_a_new_bidders_id_on_the_demo_says_nothing_of_the_bids_before_it(session, api):
    # Given the demo, whose PUBLISHED tender has the sealed bids of 颐康 and 乐龄, and 启明, which has not bid
    await demo.load(session)
    await session.commit()
    tender = await session.scalar(select(m.Tender).where(m.Tender.status == m.TenderStatus.PUBLISHED))
    token = await api.login("qiming@provider.demo.cn", demo.PASSWORDS[Role.PROVIDER])

    # When 启明 bids
    data = await api(
        f"mutation($i: SubmitBidInput!) {{ submitBid(input: $i) {{ bid {{ id }} {E} }} }}",
        {"i": {"tenderId": encode_id("Tender", tender.id), "unitPrice": "100.00", "proposal": "启明 plan"}},
        token=token,
    )

    # Then its ID is not its row number (which counts every bid made before it) nor any number
    global_id = data["submitBid"]["bid"]["id"]
    qiming = await session.scalar(select(m.User).where(m.User.email == "qiming@provider.demo.cn"))
    row = await session.scalar(
        select(m.Bid).where(m.Bid.tender_id == tender.id, m.Bid.provider_id == qiming.provider_id)
    )
    type_name, raw = relay.from_base64(global_id)
    assert (type_name, raw.isdigit()) == ("Bid", False)
    assert global_id != relay.to_base64("Bid", row.id)
    # And one bid fewer before it (the row number one lower) would give an ID just as long and unrelated
    fewer = encode_id("Bid", row.id - 1)
    assert len(fewer) == len(global_id) == len(encode_id("Bid", 1)) == len(encode_id("Bid", 10**9))
    assert 24 <= (_sealed_block(fewer) ^ _sealed_block(global_id)).bit_count() <= 104
    # And the ID still names the bid: 启明 reads it back, as myBid and by node
    look = await api(
        "query($t: ID!, $b: ID!) { node(id: $b) { id } tender: node(id: $t) { ... on Tender { myBid { id } } } }",
        {"t": encode_id("Tender", tender.id), "b": global_id},
        token=token,
    )
    assert look == {"node": {"id": global_id}, "tender": {"myBid": {"id": global_id}}}


def _forged_ids(real: m.Bid, monkeypatch) -> dict[str, str]:
    """IDs no bid has, in every shape a stranger could try."""
    with monkeypatch.context() as patch:
        patch.setattr(core_api, "get_settings", lambda: Settings(secret_key="another-installation-" * 3))
        foreign = encode_id("Bid", real.id)
    block = bytearray(base64.urlsafe_b64decode(relay.from_base64(encode_id("Bid", real.id))[1] + "=="))
    block[-1] ^= 0x80
    return {
        "missing": encode_id("Bid", real.id + 10_000),
        "row-number": relay.to_base64("Bid", real.id),
        "made-up": relay.to_base64("Bid", "A" * 22),
        "other-installation": foreign,
        "bit-flipped": relay.to_base64("Bid", base64.urlsafe_b64encode(bytes(block)).rstrip(b"=").decode()),
    }


NODE = "query($id: ID!) { node(id: $id) { id ... on Bid { status unitPrice } } }"
ID_CALLERS = ["bidder1", "bidder4", "officer", "evaluator0", "anonymous"]


@pytest.mark.parametrize("past_deadline", [False, True], ids=["before-deadline", "after-deadline"])
@pytest.mark.parametrize("caller", ID_CALLERS)
async def test_another_providers_bid_answers_byte_for_byte_like_a_forged_id(
    caller, past_deadline, session, api, monkeypatch
):
    # Given bidder0's sealed bid, not opened, and IDs that no bid has
    sealed = await _sealed(session, api)
    await _submit(sealed)
    if past_deadline:
        await sealed.world.past_deadline(sealed.tender)
        await sealed.login()
    real = sealed.bids["bidder0"]
    forged = _forged_ids(real.bid, monkeypatch)
    headers = {"Authorization": f"Bearer {sealed.tokens[caller]}"} if sealed.tokens[caller] else {}

    for name, document in {"node": NODE, **MUTATIONS}.items():
        # When the caller asks about the real bid and about each forged ID
        on_real = await api.raw(document, {"id": real.global_id}, headers=headers)

        # Then every answer is the same, byte for byte
        assert on_real.status_code == 200
        for shape, other in forged.items():
            on_forged = await api.raw(document, {"id": other}, headers=headers)
            assert on_forged.content == on_real.content, (name, shape, on_real.text, on_forged.text)
        if name == "node":
            assert on_real.json() == {"data": {"node": None}}
        else:
            assert on_real.json()["data"][name]["errors"], on_real.text


async def test_bid_ids_from_the_api_work_in_every_path_that_takes_one(session, api):
    # Given a published tender and four bidders, bidding through the API
    world = await w.build(session)
    tender = await world.published()
    await session.commit()
    sealed = Sealed(world=world, api=api, tender=tender)
    await sealed.login()
    tokens, tender_id = sealed.tokens, encode_id("Tender", tender.id)
    submit = f"mutation($i: SubmitBidInput!) {{ submitBid(input: $i) {{ bid {{ id status version }} {E} }} }}"
    ids = {}
    for i, price in enumerate(["60.00", "100.00", "110.00", "105.00"]):
        variables = {"i": {"tenderId": tender_id, "unitPrice": price, "proposal": f"Plan {i}"}}
        ids[i] = (await api(submit, variables, token=tokens[f"bidder{i}"]))["submitBid"]["bid"]["id"]
    rows = {b.provider_id: b.id for b in await world.bids(tender)}
    for i, global_id in ids.items():
        assert relay.from_base64(global_id) != ("Bid", str(rows[world.providers[i].id]))

    async def call(mutation: str, arguments: str, caller: str, **variables) -> dict:
        document = f"mutation($id: ID!) {{ {mutation}({arguments}) {{ bid {{ id status }} {E} }} }}"
        payload = (await api(document, variables, token=tokens[caller]))[mutation]
        assert payload["errors"] == [], payload
        return payload["bid"]

    # Then each provider reads its bid back by that ID, as myBid and by node
    for i, global_id in ids.items():
        look = await api(
            "query($t: ID!, $b: ID!) { node(id: $b) { id } t: node(id: $t) { ... on Tender { myBid { id } } } }",
            {"t": tender_id, "b": global_id},
            token=tokens[f"bidder{i}"],
        )
        assert look == {"node": {"id": global_id}, "t": {"myBid": {"id": global_id}}}

    # And withdraws it by that ID; bidding again revives the same bid, with the same ID
    assert (await call("withdrawBid", "id: $id", "bidder3", id=ids[3]))["id"] == ids[3]
    again = {"i": {"tenderId": tender_id, "unitPrice": "105.00", "proposal": "Plan 3 again"}}
    assert (await api(submit, again, token=tokens["bidder3"]))["submitBid"]["bid"]["id"] == ids[3]

    # And, after a correction notice, confirms it by that ID
    await tenders.amend_tender(
        session=session,
        actor=world.officer,
        tender_id=tender.id,
        reason="More visits",
        changes={"quantity": 1300},
    )
    await session.commit()
    for i, global_id in ids.items():
        assert (await call("confirmBid", "id: $id", f"bidder{i}", id=global_id))["id"] == global_id

    # When the bids are opened, the officer and the panel see the same IDs
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await world.declare_all(tender)
    await session.commit()
    await sealed.login()
    tokens = sealed.tokens  # new tokens: the clock moved past the old ones' expiry
    listed = await api(
        "query($t: ID!) { node(id: $t) { ... on Tender { bids { id abnormallyLow } } } }",
        {"t": tender_id},
        token=tokens["officer"],
    )
    assert {b["id"]: b["abnormallyLow"] for b in listed["node"]["bids"]} == {
        ids[0]: True, ids[1]: False, ids[2]: False, ids[3]: False
    }  # fmt: skip

    # And the panel scores by them, the low bidder justifies and the officer decides by them
    for evaluator in ("evaluator0", "evaluator1", "evaluator2"):
        for global_id in ids.values():
            scored = await call("scoreBid", "bidId: $id, score: 80", evaluator, id=global_id)
            assert scored["id"] == global_id
    justified = await call(
        "justifyBid", 'bidId: $id, text: "Volunteers cover transport"', "bidder0", id=ids[0]
    )
    assert justified["id"] == ids[0]
    decided = await call("decideJustification", "bidId: $id, accept: true", "officer", id=ids[0])
    assert decided == {"id": ids[0], "status": "VALID"}

    # And the recommended award names one of them
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    award = await api(
        "query($t: ID!) { node(id: $t) { ... on Tender { award { bid { id } } bids { id rank } } } }",
        {"t": tender_id},
        token=tokens["officer"],
    )
    first = next(b["id"] for b in award["node"]["bids"] if b["rank"] == 1)
    assert award["node"]["award"]["bid"]["id"] == first
    assert first in ids.values()


async def test_a_question_id_says_nothing_of_the_questions_before_it(session, api):
    """Unanswered questions are seen only by their asker and the officers: a new question's ID must not
    count them (who else is interested in the tender)."""
    world = await w.build(session)
    tender = await world.published()
    for bidder in world.bidders[:2]:
        await tenders.ask_clarification(
            session=session, actor=bidder, tender_id=tender.id, question="Sundays?"
        )
    await session.commit()
    token = await api.login(world.users["bidder2"].email, factories.PASSWORD)
    data = await api(
        f'mutation($t: ID!) {{ askClarification(tenderId: $t, question: "Holidays?") {{ clarification {{ id }} {E} }} }}',
        {"t": encode_id("Tender", tender.id)},
        token=token,
    )
    global_id = data["askClarification"]["clarification"]["id"]
    row = await session.scalar(select(m.Clarification).where(m.Clarification.question == "Holidays?"))
    type_name, raw = relay.from_base64(global_id)
    assert (type_name, raw.isdigit()) == ("Clarification", False) and global_id == encode_id(
        "Clarification", row.id
    )
    officer = await api.login(world.users["officer"].email, factories.PASSWORD)
    answered = await api(
        f'mutation($id: ID!) {{ answerClarification(id: $id, answer: "Yes") {{ clarification {{ answer }} {E} }} }}',
        {"id": global_id},
        token=officer,
    )
    assert answered["answerClarification"] == {"clarification": {"answer": "Yes"}, "errors": []}
