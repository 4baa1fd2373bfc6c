"""The portal's tests read the demo marketplace (demo/), loaded once per run into a database of its own
(SQLite file, or PostgreSQL on the TEST_DATABASE_URL server) and committed; each test then runs the
app over one transaction of it, rolled back afterwards, so a test may add rows (to count statements
over more data) without the others seeing them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from alembic import command
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

import app as application
from core.db import alembic_config, create_engine, create_sessionmaker
from core.settings import get_settings
from demo import marketplace as demo
from tests.conftest import StatementCounter, _create_postgres_database


@pytest.fixture(scope="session")
async def demo_engine(database_url, tmp_path_factory):
    """A migrated database holding the demo, committed."""
    if database_url.startswith("postgresql"):
        url, drop = _create_postgres_database(os.environ["TEST_DATABASE_URL"])
    else:
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}", lambda: None
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        await demo.load(session)
        await session.commit()
    yield engine
    await engine.dispose()
    drop()


@dataclass
class Portal:
    client: httpx.AsyncClient
    session: AsyncSession
    statements: StatementCounter

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)


@pytest.fixture
async def portal(demo_engine) -> AsyncIterator[Portal]:
    """The app over a rolled-back transaction of the demo database, a session in it, and a counter of the
    SQL statements sent while `with portal.statements:` runs."""
    counter = StatementCounter()

    def count(_conn, _cursor, statement, *_args):
        if counter.active and not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            counter.count += 1

    async with demo_engine.connect() as connection:
        transaction = await connection.begin()
        sessionmaker = create_sessionmaker(connection, join_transaction_mode="create_savepoint")
        asgi = application.create_app(settings=get_settings(), sessionmaker=sessionmaker)
        event.listen(demo_engine.sync_engine, "before_cursor_execute", count)
        try:
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test") as client,
                sessionmaker() as session,
            ):
                yield Portal(client, session, counter)
        finally:
            event.remove(demo_engine.sync_engine, "before_cursor_execute", count)
            await transaction.rollback()
