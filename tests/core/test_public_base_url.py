"""The residents' links follow the address `market serve` (so `make run HOST=… PORT=…`) serves, unless
PUBLIC_BASE_URL is set."""

from __future__ import annotations

import ipaddress
import os
import re
import sys

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

import app
from contracts import deliveries, outbox
from contracts.models import Notification
from core import settings as settings_module
from core.api import encode_id
from core.db import create_sessionmaker
from core.settings import Settings, base_url_for, get_settings
from tests import factories, live
from tests.contracts import world as cw


@pytest.fixture
def environment():
    """PUBLIC_BASE_URL unset for the test, and as it was afterwards (the serve command sets it)."""
    saved = os.environ.pop("PUBLIC_BASE_URL", None)
    get_settings.cache_clear()
    yield os.environ
    os.environ.pop("PUBLIC_BASE_URL", None)
    if saved is not None:
        os.environ["PUBLIC_BASE_URL"] = saved
    get_settings.cache_clear()


def test_the_base_url_of_a_host_and_port():
    assert base_url_for("127.0.0.1", 9000) == "http://127.0.0.1:9000"
    assert base_url_for("localhost", 8080) == "http://localhost:8080"
    assert base_url_for("market.intranet.gov.cn", 80) == "http://market.intranet.gov.cn:80"
    assert base_url_for("::1", 9000) == "http://[::1]:9000"
    assert base_url_for("[::1]", 9000) == "http://[::1]:9000"
    assert base_url_for("192.168.1.20", 9000) == "http://192.168.1.20:9000"


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", "[::]", ""])  # noqa: S104
def test_a_wildcard_host_becomes_this_machines_address(wildcard, monkeypatch):
    monkeypatch.setattr(settings_module, "_outward_address", lambda: "192.168.1.20")
    assert base_url_for(wildcard, 9000) == "http://192.168.1.20:9000"
    # No route at all (a machine off every network): the loopback address, never 0.0.0.0.
    monkeypatch.setattr(settings_module, "_outward_address", lambda: None)
    assert base_url_for(wildcard, 9000) == "http://127.0.0.1:9000"


def test_this_machines_address_is_a_real_one_or_none():
    address = settings_module._outward_address()
    if address is not None:
        parsed = ipaddress.ip_address(address)
        assert not parsed.is_unspecified
    url = base_url_for("0.0.0.0", 9000)  # noqa: S104
    assert "0.0.0.0" not in url and url.endswith(":9000")  # noqa: S104


def test_public_base_url_blank_means_unset_and_nonsense_is_refused(environment):
    environment["PUBLIC_BASE_URL"] = "  "
    blank = Settings()
    assert blank.public_base_url == "http://127.0.0.1:8000" and not blank.public_base_url_set
    environment["PUBLIC_BASE_URL"] = "https://market.example.gov.cn/"
    given = Settings()
    assert given.public_base_url == "https://market.example.gov.cn" and given.public_base_url_set
    for nonsense in ("market.example.gov.cn", "ftp://market.example.gov.cn", "http://"):
        environment["PUBLIC_BASE_URL"] = nonsense
        with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
            Settings()


def _serve(monkeypatch, *args: str) -> dict:
    """`market serve ARGS` with uvicorn.run replaced: what uvicorn would have been given."""
    import uvicorn

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.update(kw))
    result = CliRunner().invoke(app.cli, ["serve", *args])
    assert result.exit_code == 0, result.output
    calls["output"] = result.output
    return calls


def test_serve_points_the_links_at_its_host_and_port(environment, monkeypatch):
    served = _serve(monkeypatch, "--port", "9000")
    assert served["port"] == 9000
    assert os.environ["PUBLIC_BASE_URL"] == "http://127.0.0.1:9000"  # for its workers too
    assert get_settings().public_base_url == "http://127.0.0.1:9000"
    assert deliveries.resident_link("abc") == "http://127.0.0.1:9000/r/abc"
    assert "http://127.0.0.1:9000/r/" in served["output"]

    os.environ.pop("PUBLIC_BASE_URL")
    get_settings.cache_clear()
    monkeypatch.setattr(settings_module, "_outward_address", lambda: "10.1.2.3")
    _serve(monkeypatch, "--host", "0.0.0.0", "--port", "9001")  # noqa: S104
    assert deliveries.resident_link("abc") == "http://10.1.2.3:9001/r/abc"


def test_serve_keeps_a_public_base_url_that_is_set(environment, monkeypatch):
    environment["PUBLIC_BASE_URL"] = "https://market.example.gov.cn"
    get_settings.cache_clear()
    served = _serve(monkeypatch, "--port", "9000")
    assert os.environ["PUBLIC_BASE_URL"] == "https://market.example.gov.cn"
    assert deliveries.resident_link("abc") == "https://market.example.gov.cn/r/abc"
    assert "PUBLIC_BASE_URL" in served["output"]


RECORD = """
mutation($i: RecordDeliveryInput!) { recordDelivery(input: $i) { delivery { id } errors { code message } } }
"""


async def test_a_delivery_recorded_on_a_server_at_another_port_texts_a_link_to_that_port(
    environment, scratch_engine
):
    """`market serve --port P`, as `make run PORT=P` runs it: the text's link opens on that server."""
    async with create_sessionmaker(scratch_engine)() as session:
        world = await cw.build(session, start_in_days=10)
        provider_email = world.users["provider"].email
        contract_id, today = world.contract.id, await world.today()
        await session.commit()
    port = live.free_port()
    env = {**environment, "DATABASE_URL": scratch_engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-c", "import app; app.cli()", "serve", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with live.running(command, env=env, base=base, log=live.OUTPUT / "serve-port.log"):
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            login = await client.post(
                "/graphql",
                json={
                    "query": "mutation($i: LoginInput!) { login(input: $i) { token } }",
                    "variables": {"i": {"email": provider_email, "password": factories.PASSWORD}},
                },
            )
            token = login.json()["data"]["login"]["token"]
            recorded = await client.post(
                "/graphql",
                json={
                    "query": RECORD,
                    "variables": {
                        "i": {
                            "contractId": encode_id("Contract", contract_id),
                            "deliveredOn": today.isoformat(),
                            "units": 1,
                            "residentPhone": cw.PHONE,
                        }
                    },
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert recorded.json()["data"]["recordDelivery"]["errors"] == [], recorded.text
            async with create_sessionmaker(scratch_engine)() as session:
                body = outbox.unseal((await session.scalars(select(Notification))).one()).body
            link = re.search(r"https?://\S+/r/[A-Za-z0-9_\-]+", body).group(0)
            assert link.startswith(f"{base}/r/"), body
            page = await client.get(link)
            assert page.status_code == 200 and "服务确认与评价" in page.text
