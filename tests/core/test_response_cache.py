"""Answers kept until the data changes: never one caller's answer for another, never a stale one."""

from __future__ import annotations

import pytest

from core.api import encode_id
from core.auth import Role
from market import models as m
from tests import factories

PROVIDERS = "{ providers(first: 50) { totalCount edges { node { legalName status } } } }"
TENDERS = "{ tenders(first: 50) { totalCount edges { node { title status } } } }"


async def test_a_repeated_query_is_answered_from_the_cache_with_one_statement(session, api, statements):
    await factories.provider(session)
    await session.commit()
    first = await api(PROVIDERS)
    with statements:
        again = await api(PROVIDERS)
    assert again == first and first["providers"]["totalCount"] == 1
    assert statements.count == 1  # the data's version (journal head, test clock), nothing else


async def test_a_state_change_through_the_api_refreshes_the_answer(session, api, login_as):
    token, _ = await login_as(Role.OFFICER)
    pending = await factories.provider(session, status=m.ProviderStatus.PENDING)
    await session.commit()
    assert (await api(PROVIDERS))["providers"]["totalCount"] == 0  # PENDING: hidden from the public
    approved = await api(
        "mutation($id: ID!) { approveProvider(id: $id) { errors { code } } }",
        {"id": encode_id("Provider", pending.id)},
        token=token,
    )
    assert approved["approveProvider"]["errors"] == []
    assert (await api(PROVIDERS))["providers"]["totalCount"] == 1


async def test_one_callers_answer_is_never_served_to_another(session, api, login_as):
    from tests.market import world as w

    world = await w.build(session)
    await world.draft()
    await session.commit()
    officer = await api.login(world.users["officer"].email, factories.PASSWORD)
    other = await api.login(world.users["other_officer"].email, factories.PASSWORD)
    seen = {
        "officer": await api(TENDERS, token=officer),
        "other": await api(TENDERS, token=other),
        "anonymous": await api(TENDERS),
    }
    again = {
        "officer": await api(TENDERS, token=officer),
        "other": await api(TENDERS, token=other),
        "anonymous": await api(TENDERS),
    }
    assert again == seen
    assert seen["officer"]["tenders"]["totalCount"] == 1  # its department's draft
    assert seen["other"]["tenders"]["totalCount"] == seen["anonymous"]["tenders"]["totalCount"] == 0


async def test_the_test_clock_moving_refreshes_the_answer(session, api, login_as, statements):
    admin, _ = await login_as(Role.ADMIN)
    await api(PROVIDERS)
    await api("mutation { advanceClock(seconds: 60) { errors { code } } }", token=admin)
    with statements:
        await api(PROVIDERS)
    assert statements.count > 1


@pytest.mark.parametrize(
    "document",
    [
        "{ now }",
        "{ complaints(first: 5) { totalCount } }",
        '{ node(id: "x") { ... on Complaint { light } } }',
        "query($t: String!) { residentDelivery(token: $t) { serviceName } }",
        "{ notifications(first: 5) { status } }",
        "mutation { advanceClock(seconds: 1) { now } }",
    ],
)
def test_what_follows_the_clock_and_mutations_are_never_answered_from_the_cache(document):
    import app
    from core.cache import cacheable

    assert not cacheable(app.build_schema()._schema, document, None)
    assert cacheable(app.build_schema()._schema, PROVIDERS, None)


async def test_the_clock_is_read_afresh_each_time(api):
    assert (await api("{ now }"))["now"] != (await api("{ now }"))["now"]


async def test_mutations_and_errors_are_not_kept(api, monkeypatch, login_as):
    from core.cache import ResponseCache

    kept: list[str] = []
    original = ResponseCache.put
    monkeypatch.setattr(
        ResponseCache, "put", lambda self, key, body: kept.append(key) or original(self, key, body)
    )
    await api.raw("{ providers(first: 500) { totalCount } }")  # an error
    await login_as(Role.OFFICER)  # a mutation
    assert kept == []
    await api(PROVIDERS)
    assert len(kept) == 1


async def test_a_get_revalidates_with_its_etag(session, api, login_as):
    token, _ = await login_as(Role.OFFICER)
    pending = await factories.provider(session, status=m.ProviderStatus.PENDING)
    await session.commit()
    first = await api.client.get(
        "/graphql", params={"query": PROVIDERS}, headers={"Accept": "application/json"}
    )
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, no-cache"
    unchanged = await api.client.get(
        "/graphql", params={"query": PROVIDERS}, headers={"Accept": "application/json", "If-None-Match": etag}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    await api(
        "mutation($id: ID!) { approveProvider(id: $id) { errors { code } } }",
        {"id": encode_id("Provider", pending.id)},
        token=token,
    )
    changed = await api.client.get(
        "/graphql", params={"query": PROVIDERS}, headers={"Accept": "application/json", "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["data"]["providers"]["totalCount"] == 1


async def test_an_authenticated_answer_is_private(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    response = await api.raw(PROVIDERS, headers={"Authorization": f"Bearer {token}"})
    assert response.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.uncached
async def test_the_cache_can_be_switched_off(session, api, statements):
    await api(PROVIDERS)
    with statements:
        await api(PROVIDERS)
    assert statements.count > 1 and "ETag" not in (await api.raw(PROVIDERS)).headers
