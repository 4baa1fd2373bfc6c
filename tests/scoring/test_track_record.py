"""Stars feed the track-record score of later tenders (SPEC §4.3), through the app as it starts:
`create_app` installs the scoring domain's lookup into the market's evaluation, and ranking a tender
reads the certificate in effect at its bid deadline (4★ → 90, unrated → 80, 2★ → 60)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

import app as application
from core.api import encode_id
from core.settings import get_settings
from market import evaluation
from scoring import certification
from tests import factories
from tests.conftest import Api
from tests.contracts import world as cw
from tests.scoring import cert_world as sw

DAY = dt.timedelta(days=1)
RANK = """mutation($t: ID!) { rankBids(tenderId: $t) {
  tender { bids { recordScore provider { id } } } errors { code message } } }"""


@pytest.fixture
async def started(sessionmaker, monkeypatch):
    """The API of an app started from scratch: no lookup installed before `create_app` runs."""
    monkeypatch.setattr(evaluation, "track_record_stars", evaluation._no_certificates)
    asgi = application.create_app(settings=get_settings(), sessionmaker=sessionmaker)
    assert evaluation.track_record_stars is certification.stars_at
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test") as client:
        yield Api(client)


async def contract_world(session) -> cw.ContractWorld:
    """A contract 200 days into its term (two quarters over), the bidders' licences still valid."""
    return await cw.build(session, start_in_days=200)


async def certify(world, composite: float, *, version: int = 1) -> None:
    """Two finished periods of the contract at `composite`, 15 ratings each; a run as of today."""
    d = await world.today()
    for index, ends in ((1, dt.date(2030, 3, 31)), (2, dt.date(2030, 6, 30))):
        await sw.scorecard(
            world, period_index=index, ends_on=ends, composite=composite, ratings=15, version=version
        )
    await sw.run(world, d)


async def new_tender(world):
    """A tender all four providers bid on, opened, declared and scored by the panel: ready to rank."""
    market = world.market
    tender = await market.opened(
        ["100.00", "98.00", "96.00", "99.00"],
        bid_deadline=await market.now() + 20 * DAY,
        start_date=dt.date(2031, 1, 1),
    )
    await market.declare_all(tender)
    await market.score_all(tender, {i: [80, 80, 80] for i in range(4)})
    await world.session.commit()
    return tender


async def record_scores(api, world, tender) -> dict[int, float]:
    token = await api.login(world.users["officer"].email, factories.PASSWORD)
    payload = (await api(RANK, {"t": encode_id("Tender", tender.id)}, token=token))["rankBids"]
    assert payload["errors"] == []
    ids = {encode_id("Provider", p.id): p.id for p in world.market.providers}
    return {ids[b["provider"]["id"]]: b["recordScore"] for b in payload["tender"]["bids"]}


async def test_a_new_tender_reads_the_stars_of_a_certificate_issued_before_its_deadline(session, started):
    world = await contract_world(session)
    await certify(world, 85.0)  # 4★
    tender = await new_tender(world)
    scores = await record_scores(started, world, tender)
    certified = world.contract.provider_id
    assert scores.pop(certified) == 90.0
    assert set(scores.values()) == {80.0}  # the others: unrated certificates


async def test_a_certificate_issued_after_the_deadline_is_not_used(session, started):
    world = await contract_world(session)
    tender = await new_tender(world)  # its deadline has passed: it is opened
    await certify(world, 85.0)  # 4★, issued after the deadline
    scores = await record_scores(started, world, tender)
    assert scores[world.contract.provider_id] == 80.0


async def test_the_certificate_in_effect_at_the_deadline_wins_over_a_newer_one(session, started):
    world = await contract_world(session)
    await certify(world, 65.0)  # 2★ before the deadline
    tender = await new_tender(world)
    await certify(world, 95.0, version=2)  # 5★ after it, the same date's run corrected
    current = await certification.current_certificates(session, [world.contract.provider_id])
    assert current[world.contract.provider_id].stars == 5
    scores = await record_scores(started, world, tender)
    assert scores[world.contract.provider_id] == 60.0
