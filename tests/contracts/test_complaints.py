"""Complaints (SPEC §5.5): filed by link or hotline, responded, resolved or rejected, and their lights."""

import datetime as dt
import math
import re

import pytest
from alembic import command
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select
from stdnum import verhoeff

from contracts import complaints
from contracts import models as cm
from contracts.models import ComplaintStatus, Light
from core import clock
from core.api import decode_id, encode_id
from core.db import alembic_config, create_sessionmaker
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
    complaint = await complaints.file_complaint(
        session=world.session, token=token, category="ATTITUDE", text="迟到"
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
    payload = (await api(COMPLAIN, {"i": {"token": token, "category": " attitude ", "text": " 迟到了 "}}))[
        "fileComplaint"
    ]
    assert payload["errors"] == []
    complaint = payload["complaint"]
    assert (complaint["channel"], complaint["category"], complaint["text"], complaint["status"]) == (
        "LINK", "ATTITUDE", "迟到了", "OPEN",
    )  # fmt: skip
    assert complaint["light"] == "GREEN"
    row = (await session.scalars(select(cm.Complaint))).one()
    assert (row.delivery_id, row.contract_id, row.filed_by_id) == (delivery.id, world.contract.id, None)
    assert row.created_at + dt.timedelta(hours=24) == complaints.current_deadline(row)


@pytest.mark.parametrize(
    ("category", "text", "field"),
    [(" ", "迟到", "category"), ("ATTITUDE", "", "text"), ("服务态度", "迟到", "category")],
)
async def test_a_complaint_needs_a_category_and_a_text(session, category, text, field):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    call = complaints.file_complaint(session=session, token=token, category=category, text=text)
    assert await _refused(session, call) == [("INVALID", ("input", field))]


async def test_an_officer_files_a_hotline_complaint_for_a_resident(session, api):
    world = await cw.build(session, start_in_days=10)
    delivery, _token = await world.deliver()
    officer = await _login(api, world)
    variables = {"i": {"deliveryId": encode_id("Delivery", delivery.id), "category": "LATE", "text": "12345"}}
    payload = (await api(HOTLINE, variables, token=officer))["fileComplaintForResident"]
    assert payload["errors"] == []
    assert (payload["complaint"]["channel"], payload["complaint"]["status"]) == ("HOTLINE", "OPEN")
    row = (await session.scalars(select(cm.Complaint))).one()
    assert (row.delivery_id, row.filed_by_id) == (delivery.id, world.users["officer"].id)


async def test_a_hotline_complaint_only_by_the_departments_officers(session):
    world = await cw.build(session, start_in_days=10)
    delivery_id = (await world.deliver())[0].id
    call = complaints.file_complaint_for_resident(
        session=session, actor=world.market.other_officer, delivery_id=delivery_id, category="OTHER", text="y"
    )
    assert await _refused(session, call) == [("PERMISSION_DENIED", None)]
    call = complaints.file_complaint_for_resident(
        session=session, actor=world.officer, delivery_id=delivery_id + 1000, category="OTHER", text="y"
    )
    assert await _refused(session, call) == [("NOT_FOUND", ("input", "deliveryId"))]
    assert (await session.scalars(select(cm.Complaint))).all() == []


# ---------------------------------------------------------------- reference numbers

REFERENCE = re.compile(r"^[1-9]\d{3}-\d{4}-\d{4}$")
BY_REFERENCE = (
    "query($r: String!) { complaints(reference: $r) { totalCount edges { node { id reference status } } } }"
)


def test_a_reference_is_12_digits_in_4_4_4_with_a_check_digit():
    references = {complaints.new_complaint_reference() for _ in range(200)}
    assert len(references) == 200  # random, not a running number
    for reference in references:
        assert REFERENCE.match(reference), reference
        digits = reference.replace("-", "")
        assert verhoeff.is_valid(digits)
        # However the resident reads or types it, it is the same reference.
        assert complaints.parse_complaint_reference(digits) == reference
        assert complaints.parse_complaint_reference(f" {digits[:4]} {digits[4:8]} {digits[8:]} ") == reference


@given(st.text("0123456789", min_size=11, max_size=11), st.integers(0, 11), st.integers(1, 9))
def test_a_reference_with_one_digit_wrong_is_refused(body, position, change):
    digits = body + verhoeff.calc_check_digit(body)
    wrong = digits[:position] + str((int(digits[position]) + change) % 10) + digits[position + 1 :]
    with pytest.raises(DomainError) as raised:
        complaints.parse_complaint_reference(wrong)
    assert [(p.code.value, p.field) for p in raised.value.problems] == [("INVALID", ("reference",))]


@given(st.text("0123456789", min_size=11, max_size=11), st.integers(0, 10))
def test_a_reference_with_two_neighbours_swapped_is_refused(body, position):
    digits = body + verhoeff.calc_check_digit(body)
    assume(digits[position] != digits[position + 1])
    swapped = digits[:position] + digits[position + 1] + digits[position] + digits[position + 2 :]
    with pytest.raises(DomainError):
        complaints.parse_complaint_reference(swapped)


@pytest.mark.parametrize(
    "value", ["", "1234-5678-901", "1234-5678-90123", "abcd-efgh-ijkl", "1234/5678/9012"]
)
def test_what_is_not_a_reference_is_refused(value):
    with pytest.raises(DomainError):
        complaints.parse_complaint_reference(value)


async def test_each_complaint_has_its_own_reference_shown_the_same_in_the_api(session, api):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    filed = []
    for text in ("迟到", "态度差", "没打扫"):
        payload = (
            await api(
                "mutation($i: FileComplaintInput!) { fileComplaint(input: $i) { complaint { id reference } } }",
                {"i": {"token": token, "category": "ATTITUDE", "text": text}},
            )
        )["fileComplaint"]["complaint"]
        filed.append(payload)
    rows = {r.id: r for r in (await session.scalars(select(cm.Complaint))).all()}
    assert len({c["reference"] for c in filed}) == 3
    for complaint in filed:
        assert REFERENCE.match(complaint["reference"])
        assert (
            rows[int(decode_id(complaint["id"], "Complaint", field=["id"]))].reference
            == complaint["reference"]
        )
    # The resident's view of the delivery lists them, newest first, with the same references.
    mine = (
        await api(
            "query($t: String!) { residentDelivery(token: $t) { complaints { reference text status } } }",
            {"t": token},
        )
    )["residentDelivery"]["complaints"]
    assert [(c["reference"], c["text"]) for c in mine] == [
        (c["reference"], t) for c, t in zip(reversed(filed), ("没打扫", "态度差", "迟到"), strict=True)
    ]


async def test_the_hotline_finds_a_complaint_by_the_reference_the_resident_reads_out(session, api):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    await _complaint(world)
    await complaints.close_complaint(
        session=session, actor=world.officer, complaint_id=complaint.id, note="不属实", substantiated=False
    )
    await session.commit()
    officer = await _login(api, world)
    spoken = complaint.reference.replace("-", " ")
    found = (await api(BY_REFERENCE, {"r": spoken}, token=officer))["complaints"]
    # Closed complaints too: the resident may call about one that was settled.
    assert found["totalCount"] == 1
    assert found["edges"][0]["node"] == {"id": _gid(complaint), "reference": complaint.reference,
                                         "status": "RESOLVED"}  # fmt: skip
    # Only within what the caller may see: another department's officer finds nothing.
    other = await api.login(world.market.users["other_officer"].email, factories.PASSWORD)
    assert (await api(BY_REFERENCE, {"r": spoken}, token=other))["complaints"]["totalCount"] == 0
    digits = complaint.reference.replace("-", "")
    mistyped = digits[:3] + str((int(digits[3]) + 1) % 10) + digits[4:]
    response = (
        await api.raw(BY_REFERENCE, {"r": mistyped}, headers={"Authorization": f"Bearer {officer}"})
    ).json()
    assert response["data"] is None
    assert response["errors"][0]["extensions"] == {"code": "INVALID", "field": ["reference"]}


async def test_complaints_filed_before_references_get_one_when_migrating(scratch_engine):
    """Revision 0005 gives every existing complaint a reference, each its own."""
    async with create_sessionmaker(scratch_engine)() as session:
        world = await cw.build(session, start_in_days=10)
        for _ in range(3):
            await _complaint(world)
    await scratch_engine.dispose()
    url = scratch_engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), "0004_outbox_sealed")
    command.upgrade(alembic_config(url), "head")
    async with create_sessionmaker(scratch_engine)() as session:
        references = (await session.scalars(select(cm.Complaint.reference))).all()
    assert len(references) == 3 and len(set(references)) == 3
    assert all(REFERENCE.match(r) and verhoeff.is_valid(r.replace("-", "")) for r in references)


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
    call = complaints.respond_complaint(
        session=session, actor=world.provider, complaint_id=complaint.id, text=" "
    )
    assert await _refused(session, call) == [("INVALID", ("text",))]


@pytest.mark.parametrize("substantiated", [True, False])
async def test_the_officer_resolves_substantiated_or_not(session, api, substantiated):
    world = await cw.build(session, start_in_days=10)
    complaint = await _complaint(world)
    await complaints.respond_complaint(
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
        await complaints.respond_complaint(
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
    call = complaints.close_complaint(
        session=session, actor=world.officer, complaint_id=complaint.id, note=" ", substantiated=True
    )
    assert await _refused(session, call) == [("INVALID", ("note",))]


async def _in_state(world, status: ComplaintStatus) -> cm.Complaint:
    complaint = await _complaint(world)
    s, officer = world.session, world.officer
    if status != ComplaintStatus.OPEN and status != ComplaintStatus.REJECTED:
        await complaints.respond_complaint(
            session=s, actor=world.provider, complaint_id=complaint.id, text="x"
        )
    if status == ComplaintStatus.RESOLVED:
        await complaints.close_complaint(
            session=s, actor=officer, complaint_id=complaint.id, note="ok", substantiated=True
        )
    if status == ComplaintStatus.REJECTED:
        await complaints.close_complaint(
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
        "respond": lambda: complaints.respond_complaint(
            session=session, actor=world.officer, complaint_id=complaint_id, text="again"
        ),
        "resolve": lambda: complaints.close_complaint(
            session=session, actor=world.officer, complaint_id=complaint_id, note="n", substantiated=False
        ),
        "reject": lambda: complaints.close_complaint(
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
        category="OTHER",
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
    assert complaints.light(_at(ComplaintStatus.OPEN, T), T + age) == expected


@pytest.mark.parametrize(("age", "expected"), RESPONDED_LIGHTS, ids=str)
def test_a_responded_complaint_has_7_days_from_filing_to_be_resolved(age, expected):
    assert complaints.light(_at(ComplaintStatus.RESPONDED, T), T + age) == expected


@pytest.mark.parametrize("status", [ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED])
def test_a_closed_complaint_has_no_light(status):
    assert complaints.light(_at(status, T), T + 30 * D) is None
    assert complaints.current_deadline(_at(status, T)) is None


async def test_the_sql_filter_agrees_with_the_light_at_the_very_boundaries(session):
    world = await cw.build(session, start_in_days=10)
    t0 = (await world.now()).replace(microsecond=0)
    clock.pin(session, t0)
    open_one = await _complaint(world)
    responded = await _complaint(world)
    await complaints.respond_complaint(
        session=session, actor=world.provider, complaint_id=responded.id, text="x"
    )
    closed = await _complaint(world)
    await complaints.close_complaint(
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
                            cm.Complaint.id.in_(rows), complaints.light_clause(light, now)
                        )
                    )
                ).all()
            )
            expected = {i for i, c in rows.items() if complaints.light(c, now) == light}
            assert found == expected, (age, light)
    assert complaints.light(open_one, t0 + 18 * H) == Light.YELLOW
    assert complaints.light(responded, t0 + 18 * H) == Light.GREEN


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
    await complaints.respond_complaint(
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
    await complaints.close_complaint(
        session=session, actor=world.officer, complaint_id=first.id, note="核实", substantiated=True
    )
    await complaints.close_complaint(
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
