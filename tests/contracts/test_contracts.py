"""Contracts through the API: periods, the status machine ACTIVE ⇄ SUSPENDED → COMPLETED | TERMINATED,
who may change it, deliveries after the end, and the audit firm assignment (SPEC §5.1, §5.6)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from contracts import lifecycle
from core import clock
from core.api import encode_id
from core.auth import Role
from core.settings import get_settings
from market import accounts, awards, bids
from tests import factories
from tests.contracts import world as cw
from tests.market import world as w

# ---------------------------------------------------------------- helpers shared by the contract tests


async def contract_worlds(
    session, count: int, *, start_in_days: int = 10, kpis=None
) -> list[cw.ContractWorld]:
    """`count` ACTIVE contracts made through the whole purchase in one market world, like `cw.build`:
    the same winner (bidder 0), department, audit firm and auditors; the clock `start_in_days` into
    their term (they all start on 2030-01-01)."""
    world = await w.build(session)
    overrides = {"kpis": kpis} if kpis else {}
    tenders = [await world.published(title=f"采购 {i:02d}", **overrides) for i in range(count)]
    for tender in tenders:
        for bidder, price in enumerate(["100.00", "98.00", "96.00"]):
            await world.bid(tender, bidder, price)
    await world.past_deadline(tenders[0])  # one deadline for all: the clock moves once
    for tender in tenders:
        await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
        await world.declare_all(tender)
        await world.score_all(tender, {0: [90, 90, 90], 1: [70, 70, 70], 2: [60, 60, 60]})
        await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await world.past_challenge(max(tenders, key=lambda t: t.challenge_deadline))
    contracts = [
        await lifecycle.finalize_award(session=session, actor=world.officer, tender_id=t.id) for t in tenders
    ]
    firm = await factories.audit_firm(session)
    other_firm = await factories.audit_firm(session)
    for contract in contracts:
        await lifecycle.assign_audit_firm(
            session=session, actor=world.officer, contract_id=contract.id, audit_firm_id=firm.id
        )
    auditor = await factories.user(session, Role.AUDITOR, audit_firm_id=firm.id)
    other_auditor = await factories.user(session, Role.AUDITOR, audit_firm_id=other_firm.id)
    await move_to(world, local(contracts[0].start_date, 9) + dt.timedelta(days=start_in_days))
    assert all(c.provider_id == world.providers[0].id for c in contracts)
    users = world.users | {
        "provider": world.users["bidder0"],
        "other_provider": world.users["bidder1"],
        "auditor": auditor,
        "other_auditor": other_auditor,
    }
    return [
        cw.ContractWorld(
            market=world,
            contract=contract,
            provider=world.bidders[0],
            other_provider=world.bidders[1],
            auditor=accounts.actor_of(auditor),
            other_auditor=accounts.actor_of(other_auditor),
            users=users,
        )
        for contract in contracts
    ]


def local(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock moment in the deployment's zone (Asia/Shanghai)."""
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=get_settings().zone)


async def move_to(world, moment: dt.datetime) -> None:
    """Move the clock to `moment` (or up to a second or so past it: the real clock runs too)."""
    now = await clock.now(world.session)
    assert moment > now
    await world.advance(math.ceil((moment - now).total_seconds()))


async def move_to_just_before(world, moment: dt.datetime) -> None:
    """Move the clock to about a second before `moment`."""
    now = await clock.now(world.session)
    await world.advance(math.floor((moment - now).total_seconds()) - 1)
    assert await clock.now(world.session) < moment


async def login(api, world, who: str) -> str | None:
    """A fresh token of world.users[who] (tokens last 12 hours: log in again after the clock moves)."""
    return None if who is None else await api.login(world.users[who].email, factories.PASSWORD)


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


ERRORS = "errors { code field message }"


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


# ---------------------------------------------------------------- queries and mutations

CONTRACT = """
query($id: ID!) { node(id: $id) { ... on Contract {
  id status statusReason startDate unitPrice totalValue quantity
  provider { legalName } auditFirm { id name }
  periods { index startsOn endsOn }
} } }"""

CONTRACT_IDS = "query { contracts(first: 50) { totalCount edges { node { id } } } }"

SUSPEND = f"""mutation($id: ID!, $reason: String!) {{
  r: suspendContract(id: $id, reason: $reason) {{ contract {{ status statusReason }} {ERRORS} }} }}"""
TERMINATE = f"""mutation($id: ID!, $reason: String!) {{
  r: terminateContract(id: $id, reason: $reason) {{ contract {{ status statusReason }} {ERRORS} }} }}"""
REINSTATE = f"""mutation($id: ID!) {{
  r: reinstateContract(id: $id) {{ contract {{ status statusReason }} {ERRORS} }} }}"""
COMPLETE = f"""mutation($id: ID!) {{
  r: completeContract(id: $id) {{ contract {{ status statusReason }} {ERRORS} }} }}"""
ASSIGN = f"""mutation($id: ID!, $firm: ID!) {{
  r: assignAuditFirm(contractId: $id, auditFirmId: $firm) {{ contract {{ auditFirm {{ id }} }} {ERRORS} }} }}"""
RECORD_DELIVERY = f"""mutation($i: RecordDeliveryInput!) {{
  r: recordDelivery(input: $i) {{ delivery {{ id deliveredOn }} {ERRORS} }} }}"""

MUTATIONS = {"suspend": SUSPEND, "terminate": TERMINATE, "reinstate": REINSTATE, "complete": COMPLETE}


async def change(api, token, world, what: str, reason: str | None = "服务质量不达标") -> dict:
    variables = {"id": gid("Contract", world.contract.id)}
    if what in ("suspend", "terminate"):
        variables["reason"] = reason
    return (await api(MUTATIONS[what], variables, token=token))["r"]


async def status_of(api, world) -> str:
    data = await api(CONTRACT, {"id": gid("Contract", world.contract.id)})
    return data["node"]["status"]


async def record_delivery(api, token, world, on: dt.date) -> dict:
    variables = {
        "i": {
            "contractId": gid("Contract", world.contract.id),
            "deliveredOn": on.isoformat(),
            "units": 1,
            "residentPhone": cw.PHONE,
        }
    }
    return (await api(RECORD_DELIVERY, variables, token=token))["r"]


# ---------------------------------------------------------------- periods


async def test_a_contract_has_four_quarterly_periods_from_its_start(session, api):
    world = await cw.build(session, start_in_days=10)

    data = await api(CONTRACT, {"id": gid("Contract", world.contract.id)})

    contract = data["node"]
    assert contract["startDate"] == "2030-01-01"
    assert contract["periods"] == [
        {"index": 1, "startsOn": "2030-01-01", "endsOn": "2030-03-31"},
        {"index": 2, "startsOn": "2030-04-01", "endsOn": "2030-06-30"},
        {"index": 3, "startsOn": "2030-07-01", "endsOn": "2030-09-30"},
        {"index": 4, "startsOn": "2030-10-01", "endsOn": "2030-12-31"},
    ]


def test_periods_end_the_day_before_the_next_begins_also_from_a_month_end():
    periods = lifecycle.periods(start_date=dt.date(2030, 1, 31), count=3, months=1)
    assert [(p.index, p.starts_on, p.ends_on) for p in periods] == [
        (1, dt.date(2030, 1, 31), dt.date(2030, 2, 27)),
        (2, dt.date(2030, 2, 28), dt.date(2030, 3, 30)),
        (3, dt.date(2030, 3, 31), dt.date(2030, 4, 29)),
    ]


# ---------------------------------------------------------------- the status machine


async def test_suspend_with_a_reason_reinstate_then_terminate_from_suspended(session, api):
    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")

    suspended = await change(api, token, world, "suspend", reason="  连续两月投诉超标  ")
    assert suspended == {
        "contract": {"status": "SUSPENDED", "statusReason": "连续两月投诉超标"},
        "errors": [],
    }
    assert await status_of(api, world) == "SUSPENDED"

    reinstated = await change(api, token, world, "reinstate")
    assert reinstated == {"contract": {"status": "ACTIVE", "statusReason": None}, "errors": []}

    await change(api, token, world, "suspend")
    terminated = await change(api, token, world, "terminate", reason="整改无效")
    assert terminated == {"contract": {"status": "TERMINATED", "statusReason": "整改无效"}, "errors": []}
    assert await status_of(api, world) == "TERMINATED"


async def test_terminate_from_active(session, api):
    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")

    terminated = await change(api, token, world, "terminate", reason="服务商被列入失信名单")

    assert terminated["errors"] == []
    assert terminated["contract"] == {"status": "TERMINATED", "statusReason": "服务商被列入失信名单"}


@pytest.mark.parametrize("what", ["suspend", "terminate"])
@pytest.mark.parametrize("reason", ["", "   "])
async def test_suspending_and_terminating_need_a_reason(what, reason, session, api):
    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")

    payload = await change(api, token, world, what, reason=reason)

    assert payload["contract"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["reason"])]
    assert await status_of(api, world) == "ACTIVE"


async def test_wrong_transitions_are_invalid_state(session, api):
    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")

    # ACTIVE: cannot be reinstated
    assert codes(await change(api, token, world, "reinstate")) == ["INVALID_STATE"]
    # SUSPENDED: cannot be suspended again, nor completed (even after the term)
    await change(api, token, world, "suspend")
    assert codes(await change(api, token, world, "suspend")) == ["INVALID_STATE"]
    await move_to(world, local(dt.date(2031, 1, 2), 9))
    token = await login(api, world, "officer")
    assert codes(await change(api, token, world, "complete")) == ["INVALID_STATE"]
    assert await status_of(api, world) == "SUSPENDED"
    # TERMINATED: final
    await change(api, token, world, "terminate")
    for what in ("suspend", "reinstate", "terminate", "complete"):
        payload = await change(api, token, world, what)
        assert codes(payload) == ["INVALID_STATE"], what
        assert payload["contract"] is None
    assert await status_of(api, world) == "TERMINATED"


async def test_complete_only_after_the_last_period_ended(session, api):
    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")
    assert codes(await change(api, token, world, "complete")) == ["TOO_EARLY"]

    # The last period ends on 2030-12-31: its last second is still too early
    await move_to_just_before(world, local(dt.date(2031, 1, 1)))
    token = await login(api, world, "officer")
    payload = await change(api, token, world, "complete")
    assert codes(payload) == ["TOO_EARLY"]
    assert "2030-12-31" in payload["errors"][0]["message"]
    assert await status_of(api, world) == "ACTIVE"

    await move_to(world, local(dt.date(2031, 1, 1)))
    completed = await change(api, token, world, "complete")
    assert completed == {"contract": {"status": "COMPLETED", "statusReason": None}, "errors": []}

    # COMPLETED: final
    for what in ("suspend", "reinstate", "terminate", "complete"):
        assert codes(await change(api, token, world, what)) == ["INVALID_STATE"], what
    assert await status_of(api, world) == "COMPLETED"


async def test_status_changes_are_journaled_with_before_and_after(session, api):
    import json

    from sqlalchemy import select

    from core.models import JournalEvent

    world = await cw.build(session, start_in_days=10)
    token = await login(api, world, "officer")
    await change(api, token, world, "suspend", reason="暂停")
    await change(api, token, world, "reinstate")

    events = (
        await session.scalars(
            select(JournalEvent)
            .where(JournalEvent.action.in_(["contract.suspended", "contract.reinstated"]))
            .order_by(JournalEvent.seq)
        )
    ).all()
    assert [(e.action, e.entity_id) for e in events] == [
        ("contract.suspended", str(world.contract.id)),
        ("contract.reinstated", str(world.contract.id)),
    ]
    statuses = [(json.loads(e.before)["status"], json.loads(e.after)["status"]) for e in events]
    assert statuses == [("ACTIVE", "SUSPENDED"), ("SUSPENDED", "ACTIVE")]


# ---------------------------------------------------------------- deliveries after a status change


async def test_a_suspended_contract_takes_no_deliveries_until_reinstated(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    provider = await login(api, world, "provider")
    today = await world.today()
    await change(api, officer, world, "suspend")

    refused = await record_delivery(api, provider, world, today)
    assert refused["delivery"] is None and codes(refused) == ["CONTRACT_SUSPENDED"]

    await change(api, officer, world, "reinstate")
    accepted = await record_delivery(api, provider, world, today)
    assert accepted["errors"] == [] and accepted["delivery"]["deliveredOn"] == today.isoformat()


async def test_a_terminated_contract_takes_no_deliveries(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    provider = await login(api, world, "provider")
    today = await world.today()
    assert (await record_delivery(api, provider, world, today))["errors"] == []

    await change(api, officer, world, "terminate")

    refused = await record_delivery(api, provider, world, today)
    assert refused["delivery"] is None and codes(refused) == ["INVALID_STATE"]


async def test_a_completed_contract_takes_no_deliveries(session, api):
    world = await cw.build(session, start_in_days=10)
    await move_to(world, local(dt.date(2031, 1, 1), 9))
    officer = await login(api, world, "officer")
    provider = await login(api, world, "provider")
    last_day = dt.date(2030, 12, 31)
    # After the term, a late entry for its last day is still accepted while the contract is ACTIVE
    assert (await record_delivery(api, provider, world, last_day))["errors"] == []

    assert (await change(api, officer, world, "complete"))["errors"] == []

    refused = await record_delivery(api, provider, world, last_day)
    assert refused["delivery"] is None and codes(refused) == ["INVALID_STATE"]


# ---------------------------------------------------------------- who may change a contract


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other_officer", "PERMISSION_DENIED"),
        ("provider", "PERMISSION_DENIED"),
        ("auditor", "PERMISSION_DENIED"),
        ("evaluator0", "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_officers_of_the_department_change_a_contract(who, code, session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    token = await login(api, world, who)
    firm = gid("AuditFirm", world.other_auditor.audit_firm_id)
    contract_id = gid("Contract", world.contract.id)

    # From ACTIVE: suspend, terminate, assign an audit firm
    for what in ("suspend", "terminate"):
        assert codes(await change(api, token, world, what)) == [code], what
    assigned = (await api(ASSIGN, {"id": contract_id, "firm": firm}, token=token))["r"]
    assert assigned["contract"] is None and codes(assigned) == [code]
    assert await status_of(api, world) == "ACTIVE"
    # From SUSPENDED: reinstate
    await change(api, officer, world, "suspend")
    assert codes(await change(api, token, world, "reinstate")) == [code]
    assert await status_of(api, world) == "SUSPENDED"
    # After the term, from ACTIVE: complete
    await change(api, officer, world, "reinstate")
    await move_to(world, local(dt.date(2031, 1, 1), 9))
    officer = await login(api, world, "officer")
    token = await login(api, world, who)
    assert codes(await change(api, token, world, "complete")) == [code]
    assert await status_of(api, world) == "ACTIVE"
    # The department's own officer could do each of them
    assert (await change(api, officer, world, "complete"))["contract"]["status"] == "COMPLETED"
    data = await api(CONTRACT, {"id": contract_id})
    assert data["node"]["auditFirm"]["id"] == gid("AuditFirm", world.contract.audit_firm_id)


# ---------------------------------------------------------------- the audit firm


async def _seen_by(api, world, token) -> tuple[list[str], dict | None]:
    listed = await api(CONTRACT_IDS, token=token)
    node = await api(CONTRACT, {"id": gid("Contract", world.contract.id)}, token=token)
    return [e["node"]["id"] for e in listed["contracts"]["edges"]], node["node"]


async def test_assigning_another_audit_firm_changes_which_auditors_see_the_contract(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    auditor = await login(api, world, "auditor")
    other_auditor = await login(api, world, "other_auditor")
    contract_id = gid("Contract", world.contract.id)
    other_firm = gid("AuditFirm", world.other_auditor.audit_firm_id)

    listed, node = await _seen_by(api, world, auditor)
    assert listed == [contract_id] and node["id"] == contract_id
    assert await _seen_by(api, world, other_auditor) == ([], None)

    assigned = (await api(ASSIGN, {"id": contract_id, "firm": other_firm}, token=officer))["r"]
    assert assigned == {"contract": {"auditFirm": {"id": other_firm}}, "errors": []}

    listed, node = await _seen_by(api, world, other_auditor)
    assert listed == [contract_id] and node["auditFirm"]["id"] == other_firm
    assert await _seen_by(api, world, auditor) == ([], None)


async def test_assigning_an_unknown_audit_firm_is_not_found(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    contract_id = gid("Contract", world.contract.id)

    payload = (await api(ASSIGN, {"id": contract_id, "firm": gid("AuditFirm", 987654)}, token=officer))["r"]

    assert payload["contract"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", ["auditFirmId"])]
    data = await api(CONTRACT, {"id": contract_id})
    assert data["node"]["auditFirm"]["id"] == gid("AuditFirm", world.contract.audit_firm_id)


async def test_assigning_a_firm_to_an_unknown_contract_is_not_found(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    firm = gid("AuditFirm", world.other_auditor.audit_firm_id)

    payload = (await api(ASSIGN, {"id": gid("Contract", 987654), "firm": firm}, token=officer))["r"]

    assert codes(payload) == ["NOT_FOUND"]


async def test_no_audit_firm_is_assigned_to_a_terminated_contract(session, api):
    world = await cw.build(session, start_in_days=10)
    officer = await login(api, world, "officer")
    await change(api, officer, world, "terminate")
    contract_id = gid("Contract", world.contract.id)
    firm = gid("AuditFirm", world.other_auditor.audit_firm_id)

    payload = (await api(ASSIGN, {"id": contract_id, "firm": firm}, token=officer))["r"]

    assert codes(payload) == ["INVALID_STATE"]
