"""Audits (第三方评估) and appeals through the API (SPEC §5.6): one audit per period by the assigned firm,
measured values of AUDIT KPIs, checklist items, spot checks, submission; the provider's appeal within
10 days and the officer's decision on each appealed item, which rescores the audit."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts import audits, lifecycle
from contracts import models as cm
from market.catalogue import KpiSpec
from market.models import KpiDirection, KpiSource
from tests.contracts import world as cw
from tests.contracts.test_contracts import (
    ERRORS,
    codes,
    contract_worlds,
    gid,
    local,
    login,
    move_to,
    move_to_just_before,
)

CREATE = f"""mutation($c: ID!, $p: Int!) {{
  r: createAudit(contractId: $c, periodIndex: $p) {{ audit {{ id periodIndex status submittedAt }} {ERRORS} }} }}"""
RECORD = f"""mutation($a: ID!, $k: ID!, $v: Float!) {{
  r: recordKpiValue(auditId: $a, kpiId: $k, value: $v) {{
    audit {{ kpiValues {{ kpi {{ id name }} value }} }} {ERRORS} }} }}"""
ADD_CHECK = f"""mutation($a: ID!, $i: AuditCheckInput!) {{
  r: addAuditCheck(auditId: $a, input: $i) {{
    audit {{ score checks {{ id item passed weight severity note evidence overturned }} }} {ERRORS} }} }}"""
MARK_FALSE = f"""mutation($a: ID!, $d: ID!) {{
  r: markDeliveryFalse(auditId: $a, deliveryId: $d) {{ audit {{ id }} {ERRORS} }} }}"""
SUBMIT = f"""mutation($a: ID!) {{
  r: submitAudit(auditId: $a) {{ audit {{ status submittedAt }} {ERRORS} }} }}"""
APPEAL = f"""mutation($a: ID!, $c: [ID!]!, $r: String!) {{
  r: appealAudit(auditId: $a, checkIds: $c, reason: $r) {{
    appeal {{ id reason decided checkIds decisions {{ checkId }} }} {ERRORS} }} }}"""
DECIDE = f"""mutation($id: ID!, $d: [AppealDecisionInput!]!) {{
  r: decideAppeal(id: $id, decisions: $d) {{
    appeal {{ decided decisions {{ checkId upheld note }} audit {{ score checks {{ id overturned }} }} }}
    {ERRORS} }} }}"""
AUDIT = """query($id: ID!) { node(id: $id) { ... on Audit {
  id periodIndex status submittedAt score
  kpiValues { kpi { name } value }
  checks { id passed weight overturned }
  appeals { id decided decisions { checkId upheld } }
  contract { id }
} } }"""
DELIVERY = """query($id: ID!) { node(id: $id) { ... on Delivery { id verified markedFalse disputed } } }"""


def problems(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def create(api, token, world, period: int) -> dict:
    return (await api(CREATE, {"c": gid("Contract", world.contract.id), "p": period}, token=token))["r"]


async def record(api, token, audit_id: str, kpi_id: str, value: float) -> dict:
    return (await api(RECORD, {"a": audit_id, "k": kpi_id, "v": value}, token=token))["r"]


async def add_check(api, token, audit_id: str, passed: bool, weight: float, **extra) -> dict:
    item = {"item": extra.pop("item", "护理员持证上岗"), "passed": passed, "weight": weight}
    item |= {"severity": "MAJOR"} | extra
    return (await api(ADD_CHECK, {"a": audit_id, "i": item}, token=token))["r"]


async def submit(api, token, audit_id: str) -> dict:
    return (await api(SUBMIT, {"a": audit_id}, token=token))["r"]


async def appeal(api, token, audit_id: str, check_ids: list[str], reason: str = "证书齐全,检查有误") -> dict:
    return (await api(APPEAL, {"a": audit_id, "c": check_ids, "r": reason}, token=token))["r"]


async def decide(api, token, appeal_id: str, decisions: list[tuple[str, bool]]) -> dict:
    items = [{"checkId": c, "upheld": upheld, "note": "复核"} for c, upheld in decisions]
    return (await api(DECIDE, {"id": appeal_id, "d": items}, token=token))["r"]


async def audit_node(api, token, audit_id: str) -> dict | None:
    return (await api(AUDIT, {"id": audit_id}, token=token))["node"]


async def kpi_ids(world) -> dict[str, str]:
    """Global IDs of the contract's KPIs by source (one of each in the default package)."""
    rows = await lifecycle.contract_kpis(world.session, [world.contract.id])
    return {row.source.value: gid("Kpi", row.id) for row in rows}


async def audit_kpi_ids(world) -> list[str]:
    rows = await lifecycle.contract_kpis(world.session, [world.contract.id])
    return [gid("Kpi", row.id) for row in rows if row.source == KpiSource.AUDIT]


async def new_audit(api, token, world, period: int = 1) -> str:
    created = await create(api, token, world, period)
    assert created["errors"] == [], created
    return created["audit"]["id"]


async def submitted_audit(api, token, world, checks: list[tuple[bool, float]], period: int = 1):
    """An audit with every AUDIT KPI measured and these (passed, weight) items, submitted: (id, item ids)."""
    audit_id = await new_audit(api, token, world, period)
    for kpi_id in await audit_kpi_ids(world):
        assert (await record(api, token, audit_id, kpi_id, 96))["errors"] == []
    item_ids = []
    for i, (passed, weight) in enumerate(checks):
        added = await add_check(api, token, audit_id, passed, weight, item=f"检查项 {i}")
        assert added["errors"] == [], added
        item_ids.append(added["audit"]["checks"][-1]["id"])
    submitted = await submit(api, token, audit_id)
    assert submitted["audit"]["status"] == "SUBMITTED", submitted
    return audit_id, item_ids


async def tokens(api, world, *who: str) -> list[str]:
    return [await login(api, world, name) for name in who]


TWO_AUDIT_KPIS = [
    KpiSpec("按时上门率", "%", 95, KpiDirection.HIGHER_IS_BETTER, 0.4, KpiSource.AUDIT),
    KpiSpec("回访满意度", "%", 90, KpiDirection.HIGHER_IS_BETTER, 0.3, KpiSource.AUDIT),
    KpiSpec("服务完成率", "%", 100, KpiDirection.HIGHER_IS_BETTER, 0.3, KpiSource.DELIVERY_RATE),
]


# ---------------------------------------------------------------- creating an audit


async def test_an_auditor_of_the_assigned_firm_creates_one_audit_per_period(session, api):
    world = await cw.build(session, start_in_days=100)  # in period 2
    auditor, officer = await tokens(api, world, "auditor", "officer")

    created = await create(api, auditor, world, 1)
    assert created["errors"] == []
    assert created["audit"] | {"id": None} == {
        "id": None,
        "periodIndex": 1,
        "status": "DRAFT",
        "submittedAt": None,
    }
    # A second audit of the same period, while the first is a draft and after it is submitted
    assert problems(await create(api, auditor, world, 1)) == [("ALREADY_EXISTS", ["periodIndex"])]
    audit_id = created["audit"]["id"]
    for kpi_id in await audit_kpi_ids(world):
        await record(api, auditor, audit_id, kpi_id, 96)
    assert (await submit(api, auditor, audit_id))["errors"] == []
    duplicate = await create(api, auditor, world, 1)
    assert duplicate["audit"] is None
    assert problems(duplicate) == [("ALREADY_EXISTS", ["periodIndex"])]
    # Another period is another audit
    assert (await create(api, auditor, world, 2))["audit"]["periodIndex"] == 2

    contract = await api(
        "query($id: ID!) { node(id: $id) { ... on Contract { audits { periodIndex status } } } }",
        {"id": gid("Contract", world.contract.id)},
        token=officer,
    )
    assert contract["node"]["audits"] == [
        {"periodIndex": 1, "status": "SUBMITTED"},
        {"periodIndex": 2, "status": "DRAFT"},
    ]


@pytest.mark.parametrize("period", [0, -1, 5])
async def test_a_period_out_of_range_is_invalid(period, session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")

    created = await create(api, auditor, world, period)

    assert created["audit"] is None
    assert problems(created) == [("INVALID", ["periodIndex"])]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other_auditor", "NOT_FOUND"),
        ("officer", "PERMISSION_DENIED"),
        ("provider", "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_auditors_of_the_assigned_firm_create_audits(who, code, session, api):
    world = await cw.build(session, start_in_days=10)
    (token,) = await tokens(api, world, who)

    created = await create(api, token, world, 1)

    assert created["audit"] is None and codes(created) == [code]


async def test_auditors_of_another_firm_cannot_touch_an_audit(session, api):
    world = await cw.build(session, start_in_days=10)
    auditor, other = await tokens(api, world, "auditor", "other_auditor")
    audit_id = await new_audit(api, auditor, world)
    delivery, _ = await world.deliver()
    (kpi_id,) = await audit_kpi_ids(world)

    assert problems(await record(api, other, audit_id, kpi_id, 90)) == [("NOT_FOUND", ["auditId"])]
    assert problems(await add_check(api, other, audit_id, False, 1)) == [("NOT_FOUND", ["auditId"])]
    marked = (await api(MARK_FALSE, {"a": audit_id, "d": gid("Delivery", delivery.id)}, token=other))["r"]
    assert problems(marked) == [("NOT_FOUND", ["auditId"])]
    assert problems(await submit(api, other, audit_id)) == [("NOT_FOUND", ["auditId"])]

    audit = await audit_node(api, auditor, audit_id)
    assert audit["status"] == "DRAFT" and audit["kpiValues"] == [] and audit["checks"] == []
    assert (await api(DELIVERY, {"id": gid("Delivery", delivery.id)}, token=auditor))["node"]["verified"]


async def test_after_the_firm_is_replaced_its_auditors_cannot_continue_their_draft(session, api):
    world = await cw.build(session, start_in_days=10)
    auditor, officer = await tokens(api, world, "auditor", "officer")
    audit_id = await new_audit(api, auditor, world)
    await lifecycle.assign_audit_firm(
        session=session,
        actor=world.officer,
        contract_id=world.contract.id,
        audit_firm_id=world.other_auditor.audit_firm_id,
    )
    await session.commit()

    assert codes(await add_check(api, auditor, audit_id, False, 1)) == ["NOT_FOUND"]
    assert codes(await submit(api, auditor, audit_id)) == ["NOT_FOUND"]
    assert (await audit_node(api, officer, audit_id))["checks"] == []


# ---------------------------------------------------------------- measured KPI values


async def test_the_measured_value_of_an_audit_kpi_is_recorded_and_re_recording_updates_it(session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")
    audit_id = await new_audit(api, auditor, world)
    kpi_id = (await kpi_ids(world))["AUDIT"]

    first = await record(api, auditor, audit_id, kpi_id, 96.5)
    assert first == {
        "audit": {"kpiValues": [{"kpi": {"id": kpi_id, "name": "按时上门率"}, "value": 96.5}]},
        "errors": [],
    }
    again = await record(api, auditor, audit_id, kpi_id, 90)
    assert again["audit"]["kpiValues"] == [{"kpi": {"id": kpi_id, "name": "按时上门率"}, "value": 90.0}]
    zero = await record(api, auditor, audit_id, kpi_id, 0)
    assert zero["audit"]["kpiValues"] == [{"kpi": {"id": kpi_id, "name": "按时上门率"}, "value": 0.0}]

    negative = await record(api, auditor, audit_id, kpi_id, -0.5)
    assert negative["audit"] is None and problems(negative) == [("INVALID", ["value"])]
    assert (await audit_node(api, auditor, audit_id))["kpiValues"] == [
        {"kpi": {"name": "按时上门率"}, "value": 0.0}
    ]


@pytest.mark.parametrize("source", ["DELIVERY_RATE", "COMPLAINT_RATE"])
async def test_computed_kpis_take_no_measured_value(source, session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")
    audit_id = await new_audit(api, auditor, world)

    recorded = await record(api, auditor, audit_id, (await kpi_ids(world))[source], 99)

    assert recorded["audit"] is None and problems(recorded) == [("INVALID", ["kpiId"])]
    assert (await audit_node(api, auditor, audit_id))["kpiValues"] == []


async def test_a_kpi_of_another_contract_or_unknown_is_not_found(session, api):
    first, second = await contract_worlds(session, 2)
    (auditor,) = await tokens(api, first, "auditor")
    audit_id = await new_audit(api, auditor, first)
    (others,) = await audit_kpi_ids(second)

    foreign = await record(api, auditor, audit_id, others, 90)
    unknown = await record(api, auditor, audit_id, gid("Kpi", 987654), 90)

    assert problems(foreign) == [("NOT_FOUND", ["kpiId"])]
    assert problems(unknown) == [("NOT_FOUND", ["kpiId"])]
    assert (await audit_node(api, auditor, audit_id))["kpiValues"] == []


# ---------------------------------------------------------------- checklist items


async def test_checklist_items_are_recorded_and_scored_by_weight(session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")
    audit_id = await new_audit(api, auditor, world)
    assert (await audit_node(api, auditor, audit_id))["score"] == 100.0  # no items yet

    await add_check(api, auditor, audit_id, True, 3, item="服务记录完整", severity="MINOR")
    added = await add_check(
        api, auditor, audit_id, False, 1, item=" 护理员持证上岗 ", severity="CRITICAL",
        note="两名护理员无证", evidence="evidence/2030-01-11.jpg",
    )  # fmt: skip

    assert added["errors"] == []
    checks = [c | {"id": None} for c in added["audit"]["checks"]]
    assert checks == [
        {"id": None, "item": "服务记录完整", "passed": True, "weight": 3.0, "severity": "MINOR",
         "note": None, "evidence": None, "overturned": False},
        {"id": None, "item": "护理员持证上岗", "passed": False, "weight": 1.0, "severity": "CRITICAL",
         "note": "两名护理员无证", "evidence": "evidence/2030-01-11.jpg", "overturned": False},
    ]  # fmt: skip
    assert added["audit"]["score"] == 75.0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"weight": 0}, "weight"), ({"weight": -1}, "weight"), ({"item": "  "}, "item")],
)
async def test_a_checklist_item_needs_a_name_and_a_weight_above_zero(change, field, session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")
    audit_id = await new_audit(api, auditor, world)
    weight = change.pop("weight", 1)

    added = await add_check(api, auditor, audit_id, False, weight, **change)

    assert added["audit"] is None and problems(added) == [("INVALID", ["input", field])]
    assert (await audit_node(api, auditor, audit_id))["checks"] == []


# ---------------------------------------------------------------- spot checks


async def test_a_delivery_of_the_audited_period_is_marked_false_and_no_longer_verified(session, api):
    first, second = await contract_worlds(session, 2)
    in_period, _ = await first.deliver()
    of_other_contract, _ = await second.deliver()
    await move_to(first, local(dt.date(2030, 4, 2), 9))
    in_next_period, _ = await first.deliver()
    auditor, officer, provider = await tokens(api, first, "auditor", "officer", "provider")
    audit_id = await new_audit(api, auditor, first, period=1)

    async def mark(delivery) -> dict:
        variables = {"a": audit_id, "d": gid("Delivery", delivery.id)}
        return (await api(MARK_FALSE, variables, token=auditor))["r"]

    assert problems(await mark(of_other_contract)) == [("NOT_FOUND", ["deliveryId"])]
    assert problems(await mark(in_next_period)) == [("INVALID", ["deliveryId"])]
    unknown = (await api(MARK_FALSE, {"a": audit_id, "d": gid("Delivery", 987654)}, token=auditor))["r"]
    assert problems(unknown) == [("NOT_FOUND", ["deliveryId"])]
    marked = await mark(in_period)
    assert marked == {"audit": {"id": audit_id}, "errors": []}

    async def seen(delivery, token):
        return (await api(DELIVERY, {"id": gid("Delivery", delivery.id)}, token=token))["node"]

    for token in (officer, provider, auditor):
        assert await seen(in_period, token) | {"id": None} == {
            "id": None, "verified": False, "markedFalse": True, "disputed": False,
        }  # fmt: skip
    assert (await seen(in_next_period, officer))["verified"] is True
    assert (await seen(of_other_contract, officer))["verified"] is True


# ---------------------------------------------------------------- submitting


async def test_submit_needs_the_value_of_every_audit_kpi(session, api):
    (world,) = await contract_worlds(session, 1, kpis=TWO_AUDIT_KPIS)
    (auditor,) = await tokens(api, world, "auditor")
    audit_id = await new_audit(api, auditor, world)
    on_time, satisfaction = await audit_kpi_ids(world)

    none = await submit(api, auditor, audit_id)
    assert none["audit"] is None and codes(none) == ["INVALID"]
    assert "按时上门率" in none["errors"][0]["message"] and "回访满意度" in none["errors"][0]["message"]

    await record(api, auditor, audit_id, on_time, 97)
    one_missing = await submit(api, auditor, audit_id)
    assert codes(one_missing) == ["INVALID"]
    assert "回访满意度" in one_missing["errors"][0]["message"]
    assert "按时上门率" not in one_missing["errors"][0]["message"]
    assert (await audit_node(api, auditor, audit_id))["status"] == "DRAFT"

    await record(api, auditor, audit_id, satisfaction, 88)
    submitted = await submit(api, auditor, audit_id)
    assert submitted["errors"] == [] and submitted["audit"]["status"] == "SUBMITTED"
    submitted_at = dt.datetime.fromisoformat(submitted["audit"]["submittedAt"])
    assert abs(submitted_at - await world.now()) < dt.timedelta(minutes=1)


async def test_a_submitted_audit_takes_no_more_changes(session, api):
    world = await cw.build(session, start_in_days=10)
    (auditor,) = await tokens(api, world, "auditor")
    delivery, _ = await world.deliver()
    audit_id, _ = await submitted_audit(api, auditor, world, [(True, 3), (False, 1)])
    (kpi_id,) = await audit_kpi_ids(world)
    before = await audit_node(api, auditor, audit_id)

    assert codes(await record(api, auditor, audit_id, kpi_id, 10)) == ["INVALID_STATE"]
    assert codes(await add_check(api, auditor, audit_id, False, 5)) == ["INVALID_STATE"]
    marked = (await api(MARK_FALSE, {"a": audit_id, "d": gid("Delivery", delivery.id)}, token=auditor))["r"]
    assert codes(marked) == ["INVALID_STATE"]
    assert codes(await submit(api, auditor, audit_id)) == ["INVALID_STATE"]

    assert await audit_node(api, auditor, audit_id) == before
    assert before["score"] == 75.0 and before["kpiValues"] == [{"kpi": {"name": "按时上门率"}, "value": 96.0}]
    assert (await api(DELIVERY, {"id": gid("Delivery", delivery.id)}, token=auditor))["node"]["verified"]


# ---------------------------------------------------------------- appeals


@pytest.fixture
async def appealable(session, api):
    """A submitted audit of period 1: a passed item of weight 3 and a failed one of weight 1 (75.0);
    the clock in period 2, so that period has begun and may be audited too."""
    world = await cw.build(session, start_in_days=100)  # in period 2
    auditor, provider, officer = await tokens(api, world, "auditor", "provider", "officer")
    audit_id, (passed, failed) = await submitted_audit(api, auditor, world, [(True, 3), (False, 1)])
    return world, audit_id, passed, failed, {"auditor": auditor, "provider": provider, "officer": officer}


async def test_an_overturned_item_drops_out_and_the_audit_is_rescored(appealable, api):
    _, audit_id, passed, failed, token = appealable
    assert (await audit_node(api, token["provider"], audit_id))["score"] == 75.0

    filed = await appeal(api, token["provider"], audit_id, [failed])
    assert filed["errors"] == []
    assert filed["appeal"] | {"id": None} == {
        "id": None, "reason": "证书齐全,检查有误", "decided": False, "checkIds": [failed], "decisions": [],
    }  # fmt: skip
    assert (await audit_node(api, token["officer"], audit_id))["score"] == 75.0  # until decided

    decided = await decide(api, token["officer"], filed["appeal"]["id"], [(failed, False)])

    assert decided["errors"] == []
    assert decided["appeal"] == {
        "decided": True,
        "decisions": [{"checkId": failed, "upheld": False, "note": "复核"}],
        "audit": {"score": 100.0, "checks": [
            {"id": passed, "overturned": False}, {"id": failed, "overturned": True},
        ]},
    }  # fmt: skip
    audit = await audit_node(api, token["provider"], audit_id)
    assert audit["score"] == 100.0
    assert audit["appeals"] == [
        {"id": filed["appeal"]["id"], "decided": True, "decisions": [{"checkId": failed, "upheld": False}]}
    ]


async def test_overturning_every_item_leaves_a_full_score(appealable, api):
    _, audit_id, passed, failed, token = appealable
    filed = await appeal(api, token["provider"], audit_id, [passed, failed])

    decided = await decide(api, token["officer"], filed["appeal"]["id"], [(failed, False), (passed, False)])

    assert decided["errors"] == []
    assert decided["appeal"]["audit"] == {
        "score": 100.0,
        "checks": [{"id": passed, "overturned": True}, {"id": failed, "overturned": True}],
    }


async def test_an_upheld_item_stays(appealable, api):
    _, audit_id, _, failed, token = appealable
    filed = await appeal(api, token["provider"], audit_id, [failed])

    decided = await decide(api, token["officer"], filed["appeal"]["id"], [(failed, True)])

    assert decided["appeal"]["decided"] is True
    assert decided["appeal"]["decisions"] == [{"checkId": failed, "upheld": True, "note": "复核"}]
    assert decided["appeal"]["audit"]["score"] == 75.0
    assert [c["overturned"] for c in decided["appeal"]["audit"]["checks"]] == [False, False]


async def test_each_appealed_item_gets_its_own_decision(appealable, api):
    _, audit_id, passed, failed, token = appealable
    filed = await appeal(api, token["provider"], audit_id, [passed, failed])

    # The passed item is overturned, the failed one upheld: only the failed item remains
    decided = await decide(api, token["officer"], filed["appeal"]["id"], [(passed, False), (failed, True)])

    assert decided["appeal"]["audit"] == {
        "score": 0.0,
        "checks": [{"id": passed, "overturned": True}, {"id": failed, "overturned": False}],
    }


async def test_an_appeal_is_filed_within_ten_days_of_submission(session, api):
    world = await cw.build(session, start_in_days=100)  # in period 2
    (auditor,) = await tokens(api, world, "auditor")
    first, (first_item,) = await submitted_audit(api, auditor, world, [(False, 1)], period=1)
    second, (second_item,) = await submitted_audit(api, auditor, world, [(False, 1)], period=2)
    submitted_at = {
        audit_id: dt.datetime.fromisoformat((await audit_node(api, auditor, audit_id))["submittedAt"])
        for audit_id in (first, second)
    }

    await move_to_just_before(world, submitted_at[first] + audits.APPEAL_DAYS)
    (provider,) = await tokens(api, world, "provider")
    in_time = await appeal(api, provider, first, [first_item])
    assert in_time["errors"] == [] and in_time["appeal"]["decided"] is False

    await move_to(world, submitted_at[second] + audits.APPEAL_DAYS)
    (provider,) = await tokens(api, world, "provider")
    late = await appeal(api, provider, second, [second_item])
    assert late["appeal"] is None and codes(late) == ["DEADLINE_PASSED"]
    assert (await audit_node(api, provider, second))["appeals"] == []


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other_provider", "NOT_FOUND"),
        ("officer", "PERMISSION_DENIED"),
        ("auditor", "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_the_contracts_provider_appeals(who, code, appealable, api):
    world, audit_id, _, failed, token = appealable
    caller = await login(api, world, who)

    filed = await appeal(api, caller, audit_id, [failed])

    assert filed["appeal"] is None and codes(filed) == [code]
    assert (await audit_node(api, token["officer"], audit_id))["appeals"] == []


async def test_only_items_of_the_audit_are_appealed(appealable, api):
    world, audit_id, _, failed, token = appealable
    _, (foreign,) = await submitted_audit(api, token["auditor"], world, [(False, 2)], period=2)

    filed = await appeal(api, token["provider"], audit_id, [failed, foreign])
    unknown = await appeal(api, token["provider"], audit_id, [gid("AuditCheck", 987654)])

    assert filed["appeal"] is None
    assert problems(filed) == [("NOT_FOUND", ["checkIds", "1"])]
    assert problems(unknown) == [("NOT_FOUND", ["checkIds", "0"])]
    assert (await audit_node(api, token["officer"], audit_id))["appeals"] == []


async def test_an_appeal_names_items_and_reasons(appealable, api):
    _, audit_id, _, failed, token = appealable

    no_items = await appeal(api, token["provider"], audit_id, [])
    no_reason = await appeal(api, token["provider"], audit_id, [failed], reason="  ")

    assert problems(no_items) == [("INVALID", ["checkIds"])]
    assert problems(no_reason) == [("INVALID", ["reason"])]


async def test_one_appeal_per_audit(appealable, api):
    _, audit_id, passed, failed, token = appealable
    assert (await appeal(api, token["provider"], audit_id, [failed]))["errors"] == []

    again = await appeal(api, token["provider"], audit_id, [passed])

    assert again["appeal"] is None and codes(again) == ["ALREADY_EXISTS"]
    assert len((await audit_node(api, token["officer"], audit_id))["appeals"]) == 1


async def test_a_draft_audit_cannot_be_appealed(session, api):
    world = await cw.build(session, start_in_days=10)
    auditor, provider = await tokens(api, world, "auditor", "provider")
    audit_id = await new_audit(api, auditor, world)
    added = await add_check(api, auditor, audit_id, False, 1)

    filed = await appeal(api, provider, audit_id, [added["audit"]["checks"][0]["id"]])

    assert codes(filed) == ["INVALID_STATE"]


# ---------------------------------------------------------------- deciding an appeal


async def test_every_appealed_item_is_decided_exactly_once(appealable, api):
    world, audit_id, passed, failed, token = appealable
    _, (unappealed,) = await submitted_audit(api, token["auditor"], world, [(False, 2)], period=2)
    appeal_id = (await appeal(api, token["provider"], audit_id, [passed, failed]))["appeal"]["id"]

    attempts = {
        "missing": [(failed, False)],
        "extra": [(passed, True), (failed, False), (unappealed, False)],
        "twice": [(failed, False), (failed, False)],
        "twice instead of another": [(failed, False), (failed, True)],
        "one of them twice": [(passed, True), (failed, False), (failed, False)],
        "none": [],
    }
    for name, decisions in attempts.items():
        refused = await decide(api, token["officer"], appeal_id, decisions)
        assert refused["appeal"] is None, name
        assert problems(refused) == [("INVALID", ["decisions"])], name

    audit = await audit_node(api, token["officer"], audit_id)
    assert audit["score"] == 75.0
    assert [c["overturned"] for c in audit["checks"]] == [False, False]
    assert audit["appeals"][0]["decided"] is False


async def test_an_appeal_is_decided_once(appealable, api):
    _, audit_id, passed, failed, token = appealable
    appeal_id = (await appeal(api, token["provider"], audit_id, [passed, failed]))["appeal"]["id"]
    assert (await decide(api, token["officer"], appeal_id, [(passed, True), (failed, False)]))["errors"] == []

    again = await decide(api, token["officer"], appeal_id, [(passed, False), (failed, False)])

    assert again["appeal"] is None and codes(again) == ["INVALID_STATE"]
    audit = await audit_node(api, token["officer"], audit_id)
    assert audit["score"] == 100.0
    assert [c["overturned"] for c in audit["checks"]] == [False, True]
    assert audit["appeals"][0]["decisions"] == [
        {"checkId": passed, "upheld": True},
        {"checkId": failed, "upheld": False},
    ]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other_officer", "PERMISSION_DENIED"),
        ("provider", "PERMISSION_DENIED"),
        ("auditor", "PERMISSION_DENIED"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_only_officers_of_the_department_decide(who, code, appealable, api):
    world, audit_id, _, failed, token = appealable
    appeal_id = (await appeal(api, token["provider"], audit_id, [failed]))["appeal"]["id"]
    caller = await login(api, world, who)

    refused = await decide(api, caller, appeal_id, [(failed, False)])

    assert refused["appeal"] is None and codes(refused) == [code]
    audit = await audit_node(api, token["officer"], audit_id)
    assert audit["score"] == 75.0 and audit["appeals"][0]["decided"] is False


async def test_deciding_an_unknown_appeal_is_not_found(appealable, api):
    _, _, _, failed, token = appealable

    refused = await decide(api, token["officer"], gid("Appeal", 987654), [(failed, False)])

    assert problems(refused) == [("NOT_FOUND", ["id"])]


# ---------------------------------------------------------------- the score


def _item(passed: bool, weight: float, overturned: bool = False) -> cm.AuditCheck:
    return cm.AuditCheck(
        audit_id=1, item="x", passed=passed, weight=weight, severity=cm.Severity.MINOR, overturned=overturned
    )


@pytest.mark.parametrize(
    ("items", "score"),
    [
        ([], 100.0),
        ([_item(True, 3), _item(False, 1)], 75.0),
        ([_item(True, 3), _item(False, 1, overturned=True)], 100.0),
        ([_item(True, 3, overturned=True), _item(False, 1, overturned=True)], 100.0),
        ([_item(True, 3, overturned=True), _item(False, 1)], 0.0),
        ([_item(True, 0.5), _item(False, 1.5), _item(False, 2, overturned=True)], 25.0),
    ],
)
def test_audit_score_is_the_passed_share_of_the_weight_left(items, score):
    assert audits.audit_score(items) == pytest.approx(score)
