"""Test fixtures: a migrated database per run (SQLite, or PostgreSQL with TEST_DATABASE_URL),
one rolled-back transaction per test, and helpers to call the API over HTTP.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

os.environ["ENVIRONMENT"] = "test"
os.environ["MARKET_TEST_CLOCK"] = "1"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ.pop("GRAPHQL_INTROSPECTION", None)

import httpx
import pytest
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import app as application
from core import auth
from core.auth import Actor, Role
from core.db import alembic_config, create_engine, create_sessionmaker, sync_url
from core.settings import get_settings

# Property tests check rules, not speed: no per-example deadline (a loaded CI machine made a
# pure date computation take 293 ms once and fail as "flaky"). Timing belongs to bench/.
hypothesis_settings.register_profile("market", deadline=None)
hypothesis_settings.load_profile("market")

ROOT = Path(__file__).resolve().parent.parent

# Cheap password hashes in tests: production parameters cost ~50 ms per hash.
auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _create_postgres_database(base_url: str) -> tuple[str, callable]:
    """A fresh database on the server of TEST_DATABASE_URL, dropped after the run."""
    url = make_url(base_url)
    name = f"market_test_{uuid.uuid4().hex[:10]}"
    admin = create_sync_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url, drop = _create_postgres_database(base)
    else:
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('db') / 'market.db'}", lambda: None
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    yield url
    drop()


@pytest.fixture(scope="session")
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@dataclass
class StatementCounter:
    count: int = 0
    active: bool = False

    def __enter__(self):
        self.count, self.active = 0, True
        return self

    def __exit__(self, *exc):
        self.active = False


@pytest.fixture
async def connection(engine) -> AsyncIterator:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection) -> async_sessionmaker[AsyncSession]:
    """Sessions joined to the test's transaction: their commits become savepoints, rolled back after."""
    return create_sessionmaker(connection, join_transaction_mode="create_savepoint")


@pytest.fixture
async def session(sessionmaker) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def statements(engine) -> StatementCounter:
    """Counts SQL statements sent while used as a context manager."""
    counter = StatementCounter()

    def count(_conn, _cursor, statement, *_args):
        # Savepoints are the test harness's transaction, not the request's work.
        if counter.active and not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            counter.count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", count)


ADMIN = Actor(user_id=None, role=Role.ADMIN)


class Api:
    """Calls /graphql over HTTP (in-process), as a given user or anonymously."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.tokens: dict[str, str] = {}

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def raw(
        self, query: str, variables: dict | None = None, *, headers: dict | None = None
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
        )

    async def login(self, email: str, password: str) -> str:
        data = await self(
            "mutation($i: LoginInput!) { login(input: $i) { token errors { code message } } }",
            {"i": {"email": email, "password": password}},
        )
        assert data["login"]["errors"] == [], data
        return data["login"]["token"]


@pytest.fixture
async def api(sessionmaker, request) -> AsyncIterator[Api]:
    """The app over the test's transaction; `@pytest.mark.uncached` turns its response cache off (for
    tests that count what execution does)."""
    settings = get_settings()
    if request.node.get_closest_marker("uncached"):
        settings = settings.model_copy(update={"response_cache": False})
    asgi = application.create_app(settings=settings, sessionmaker=sessionmaker)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client)


@pytest.fixture
def login_as(session, api):
    """`await login_as(Role.OFFICER)` creates an account of that role and returns (token, user)."""
    from tests import factories

    async def make(role: Role, **links):
        user = await factories.user(session, role, **links)
        await session.commit()
        return await api.login(user.email, factories.PASSWORD), user

    return make


@pytest.fixture
async def scratch_engine(database_url, tmp_path):
    """A freshly migrated database of its own, for tests that must commit for real (concurrency)."""
    from alembic import command

    if database_url.startswith("postgresql"):
        url, drop = _create_postgres_database(os.environ["TEST_DATABASE_URL"])
    else:
        url, drop = f"sqlite:///{tmp_path / 'scratch.db'}", lambda: None
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    drop()
