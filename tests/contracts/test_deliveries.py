"""Recording deliveries (SPEC §5.3): who, when, how many, which phone; and what is kept of the phone."""

import datetime as dt
import hashlib
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, select
from sqlmodel import SQLModel

import app
from contracts import deliveries, lifecycle, outbox, residents
from contracts import models as cm
from core.api import encode_id
from core.auth import Role
from core.errors import DomainError
from core.settings import get_settings
from tests import factories
from tests.contracts import world as cw

E = "errors { field code message }"
PHONE = "15987654321"  # a number nothing else in the database contains


class Collect:
    """A notification backend that keeps what it was asked to send."""

    def __init__(self):
        self.sent = []

    def send(self, *, channel, recipient, body):
        self.sent.append((channel, recipient, body))


async def _record(world, **overrides):
    values = dict(
        session=world.session,
        actor=world.provider,
        contract_id=world.contract.id,
        delivered_on=await world.today(),
        units=1,
        resident_phone=PHONE,
    )
    values.update(overrides)
    return await deliveries.record_delivery(**values)


async def _refused(world, **overrides) -> list[tuple[str, tuple | None]]:
    with pytest.raises(DomainError) as raised:
        await _record(world, **overrides)
    await world.session.rollback()
    return [(p.code.value, p.field) for p in raised.value.problems]


def _token_of(notification: cm.Notification) -> str:
    return cw.link_token(notification)


# ---------------------------------------------------------------- who and when


async def test_the_contracted_provider_records_a_delivery_and_the_link_is_queued(session):
    world = await cw.build(session, start_in_days=10)
    recorded = await _record(world, units=3, note=" 周二上午 ")
    await session.commit()
    delivery, message = recorded.delivery, recorded.notification
    assert (delivery.contract_id, delivery.units, delivery.note) == (world.contract.id, 3, "周二上午")
    assert delivery.delivered_on == await world.today()
    assert message.status == cm.NotificationStatus.PENDING and message.delivery_id == delivery.id
    # Readable: only masks. The text the resident gets is sealed until it is sent.
    assert message.recipient == "159****4321" and "/r/••••••" in message.body
    text = outbox.unseal(message)
    assert text.recipient == PHONE and "/r/" in text.body and "/r/••••••" not in text.body


async def test_a_provider_cannot_record_on_another_providers_contract(session):
    world = await cw.build(session, start_in_days=10)
    assert await _refused(world, actor=world.other_provider) == [("PERMISSION_DENIED", None)]


async def test_no_delivery_on_a_suspended_contract_and_again_once_reinstated(session):
    world = await cw.build(session, start_in_days=10)
    await lifecycle.change_contract_status(
        session=session, actor=world.officer, contract_id=world.contract.id, change="suspended",
        reason="服务质量整改",
    )  # fmt: skip
    await session.commit()
    assert await _refused(world) == [("CONTRACT_SUSPENDED", None)]
    await lifecycle.change_contract_status(
        session=session, actor=world.officer, contract_id=world.contract.id, change="reinstated"
    )
    await session.commit()
    assert (await _record(world)).delivery.id is not None


@pytest.mark.parametrize("change", ["terminated", "completed"])
async def test_no_delivery_on_a_closed_contract(session, change):
    world = await cw.build(session, start_in_days=10)
    if change == "completed":
        _first, last_day = lifecycle.contract_term(world.contract)
        now = await world.now()
        await world.advance(
            (dt.datetime.combine(last_day, dt.time(0), dt.UTC) - now).total_seconds() + 2 * 86400
        )
    await lifecycle.change_contract_status(
        session=session, actor=world.officer, contract_id=world.contract.id, change=change, reason="到期"
    )
    await session.commit()
    assert await _refused(world) == [("INVALID_STATE", None)]


async def test_the_api_names_the_field_at_fault(session, api):
    world = await cw.build(session, start_in_days=10)
    provider_token = await api.login(world.users["provider"].email, factories.PASSWORD)
    variables = {
        "i": {
            "contractId": encode_id("Contract", world.contract.id),
            "deliveredOn": (await world.today() + dt.timedelta(days=1)).isoformat(),
            "units": 1,
            "residentPhone": "021-6123 4567",
        }
    }
    payload = (await api(RECORD, variables, token=provider_token))["recordDelivery"]
    assert payload["delivery"] is None
    assert sorted((e["code"], e["field"]) for e in payload["errors"]) == [
        ("INVALID", ["input", "deliveredOn"]),
        ("INVALID", ["input", "residentPhone"]),
    ]
    assert (await session.scalars(select(cm.Delivery))).all() == []


async def test_a_delivery_cannot_be_in_the_future(session):
    world = await cw.build(session, start_in_days=10)
    today = await world.today()
    assert await _refused(world, delivered_on=today + dt.timedelta(days=1)) == [
        ("INVALID", ("input", "deliveredOn"))
    ]
    assert (await _record(world, delivered_on=today)).delivery.delivered_on == today


async def test_today_is_the_deployments_calendar_day_not_utcs(session):
    world = await cw.build(session, start_in_days=10)
    # 07:00 in Shanghai is still yesterday in UTC: today's delivery is accepted, tomorrow's is not.
    now = await world.now()
    shanghai = now.astimezone(get_settings().zone)
    seven = dt.datetime.combine(shanghai.date() + dt.timedelta(days=1), dt.time(7), tzinfo=shanghai.tzinfo)
    await world.advance((seven - now).total_seconds())
    today = await world.today()
    assert (await world.now()).astimezone(dt.UTC).date() == today - dt.timedelta(days=1)
    assert (await _record(world, delivered_on=today)).delivery.delivered_on == today
    await session.commit()
    assert await _refused(world, delivered_on=today + dt.timedelta(days=1)) == [
        ("INVALID", ("input", "deliveredOn"))
    ]


async def test_a_delivery_must_fall_within_the_contract_term(session):
    world = await cw.build(session, start_in_days=10)
    first_day, last_day = lifecycle.contract_term(world.contract)
    assert await _refused(world, delivered_on=first_day - dt.timedelta(days=1)) == [
        ("INVALID", ("input", "deliveredOn"))
    ]
    assert (await _record(world, delivered_on=first_day)).delivery.delivered_on == first_day
    await session.commit()
    # After the term (the contract not yet completed): its last day is accepted, the day after is not.
    now = await world.now()
    await world.advance((dt.datetime.combine(last_day, dt.time(0), dt.UTC) - now).total_seconds() + 5 * 86400)
    assert (await _record(world, delivered_on=last_day)).delivery.delivered_on == last_day
    await session.commit()
    assert await _refused(world, delivered_on=last_day + dt.timedelta(days=1)) == [
        ("INVALID", ("input", "deliveredOn"))
    ]


@pytest.mark.parametrize("units", [0, -1])
async def test_at_least_one_unit(session, units):
    world = await cw.build(session, start_in_days=10)
    assert await _refused(world, units=units) == [("INVALID", ("input", "units"))]


@pytest.mark.parametrize(
    "phone",
    [
        "021-6123 4567",  # a Shanghai landline
        "02161234567",  # the same, 11 digits
        "159876543210",  # 12 digits
        "1598765432",  # 10 digits
        "1598765432a",  # a letter
        "abcdefghijk",
        "12987654321",  # no mobile range starts with 12
        "",
    ],
)
async def test_only_mainland_mobile_numbers(session, phone):
    world = await cw.build(session, start_in_days=10)
    assert await _refused(world, resident_phone=phone) == [("INVALID", ("input", "residentPhone"))]


@pytest.mark.parametrize(
    "phone", ["+86 159 8765 4321", "159-8765-4321", "159 8765 4321", "0086 15987654321", "8615987654321"]
)
async def test_usual_ways_of_writing_a_mobile_number_are_accepted(session, phone):
    world = await cw.build(session, start_in_days=10)
    recorded = await _record(world, resident_phone=phone)
    # The same person whichever way the number was written: one hash, the message to the 11 digits.
    assert recorded.delivery.phone_hash == residents.phone_hash(PHONE)
    assert outbox.unseal(recorded.notification).recipient == PHONE


async def test_several_problems_are_reported_together(session):
    world = await cw.build(session, start_in_days=10)
    problems = await _refused(
        world, delivered_on=await world.today() + dt.timedelta(days=1), units=0, resident_phone="123"
    )
    assert sorted(problems) == sorted(
        [
            ("INVALID", ("input", "deliveredOn")),
            ("INVALID", ("input", "units")),
            ("INVALID", ("input", "residentPhone")),
        ]
    )


async def test_a_refused_delivery_writes_nothing(session):
    world = await cw.build(session, start_in_days=10)
    await _refused(world, units=0)
    assert (await session.scalars(select(cm.Delivery))).all() == []
    assert (await session.scalars(select(cm.Notification))).all() == []


# ---------------------------------------------------------------- data minimisation


async def _every_value(session):
    """(table, column, text) for every non-null value of every row of every table of the database."""
    connection = await session.connection()
    in_database = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    tables = SQLModel.metadata.sorted_tables
    # Nothing escapes the scan: every table of the database has a model.
    assert in_database - {"alembic_version"} <= {t.name for t in tables}
    found = []
    for table in tables:
        for row in (await session.execute(select(table))).mappings():
            for column, value in row.items():
                if value is not None:
                    found.append((table.name, column, str(value)))
    return found


def _places(values, secret: str) -> list[tuple[str, str]]:
    """Where `secret` appears, also written with spaces, dashes, brackets or a leading +."""
    return sorted(
        {(t, c) for t, c, text in values if secret in text or secret in re.sub(r"[\s\-()+]", "", text)}
    )


async def test_the_clear_number_and_the_token_are_in_no_column_pending_or_sent(session):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver(phone="+86 159-8765-4321")
    values = await _every_value(session)
    # Pending: sealed, so in no column in clear; the outbox shows masks.
    assert _places(values, PHONE) == []
    assert _places(values, token) == []
    assert _places(values, token[:12]) == []
    message = (await session.scalars(select(cm.Notification))).one()
    assert (message.recipient, message.sealed is not None) == ("159****4321", True)

    backend = Collect()
    assert await outbox.send_notifications(session=session, backend=backend) == (1, 0)
    await session.commit()
    assert backend.sent[0][1] == PHONE and token in backend.sent[0][2]
    values = await _every_value(session)
    # Not in any table: not the deliveries, not the outbox, not the journal's before/after.
    assert _places(values, PHONE) == []
    assert _places(values, token) == []
    assert _places(values, token[:12]) == []
    message = (await session.scalars(select(cm.Notification))).one()
    assert message.recipient == "159****4321"
    assert message.status == cm.NotificationStatus.SENT


async def test_a_failed_send_keeps_the_message_for_a_retry(session):
    world = await cw.build(session, start_in_days=10)
    await world.deliver(phone=PHONE)

    class Down:
        def send(self, **_message):
            raise ConnectionError("gateway down")

    assert await outbox.send_notifications(session=session, backend=Down()) == (0, 1)
    await session.commit()
    message = (await session.scalars(select(cm.Notification))).one()
    assert (message.status, message.attempts) == (cm.NotificationStatus.PENDING, 1)
    assert outbox.unseal(message).recipient == PHONE
    assert "gateway down" in message.last_error
    backend = Collect()
    assert await outbox.send_notifications(session=session, backend=backend) == (1, 0)
    await session.commit()
    assert _places(await _every_value(session), PHONE) == []


async def test_the_delivery_keeps_a_keyed_hash_of_the_phone_not_a_plain_one(session, monkeypatch):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver(phone=PHONE)
    assert re.fullmatch(r"[0-9a-f]{64}", delivery.phone_hash)
    assert delivery.phone_hash != hashlib.sha256(PHONE.encode()).hexdigest()
    assert delivery.phone_hash != hashlib.sha256(("+86" + PHONE).encode()).hexdigest()
    assert delivery.phone_hash == residents.phone_hash(PHONE)
    # The hash is keyed by the deployment's secret: without the key the number cannot be tried out.
    monkeypatch.setattr(residents, "get_settings", lambda: SimpleNamespace(secret_key="another-secret" * 4))
    assert residents.phone_hash(PHONE) != delivery.phone_hash
    # The token is kept only as its SHA-256.
    assert delivery.token_hash == hashlib.sha256(token.encode()).hexdigest()


def _scalar_fields(type_name: str) -> str:
    """Every scalar and enum field of a GraphQL type, as a selection."""
    from graphql import get_named_type, is_leaf_type

    fields = app.build_schema()._schema.type_map[type_name].fields
    return " ".join(name for name, f in fields.items() if is_leaf_type(get_named_type(f.type)))


def test_no_delivery_type_has_a_field_for_the_token_or_the_phone():
    schema = app.build_schema()._schema.type_map
    for type_name in ("Delivery", "DeliveryPayload", "Rating", "Complaint", "Contract"):
        names = [name.lower() for name in schema[type_name].fields]
        assert not [n for n in names if "token" in n or "phone" in n or "hash" in n], type_name


RECORD = f"""
mutation($i: RecordDeliveryInput!) {{
  recordDelivery(input: $i) {{
    delivery {{ {_scalar_fields("Delivery")} contract {{ id }} rating {{ stars }} }} {E}
  }}
}}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Delivery {{ {_scalar_fields('Delivery')} }} }} }}"


def _token_parts(token: str, size: int = 8) -> list[str]:
    return [token[i : i + size] for i in range(len(token) - size + 1)]


async def test_the_provider_never_sees_the_token(session, api):
    world = await cw.build(session, start_in_days=10)
    provider_token = await api.login(world.users["provider"].email, factories.PASSWORD)
    variables = {
        "i": {
            "contractId": encode_id("Contract", world.contract.id),
            "deliveredOn": (await world.today()).isoformat(),
            "units": 2,
            "residentPhone": "159 8765 4321",
        }
    }
    payload = (await api(RECORD, variables, token=provider_token))["recordDelivery"]
    assert payload["errors"] == []
    delivery_id = payload["delivery"]["id"]
    message = (await session.scalars(select(cm.Notification))).one()
    token = _token_of(message)
    assert len(token) >= 22
    node = (await api(NODE, {"id": delivery_id}, token=provider_token))["node"]
    assert node["units"] == 2
    for text in (json.dumps(payload), json.dumps(node)):
        assert not [part for part in _token_parts(token) if part in text]
        assert PHONE not in text and "8765" not in text
    # The token works: it is the resident's.
    view = await deliveries.resident_view(session=session, token=token)
    assert view.delivery.id == (await session.scalars(select(cm.Delivery))).one().id


NOTIFICATIONS = "{ notifications { channel recipient body status sentAt } }"


@pytest.mark.parametrize("role", [None, Role.PROVIDER, Role.OFFICER, Role.AUDITOR, Role.EVALUATOR])
async def test_only_admins_read_the_outbox(session, api, role):
    world = await cw.build(session, start_in_days=10)
    await world.deliver(phone=PHONE)
    names = {Role.PROVIDER: "provider", Role.OFFICER: "officer", Role.AUDITOR: "auditor"}
    if role in names:
        user = world.users[names[role]]
    elif role is not None:
        user = await factories.user(session, role)
        await session.commit()
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Bearer {await api.login(user.email, factories.PASSWORD)}"
    body = (await api.raw(NOTIFICATIONS, headers=headers)).json()
    assert body["data"] is None
    expected = "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
    assert [e["extensions"]["code"] for e in body["errors"]] == [expected]
    assert PHONE not in json.dumps(body)


async def test_admins_see_sent_messages_masked(session, api):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver(phone=PHONE)
    admin = await factories.user(session, Role.ADMIN)
    await outbox.send_notifications(session=session, backend=Collect())
    await session.commit()
    admin_token = await api.login(admin.email, factories.PASSWORD)
    [message] = (await api(NOTIFICATIONS, token=admin_token))["notifications"]
    assert message["recipient"] == "159****4321" and message["status"] == "SENT"
    assert message["sentAt"] is not None
    assert "/r/••••••" in message["body"] and token not in message["body"]
    assert not [part for part in _token_parts(token) if part in message["body"]]


async def test_admins_see_pending_messages_masked_too(session, api):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver(phone=PHONE)
    admin = await factories.user(session, Role.ADMIN)
    await session.commit()
    admin_token = await api.login(admin.email, factories.PASSWORD)
    [message] = (await api(NOTIFICATIONS, token=admin_token))["notifications"]
    assert (message["recipient"], message["status"], message["sentAt"]) == ("159****4321", "PENDING", None)
    assert "/r/••••••" in message["body"]
    assert not [part for part in _token_parts(token) if part in message["body"]]
