"""The resident's link (SPEC §5.3-5.4): its token, its 30 days, disputes, ratings and the abuse rules."""

import asyncio
import base64
import datetime as dt
import hashlib
import json
import math
import random

import httpx
import pytest
from sqlalchemy import func, select

import app as application
from contracts import audits, deliveries, ratings
from contracts import models as cm
from core import clock
from core.api import encode_id
from core.db import create_sessionmaker
from core.errors import DomainError
from core.models import JournalEvent
from core.settings import get_settings
from tests import factories
from tests.contracts import world as cw

E = "errors { field code message }"
VIEW = "serviceName providerName deliveredOn units disputed ratingEditableUntil disputeUntil linkValidUntil"
RATING = "rating { stars timeliness attitude professionalism comment flagged flagReason createdAt }"
RESIDENT = f"query($t: String!) {{ residentDelivery(token: $t) {{ {VIEW} {RATING} }} }}"
RATE = (
    f"mutation($i: RateDeliveryInput!) {{ rateDelivery(input: $i) {{ delivery {{ {VIEW} {RATING} }} {E} }} }}"
)
DISPUTE = f"mutation($t: String!, $r: String!) {{ disputeDelivery(token: $t, reason: $r) {{ delivery {{ disputed }} {E} }} }}"
COMPLAIN = (
    f"mutation($i: FileComplaintInput!) {{ fileComplaint(input: $i) {{ complaint {{ id channel }} {E} }} }}"
)
DELIVERY = (
    f"query($id: ID!) {{ node(id: $id) {{ ... on Delivery {{ disputed markedFalse verified {RATING} }} }} }}"
)
HOUR = 3600
DAY = 86400


async def _at(world, moment: dt.datetime) -> None:
    """Move the clock to `moment` (or up to a second past it: the test clock moves by whole seconds)."""
    await world.advance(math.ceil((moment - await world.now()).total_seconds()))


async def _refused(session, call) -> list[tuple[str, tuple | None]]:
    with pytest.raises(DomainError) as raised:
        await call
    await session.rollback()
    return [(p.code.value, p.field) for p in raised.value.problems]


async def _rate(session, token, stars=4, address=None, **dimensions):
    view = await ratings.rate_delivery(
        session=session, token=token, rating=ratings.Stars(stars, **dimensions), client_address=address
    )
    await session.commit()
    return view


async def _link_actions(api, token: str) -> dict[str, list]:
    """The errors of the three link mutations and of the resident's page for `token`."""
    rate = (await api(RATE, {"i": {"token": token, "stars": 5}}))["rateDelivery"]
    complain = (await api(COMPLAIN, {"i": {"token": token, "category": "ATTITUDE", "text": "迟到"}}))[
        "fileComplaint"
    ]
    dispute = (await api(DISPUTE, {"t": token, "r": "没有上门"}))["disputeDelivery"]
    page = (await api.raw(RESIDENT, {"t": token})).json()
    return {
        "rateDelivery": [(e["code"], e["field"]) for e in rate["errors"]],
        "fileComplaint": [(e["code"], e["field"]) for e in complain["errors"]],
        "disputeDelivery": [(e["code"], e["field"]) for e in dispute["errors"]],
        "residentDelivery": [e["extensions"]["code"] for e in page.get("errors", [])],
    }


# ---------------------------------------------------------------- the token


async def test_each_link_has_its_own_unguessable_token_stored_hashed(session):
    world = await cw.build(session, start_in_days=10)
    recorded = [await world.deliver(phone=cw.PHONE) for _ in range(4)]
    tokens = [token for _delivery, token in recorded]
    assert len(set(tokens)) == 4
    for delivery, token in recorded:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
        assert delivery.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Random, not a counter or a timestamp: no two tokens share more than a chance prefix.
    assert max(len(_common_prefix(a, b)) for a in tokens for b in tokens if a != b) < 6


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


async def test_the_link_works_30_days_less_a_minute_and_expires_after_30_days(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    assert delivery.token_expires_at == delivery.recorded_at + dt.timedelta(days=30)
    await _at(world, delivery.token_expires_at - dt.timedelta(minutes=1))
    errors = await _link_actions(api, token)
    assert errors == {
        "rateDelivery": [],
        "fileComplaint": [],
        # The link still opens; only the 7 days to dispute are over.
        "disputeDelivery": [("DEADLINE_PASSED", None)],
        "residentDelivery": [],
    }
    page = (await api(RESIDENT, {"t": token}))["residentDelivery"]
    assert page["rating"]["stars"] == 5
    assert dt.datetime.fromisoformat(page["linkValidUntil"]) == delivery.token_expires_at

    await _at(world, delivery.token_expires_at + dt.timedelta(seconds=1))
    expired = [("TOKEN_EXPIRED", ["token"])]
    assert await _link_actions(api, token) == {
        "rateDelivery": expired,
        "fileComplaint": expired,
        "disputeDelivery": expired,
        "residentDelivery": ["TOKEN_EXPIRED"],
    }
    # Nothing was written through the expired link.
    assert await session.scalar(select(func.count()).select_from(cm.Complaint)) == 1


@pytest.mark.parametrize("kind", ["unknown", "one character changed", "empty", "the hash"])
async def test_a_wrong_token_is_invalid(session, api, kind):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    wrong = {
        "unknown": "x" * 43,
        "one character changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "empty": "",
        "the hash": delivery.token_hash,
    }[kind]
    invalid = [("TOKEN_INVALID", ["token"])]
    assert await _link_actions(api, wrong) == {
        "rateDelivery": invalid,
        "fileComplaint": invalid,
        "disputeDelivery": invalid,
        "residentDelivery": ["TOKEN_INVALID"],
    }
    await session.refresh(delivery)
    assert delivery.disputed_at is None
    assert await session.get(cm.Rating, delivery.id) is None


# ---------------------------------------------------------------- disputes


async def test_a_dispute_is_possible_until_the_end_of_the_7th_day_in_shanghai(session):
    world = await cw.build(session, start_in_days=10)
    day = await world.today() - dt.timedelta(days=2)
    delivery, token = await world.deliver(on=day)
    zone = get_settings().zone
    end = dt.datetime.combine(day + dt.timedelta(days=8), dt.time(0), tzinfo=zone)
    assert deliveries.dispute_deadline(delivery) == end
    await _at(world, end - dt.timedelta(minutes=1))  # 23:59 on the 7th day after, in Shanghai
    view = await deliveries.dispute_delivery(session=session, token=token, reason="没有上门")
    await session.commit()
    assert view.delivery.disputed_at is not None and view.delivery.dispute_reason == "没有上门"


async def test_after_the_7th_day_a_dispute_is_too_late(session):
    world = await cw.build(session, start_in_days=10)
    day = await world.today() - dt.timedelta(days=2)
    delivery, token = await world.deliver(on=day)
    end = dt.datetime.combine(day + dt.timedelta(days=8), dt.time(0), tzinfo=get_settings().zone)
    # Midnight in Shanghai is 16:00 UTC the day before: a UTC day would still allow it.
    await _at(world, end + dt.timedelta(seconds=30))
    assert await _refused(session, deliveries.dispute_delivery(session=session, token=token, reason="x")) == [
        ("DEADLINE_PASSED", None)
    ]
    await session.refresh(delivery)
    assert delivery.disputed_at is None and deliveries.is_verified(delivery)


async def test_a_delivery_is_disputed_once(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    first = (await api(DISPUTE, {"t": token, "r": "没有上门"}))["disputeDelivery"]
    assert first == {"delivery": {"disputed": True}, "errors": []}
    again = (await api(DISPUTE, {"t": token, "r": "again"}))["disputeDelivery"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"] and again["delivery"] is None
    await session.refresh(delivery)
    assert delivery.dispute_reason == "没有上门"


async def _delivery_as_officer(world, api, delivery):
    officer = await api.login(world.users["officer"].email, factories.PASSWORD)
    return (await api(DELIVERY, {"id": encode_id("Delivery", delivery.id)}, token=officer))["node"]


async def test_verified_unless_disputed(session, api):
    world = await cw.build(session, start_in_days=10)
    kept, _ = await world.deliver()
    disputed, token = await world.deliver()
    await deliveries.dispute_delivery(session=session, token=token, reason="没有上门")
    await session.commit()
    assert await _delivery_as_officer(world, api, kept) == {
        "disputed": False, "markedFalse": False, "verified": True, "rating": None,
    }  # fmt: skip
    assert await _delivery_as_officer(world, api, disputed) == {
        "disputed": True, "markedFalse": False, "verified": False, "rating": None,
    }  # fmt: skip


async def test_not_verified_once_an_auditor_marks_it_false(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, _token = await world.deliver()
    other, _ = await world.deliver()
    audit = await audits.create_audit(
        session=session, actor=world.auditor, contract_id=world.contract.id, period_index=1
    )
    await audits.mark_delivery_false(
        session=session, actor=world.auditor, audit_id=audit.id, delivery_id=delivery.id
    )
    await session.commit()
    assert (await _delivery_as_officer(world, api, delivery))["verified"] is False
    assert (await _delivery_as_officer(world, api, delivery))["markedFalse"] is True
    assert (await _delivery_as_officer(world, api, other))["verified"] is True


# ---------------------------------------------------------------- ratings


async def test_a_rating_can_be_changed_within_48_hours_then_it_is_final(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    first = await _rate(session, token, 2, timeliness=1, comment="迟到")
    created_at = first.rating.created_at
    assert first.rating_editable_until == created_at + dt.timedelta(hours=48)

    await _at(world, created_at + dt.timedelta(hours=48) - dt.timedelta(minutes=1))
    changed = (await api(RATE, {"i": {"token": token, "stars": 4, "attitude": 5}}))["rateDelivery"]
    assert changed["errors"] == []
    rating = changed["delivery"]["rating"]
    assert (rating["stars"], rating["timeliness"], rating["attitude"], rating["comment"]) == (
        4,
        None,
        5,
        None,
    )
    assert dt.datetime.fromisoformat(rating["createdAt"]) == created_at
    row = await session.get(cm.Rating, delivery.id, populate_existing=True)
    assert (row.stars, row.created_at) == (4, created_at) and row.updated_at > created_at

    await _at(world, created_at + dt.timedelta(hours=48, seconds=1))
    final = (await api(RATE, {"i": {"token": token, "stars": 1}}))["rateDelivery"]
    assert [e["code"] for e in final["errors"]] == ["RATING_FINAL"] and final["delivery"] is None
    page = (await api(RESIDENT, {"t": token}))["residentDelivery"]
    assert page["rating"]["stars"] == 4 and page["ratingEditableUntil"] is None
    assert await session.scalar(select(func.count()).select_from(cm.Rating)) == 1


async def test_a_disputed_delivery_cannot_be_rated(session):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    delivery_id = delivery.id
    await deliveries.dispute_delivery(session=session, token=token, reason="没有上门")
    await session.commit()
    assert await _refused(session, _rate(session, token)) == [("INVALID_STATE", None)]
    assert await session.get(cm.Rating, delivery_id) is None


@pytest.mark.parametrize(
    ("stars", "dimensions", "field"),
    [(0, {}, "stars"), (6, {}, "stars"), (5, {"timeliness": 0}, "timeliness"),
     (5, {"attitude": 6}, "attitude"), (5, {"professionalism": -1}, "professionalism")],
)  # fmt: skip
async def test_stars_are_1_to_5(session, stars, dimensions, field):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    assert await _refused(session, _rate(session, token, stars, **dimensions)) == [
        ("INVALID", ("input", field))
    ]


async def _concurrent_ratings(engine, calls: int) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        world = await cw.build(session, start_in_days=10)
        delivery, token = await world.deliver()
    rng = random.Random(5)
    outcomes: dict[int, str] = {}

    async def rate(index: int) -> None:
        async with sessionmaker() as session:
            try:
                view = await ratings.rate_delivery(
                    session=session, token=token, client_address=f"10.0.0.{index}",
                    rating=ratings.Stars(index % 5 + 1, comment=f"call {index}"),
                )  # fmt: skip
                await asyncio.sleep(rng.choice([0, 0, 0.01, 0.05]))
                await session.commit()
                outcomes[index] = "created" if view.rating.updated_at == view.rating.created_at else "changed"
            except DomainError as error:
                await session.rollback()
                outcomes[index] = error.problems[0].code.value

    await asyncio.gather(*(rate(i) for i in range(calls)))

    async with sessionmaker() as session:
        stored = (await session.scalars(select(cm.Rating))).all()
        events = (
            await session.scalars(
                select(JournalEvent)
                .where(JournalEvent.entity_type == "Rating", JournalEvent.entity_id == str(delivery.id))
                .order_by(JournalEvent.seq)
            )
        ).all()
    assert len(outcomes) == calls
    # Each call either succeeded or failed as a user error; none crashed (e.g. on a duplicate key).
    assert set(outcomes.values()) <= {"created", "changed"}, outcomes
    assert list(outcomes.values()).count("created") == 1
    assert len(stored) == 1
    # One given, then each other success an edit of it, in commit order; the last one stands.
    assert [e.action for e in events] == ["rating.given"] + ["rating.changed"] * (calls - 1)
    assert stored[0].comment == json.loads(events[-1].after)["comment"]


async def test_one_rating_per_delivery_even_when_submissions_race(scratch_engine):
    await _concurrent_ratings(scratch_engine, 8)


# ---------------------------------------------------------------- abuse rules


async def _deliveries(world, count: int, phone: str = cw.PHONE) -> list[str]:
    return [(await world.deliver(phone=phone))[1] for _ in range(count)]


async def test_more_than_5_ratings_from_one_address_within_an_hour_are_flagged(session):
    world = await cw.build(session, start_in_days=10)
    tokens = await _deliveries(world, 7)
    t0 = await world.now()
    clock.pin(session, t0)
    first_five = [await _rate(session, token, address="10.0.0.1") for token in tokens[:5]]
    assert [v.rating.flag_reason for v in first_five] == [None] * 5
    clock.pin(session, t0 + dt.timedelta(minutes=30))
    from_elsewhere = await _rate(session, tokens[5], address="10.0.0.2")
    assert from_elsewhere.rating.flag_reason is None
    sixth = await _rate(session, tokens[6], address="10.0.0.1")
    assert "address" in sixth.rating.flag_reason and ratings.is_flagged(sixth.rating)
    clock.pin(session, None)
    # Flagged ratings are kept; the address is kept only as a keyed hash.
    given = (await session.scalars(select(cm.Rating))).all()
    assert len(given) == 7 and sum(ratings.is_flagged(r) for r in given) == 1
    assert all(r.client_address not in ("10.0.0.1", "10.0.0.2") for r in given)


async def test_the_hour_counts_ratings_given_after_now_minus_one_hour(session):
    world = await cw.build(session, start_in_days=10)
    tokens = await _deliveries(world, 7)
    t0 = await world.now()
    clock.pin(session, t0)
    for token in tokens[:5]:
        await _rate(session, token, address="10.0.0.1")
    clock.pin(session, t0 + dt.timedelta(hours=1) - dt.timedelta(seconds=1))
    assert (await _rate(session, tokens[5], address="10.0.0.1")).rating.flag_reason is not None
    # An hour after the first five they no longer count (only the one just given does).
    clock.pin(session, t0 + dt.timedelta(hours=1))
    assert (await _rate(session, tokens[6], address="10.0.0.1")).rating.flag_reason is None
    clock.pin(session, None)


BURST = 12  # simultaneous ratings from one address, each of its own delivery


async def _burst_world(engine):
    """A contract on a database of its own with BURST + 2 deliveries, each to another resident."""
    async with create_sessionmaker(engine)() as session:
        world = await cw.build(session, start_in_days=10)
        tokens = [(await world.deliver(phone=f"1390000{i:04d}"))[1] for i in range(BURST + 2)]
    return world, tokens


async def _flags(engine) -> list[bool]:
    async with create_sessionmaker(engine)() as session:
        stored = (await session.scalars(select(cm.Rating).order_by(cm.Rating.created_at))).all()
    return [ratings.is_flagged(r) for r in stored]


async def test_the_hourly_rule_holds_when_one_address_rates_many_deliveries_at_once(scratch_engine):
    """Each rating locks only its own delivery; the count per address must still see every other one."""
    world, tokens = await _burst_world(scratch_engine)
    sessionmaker = create_sessionmaker(scratch_engine)
    start = asyncio.Barrier(BURST)

    async def rate(token: str) -> None:
        async with sessionmaker() as session:
            await start.wait()
            await ratings.rate_delivery(
                session=session, token=token, rating=ratings.Stars(5), client_address="198.51.100.7"
            )
            await asyncio.sleep(0.02)  # the others run while this one is uncommitted
            await session.commit()

    await asyncio.gather(*(rate(token) for token in tokens[:BURST]))
    # The first five by time count; the other seven wait for an officer.
    assert await _flags(scratch_engine) == [False] * 5 + [True] * (BURST - 5)

    # The test clock: 59 minutes later the burst still counts, an hour later it has dropped out.
    await world.advance(59 * 60)
    async with sessionmaker() as session:  # a session reads the clock's offset once
        late = await _rate(session, tokens[BURST], address="198.51.100.7")
    assert ratings.is_flagged(late.rating)
    await world.advance(60)
    async with sessionmaker() as session:
        later = await _rate(session, tokens[BURST + 1], address="198.51.100.7")
    assert later.rating.flag_reason is None


async def test_the_hourly_rule_holds_for_simultaneous_requests_to_the_server(scratch_engine):
    """The same through the server's two ways in (the page's form and the GraphQL mutation), at once."""
    from contracts import pages

    _world, tokens = await _burst_world(scratch_engine)
    asgi = application.create_app(settings=get_settings(), sessionmaker=create_sessionmaker(scratch_engine))
    start = asyncio.Barrier(BURST)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test") as client:

        async def by_page(token: str) -> None:
            form = {"csrf": pages.csrf_token(token, "rate"), "lang": "zh", "stars": "5"}
            await start.wait()
            response = await client.post(f"/r/{token}/rate", data=form)
            assert response.status_code == 303, response.text

        async def by_api(token: str) -> None:
            await start.wait()
            response = await client.post("/graphql", json={"query": RATE, "variables": {
                "i": {"token": token, "stars": 5}}})  # fmt: skip
            assert response.json()["data"]["rateDelivery"]["errors"] == [], response.text

        await asyncio.gather(*((by_page if i % 2 else by_api)(t) for i, t in enumerate(tokens[:BURST])))
    # Both ways take the client's address (the same here) and count it under the same lock.
    assert await _flags(scratch_engine) == [False] * 5 + [True] * (BURST - 5)


async def test_the_api_counts_ratings_by_the_callers_address(session, api):
    world = await cw.build(session, start_in_days=10)
    tokens = await _deliveries(world, 6)
    flagged = []
    for token in tokens:
        payload = (await api(RATE, {"i": {"token": token, "stars": 5}}))["rateDelivery"]
        assert payload["errors"] == []
        flagged.append(payload["delivery"]["rating"]["flagged"])
    assert flagged == [False] * 5 + [True]


async def test_a_rating_from_a_phone_of_the_providers_own_staff_is_flagged(session, api):
    world = await cw.build(session, start_in_days=10)
    staff = "139 0000 1111"
    assert await ratings.register_staff_phones(
        session=session, actor=world.provider, provider_id=world.contract.provider_id, phones=[staff]
    ) == 1  # fmt: skip
    await session.commit()
    own, own_token = await world.deliver(phone="13900001111")
    resident, resident_token = await world.deliver(phone=cw.PHONE)
    assert "staff" in (await _rate(session, own_token, 5)).rating.flag_reason
    assert (await _rate(session, resident_token, 5)).rating.flag_reason is None
    node = await _delivery_as_officer(world, api, own)
    assert node["rating"]["flagged"] is True and "staff" in node["rating"]["flagReason"]
    assert (await _delivery_as_officer(world, api, resident))["rating"]["flagged"] is False


async def test_a_staff_phone_of_another_provider_does_not_flag(session):
    world = await cw.build(session, start_in_days=10)
    await ratings.register_staff_phones(
        session=session, actor=world.other_provider, provider_id=world.other_provider.provider_id,
        phones=["13900001111"],
    )  # fmt: skip
    await session.commit()
    _delivery, token = await world.deliver(phone="13900001111")
    assert (await _rate(session, token, 5)).rating.flag_reason is None


async def _flagged(world) -> cm.Delivery:
    await ratings.register_staff_phones(
        session=world.session, actor=world.provider, provider_id=world.contract.provider_id,
        phones=["13900001111"],
    )  # fmt: skip
    delivery, token = await world.deliver(phone="13900001111")
    await _rate(world.session, token, 5)
    return delivery


CLEAR = f"mutation($id: ID!) {{ clearRatingFlag(deliveryId: $id) {{ rating {{ flagged flagReason stars }} {E} }} }}"


async def test_an_officer_of_the_department_clears_a_flag_and_its_reason_is_kept(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery = await _flagged(world)
    officer = await api.login(world.users["officer"].email, factories.PASSWORD)
    variables = {"id": encode_id("Delivery", delivery.id)}
    payload = (await api(CLEAR, variables, token=officer))["clearRatingFlag"]
    assert payload["errors"] == []
    assert payload["rating"]["flagged"] is False and "staff" in payload["rating"]["flagReason"]
    rating = await session.get(cm.Rating, delivery.id, populate_existing=True)
    assert rating.flag_cleared_at is not None and not ratings.is_flagged(rating)
    again = (await api(CLEAR, variables, token=officer))["clearRatingFlag"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"]


async def test_clearing_an_unflagged_rating_is_refused(session):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    await _rate(session, token, 5)
    assert await _refused(
        session, ratings.clear_rating_flag(session=session, actor=world.officer, delivery_id=delivery.id)
    ) == [("INVALID_STATE", None)]


async def test_another_departments_officer_cannot_clear_a_flag(session):
    world = await cw.build(session, start_in_days=10)
    delivery_id = (await _flagged(world)).id
    call = ratings.clear_rating_flag(
        session=session, actor=world.market.other_officer, delivery_id=delivery_id
    )
    assert await _refused(session, call) == [("PERMISSION_DENIED", None)]
    rating = await session.get(cm.Rating, delivery_id, populate_existing=True)
    assert ratings.is_flagged(rating)
