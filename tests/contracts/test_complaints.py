"""Complaints (SPEC §5.5): filed by link or hotline, responded, resolved or rejected, and their lights."""

import datetime as dt
import math

import pytest
from sqlalchemy import select

from contracts import models as cm
from contracts import service
from contracts.models import ComplaintStatus, Light
from core import clock
from core.api import encode_id
from core.errors import DomainError
from tests import factories
from tests.contracts import world as cw

E = "errors { field code message }"
FIELDS = "id channel category text status substantiated response respondedAt resolutionNote light deadline"
COMPLAIN = (
    f"mutation($i: FileComplaintInput!) {{ fileComplaint(input: $i) {{ complaint {{ {FIELDS} }} {E} }} }}"
)
HOTLINE = f"mutation($i: FileComplaintForResidentInput!) {{ fileComplaintForResident(input: $i) {{ complaint {{ {FIELDS} }} {E} }} }}"
RESPOND = f"mutation($id: ID!, $t: String!) {{ respondComplaint(id: $id, text: $t) {{ complaint {{ {FIELDS} }} {E} }} }}"
RESOLVE = f"mutation($id: ID!, $s: Boolean!, $n: String!) {{ resolveComplaint(id: $id, substantiated: $s, note: $n) {{ complaint {{ {FIELDS} }} {E} }} }}"
REJECT = f"mutation($id: ID!, $n: String!) {{ rejectComplaint(id: $id, note: $n) {{ complaint {{ {FIELDS} }} {E} }} }}"
LIGHTS = """
query($open: Boolean!) {
  all: complaints(openOnly: $open) { totalCount edges { node { id light status } } }
  green: complaints(openOnly: $open, light: GREEN) { edges { node { id } } }
  yellow: complaints(openOnly: $open, light: YELLOW) { edges { node { id } } }
  red: complaints(openOnly: $open, light: RED) { edges { node { id } } }
}"""
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
M = dt.timedelta(minutes=1)


async def _refused(session, call) -> list[tuple[str, tuple | None]]:
    with pytest.raises(DomainError) as raised:
        await call
    await session.rollback()
    return [(p.code.value, p.field) for p in raised.value.problems]


async def _complaint(world, token=None) -> cm.Complaint:
    if token is None:
        _delivery, token = await world.deliver()
    complaint = await service.file_complaint(
        session=world.session, token=token, category="服务态度", text="迟到"
    )
    await world.session.commit()
    return complaint


def _gid(complaint) -> str:
    return encode_id("Complaint", complaint.id)


async def _login(api, world, who: str = "officer") -> str:
    return await api.login(world.users[who].email, factories.PASSWORD)


# ---------------------------------------------------------------- filing


async def test_a_resident_complains_through_the_link(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    payload = (await api(COMPLAIN, {"i": {"token": token, "category": " 服务态度 ", "text": " 迟到了 "}}))[
        "fileComplaint"
    ]
    assert payload["errors"] == []
    complaint = payload["complaint"]
    assert (complaint["channel"], complaint["category"], complaint["text"], complaint["status"]) == (
        "LINK", "服务态度", "迟到了", "OPEN",
    )  # fmt: skip
    assert complaint["light"] == "GREEN"
    row = (await session.scalars(select(cm.Complaint))).one()
    assert (row.delivery_id, row.contract_id, row.filed_by_id) == (delivery.id, world.contract.id, None)
    assert row.created_at + dt.timedelta(hours=24) == service.current_deadline(row)


@pytest.mark.parametrize(("category", "text", "field"), [(" ", "迟到", "category"), ("服务态度", "", "text")])
async def test_a_complaint_needs_a_category_and_a_text(session, category, text, field):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    call = service.file_complaint(session=session, token=token, category=category, text=text)
    assert await _refused(session, call) == [("INVALID", ("input", field))]


async def test_an_officer_files_a_hotline_complaint_for_a_resident(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, _token = await world.deliver()
    officer = await _login(api, world)
    variables = {
        "i": {"deliveryId": encode_id("Delivery", delivery.id), "category": "未按时上门", "text": "12345"}
    }
    payload = (await api(HOTLINE, variables, token=officer))["fileComplaintForResident"]
    assert payload["errors"] == []
    assert (payload["complaint"]["channel"], payload["complaint"]["status"]) == ("HOTLINE", "OPEN")
    row = (await session.scalars(select(cm.Complaint))).one()
    assert (row.delivery_id, row.filed_by_id) == (delivery.id, world.users["officer"].id)


async def test_a_hotline_complaint_only_by_the_departments_officers(session):
    world = await cw.build(session, start_in_days=10)
    delivery_id = (await world.deliver())[0].id
    call = service.file_complaint_for_resident(
        session=session, actor=world.market.other_officer, delivery_id=delivery_id, category="x", text="y"
    )
    assert await _refused(session, call) == [("PERMISSION_DENIED", None)]
    call = service.file_complaint_for_resident(
        session=session, actor=world.officer, delivery_id=delivery_id + 1000, category="x", text="y"
    )
    assert await _refused(session, call) == [("NOT_FOUND", ("input", "deliveryId"))]
    assert (await session.scalars(select(cm.Complaint))).all() == []


# ---------------------------------------------------------------- responding and closing


@pytest.mark.parametrize("who", ["provider", "officer"])
async def test_the_provider_or_the_officer_responds(session, api, who):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    token = await _login(api, world, who)
    payload = (await api(RESPOND, {"id": _gid(complaint), "t": " 已道歉并调整排班 "}, token=token))[
        "respondComplaint"
    ]
    assert payload["errors"] == []
    assert (payload["complaint"]["status"], payload["complaint"]["response"]) == (
        "RESPONDED",
        "已道歉并调整排班",
    )
    assert payload["complaint"]["respondedAt"] is not None
    # Once responded, the deadline is the resolution's: 7 days from filing.
    deadline = dt.datetime.fromisoformat(payload["complaint"]["deadline"])
    assert deadline == complaint.created_at + dt.timedelta(days=7)


async def test_another_provider_cannot_respond(session, api):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    token = await _login(api, world, "other_provider")
    payload = (await api(RESPOND, {"id": _gid(complaint), "t": "x"}, token=token))["respondComplaint"]
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    await session.refresh(complaint)
    assert complaint.status == ComplaintStatus.OPEN


async def test_an_empty_response_is_refused(session):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    call = service.respond_complaint(
        session=session, actor=world.provider, complaint_id=complaint.id, text=" "
    )
    assert await _refused(session, call) == [("INVALID", ("text",))]


@pytest.mark.parametrize("substantiated", [True, False])
async def test_the_officer_resolves_substantiated_or_not(session, api, substantiated):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    await service.respond_complaint(
        session=session, actor=world.provider, complaint_id=complaint.id, text="已处理"
    )
    await session.commit()
    officer = await _login(api, world)
    payload = (
        await api(RESOLVE, {"id": _gid(complaint), "s": substantiated, "n": "回访核实"}, token=officer)
    )["resolveComplaint"]
    assert payload["errors"] == []
    c = payload["complaint"]
    assert (c["status"], c["substantiated"], c["resolutionNote"]) == ("RESOLVED", substantiated, "回访核实")
    assert (c["light"], c["deadline"]) == (None, None)
    await session.refresh(complaint)
    assert complaint.closed_at is not None


@pytest.mark.parametrize("responded", [False, True])
async def test_the_officer_rejects_an_open_or_responded_complaint(session, api, responded):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    if responded:
        await service.respond_complaint(
            session=session, actor=world.provider, complaint_id=complaint.id, text="x"
        )
        await session.commit()
    officer = await _login(api, world)
    payload = (await api(REJECT, {"id": _gid(complaint), "n": "与本服务无关"}, token=officer))[
        "rejectComplaint"
    ]
    assert payload["errors"] == []
    c = payload["complaint"]
    assert (c["status"], c["substantiated"], c["resolutionNote"], c["light"]) == (
        "REJECTED",
        None,
        "与本服务无关",
        None,
    )


async def test_the_provider_cannot_close_a_complaint(session, api):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    provider = await _login(api, world, "provider")
    resolve = (await api(RESOLVE, {"id": _gid(complaint), "s": False, "n": "x"}, token=provider))[
        "resolveComplaint"
    ]
    reject = (await api(REJECT, {"id": _gid(complaint), "n": "x"}, token=provider))["rejectComplaint"]
    assert [e["code"] for e in resolve["errors"] + reject["errors"]] == ["PERMISSION_DENIED"] * 2


async def test_a_close_needs_a_note(session):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    call = service.close_complaint(
        session=session, actor=world.officer, complaint_id=complaint.id, note=" ", substantiated=True
    )
    assert await _refused(session, call) == [("INVALID", ("note",))]


async def _in_state(world, status: ComplaintStatus) -> cm.Complaint:
    complaint = await _complaint(world)
    s, officer = world.session, world.officer
    if status != ComplaintStatus.OPEN and status != ComplaintStatus.REJECTED:
        await service.respond_complaint(session=s, actor=world.provider, complaint_id=complaint.id, text="x")
    if status == ComplaintStatus.RESOLVED:
        await service.close_complaint(
            session=s, actor=officer, complaint_id=complaint.id, note="ok", substantiated=True
        )
    if status == ComplaintStatus.REJECTED:
        await service.close_complaint(
            session=s, actor=officer, complaint_id=complaint.id, note="no", substantiated=None, reject=True
        )
    await s.commit()
    assert complaint.status == status
    return complaint


WRONG_STATES = [
    (ComplaintStatus.RESPONDED, "respond"),
    (ComplaintStatus.RESOLVED, "respond"),
    (ComplaintStatus.RESOLVED, "resolve"),
    (ComplaintStatus.RESOLVED, "reject"),
    (ComplaintStatus.REJECTED, "respond"),
    (ComplaintStatus.REJECTED, "resolve"),
    (ComplaintStatus.REJECTED, "reject"),
]


@pytest.mark.parametrize(("status", "action"), WRONG_STATES, ids=lambda v: getattr(v, "value", v))
async def test_wrong_states_are_refused(session, status, action):
    world = await cw.build(session, start_in_days=10)
    complaint = await _in_state(world, status)
    complaint_id = complaint.id
    calls = {
        "respond": lambda: service.respond_complaint(
            session=session, actor=world.officer, complaint_id=complaint_id, text="again"
        ),
        "resolve": lambda: service.close_complaint(
            session=session, actor=world.officer, complaint_id=complaint_id, note="n", substantiated=False
        ),
        "reject": lambda: service.close_complaint(
            session=session, actor=world.officer, complaint_id=complaint_id, note="n", substantiated=None,
            reject=True,
        ),
    }  # fmt: skip
    assert await _refused(session, calls[action]()) == [("INVALID_STATE", None)]
    row = await session.get(cm.Complaint, complaint_id, populate_existing=True)
    assert row.status == status


# ---------------------------------------------------------------- lights


def _at(status: ComplaintStatus, created: dt.datetime) -> cm.Complaint:
    return cm.Complaint(
        contract_id=1,
        delivery_id=1,
        channel="LINK",
        category="c",
        text="t",
        status=status,
        created_at=created,
    )


T = dt.datetime(2030, 3, 1, 8, 30, tzinfo=dt.UTC)
OPEN_LIGHTS = [
    (dt.timedelta(0), Light.GREEN),
    (17 * H + 59 * M, Light.GREEN),
    (18 * H - dt.timedelta(microseconds=1), Light.GREEN),
    (18 * H, Light.YELLOW),
    (24 * H - dt.timedelta(seconds=1), Light.YELLOW),
    (24 * H, Light.RED),
    (30 * D, Light.RED),
]
RESPONDED_LIGHTS = [
    (25 * H, Light.GREEN),
    (5 * D + 6 * H - dt.timedelta(seconds=1), Light.GREEN),
    (5 * D + 6 * H, Light.YELLOW),
    (7 * D - dt.timedelta(seconds=1), Light.YELLOW),
    (7 * D, Light.RED),
]


@pytest.mark.parametrize(("age", "expected"), OPEN_LIGHTS, ids=str)
def test_an_open_complaint_has_24_hours_to_be_responded(age, expected):
    assert service.light(_at(ComplaintStatus.OPEN, T), T + age) == expected


@pytest.mark.parametrize(("age", "expected"), RESPONDED_LIGHTS, ids=str)
def test_a_responded_complaint_has_7_days_from_filing_to_be_resolved(age, expected):
    assert service.light(_at(ComplaintStatus.RESPONDED, T), T + age) == expected


@pytest.mark.parametrize("status", [ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED])
def test_a_closed_complaint_has_no_light(status):
    assert service.light(_at(status, T), T + 30 * D) is None
    assert service.current_deadline(_at(status, T)) is None


async def test_the_sql_filter_agrees_with_the_light_at_the_very_boundaries(session):
    world = await cw.build(session, start_in_days=10)
    t0 = (await world.now()).replace(microsecond=0)
    clock.pin(session, t0)
    open_one = await _complaint(world)
    responded = await _complaint(world)
    await service.respond_complaint(
        session=session, actor=world.provider, complaint_id=responded.id, text="x"
    )
    closed = await _complaint(world)
    await service.close_complaint(
        session=session, actor=world.officer, complaint_id=closed.id, note="ok", substantiated=True
    )
    await session.commit()
    clock.pin(session, None)
    rows = {c.id: c for c in (open_one, responded, closed)}
    moments = {age for age, _ in OPEN_LIGHTS + RESPONDED_LIGHTS} | {18 * H + dt.timedelta(seconds=1)}
    for age in sorted(moments):
        now = t0 + age
        for light in Light:
            found = set(
                (
                    await session.scalars(
                        select(cm.Complaint.id).where(
                            cm.Complaint.id.in_(rows), service.light_clause(light, now)
                        )
                    )
                ).all()
            )
            expected = {i for i, c in rows.items() if service.light(c, now) == light}
            assert found == expected, (age, light)
    assert service.light(open_one, t0 + 18 * H) == Light.YELLOW
    assert service.light(responded, t0 + 18 * H) == Light.GREEN


async def _advance_to(world, moment: dt.datetime) -> None:
    """The clock at `moment`, or up to a second past it (it moves by whole seconds)."""
    await world.advance(math.ceil((moment - await world.now()).total_seconds()))


async def _lights(api, world, *, open_only=True) -> dict[str, str | None]:
    """Each complaint's light as the API shows it, checked against the list filtered by light in SQL."""
    officer = await _login(api, world)  # logged in anew: a token lasts 12 hours of the platform clock
    data = await api(LIGHTS, {"open": open_only}, token=officer)
    shown = {e["node"]["id"]: e["node"]["light"] for e in data["all"]["edges"]}
    for light in Light:
        filtered = {e["node"]["id"] for e in data[light.value.lower()]["edges"]}
        assert filtered == {i for i, value in shown.items() if value == light.value}, light
    return shown


async def test_lights_through_the_api_from_filing_to_resolution(session, api):
    world = await cw.build(session, start_in_days=10)
    first = await _complaint(world)
    t0 = first.created_at
    await _advance_to(world, t0 + 3 * H + 30 * M)
    second = await _complaint(world)
    a, b = _gid(first), _gid(second)

    await _advance_to(world, t0 + 17 * H + 59 * M)
    assert await _lights(api, world) == {a: "GREEN", b: "GREEN"}
    await _advance_to(world, t0 + 18 * H)
    assert await _lights(api, world) == {a: "YELLOW", b: "GREEN"}
    await _advance_to(world, t0 + 24 * H)
    assert await _lights(api, world) == {a: "RED", b: "YELLOW"}

    # A response moves the first to its resolution deadline, 7 days from filing: green again.
    await service.respond_complaint(
        session=session, actor=world.provider, complaint_id=first.id, text="已处理"
    )
    await session.commit()
    assert await _lights(api, world) == {a: "GREEN", b: "YELLOW"}
    await _advance_to(world, t0 + 5 * D + 6 * H - M)
    assert await _lights(api, world) == {a: "GREEN", b: "RED"}
    await _advance_to(world, t0 + 5 * D + 6 * H)
    assert await _lights(api, world) == {a: "YELLOW", b: "RED"}
    await _advance_to(world, t0 + 7 * D)
    assert await _lights(api, world) == {a: "RED", b: "RED"}

    # Closed complaints have no light, and no light filter finds them.
    await service.close_complaint(
        session=session, actor=world.officer, complaint_id=first.id, note="核实", substantiated=True
    )
    await service.close_complaint(
        session=session,
        actor=world.officer,
        complaint_id=second.id,
        note="无关",
        substantiated=None,
        reject=True,
    )
    await session.commit()
    assert await _lights(api, world) == {}
    assert await _lights(api, world, open_only=False) == {a: None, b: None}


async def test_officers_list_only_their_departments_complaints(session, api):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    ours = await api(LIGHTS, {"open": True}, token=await _login(api, world))
    theirs = await api(LIGHTS, {"open": True}, token=await _login(api, world, "other_officer"))
    assert [e["node"]["id"] for e in ours["all"]["edges"]] == [_gid(complaint)]
    assert theirs["all"] == {"totalCount": 0, "edges": []} and theirs["green"]["edges"] == []
