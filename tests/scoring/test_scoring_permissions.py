"""Role and ownership checks of every scoring mutation, through the API (as the contract mutations'
matrix in tests/contracts/test_contract_permissions.py, whose helpers this reuses)."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts import audits
from core.api import encode_id
from core.auth import Role
from tests import factories
from tests.contracts import world as cw
from tests.contracts.test_contract_permissions import (
    ROLES,
    Case,
    E,
    _acting,
    _codes,
    _nothing_but_errors,
    _ready_audit,
)
from tests.scoring import world as sw


async def _finalisable(world):
    """Period 1 audited and submitted, the clock after its end."""
    audit = await _ready_audit(world)
    await audits.submit_audit(session=world.session, actor=world.auditor, audit_id=audit.id)
    await world.session.commit()
    await sw.move_to(world, dt.date(2030, 4, 2))
    return {"contractId": encode_id("Contract", world.contract.id), "periodIndex": 1}


CASES = [
    Case("finalizePeriod", f"mutation($contractId: ID!, $periodIndex: Int!) {{ finalizePeriod(contractId: $contractId, periodIndex: $periodIndex) {{ scorecard {{ version }} payment {{ amount }} {E} }} }}", {Role.OFFICER}, _finalisable),
]  # fmt: skip


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
        assert payload["errors"] == [] and payload["scorecard"]["version"] == 1
    else:
        assert _codes(payload) == ["PERMISSION_DENIED"], payload
    if payload["errors"]:
        assert _nothing_but_errors(payload)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_officers_of_another_department_are_refused(case, session, api):
    world = await cw.build(session, start_in_days=10)
    variables = await case.setup(world)
    token = await api.login(world.users["other_officer"].email, factories.PASSWORD)
    payload = (await api(case.document, variables, token=token))[case.name]
    assert _codes(payload) == ["PERMISSION_DENIED"] and _nothing_but_errors(payload)
