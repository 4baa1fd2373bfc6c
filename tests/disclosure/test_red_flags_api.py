"""`Tender.redFlags` through the API: who sees them when, and what a page of tenders costs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from contracts import lifecycle
from core.api import encode_id
from core.auth import Actor, Role
from disclosure.red_flags import access
from market import awards, bids
from market import models as m
from tests import factories
from tests.disclosure import red_flag_world as rw
from tests.market import world as w

FLAGS = """
query($id: ID!) {
  node(id: $id) {
    ... on Tender {
      status
      redFlags {
        code title scope unit value comparison threshold
        figures { name unit value }
        providers { legalName }
      }
    }
  }
}"""

CALLERS = ("anonymous", "officer", "other_officer", "evaluator0", "bidder0", "bidder1")


async def _flags_by_caller(api, world: w.World, tender: m.Tender) -> dict[str, list | None]:
    tokens = {name: await api.login(world.users[name].email, factories.PASSWORD) for name in CALLERS[1:]}
    found = {}
    for caller in CALLERS:
        data = await api(FLAGS, {"id": encode_id("Tender", tender.id)}, token=tokens.get(caller))
        found[caller] = data["node"]["redFlags"]
    return found


async def test_officers_see_the_flags_from_the_opening_everyone_once_the_award_is_final(session, api):
    # Given a tender with a ceiling of 100.00 and bids of 100.00, 95.00 and 90.00: the panel's scores make
    # 95.00 win (see tests/market/test_award.py), 95% of the ceiling: NEAR_CEILING
    world = await w.build(session)
    await session.commit()
    tender = await world.published(max_unit_price=Decimal("100.00"))
    for bidder, price in enumerate(("100.00", "95.00", "90.00")):
        await world.bid(tender, bidder, price)

    # While the bids are sealed nobody sees flags
    assert set((await _flags_by_caller(api, world, tender)).values()) == {None}

    # Once opened, the tender's officers see them (none yet: there is no award to weigh)
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    opened = await _flags_by_caller(api, world, tender)
    assert opened.pop("officer") == []
    assert set(opened.values()) == {None}

    # Recommended: the officers see what the award would carry; nobody else yet
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 80, 80], 1: [85, 85, 85], 2: [70, 70, 70]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    pending = await _flags_by_caller(api, world, tender)
    winner = world.providers[1].legal_name
    expected = [
        {
            "code": "NEAR_CEILING",
            "title": "Winning price near the ceiling",
            "scope": "PROCESS",
            "unit": "RATIO",
            "value": "0.9500",
            "comparison": "AT_LEAST",
            "threshold": "0.9500",
            "figures": [
                {"name": "winningBid", "unit": "CNY", "value": "95.00"},
                {"name": "maxUnitPrice", "unit": "CNY", "value": "100.00"},
            ],
            "providers": [{"legalName": winner}],
        }
    ]
    assert pending.pop("officer") == expected
    assert set(pending.values()) == {None}

    # Final: everyone sees them, the public included
    await world.past_challenge(tender)
    await lifecycle.finalize_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    final = await _flags_by_caller(api, world, tender)
    assert all(flags == expected for flags in final.values()), final


# ---------------------------------------------------------------- the rule and its clause agree


async def test_the_visibility_predicate_and_its_clause_agree(session):
    market = await rw.build(session)
    made = [
        await market.tender([(0, "100.00")], status=m.TenderStatus.PUBLISHED, opened=False, winner=None),
        await market.tender([(0, "100.00")], status=m.TenderStatus.EVALUATING, ranked=False),
        await market.tender([(0, "100.00")], status=m.TenderStatus.EVALUATING),
        await market.tender([(0, "100.00")], status=m.TenderStatus.UNSUCCESSFUL, winner=None),
        await market.tender([(0, "100.00")], status=m.TenderStatus.CANCELLED, opened=False, winner=None),
        await market.tender([(0, "100.00")], status=m.TenderStatus.AWARD_PENDING),
        await market.tender([(0, "100.00")], status=m.TenderStatus.AWARDED),
        await market.tender([(0, "100.00")], status=m.TenderStatus.AWARD_PENDING, department=1),
    ]
    actors = [
        None,
        Actor(user_id=1, role=Role.OFFICER, department_id=market.departments[0].id),
        Actor(user_id=2, role=Role.OFFICER, department_id=market.departments[1].id),
        Actor(user_id=3, role=Role.ADMIN),
        Actor(user_id=4, role=Role.EVALUATOR),
        Actor(user_id=5, role=Role.PROVIDER, provider_id=market.provider_id(0)),
    ]
    ids = [t.id for t in made]
    for actor in actors:
        by_clause = set(
            (
                await session.scalars(
                    select(m.Tender.id).where(m.Tender.id.in_(ids), access.red_flags_visible_clause(actor))
                )
            ).all()
        )
        by_predicate = {t.id for t in made if access.can_see_red_flags(actor, t)}
        assert by_clause == by_predicate, actor
    officer = actors[1]
    assert {t.status for t in made if access.can_see_red_flags(officer, t)} == {
        m.TenderStatus.EVALUATING,
        m.TenderStatus.UNSUCCESSFUL,
        m.TenderStatus.AWARD_PENDING,
        m.TenderStatus.AWARDED,
    }
    assert [t.status for t in made if access.can_see_red_flags(None, t)] == [m.TenderStatus.AWARDED]


# ---------------------------------------------------------------- no N+1

PAGE = """
query($n: Int!) {
  tenders(first: $n) {
    edges { node { title redFlags { code value figures { name value } providers { legalName } } } }
  }
}"""


@pytest.mark.uncached
async def test_a_page_of_flagged_tenders_runs_as_many_statements_for_3_as_for_12(session, api, statements):
    # Given 12 awarded tenders, two bidders taking turns, some at one price, a third disqualified
    market = await rw.build(session, providers=3)
    for i in range(12):
        second = "100.00" if i % 3 == 0 else f"10{i % 10}.50"
        await market.tender(
            [(i % 2, "100.00"), ((i + 1) % 2, second), (2, "99.00", rw.INVALID)], winner=i % 2
        )
    await session.commit()

    counts = {}
    for n in (3, 12):
        with statements:
            data = await api(PAGE, {"n": n})
        counts[n] = statements.count
        edges = data["tenders"]["edges"]
        assert len(edges) == n
        flagged = {flag["code"] for e in edges for flag in e["node"]["redFlags"]}
        assert {"R028", "R036", "WIN_ROTATION"} <= flagged, flagged
        assert all(
            flag["providers"] for e in edges for flag in e["node"]["redFlags"] if flag["code"] == "R028"
        )

    # Then the count does not grow with the page
    assert counts[3] == counts[12], counts
    # Measured: count + page, the tenders' figures, the three quartile fences (second-lowest-bid ratios,
    # departments' and bidders' disqualification records; too few departments and bidders here for an
    # R038 fence, so their records are not read), identical prices, rotations, the flags' providers
    assert counts[12] == 9, counts
