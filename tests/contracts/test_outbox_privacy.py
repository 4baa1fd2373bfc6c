"""The residents' numbers and link tokens at rest (SPEC §5.3 data minimisation).

The clear number and the link's token never reach storage readable: not the database files
(SQLite's main file, -wal and -shm, searched byte by byte on committed data), not any SQL
statement or parameter sent to SQLite or PostgreSQL, not the stored gateway errors, not the
logs in production. Pending messages are sealed (`core.sealing`); only masks are readable.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, select, text

import app as application
from contracts import models as cm
from contracts import outbox, residents
from core import sealing
from core.api import encode_id
from core.auth import Role
from core.db import alembic_config, create_engine, create_sessionmaker, sync_url
from core.settings import Settings, get_settings
from demo import marketplace as demo
from tests import factories
from tests.contracts import world as cw
from tests.contracts.test_resident_page import Forms

E = "errors { field code message }"
RECORD = f"mutation($i: RecordDeliveryInput!) {{ recordDelivery(input: $i) {{ delivery {{ id }} {E} }} }}"
STAFF = f"mutation($p: ID!, $ph: [String!]!) {{ registerStaffPhones(providerId: $p, phones: $ph) {{ added {E} }} }}"
RESIDENT = "query($t: String!) { residentDelivery(token: $t) { units } }"
RATE = f"mutation($i: RateDeliveryInput!) {{ rateDelivery(input: $i) {{ delivery {{ units }} {E} }} }}"
COMPLAIN = f"mutation($i: FileComplaintInput!) {{ fileComplaint(input: $i) {{ complaint {{ id }} {E} }} }}"
DISPUTE = f'mutation($t: String!) {{ disputeDelivery(token: $t, reason: "没有上门") {{ delivery {{ disputed }} {E} }} }}'
OUTBOX = "{ notifications(first: 100) { recipient body status } }"

# Residents' numbers as a provider might type them; nothing else in a test database contains them.
RESIDENTS = {
    "13901012323": "+86 139-0101-2323",
    "13645678901": "0086 13645678901",
    "14725836914": "147 2583 6914",
}
STAFF_PHONES = {"18923456780": "+8618923456780", "17755501234": "177-5550-1234"}


def written_forms(phone: str) -> set[str]:
    """The ways a mainland number is written: 11 digits, grouped, and with the country code."""
    groups = (phone[:3], phone[3:7], phone[7:])
    forms = {phone, " ".join(groups), "-".join(groups)}
    return forms | {prefix + form for form in forms for prefix in ("+86", "+86 ", "86", "0086", "+86-")}


def encodings(secret: str) -> set[bytes]:
    """ASCII is UTF-8 for digits and tokens; UTF-16 in case a database stores text that way."""
    return {secret.encode(), secret.encode("utf-16-le"), secret.encode("utf-16-be")}


def secrets_of(phones, tokens) -> set[str]:
    found = set(tokens) | {token[:16] for token in tokens} | {token[-16:] for token in tokens}
    for phone in phones:
        found |= written_forms(phone)
    return found


def sqlite_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def byte_search(path: Path, secrets: set[str]) -> list[tuple[str, str]]:
    """(file, secret) for every secret found, in any of its encodings, in the database's files."""
    hits = []
    for file in sqlite_files(path):
        content = file.read_bytes()
        hits += [(file.name, s) for s in sorted(secrets) if any(b in content for b in encodings(s))]
    return hits


def in_files(path: Path, needle: str) -> bool:
    return any(needle.encode() in file.read_bytes() for file in sqlite_files(path))


@pytest.fixture
def settings_env(monkeypatch):
    """Set environment variables for get_settings(); the cached settings are restored afterwards."""

    def apply(**values: str) -> Settings:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


# ---------------------------------------------------------------- the SQLite files, byte by byte


@pytest.fixture
async def sqlite_file(tmp_path):
    """A migrated SQLite database file of its own, committed to for real: (path, url, engine)."""
    path = tmp_path / "market.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    yield path, url, engine
    await engine.dispose()


def market_command(*args: str, url: str, **environment: str) -> subprocess.CompletedProcess:
    """`market ARGS` in a process of its own, on the database at `url`."""
    env = os.environ | {"DATABASE_URL": url} | environment
    market = Path(sys.executable).with_name("market")
    command_line = [str(market), *args]
    return subprocess.run(command_line, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603 - our own command


PRODUCTION = {
    "ENVIRONMENT": "production",
    "MARKET_TEST_CLOCK": "0",
    "PUBLIC_BASE_URL": "https://market.example.gov.cn",
}


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite files: the SQLite run")
async def test_no_clear_number_or_token_in_the_sqlite_files_before_or_after_sending(sqlite_file):
    path, url, engine = sqlite_file
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        world = await cw.build(session, start_in_days=10)
        provider_id = world.contract.provider_id
        contract_id = world.contract.id
        today = await world.today()
        provider_email = world.users["provider"].email

    asgi = application.create_app(settings=get_settings(), sessionmaker=sessionmaker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test") as client:
        api = _Api(client)
        provider = await api.login(provider_email)
        for typed in RESIDENTS.values():
            variables = {
                "i": {
                    "contractId": encode_id("Contract", contract_id),
                    "deliveredOn": today.isoformat(),
                    "units": 1,
                    "residentPhone": typed,
                }
            }
            assert (await api(RECORD, variables, token=provider))["recordDelivery"]["errors"] == []
        staff = {"p": encode_id("Provider", provider_id), "ph": list(STAFF_PHONES.values())}
        assert (await api(STAFF, staff, token=provider))["registerStaffPhones"]["added"] == 2

        async with sessionmaker() as session:
            pending = (await session.scalars(select(cm.Notification).order_by(cm.Notification.id))).all()
            texts = [outbox.unseal(message) for message in pending]
        assert [t.recipient for t in texts] == list(RESIDENTS)
        tokens = [t.body.split("/r/")[1].split(" ")[0] for t in texts]
        secrets = secrets_of([*RESIDENTS, *STAFF_PHONES], tokens)

        # Pending: the clear values did not reach the files, though the data did (the masks are there).
        assert byte_search(path, secrets) == []
        assert in_files(path, "139****2323") and in_files(path, "/r/••••••")

        # `market notify send` as a scheduler runs it in production: the log shows masks only.
        sent = market_command("notify", "send", url=url, **PRODUCTION)
        assert sent.returncode == 0, sent.stderr
        assert "3 sent, 0 failed" in sent.stdout
        log = sent.stdout + sent.stderr
        assert "[sms to 139****2323]" in log and "/r/••••••" in log
        assert [s for s in secrets if s in log] == []
        assert byte_search(path, secrets) == []

        # The residents use their links: the page, a rating by form, GraphQL calls.
        for token in tokens:
            assert (await client.get(f"/r/{token}")).status_code == 200
        forms = Forms((await client.get(f"/r/{tokens[0]}")).text)
        answer = await client.post(forms.actions["rate"], data={**forms.forms["rate"], "stars": "4"})
        assert answer.status_code == 303
        assert (await api(RESIDENT, {"t": tokens[1]}))["residentDelivery"]["units"] == 1
        assert (await api(RATE, {"i": {"token": tokens[1], "stars": 5}}))["rateDelivery"]["errors"] == []
        complaint = {"token": tokens[2], "category": "ATTITUDE", "text": "迟到了"}
        assert (await api(COMPLAIN, {"i": complaint}))["fileComplaint"]["errors"] == []
        assert (await api(DISPUTE, {"t": tokens[2]}))["disputeDelivery"]["errors"] == []
        assert byte_search(path, secrets) == []

    # Closed: the WAL is checkpointed into the main file; still nothing.
    await engine.dispose()
    assert byte_search(path, secrets) == []
    assert in_files(path, "139****2323")


class _Api:
    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                          headers=headers)  # fmt: skip
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def login(self, email: str) -> str:
        data = await self(
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            {"i": {"email": email, "password": factories.PASSWORD}},
        )
        return data["login"]["token"]


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite files: the SQLite run")
async def test_the_demo_database_file_holds_no_resident_number_or_link_token(sqlite_file, monkeypatch):
    path, _url, engine = sqlite_file
    tokens: set[str] = set()
    unseal = outbox.unseal

    def unseal_and_keep(message):
        # The demo reads each link from its text, as the resident would: keep the tokens to look for.
        text = unseal(message)
        tokens.add(text.body.split("/r/")[1].split(" ")[0])
        return text

    monkeypatch.setattr(outbox, "unseal", unseal_and_keep)
    async with create_sessionmaker(engine)() as session:
        await demo.load(session)
        await session.commit()
        assert (
            await session.scalar(select(cm.Notification.id).where(cm.Notification.sealed.is_not(None)))
        ) is None
    assert len(tokens) == len(demo.DELIVERIES)
    secrets = secrets_of([*demo.RESIDENTS, *demo.STAFF_PHONES], tokens)
    assert in_files(path, demo.RESIDENTS[0][:3] + "****" + demo.RESIDENTS[0][-4:])
    assert byte_search(path, secrets) == []
    await engine.dispose()
    assert byte_search(path, secrets) == []


# ---------------------------------------------------------------- every SQL statement and parameter


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return [raw.decode("latin-1"), raw.decode("utf-16-le", "ignore")]
    return [str(value)]


async def test_no_sql_statement_or_parameter_carries_a_clear_number_or_token(session, api, engine):
    """On SQLite and PostgreSQL: record, staff phones, outbox, send, and the residents' links."""
    sent: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        world = await cw.build(session, start_in_days=10)
        admin = await factories.user(session, Role.ADMIN)
        await session.commit()
        provider = await api.login(world.users["provider"].email, factories.PASSWORD)
        admin_token = await api.login(admin.email, factories.PASSWORD)
        for typed in RESIDENTS.values():
            variables = {
                "i": {
                    "contractId": encode_id("Contract", world.contract.id),
                    "deliveredOn": (await world.today()).isoformat(),
                    "units": 1,
                    "residentPhone": typed,
                }
            }
            assert (await api(RECORD, variables, token=provider))["recordDelivery"]["errors"] == []
        staff = {"p": encode_id("Provider", world.contract.provider_id), "ph": list(STAFF_PHONES.values())}
        assert (await api(STAFF, staff, token=provider))["registerStaffPhones"]["added"] == 2
        listed = (await api(OUTBOX, token=admin_token))["notifications"]

        pending = (await session.scalars(select(cm.Notification).order_by(cm.Notification.id))).all()
        tokens = [cw.link_token(message) for message in pending]

        class Down:
            def send(self, *, channel, recipient, body):
                raise ConnectionError(f"rejected {recipient}: {body}")

        assert await outbox.send_notifications(session=session, backend=Down()) == (0, 3)
        lines: list[str] = []
        backend = outbox.ConsoleBackend(lines.append)
        assert await outbox.send_notifications(session=session, backend=backend) == (3, 0)
        await session.commit()

        for token in tokens:
            assert (await api.client.get(f"/r/{token}")).status_code == 200
        forms = Forms((await api.client.get(f"/r/{tokens[0]}")).text)
        answer = await api.client.post(forms.actions["rate"], data={**forms.forms["rate"], "stars": "4"})
        assert answer.status_code == 303
        assert (await api(RESIDENT, {"t": tokens[1]}))["residentDelivery"]["units"] == 1
        assert (await api(RATE, {"i": {"token": tokens[1], "stars": 5}}))["rateDelivery"]["errors"] == []
        complaint = {"token": tokens[2], "category": "ATTITUDE", "text": "迟到了"}
        assert (await api(COMPLAIN, {"i": complaint}))["fileComplaint"]["errors"] == []
        assert (await api(DISPUTE, {"t": tokens[2]}))["disputeDelivery"]["errors"] == []
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)

    secrets = secrets_of([*RESIDENTS, *STAFF_PHONES], tokens)
    leaks = [
        (secret, statement[:80])
        for statement, parameters in sent
        for value in [statement, *_strings(parameters)]
        for secret in secrets
        if secret in value
    ]
    assert leaks == []
    assert {m["recipient"] for m in listed} == {"139****2323", "136****8901", "147****6914"}
    # The listener saw the flow: the keyed hashes of the numbers and of the tokens went as parameters.
    values = {v for _statement, parameters in sent for v in _strings(parameters)}
    assert residents.phone_hash("13901012323") in values and residents.phone_hash("18923456780") in values
    assert residents.token_hash(tokens[2]) in values


# ---------------------------------------------------------------- sealed messages


async def test_a_pending_message_holds_masks_and_a_sealed_text(session):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver(phone="+86 138 1234 5678")
    message = (await session.scalars(select(cm.Notification))).one()
    assert message.recipient == "138****5678"
    assert "/r/••••••" in message.body and token not in message.body
    assert cw.PHONE not in message.sealed and token not in message.sealed
    text = outbox.unseal(message)
    assert text.recipient == cw.PHONE
    assert f"/r/{token} " in text.body and text.body.replace(token, "••••••") == message.body


async def test_an_altered_sealed_text_is_refused_and_the_message_waits(session):
    world = await cw.build(session, start_in_days=10)
    await world.deliver()
    message = (await session.scalars(select(cm.Notification))).one()
    sealed = message.sealed
    message.sealed = sealed[:-8] + ("A" if sealed[-8] != "A" else "B") + sealed[-7:]
    await session.commit()
    with pytest.raises(sealing.Unreadable):
        outbox.unseal(message)
    collect = _Collect()
    assert await outbox.send_notifications(session=session, backend=collect) == (0, 1)
    assert collect.sent == []
    assert message.status == cm.NotificationStatus.PENDING and "OUTBOX_KEYS" in message.last_error


class _Collect:
    def __init__(self):
        self.sent = []

    def send(self, *, channel, recipient, body):
        self.sent.append((channel, recipient, body))


NEW_KEY = "a-new-outbox-key-of-at-least-32-characters-0001"
OTHER_KEY = "someone-elses-outbox-key-of-32-characters-or-more"


async def test_the_outbox_key_comes_from_secret_key_by_default_and_rotates(session, settings_env):
    world = await cw.build(session, start_in_days=10)
    await world.deliver()
    message = (await session.scalars(select(cm.Notification))).one()
    old_secret = get_settings().secret_key
    assert get_settings().outbox_secrets == [old_secret]
    # Another deployment's key opens nothing.
    settings_env(OUTBOX_KEYS=OTHER_KEY)
    with pytest.raises(sealing.Unreadable):
        outbox.unseal(message)
    # The new key first, the old one after: pending messages still open, and are resealed.
    settings_env(OUTBOX_KEYS=f"{NEW_KEY}, {old_secret}")
    assert outbox.unseal(message).recipient == cw.PHONE
    assert await outbox.reseal_pending(session=session) == (1, 0)
    await session.commit()
    # The old key dropped: the resealed message opens with the new key alone, and is sent.
    settings_env(OUTBOX_KEYS=NEW_KEY)
    collect = _Collect()
    assert await outbox.send_notifications(session=session, backend=collect) == (1, 0)
    assert collect.sent[0][1] == cw.PHONE
    assert message.sealed is None


async def test_a_message_no_key_opens_is_left_as_it_is_by_resealing(session, settings_env):
    world = await cw.build(session, start_in_days=10)
    await world.deliver()
    message = (await session.scalars(select(cm.Notification))).one()
    sealed = message.sealed
    settings_env(OUTBOX_KEYS=OTHER_KEY)
    assert await outbox.reseal_pending(session=session) == (0, 1)
    assert message.sealed == sealed


@pytest.mark.parametrize("keys", ["short-key", f"{NEW_KEY},change-me"])
def test_production_refuses_weak_outbox_keys(keys):
    with pytest.raises(ValueError, match="OUTBOX_KEYS"):
        Settings(environment="production", secret_key="s" * 40, outbox_keys=keys, market_test_clock=False)
    assert Settings(environment="development", outbox_keys=keys).outbox_secrets


def test_each_key_is_derived_for_the_outbox_alone():
    # Not the SECRET_KEY itself, nor its plain hash: the outbox key is HKDF's, for this purpose only.
    key = base64.urlsafe_b64decode(sealing.fernet_key("x" * 40))
    assert len(key) == 32
    assert key not in (b"x" * 32, hashlib.sha256(b"x" * 40).digest())
    assert sealing.fernet_key("x" * 40) != sealing.fernet_key("y" * 40)


# ---------------------------------------------------------------- errors and logs


async def test_a_stored_gateway_error_keeps_no_number_or_token(session):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver(phone="13812345678")

    class Quoting:
        def send(self, *, channel, recipient, body):
            raise ValueError(
                f"number +86 {recipient[:3]} {recipient[3:7]} {recipient[7:]} refused; text: {body}"
            )

    assert await outbox.send_notifications(session=session, backend=Quoting()) == (0, 1)
    message = (await session.scalars(select(cm.Notification))).one()
    assert "refused" in message.last_error and "138****5678" in message.last_error
    assert "/r/••••••" in message.last_error
    assert [s for s in secrets_of([cw.PHONE], [token]) if s in message.last_error] == []


async def test_the_console_backend_logs_only_masks_in_production(session, settings_env, caplog):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    settings_env(**PRODUCTION)
    with caplog.at_level(logging.INFO, logger="market.notify"):
        backend = outbox.backend_from_settings()
        assert await outbox.send_notifications(session=session, backend=backend) == (1, 0)
    [line] = [r.getMessage() for r in caplog.records if r.name == "market.notify"]
    assert line.startswith("[sms to 138****5678] ") and "/r/••••••" in line
    assert [s for s in secrets_of([cw.PHONE], [token]) if s in line] == []


async def test_the_console_backend_logs_the_whole_text_in_development(session, settings_env, caplog):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    settings_env(ENVIRONMENT="development")
    with caplog.at_level(logging.INFO, logger="market.notify"):
        backend = outbox.backend_from_settings()
        assert await outbox.send_notifications(session=session, backend=backend) == (1, 0)
    [line] = [r.getMessage() for r in caplog.records if r.name == "market.notify"]
    assert line.startswith(f"[sms to {cw.PHONE}] ") and f"/r/{token}" in line


def test_the_access_log_masks_link_tokens_and_drops_query_strings(caplog):
    application.create_app(settings=get_settings(), sessionmaker=create_sessionmaker(None))
    token = "Qx3" * 14
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        for path in (
            f"/r/{token}",
            f"/r/{token}/rate?lang=en",
            f'/graphql?query={{residentDelivery(token:"{token}")}}',
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.9:5123", "GET", path, "1.1", 200)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert lines == [
        '203.0.113.9:5123 - "GET /r/•••••• HTTP/1.1" 200',
        '203.0.113.9:5123 - "GET /r/••••••/rate?… HTTP/1.1" 200',
        '203.0.113.9:5123 - "GET /graphql?… HTTP/1.1" 200',
    ]


# ---------------------------------------------------------------- upgrading a database of 0003


@pytest.fixture
def database_at_0003(database_url, tmp_path):
    """A database of its own (SQLite file, or PostgreSQL on the test server) at revision 0003."""
    from tests.conftest import _create_postgres_database

    if database_url.startswith("postgresql"):
        url, drop = _create_postgres_database(os.environ["TEST_DATABASE_URL"])
        path = None
    else:
        path = tmp_path / "old.db"
        url, drop = f"sqlite:///{path}", lambda: None
    command.upgrade(alembic_config(url), "0003_delivery")
    yield url, path
    drop()


def _old_outbox(url: str, pending_phone: str, sent_phone: str, token: str) -> None:
    """What 0003's code left: a pending message in clear, a sent one masked by an UPDATE."""
    engine = create_sync_engine(sync_url(url))
    body = f"【政府购买服务】请确认、评价或投诉: https://market.example.gov.cn/r/{token} (30天内有效)"
    now = dt.datetime(2030, 1, 5, 10, tzinfo=dt.UTC)
    if engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    insert = text(
        "INSERT INTO notification (id, channel, recipient, body, status, attempts, created_at) "
        "VALUES (:id, 'sms', :recipient, :body, 'PENDING', 0, :now)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"id": 1, "recipient": pending_phone, "body": body, "now": now})
        connection.execute(insert, {"id": 2, "recipient": sent_phone, "body": body, "now": now})
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE notification SET status = 'SENT', recipient = :mask, body = :body WHERE id = 2"),
            {"mask": sent_phone[:3] + "****" + sent_phone[-4:], "body": residents.mask_links(body)},
        )
    engine.dispose()


async def test_upgrading_seals_pending_messages_and_leaves_no_old_values(database_at_0003):
    url, path = database_at_0003
    token = "OldToken" + "x" * 35
    holder = None
    if path is not None:
        # As the running app leaves it: in WAL mode, another connection open, so the WAL stays.
        holder = sqlite3.connect(path)
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("SELECT count(*) FROM notification").fetchall()
    try:
        _old_outbox(url, "13911112222", "13733334444", token)
        if path is not None:
            # The issue itself: the sent message's old number lingers in the files.
            assert byte_search(path, {"13733334444"}) != []

        command.upgrade(alembic_config(url), "head")
        if path is not None:
            assert byte_search(path, secrets_of(["13911112222", "13733334444"], [token])) == []
    finally:
        if holder is not None:
            holder.close()

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            pending, sent = (
                await session.scalars(select(cm.Notification).order_by(cm.Notification.id))
            ).all()
            assert (pending.recipient, sent.recipient, sent.sealed) == ("139****2222", "137****4444", None)
            assert token not in pending.body and "/r/••••••" in pending.body
            clear = outbox.unseal(pending)
            assert clear.recipient == "13911112222" and f"/r/{token}" in clear.body
            assert await outbox.send_notifications(session=session, backend=_Collect()) == (1, 0)
            await session.rollback()
    finally:
        await engine.dispose()

    # Down again: 0003's code finds its pending message in clear.
    command.downgrade(alembic_config(url), "0003_delivery")
    old = create_sync_engine(sync_url(url))
    with old.connect() as connection:
        rows = connection.execute(text("SELECT recipient, body FROM notification ORDER BY id")).all()
    old.dispose()
    assert rows[0][0] == "13911112222" and f"/r/{token}" in rows[0][1]
    assert rows[1][0] == "137****4444"
