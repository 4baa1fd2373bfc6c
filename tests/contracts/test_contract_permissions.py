"""Role and ownership checks of every contract mutation, through the API (finalizeAward: the tender matrix).

The acting user is linked to the world's contract (the purchasing department, the contracted provider,
the assigned audit firm), so that a refusal is for the role, not for a missing link.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from contracts import audits, complaints, lifecycle, ratings
from contracts import models as cm
from core.api import encode_id
from core.auth import Role
from market.models import KpiSource
from tests import factories
from tests.contracts import world as cw

ROLES = [None, *Role]
E = "errors { field code message }"


@dataclass
class Case:
    name: str
    document: str
    allowed: set[Role]
    setup: Any  # async (world) -> variables


def _cid(world) -> str:
    return encode_id("Contract", world.contract.id)


async def _assign(world):
    firm = await factories.audit_firm(world.session)
    return {"contractId": _cid(world), "auditFirmId": encode_id("AuditFirm", firm.id)}


async def _suspend(world):
    return {"id": _cid(world), "reason": "服务质量整改"}


async def _suspended(world):
    await lifecycle.change_contract_status(
        session=world.session, actor=world.officer, contract_id=world.contract.id, change="suspended",
        reason="服务质量整改",
    )  # fmt: skip
    return {"id": _cid(world)}


async def _after_term(world):
    _first, last = lifecycle.contract_term(world.contract)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    await world.advance((end - await world.now()).total_seconds())
    return {"id": _cid(world)}


async def _delivery_input(world):
    return {
        "i": {
            "contractId": _cid(world),
            "deliveredOn": (await world.today()).isoformat(),
            "units": 1,
            "residentPhone": "138 1234 5678",
        }
    }


async def _staff(world):
    return {"providerId": encode_id("Provider", world.contract.provider_id), "phones": ["13900001111"]}


async def _hotline(world):
    delivery, _token = await world.deliver()
    return {"i": {"deliveryId": encode_id("Delivery", delivery.id), "category": "LATE", "text": "12345"}}


async def _complaint(world):
    _delivery, token = await world.deliver()
    complaint = await complaints.file_complaint(
        session=world.session, token=token, category="ATTITUDE", text="迟到"
    )
    return encode_id("Complaint", complaint.id)


async def _respond(world):
    return {"id": await _complaint(world), "text": "已道歉"}


async def _resolve(world):
    return {"id": await _complaint(world), "substantiated": True, "note": "回访核实"}


async def _reject(world):
    return {"id": await _complaint(world), "note": "与本服务无关"}


async def _flagged(world):
    await ratings.register_staff_phones(
        session=world.session, actor=world.provider, provider_id=world.contract.provider_id,
        phones=["13900001111"],
    )  # fmt: skip
    delivery, token = await world.deliver(phone="13900001111")
    view = await ratings.rate_delivery(session=world.session, token=token, rating=ratings.Stars(5))
    assert ratings.is_flagged(view.rating)
    return {"deliveryId": encode_id("Delivery", delivery.id)}


async def _period(world):
    return {"contractId": _cid(world), "periodIndex": 1}


async def _audit(world) -> cm.Audit:
    return await audits.create_audit(
        session=world.session, actor=world.auditor, contract_id=world.contract.id, period_index=1
    )


async def _audit_kpi(world) -> cm.ContractKpi:
    kpis = await lifecycle.contract_kpis(world.session, [world.contract.id])
    return next(k for k in kpis if k.source == KpiSource.AUDIT)


async def _kpi_value(world):
    audit = await _audit(world)
    kpi = await _audit_kpi(world)
    return {"auditId": encode_id("Audit", audit.id), "kpiId": encode_id("Kpi", kpi.id), "value": 96.0}


async def _check(world):
    audit = await _audit(world)
    return {
        "auditId": encode_id("Audit", audit.id),
        "i": {"item": "护理员持证上岗", "passed": False, "weight": 2.0, "severity": "MAJOR"},
    }


async def _mark_false(world):
    delivery, _token = await world.deliver()
    audit = await _audit(world)
    return {"auditId": encode_id("Audit", audit.id), "deliveryId": encode_id("Delivery", delivery.id)}


async def _ready_audit(world) -> cm.Audit:
    audit = await _audit(world)
    kpi = await _audit_kpi(world)
    await audits.record_kpi_value(
        session=world.session, actor=world.auditor, audit_id=audit.id, kpi_id=kpi.id, value=96
    )
    await audits.add_audit_check(
        session=world.session, actor=world.auditor, audit_id=audit.id,
        check=audits.CheckSpec("护理员持证上岗", False, 2.0, cm.Severity.MAJOR),
    )  # fmt: skip
    return audit


async def _submit(world):
    return {"auditId": encode_id("Audit", (await _ready_audit(world)).id)}


async def _submitted(world) -> tuple[cm.Audit, cm.AuditCheck]:
    audit = await _ready_audit(world)
    await audits.submit_audit(session=world.session, actor=world.auditor, audit_id=audit.id)
    check = (
        await world.session.scalars(select(cm.AuditCheck).where(cm.AuditCheck.audit_id == audit.id))
    ).one()
    return audit, check


async def _appeal(world):
    audit, check = await _submitted(world)
    return {
        "auditId": encode_id("Audit", audit.id),
        "checkIds": [encode_id("AuditCheck", check.id)],
        "reason": "证书齐全",
    }


async def _decide(world):
    audit, check = await _submitted(world)
    appeal = await audits.appeal_audit(
        session=world.session,
        actor=world.provider,
        audit_id=audit.id,
        check_ids=[check.id],
        reason="证书齐全",
    )
    return {
        "id": encode_id("Appeal", appeal.id),
        "decisions": [{"checkId": encode_id("AuditCheck", check.id), "upheld": False, "note": "证书有效"}],
    }


OFFICER, PROVIDER, AUDITOR = {Role.OFFICER}, {Role.PROVIDER}, {Role.AUDITOR}
C = f"contract {{ id status }} {E}"
CM = f"complaint {{ id status }} {E}"
A = f"audit {{ id status }} {E}"
CASES = [
    Case("assignAuditFirm", f"mutation($contractId: ID!, $auditFirmId: ID!) {{ assignAuditFirm(contractId: $contractId, auditFirmId: $auditFirmId) {{ {C} }} }}", OFFICER, _assign),
    Case("suspendContract", f"mutation($id: ID!, $reason: String!) {{ suspendContract(id: $id, reason: $reason) {{ {C} }} }}", OFFICER, _suspend),
    Case("reinstateContract", f"mutation($id: ID!) {{ reinstateContract(id: $id) {{ {C} }} }}", OFFICER, _suspended),
    Case("terminateContract", f"mutation($id: ID!, $reason: String!) {{ terminateContract(id: $id, reason: $reason) {{ {C} }} }}", OFFICER, _suspend),
    Case("completeContract", f"mutation($id: ID!) {{ completeContract(id: $id) {{ {C} }} }}", OFFICER, _after_term),
    Case("recordDelivery", f"mutation($i: RecordDeliveryInput!) {{ recordDelivery(input: $i) {{ delivery {{ id }} {E} }} }}", PROVIDER, _delivery_input),
    Case("registerStaffPhones", f"mutation($providerId: ID!, $phones: [String!]!) {{ registerStaffPhones(providerId: $providerId, phones: $phones) {{ added {E} }} }}", {Role.PROVIDER, Role.ADMIN}, _staff),
    Case("fileComplaintForResident", f"mutation($i: FileComplaintForResidentInput!) {{ fileComplaintForResident(input: $i) {{ {CM} }} }}", OFFICER, _hotline),
    Case("respondComplaint", f"mutation($id: ID!, $text: String!) {{ respondComplaint(id: $id, text: $text) {{ {CM} }} }}", {Role.PROVIDER, Role.OFFICER}, _respond),
    Case("resolveComplaint", f"mutation($id: ID!, $substantiated: Boolean!, $note: String!) {{ resolveComplaint(id: $id, substantiated: $substantiated, note: $note) {{ {CM} }} }}", OFFICER, _resolve),
    Case("rejectComplaint", f"mutation($id: ID!, $note: String!) {{ rejectComplaint(id: $id, note: $note) {{ {CM} }} }}", OFFICER, _reject),
    Case("clearRatingFlag", f"mutation($deliveryId: ID!) {{ clearRatingFlag(deliveryId: $deliveryId) {{ rating {{ flagged }} {E} }} }}", OFFICER, _flagged),
    Case("createAudit", f"mutation($contractId: ID!, $periodIndex: Int!) {{ createAudit(contractId: $contractId, periodIndex: $periodIndex) {{ {A} }} }}", AUDITOR, _period),
    Case("recordKpiValue", f"mutation($auditId: ID!, $kpiId: ID!, $value: Float!) {{ recordKpiValue(auditId: $auditId, kpiId: $kpiId, value: $value) {{ {A} }} }}", AUDITOR, _kpi_value),
    Case("addAuditCheck", f"mutation($auditId: ID!, $i: AuditCheckInput!) {{ addAuditCheck(auditId: $auditId, input: $i) {{ {A} }} }}", AUDITOR, _check),
    Case("markDeliveryFalse", f"mutation($auditId: ID!, $deliveryId: ID!) {{ markDeliveryFalse(auditId: $auditId, deliveryId: $deliveryId) {{ {A} }} }}", AUDITOR, _mark_false),
    Case("submitAudit", f"mutation($auditId: ID!) {{ submitAudit(auditId: $auditId) {{ {A} }} }}", AUDITOR, _submit),
    Case("appealAudit", f"mutation($auditId: ID!, $checkIds: [ID!]!, $reason: String!) {{ appealAudit(auditId: $auditId, checkIds: $checkIds, reason: $reason) {{ appeal {{ id }} {E} }} }}", PROVIDER, _appeal),
    Case("decideAppeal", f"mutation($id: ID!, $decisions: [AppealDecisionInput!]!) {{ decideAppeal(id: $id, decisions: $decisions) {{ appeal {{ decided }} {E} }} }}", OFFICER, _decide),
]  # fmt: skip


async def _acting(world, role: Role | None):
    """A new account of `role`, linked to the world's contract where the role has a link."""
    if role is None:
        return None
    links = {
        Role.OFFICER: {"department_id": world.contract.department_id},
        Role.PROVIDER: {"provider_id": world.contract.provider_id},
        Role.AUDITOR: {"audit_firm_id": world.contract.audit_firm_id},
    }.get(role, {})
    return await factories.user(world.session, role, **links)


def _codes(payload) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _nothing_but_errors(payload) -> bool:
    return all(value is None for key, value in payload.items() if key != "errors")


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_role_check(case, role, session, api):
    world = await cw.build(session, start_in_days=10)
    user = await _acting(world, role)
    variables = await case.setup(world)
    await session.commit()
    token = await api.login(user.email, factories.PASSWORD) if role else None
    payload = (await api(case.document, variables, token=token))[case.name]
    if role is None:
        assert _codes(payload) == ["UNAUTHENTICATED"]
    elif role in case.allowed:
        assert payload["errors"] == []
        assert not _nothing_but_errors(payload)
    else:
        assert _codes(payload) == ["PERMISSION_DENIED"], payload
    if payload["errors"]:
        assert _nothing_but_errors(payload)


# Any officer may register a provider's staff phones (the mutation's contract): not owner-only.
OFFICER_OWNED = [c for c in CASES if Role.OFFICER in c.allowed and c.name != "registerStaffPhones"]
PROVIDER_OWNED = [c for c in CASES if Role.PROVIDER in c.allowed]
AUDITOR_OWNED = [c for c in CASES if Role.AUDITOR in c.allowed]


async def _as(world, api, case, who: str) -> dict:
    variables = await case.setup(world)
    await world.session.commit()
    token = await api.login(world.users[who].email, factories.PASSWORD)
    return (await api(case.document, variables, token=token))[case.name]


@pytest.mark.parametrize("case", OFFICER_OWNED, ids=lambda c: c.name)
async def test_officers_of_another_department_are_refused(case, session, api):
    world = await cw.build(session, start_in_days=10)
    payload = await _as(world, api, case, "other_officer")
    # The contract's summary is public (refused); its complaints are not (not found).
    assert _codes(payload) in (["PERMISSION_DENIED"], ["NOT_FOUND"]), payload
    assert _nothing_but_errors(payload)


@pytest.mark.parametrize("case", PROVIDER_OWNED, ids=lambda c: c.name)
async def test_another_provider_is_refused(case, session, api):
    world = await cw.build(session, start_in_days=10)
    payload = await _as(world, api, case, "other_provider")
    assert _codes(payload) in (["PERMISSION_DENIED"], ["NOT_FOUND"]), payload
    assert _nothing_but_errors(payload)


@pytest.mark.parametrize("case", AUDITOR_OWNED, ids=lambda c: c.name)
async def test_auditors_of_another_firm_find_nothing(case, session, api):
    world = await cw.build(session, start_in_days=10)
    payload = await _as(world, api, case, "other_auditor")
    assert _codes(payload) == ["NOT_FOUND"], payload
    assert _nothing_but_errors(payload)


async def test_a_firm_that_is_no_longer_assigned_cannot_touch_its_draft(session, api):
    world = await cw.build(session, start_in_days=10)
    case = next(c for c in CASES if c.name == "addAuditCheck")
    variables = await case.setup(world)
    new_firm = await factories.audit_firm(session)
    await lifecycle.assign_audit_firm(
        session=session, actor=world.officer, contract_id=world.contract.id, audit_firm_id=new_firm.id
    )
    await session.commit()
    token = await api.login(world.users["auditor"].email, factories.PASSWORD)
    payload = (await api(case.document, variables, token=token))[case.name]
    assert _codes(payload) == ["NOT_FOUND"]


SEE = """
query($contract: ID!, $delivery: ID!, $complaint: ID!, $audit: ID!) {
  contract: node(id: $contract) { id }
  delivery: node(id: $delivery) { id }
  complaint: node(id: $complaint) { id }
  audit: node(id: $audit) { id }
  contracts(first: 100) { edges { node { id } } }
}"""


@pytest.mark.parametrize(("who", "sees"), [("other_auditor", False), ("auditor", True)])
async def test_auditors_of_another_firm_see_nothing_of_the_contract(session, api, who, sees):
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    complaint = await complaints.file_complaint(session=session, token=token, category="OTHER", text="t")
    audit = await _audit(world)
    await session.commit()
    ids = {
        "contract": _cid(world),
        "delivery": encode_id("Delivery", delivery.id),
        "complaint": encode_id("Complaint", complaint.id),
        "audit": encode_id("Audit", audit.id),
    }
    data = await api(SEE, ids, token=await api.login(world.users[who].email, factories.PASSWORD))
    listed = [e["node"]["id"] for e in data.pop("contracts")["edges"]]
    if sees:
        assert data == {key: {"id": value} for key, value in ids.items()} and listed == [_cid(world)]
    else:
        assert data == {"contract": None, "delivery": None, "complaint": None, "audit": None}
        assert listed == []


# ---------------------------------------------------------------- the resident's link: the token is the key


async def _token(world) -> str:
    return (await world.deliver())[1]


TOKEN_CASES = [
    Case("disputeDelivery", f"mutation($token: String!) {{ disputeDelivery(token: $token, reason: \"没有上门\") {{ delivery {{ disputed }} {E} }} }}", set(), _token),
    Case("rateDelivery", f"mutation($token: String!) {{ rateDelivery(input: {{token: $token, stars: 5}}) {{ delivery {{ rating {{ stars }} }} {E} }} }}", set(), _token),
    Case("fileComplaint", f"mutation($token: String!) {{ fileComplaint(input: {{token: $token, category: \"ATTITUDE\", text: \"迟到\"}}) {{ complaint {{ channel }} {E} }} }}", set(), _token),
]  # fmt: skip


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("case", TOKEN_CASES, ids=lambda c: c.name)
async def test_the_link_needs_no_login_and_a_login_adds_nothing(case, role, session, api):
    world = await cw.build(session, start_in_days=10)
    user = await _acting(world, role)
    token = await case.setup(world)
    await session.commit()
    login = await api.login(user.email, factories.PASSWORD) if role else None
    # Whoever calls, a wrong token is refused: not even the contract's officer or provider gets past it.
    wrong = (await api(case.document, {"token": token[:-2] + "xx"}, token=login))[case.name]
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [("TOKEN_INVALID", ["token"])]
    assert _nothing_but_errors(wrong)
    payload = (await api(case.document, {"token": token}, token=login))[case.name]
    assert payload["errors"] == [] and not _nothing_but_errors(payload)
    if case.name == "fileComplaint":
        # Filed as the resident's, not as the logged-in user's.
        complaint = (await session.scalars(select(cm.Complaint))).one()
        assert (complaint.channel, complaint.filed_by_id) == ("LINK", None)
