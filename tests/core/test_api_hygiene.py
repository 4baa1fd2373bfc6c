"""GraphQL hygiene: limits, masked internal errors, introspection and GraphiQL switches."""

import httpx
import pytest

import app
from core import limits
from core.settings import Settings, get_settings
from market import directory, providers


async def test_queries_deeper_than_the_limit_are_refused(api):
    deep = "{ me { provider { regions { " + "parent { " * 12 + "code" + " }" * 12 + " } } } }"
    body = (await api.raw(deep)).json()
    assert body["data"] is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(api):
    query = "{ " + " ".join(f"a{i}: now" for i in range(limits.MAX_ALIASES + 1)) + " }"
    body = (await api.raw(query)).json()
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_too_many_tokens_are_refused(api):
    query = "{ " + " ".join("now" for _ in range(limits.MAX_TOKENS)) + " }"
    body = (await api.raw(query)).json()
    assert "token" in body["errors"][0]["message"].lower()


async def test_internal_errors_are_masked_and_user_errors_are_not(api, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError("connection string postgresql://secret@db leaked")

    monkeypatch.setattr(directory, "regions_statement", broken)
    body = (await api.raw("{ regions { code } }")).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)

    body = (await api.raw("{ providers(first: 500) { totalCount } }")).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_failing_mutation_rolls_back_everything(session, api, monkeypatch, login_as):
    from core.auth import Role
    from tests import factories

    token, _ = await login_as(Role.OFFICER)
    provider = await factories.provider(session, status=factories.m.ProviderStatus.PENDING)
    await session.commit()
    original = providers.journal.record

    async def record_then_fail(*args, **kwargs):
        await original(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(providers.journal, "record", record_then_fail)
    from core.api import encode_id

    body = (
        await api.raw(
            "mutation($id: ID!) { approveProvider(id: $id) { provider { status } errors { code } } }",
            {"id": encode_id("Provider", provider.id)},
            headers={"Authorization": f"Bearer {token}"},
        )
    ).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    await session.refresh(provider)
    assert provider.status == factories.m.ProviderStatus.PENDING


def _client(settings: Settings, sessionmaker) -> httpx.AsyncClient:
    asgi = app.create_app(settings=settings, sessionmaker=sessionmaker)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test")


INTROSPECT = {"query": "{ __schema { queryType { name } } }"}


async def test_development_serves_graphiql_and_introspection(sessionmaker):
    async with _client(get_settings(), sessionmaker) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert (await client.post("/graphql", json=INTROSPECT)).json()["data"]["__schema"]["queryType"][
            "name"
        ] == "Query"


async def test_production_switches_introspection_and_graphiql_off(sessionmaker):
    production = Settings(environment="production", secret_key="x" * 40, market_test_clock=False)
    async with _client(production, sessionmaker) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        body = (await client.post("/graphql", json=INTROSPECT)).json()
        assert body["data"] is None and "introspection" in body["errors"][0]["message"].lower()
        assert (await client.post("/graphql", json={"query": "{ now }"})).status_code == 200
    switched_on = Settings(
        environment="production", secret_key="x" * 40, market_test_clock=False, graphql_introspection=True
    )
    async with _client(switched_on, sessionmaker) as client:
        assert "data" in (await client.post("/graphql", json=INTROSPECT)).json()


async def test_health_endpoint(sessionmaker):
    async with _client(get_settings(), sessionmaker) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"


@pytest.mark.parametrize(
    "secret", ["", "change-me", "dev-insecure-secret-key-do-not-use-in-production", "short"]
)
def test_production_refuses_a_placeholder_secret(secret, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=secret, market_test_clock=False)


def test_production_refuses_an_unset_secret(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("MARKET_TEST_CLOCK", "0")
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(_env_file=None)


def test_production_refuses_the_test_clock():
    with pytest.raises(ValueError, match="MARKET_TEST_CLOCK"):
        Settings(environment="production", secret_key="x" * 40, market_test_clock=True)


def test_database_url_gets_the_async_driver():
    from core.db import async_url, sync_url

    assert async_url("sqlite:///var/market.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert sync_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://u@h/db")


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError):
        Settings(timezone="Mars/Olympus_Mons")


@pytest.mark.uncached
async def test_the_validation_cache_hits_on_repeated_documents(api):
    from strawberry.extensions.validation_cache import _get_validate_cache

    cache = _get_validate_cache(app.CACHE_SIZE)
    await api("{ regions { code } }")
    before = cache.cache_info()
    await api("{ regions { code } }")
    after = cache.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


async def test_on_sqlite_queries_do_not_queue_behind_a_writer(scratch_engine):
    if scratch_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single-writer lock")
    from core.db import create_sessionmaker, sqlite_writes

    sessionmaker = create_sessionmaker(scratch_engine)
    async with scratch_engine.connect() as writer:
        with sqlite_writes(True):
            await writer.begin()  # BEGIN IMMEDIATE: holds the write lock
        async with _client(get_settings(), sessionmaker) as client:
            # A read opens a plain BEGIN and goes through; with BEGIN IMMEDIATE it would wait
            # for the busy timeout and fail with "database is locked".
            response = await client.post(
                "/graphql", json={"query": "{ regions { code } serviceCategories { code } }"}
            )
            assert response.json()["data"]["serviceCategories"]
        await writer.rollback()
