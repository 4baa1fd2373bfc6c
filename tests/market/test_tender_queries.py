"""The `tenders` list and `node(id:)` for tenders: statement counts, filters, drafts, order, pages."""

from __future__ import annotations

import pytest

from core.api import encode_id
from core.auth import Role
from market import awards, bids, evaluation, tenders
from tests import factories
from tests.market import world as w

PAGE = """
query($n: Int!) {
  tenders(first: $n) {
    totalCount
    edges { node {
      title status
      package { code kpis { name } }
      region { code }
      department { name }
      bids { unitPrice provider { legalName qualifications { type } } }
      kpis { name }
      award { bid { id } }
    } }
  }
}"""


async def _opened_tenders(world: w.World, count: int) -> list:
    """`count` opened tenders with 3 or 4 bids each; every fourth one recommended (so it has an award)."""
    tenders = [await world.published(title=f"Tender {i:02d}") for i in range(count)]
    for i, tender in enumerate(tenders):
        for bidder in range(3 + i % 2):
            await world.bid(tender, bidder, f"{90 + bidder}.{i:02d}")
    await world.past_deadline(tenders[0])  # one deadline for all: the clock moves once
    for i, tender in enumerate(tenders):
        await bids.open_bids(session=world.session, actor=world.officer, tender_id=tender.id)
        if i % 4 == 3:
            await world.declare_all(tender)
            bidders = range(3 + i % 2)
            await world.score_all(tender, {b: [70.0 + b, 75.0, 80.0] for b in bidders})
            await awards.recommend_award(session=world.session, actor=world.officer, tender_id=tender.id)
    await world.session.commit()
    return tenders


@pytest.mark.uncached
@pytest.mark.parametrize("caller", ["officer", "bidder0"])
async def test_a_page_of_tenders_runs_as_many_statements_for_3_as_for_12(caller, session, api, statements):
    # Given 12 opened tenders with their bids, some with an award, readable by the caller
    world = await w.build(session)
    await _opened_tenders(world, 12)
    token = await api.login(world.users[caller].email, factories.PASSWORD)

    # When the caller reads a page of 3, then a page of 12, with everything below each tender
    counts = {}
    for n in (3, 12):
        with statements:
            data = await api(PAGE, {"n": n}, token=token)
        counts[n] = statements.count
        edges = data["tenders"]["edges"]
        assert len(edges) == n
        assert all(len(e["node"]["bids"]) in (3, 4) for e in edges)
        assert all(e["node"]["bids"][0]["provider"]["qualifications"] for e in edges)
        assert all(len(e["node"]["kpis"]) == 3 for e in edges)
    assert sum(e["node"]["award"] is not None for e in edges) == 3

    # Then the count does not grow with the page: one statement per kind of thing, not per tender
    assert counts[3] == counts[12]
    # Measured 13 on SQLite and PostgreSQL: clock offset, actor, count, page, packages, package KPIs,
    # regions, departments, tender KPIs, visible bids (the officer's panel seats or the provider's
    # own bids, then the bids; the tenders come from the session's identity map), providers,
    # qualifications.
    assert counts[12] == 13, counts


PANEL = (
    "query($id: ID!) { node(id: $id) { ... on Tender { panel { evaluator { email } declared removed } } } }"
)


async def test_only_the_tenders_officers_see_its_panel(session, api):
    # Given an opened tender whose first evaluator declared a conflict and whose second declared none
    world = await w.build(session)
    tender = await world.opened(["100.00", "95.00", "90.00"])
    await evaluation.declare_conflicts(
        session=session, actor=world.evaluators[0], tender_id=tender.id, provider_ids=[world.providers[1].id]
    )
    await evaluation.declare_conflicts(
        session=session, actor=world.evaluators[1], tender_id=tender.id, provider_ids=[]
    )
    await session.commit()

    async def panel(key):
        token = await api.login(world.users[key].email, factories.PASSWORD) if key else None
        seats = (await api(PANEL, {"id": encode_id("Tender", tender.id)}, token=token))["node"]["panel"]
        return sorted((s["evaluator"]["email"], s["declared"], s["removed"]) for s in seats)

    # When the tender's officer reads the panel, then every seat is there with its declaration
    emails = [world.users[f"evaluator{i}"].email for i in range(3)]
    assert await panel("officer") == sorted(
        [(emails[0], True, True), (emails[1], True, False), (emails[2], False, False)]
    )
    # And nobody else sees it: the panel itself, another department's officer, a bidder, the public
    for key in ("evaluator0", "other_officer", "bidder0", None):
        assert await panel(key) == [], key


# ---------------------------------------------------------------- filters, drafts, order, pages

LIST = """
query($status: TenderStatus, $regionId: ID, $packageId: ID, $first: Int, $after: String) {
  tenders(status: $status, regionId: $regionId, packageId: $packageId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title status } }
  }
}"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Tender { title status } } }"


async def _market(session, api):
    """Tenders of every kind, made in this order (so newest first is the reverse):

    draft (region A, package A), a (A, A), b (region B), c (package B), cancelled (B, B),
    other-draft (another department), evaluating (A, A).
    """
    world = await w.build(session)
    region_b = await factories.region(session)
    package_b = await factories.package(session)
    made = {"draft": await world.draft(title="draft")}
    made["a"] = await world.published(title="a")
    made["b"] = await world.published(title="b", region_id=region_b.id)
    made["c"] = await world.published(title="c", package_id=package_b.id)
    made["cancelled"] = await world.published(
        title="cancelled", region_id=region_b.id, package_id=package_b.id
    )
    await tenders.cancel_tender(
        session=session, actor=world.officer, tender_id=made["cancelled"].id, reason="Budget cut"
    )
    made["other-draft"] = await tenders.create_tender(
        session=session, actor=world.other_officer, terms=world.terms(title="other-draft")
    )
    made["evaluating"] = await world.opened(["100.00", "98.00", "96.00"], title="evaluating")
    colleague = await factories.user(session, Role.OFFICER, department_id=world.officer.department_id)
    await session.commit()
    tokens = {"anonymous": None, "colleague": await api.login(colleague.email, factories.PASSWORD)}
    for name in ("officer", "other_officer", "evaluator0", "bidder0"):
        tokens[name] = await api.login(world.users[name].email, factories.PASSWORD)
    ids = {
        "regionA": encode_id("Region", world.region.id),
        "regionB": encode_id("Region", region_b.id),
        "packageA": encode_id("ServicePackage", world.package.id),
        "packageB": encode_id("ServicePackage", package_b.id),
    }
    return world, made, tokens, ids


async def _titles(api, token, **variables) -> list[str]:
    data = (await api(LIST, {"first": 100, **variables}, token=token))["tenders"]
    titles = [e["node"]["title"] for e in data["edges"]]
    assert data["totalCount"] == len(titles)
    return titles


PUBLIC = ["evaluating", "cancelled", "c", "b", "a"]


async def test_newest_first_and_drafts_only_for_their_department(session, api):
    _world, _made, tokens, _ids = await _market(session, api)

    assert await _titles(api, tokens["officer"]) == ["evaluating", "cancelled", "c", "b", "a", "draft"]
    assert await _titles(api, tokens["colleague"]) == ["evaluating", "cancelled", "c", "b", "a", "draft"]
    assert await _titles(api, tokens["other_officer"]) == [
        "evaluating",
        "other-draft",
        "cancelled",
        "c",
        "b",
        "a",
    ]
    for caller in ("anonymous", "evaluator0", "bidder0"):
        assert await _titles(api, tokens[caller]) == PUBLIC, caller


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("officer", True),
        ("colleague", True),
        ("other_officer", False),
        ("anonymous", False),
        ("evaluator0", False),
        ("bidder0", False),
    ],
)
async def test_a_draft_node_is_null_outside_its_department(caller, visible, session, api):
    _world, made, tokens, _ids = await _market(session, api)
    draft_id = encode_id("Tender", made["draft"].id)

    node = (await api(NODE, {"id": draft_id}, token=tokens[caller]))["node"]
    drafts = await _titles(api, tokens[caller], status="DRAFT")

    if visible:
        assert node == {"id": draft_id, "title": "draft", "status": "DRAFT"}
        assert drafts == ["draft"]
    else:
        assert node is None
        assert "draft" not in drafts
    published = (await api(NODE, {"id": encode_id("Tender", made["a"].id)}, token=tokens[caller]))["node"]
    assert published["title"] == "a"


async def test_filters_by_status_region_and_package(session, api):
    _world, _made, tokens, ids = await _market(session, api)
    officer = tokens["officer"]

    assert await _titles(api, officer, status="PUBLISHED") == ["c", "b", "a"]
    assert await _titles(api, officer, status="EVALUATING") == ["evaluating"]
    assert await _titles(api, officer, status="CANCELLED") == ["cancelled"]
    assert await _titles(api, officer, status="AWARDED") == []
    assert await _titles(api, officer, regionId=ids["regionB"]) == ["cancelled", "b"]
    assert await _titles(api, officer, packageId=ids["packageB"]) == ["cancelled", "c"]
    assert await _titles(api, officer, regionId=ids["regionA"], packageId=ids["packageA"]) == [
        "evaluating",
        "a",
        "draft",
    ]
    assert await _titles(
        api, officer, status="PUBLISHED", regionId=ids["regionA"], packageId=ids["packageA"]
    ) == ["a"]
    assert await _titles(api, None, regionId=ids["regionA"], packageId=ids["packageA"]) == ["evaluating", "a"]
    assert await _titles(api, tokens["other_officer"], status="DRAFT") == ["other-draft"]


async def test_pages_follow_the_cursor_to_the_end(session, api):
    _world, _made, _tokens, _ids = await _market(session, api)

    pages, after = [], None
    while True:
        data = (await api(LIST, {"first": 2, "after": after}))["tenders"]
        pages.append(data)
        after = data["pageInfo"]["endCursor"]
        if not data["pageInfo"]["hasNextPage"]:
            break

    assert [[e["node"]["title"] for e in p["edges"]] for p in pages] == [
        ["evaluating", "cancelled"],
        ["c", "b"],
        ["a"],
    ]
    assert [p["totalCount"] for p in pages] == [5, 5, 5]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert all(p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"] for p in pages)
    exact = (await api(LIST, {"first": 5}))["tenders"]
    assert exact["pageInfo"]["hasNextPage"] is False and len(exact["edges"]) == 5


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": 101}, "INVALID"),
        ({"first": -1}, "INVALID"),
        ({"first": 2, "after": "not a cursor"}, "INVALID"),
        ({"regionId": "not an id"}, "INVALID"),
    ],
    ids=["first-101", "first-negative", "bad-cursor", "bad-region-id"],
)
async def test_bad_arguments_are_an_error_with_a_code(variables, code, session, api):
    await _market(session, api)

    response = await api.raw(LIST, variables)

    body = response.json()
    assert body["data"] is None or body["data"]["tenders"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_a_page_of_100_is_allowed(session, api):
    await _market(session, api)

    data = (await api(LIST, {"first": 100}))["tenders"]

    assert len(data["edges"]) == 5 and data["pageInfo"]["hasNextPage"] is False
