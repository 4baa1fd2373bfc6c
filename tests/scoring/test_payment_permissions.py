"""Role and ownership checks of every payment mutation, through the API (like the contracts' matrix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.api import encode_id
from core.auth import Role
from scoring.models import PaymentStatus
from tests import factories
from tests.contracts import world as cw
from tests.contracts.test_contract_permissions import _acting, _codes, _nothing_but_errors
from tests.scoring.conftest import make_payment

ROLES = [None, *Role]
E = "errors { field code message }"
P = f"payment {{ id status }} {E}"


@dataclass
class Case:
    name: str
    document: str
    allowed: set[Role]
    setup: Any  # async (world) -> variables


def _payment_in(status: PaymentStatus):
    async def setup(world):
        payment = await make_payment(world.session, world.contract, "12.34", status=status)
        return {"id": encode_id("Payment", payment.id)}

    return setup


async def _account(world):
    return {
        "providerId": encode_id("Provider", world.contract.provider_id),
        "account": "acct_1Nv0FGQ9RKHgCVdK",
    }


CASES = [
    Case("approvePayment", f"mutation($id: ID!) {{ approvePayment(id: $id) {{ {P} }} }}", {Role.OFFICER}, _payment_in(PaymentStatus.CALCULATED)),
    Case("cancelPayment", f"mutation($id: ID!) {{ cancelPayment(id: $id) {{ {P} }} }}", {Role.OFFICER}, _payment_in(PaymentStatus.APPROVED)),
    Case("sendPayment", f"mutation($id: ID!) {{ sendPayment(id: $id) {{ {P} }} }}", {Role.OFFICER, Role.ADMIN}, _payment_in(PaymentStatus.APPROVED)),
    Case("setPayoutAccount", f"mutation($providerId: ID!, $account: String!) {{ setPayoutAccount(providerId: $providerId, account: $account) {{ payoutAccount {E} }} }}", {Role.PROVIDER, Role.OFFICER, Role.ADMIN}, _account),
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
        assert payload["errors"] == []
        assert not _nothing_but_errors(payload)
    else:
        assert _codes(payload) == ["PERMISSION_DENIED"], payload
    if payload["errors"]:
        assert _nothing_but_errors(payload)


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "setPayoutAccount"], ids=lambda c: c.name)
async def test_officers_of_another_department_find_no_payment(case, session, api):
    world = await cw.build(session, start_in_days=10)
    variables = await case.setup(world)
    token = await api.login(world.users["other_officer"].email, factories.PASSWORD)
    payload = (await api(case.document, variables, token=token))[case.name]
    assert _codes(payload) == ["NOT_FOUND"] and _nothing_but_errors(payload)


async def test_another_provider_cannot_set_the_payout_account(session, api):
    world = await cw.build(session, start_in_days=10)
    case = CASES[-1]
    token = await api.login(world.users["other_provider"].email, factories.PASSWORD)
    payload = (await api(case.document, await _account(world), token=token))[case.name]
    assert _codes(payload) == ["PERMISSION_DENIED"] and _nothing_but_errors(payload)
