"""Generated requests over the whole schema: whatever a caller sends, no internal error, no 5xx.

hypothesis-graphql writes queries and mutations from the exported schema, valid ones and ones
with one violation, with hostile scalars (huge and foreign IDs, NaN money, offset-less times,
NUL characters, any Unicode), for an anonymous caller, an officer and a provider, over HTTP
against the demo data in a database of the test's own (mutations really commit there).

`make test` runs a few hundred examples; `make fuzz` runs thousands (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

import app as application
from core.db import alembic_config, create_engine, create_sessionmaker
from core.settings import get_settings
from tests.conftest import _create_postgres_database

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
"""Examples per caller, operation kind and mode (12 combinations): 360 in `make test`."""

CALLERS = {
    "anonymous": None,
    "officer": ("officer.huangpu@demo.gov.cn", "demo-officer-2026"),
    "provider": ("yikang@provider.demo.cn", "demo-provider-2026"),
}


def _global_id(type_name: str, raw: object) -> str:
    return base64.b64encode(f"{type_name}:{raw}".encode()).decode()


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    tokens: dict[str, str | None]
    ids: list[str]


async def _existing_ids(sessionmaker) -> list[str]:
    """Global IDs of real rows, as the API encodes them, so that generated calls reach real objects."""
    from sqlalchemy import select

    from core.api import encode_id
    from core.db import SQLModel

    found: list[str] = []
    async with sessionmaker() as session:
        for table in SQLModel.metadata.sorted_tables:
            if "id" not in table.c or table.name.startswith("journal"):
                continue
            type_name = "".join(part.title() for part in table.name.split("_"))
            type_name = {"UserAccount": "User"}.get(type_name, type_name)
            rows = (await session.execute(select(table.c.id).limit(5))).scalars().all()
            found += [encode_id(type_name, pk) for pk in rows]
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url, drop = _create_postgres_database(base)
    else:
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}", lambda: None
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    loop = asyncio.new_event_loop()
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)

    async def setup() -> World:
        from demo import marketplace as demo

        async with sessionmaker() as session:
            await demo.load(session)
            await session.commit()
        asgi = application.create_app(settings=get_settings(), sessionmaker=sessionmaker)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test")
        tokens: dict[str, str | None] = {}
        for caller, credentials in CALLERS.items():
            if credentials is None:
                tokens[caller] = None
                continue
            email, password = credentials
            response = await client.post(
                "/graphql",
                json={
                    "query": "mutation($i: LoginInput!) { login(input: $i) { token } }",
                    "variables": {"i": {"email": email, "password": password}},
                },
            )
            tokens[caller] = response.json()["data"]["login"]["token"]
        return World(loop, client, tokens, await _existing_ids(sessionmaker))

    world = loop.run_until_complete(setup())
    yield world
    loop.run_until_complete(world.client.aclose())
    loop.run_until_complete(engine.dispose())
    loop.close()
    drop()


def _scalars(world: World) -> dict[str, st.SearchStrategy]:
    """Hostile and ordinary values for the scalars whose shape the schema does not tell."""
    plain_money = st.decimals(min_value=-(10**13), max_value=10**13, places=3, allow_nan=False).map(str)
    money = st.one_of(
        plain_money.map(nodes.String),
        plain_money.map(nodes.String),
        plain_money.map(nodes.String),
        st.sampled_from(
            ["NaN", "sNaN", "Infinity", "-Infinity", "1e3", "1e309", "1" * 30, "", " 1", "0x10"]
        ).map(nodes.String),
        st.integers(min_value=-(10**30), max_value=10**30).map(nodes.Int),
        st.sampled_from(["1e+308", "1.5", "-0.0", "1e3"]).map(lambda v: nodes.Float(float(v))),
    )
    dates = st.one_of(
        st.dates().map(lambda d: nodes.String(d.isoformat())),
        st.sampled_from(["", "2026-02-30", "0001-01-01", "9999-12-31", "20260101", "2026-1-1"]).map(
            nodes.String
        ),
        st.text(max_size=12).map(nodes.String),
    )
    datetimes = st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda d: nodes.String(d.isoformat())),
        st.datetimes().map(lambda d: nodes.String(d.isoformat())),  # no offset
        st.sampled_from(["", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "now"]).map(
            nodes.String
        ),
    )
    ids = st.one_of(
        st.sampled_from(world.ids).map(nodes.String),
        st.sampled_from(world.ids).map(nodes.String),
        st.sampled_from(world.ids).map(nodes.String),
        st.builds(
            _global_id,
            st.sampled_from(["Tender", "Bid", "Node", "Provider", "Contract", "Delivery", "Nope", ""]),
            st.one_of(st.integers(min_value=-5, max_value=10**25), st.text(max_size=8)),
        ).map(nodes.String),
        st.text(max_size=30).map(nodes.String),
    )
    return {
        "Decimal": money,
        "Date": dates,
        "DateTime": datetimes,
        "ID": ids,
        "JSON": st.just(nodes.String("{}")),
    }


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "one-violation"])
@pytest.mark.parametrize("kind", ["query", "mutation"])
@pytest.mark.parametrize("caller", list(CALLERS))
def test_generated_requests_get_no_internal_error(world: World, caller, kind, mode, caplog):
    schema = application.build_schema().as_str()
    make = queries if kind == "query" else mutations
    token = world.tokens[caller]
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=list(HealthCheck),
    )
    @given(document=make(schema, custom_scalars=_scalars(world), mode=mode))
    def send(document: str) -> None:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            response = world.loop.run_until_complete(
                world.client.post("/graphql", json={"query": document}, headers=headers)
            )
        assert response.status_code < 500, (document, response.text)
        body = response.json()
        for error in body.get("errors") or []:
            assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_SERVER_ERROR"), (
                document,
                error,
            )
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], (document, caplog.text)

    send()
