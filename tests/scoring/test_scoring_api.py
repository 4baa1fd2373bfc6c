"""Scoring through the API: finalizePeriod (roles, errors, idempotency), ContractPeriod.scorecard and
.payment with their visibility (SPEC §7), no N+1 on a contracts page, and the hooks of the real app."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.contracts.test_contracts import ERRORS, codes, gid, login
from tests.scoring import world as sw

FINALIZE = f"""mutation($c: ID!, $p: Int!) {{ r: finalizePeriod(contractId: $c, periodIndex: $p) {{
  scorecard {{ version satisfaction kpiScore auditScore composite tier verifiedUnits base payout holdback }}
  payment {{ id periodIndex amount status kind contract {{ id }} }} {ERRORS} }} }}"""
PERIODS = """query($id: ID!) { node(id: $id) { ... on Contract { periods {
  index scorecard { version composite tier payout } payment { amount status } } } } }"""
PAGE = """query($n: Int!) { contracts(first: $n) { edges { node { id
  periods { index scorecard { version tier composite base } payment { amount status } } } } } }"""


@pytest.fixture
async def scored(session):
    """Period 1 with 300 visits and a clean audit: S 50, K 100, A 100 → 80.00, B; the clock on 04-02."""
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await sw.deliver(world, dt.date(2030, 3, 2), 300)
    await sw.audit(world, 1, value=95)
    await sw.move_to(world, dt.date(2030, 4, 2))
    return world


async def test_an_officer_finalises_a_period_once(scored, api):
    world = scored
    token = await login(api, world, "officer")
    variables = {"c": gid("Contract", world.contract.id), "p": 1}

    first = (await api(FINALIZE, variables, token=token))["r"]
    again = (await api(FINALIZE, variables, token=token))["r"]

    assert first["errors"] == [] and again == first
    assert first["scorecard"] == {
        "version": 1, "satisfaction": 50.0, "kpiScore": 100.0, "auditScore": 100.0, "composite": 80.0,
        "tier": "B", "verifiedUnits": 300, "base": "30000.00", "payout": "30000.00", "holdback": "3000.00",
    }  # fmt: skip
    payment = first["payment"]
    assert (payment["amount"], payment["status"], payment["kind"], payment["periodIndex"]) == (
        "27000.00", "CALCULATED", "PERIOD", 1,
    )  # fmt: skip
    assert payment["contract"]["id"] == gid("Contract", world.contract.id)
    node = await api("query($id: ID!) { node(id: $id) { ... on Payment { amount } } }", {"id": payment["id"]},
                     token=token)  # fmt: skip
    assert node["node"] == {"amount": "27000.00"}


@pytest.mark.parametrize(
    ("who", "code"),
    [(None, "UNAUTHENTICATED"), ("provider", "PERMISSION_DENIED"), ("auditor", "PERMISSION_DENIED"),
     ("other_officer", "PERMISSION_DENIED")],
)  # fmt: skip
async def test_only_the_departments_officers_may_finalise(scored, api, who, code):
    token = await login(api, scored, who)
    result = (await api(FINALIZE, {"c": gid("Contract", scored.contract.id), "p": 1}, token=token))["r"]
    assert codes(result) == [code] and result["scorecard"] is None


async def test_errors_of_finalize_period(scored, api):
    token = await login(api, scored, "officer")
    contract = gid("Contract", scored.contract.id)

    assert codes((await api(FINALIZE, {"c": contract, "p": 9}, token=token))["r"]) == ["INVALID"]
    assert codes((await api(FINALIZE, {"c": contract, "p": 2}, token=token))["r"]) == ["TOO_EARLY"]
    assert codes((await api(FINALIZE, {"c": gid("Contract", 999999), "p": 1}, token=token))["r"]) == [
        "NOT_FOUND"
    ]
    assert codes((await api(FINALIZE, {"c": gid("Tender", 1), "p": 1}, token=token))["r"]) == ["NOT_FOUND"]
    await sw.move_to(scored, dt.date(2030, 7, 2))
    token = await login(api, scored, "officer")
    assert codes((await api(FINALIZE, {"c": contract, "p": 2}, token=token))["r"]) == ["AUDIT_MISSING"]


@pytest.mark.parametrize("who", [None, "provider", "officer", "other_officer", "other_provider", "auditor"])
async def test_scorecards_are_public_payments_only_for_the_parties(scored, api, who):
    officer = await login(api, scored, "officer")
    await api(FINALIZE, {"c": gid("Contract", scored.contract.id), "p": 1}, token=officer)
    token = await login(api, scored, who)

    periods = (await api(PERIODS, {"id": gid("Contract", scored.contract.id)}, token=token))["node"][
        "periods"
    ]

    assert periods[0]["scorecard"] == {"version": 1, "composite": 80.0, "tier": "B", "payout": "30000.00"}
    assert [p["scorecard"] for p in periods[1:]] == [None, None, None]
    if who in ("provider", "officer"):
        assert periods[0]["payment"] == {"amount": "27000.00", "status": "CALCULATED"}
    else:
        assert periods[0]["payment"] is None


async def test_an_admin_sees_payments(scored, api, login_as):
    from core.auth import Role

    officer = await login(api, scored, "officer")
    await api(FINALIZE, {"c": gid("Contract", scored.contract.id), "p": 1}, token=officer)
    token, _ = await login_as(Role.ADMIN)
    periods = (await api(PERIODS, {"id": gid("Contract", scored.contract.id)}, token=token))["node"][
        "periods"
    ]
    assert periods[0]["payment"]["amount"] == "27000.00"


@pytest.mark.uncached
@pytest.mark.parametrize("who", ["officer", None])
async def test_a_page_of_contracts_with_scorecards_runs_as_many_statements_for_1_as_for_4(
    session, api, statements, who
):
    from contracts import lifecycle
    from scoring import scorecards
    from tests.contracts.test_contracts import contract_worlds

    worlds = await contract_worlds(session, 4)
    await sw.move_to(worlds[0], dt.date(2030, 3, 20))
    for world in worlds:
        world.auditor = worlds[0].auditor
        await sw.audit(world, 1, value=95)
    await sw.move_to(worlds[0], dt.date(2030, 4, 2))
    for world in worlds:
        await scorecards.finalize_period(session=session, actor=world.officer, contract_id=world.contract.id,
                                         period_index=1)  # fmt: skip
    await session.commit()
    assert lifecycle  # the contracts of one market world
    token = await login(api, worlds[0], who)

    with statements:
        one = await api(PAGE, {"n": 1}, token=token)
    small = statements.count
    with statements:
        four = await api(PAGE, {"n": 4}, token=token)
    large = statements.count

    assert len(one["contracts"]["edges"]) == 1 and len(four["contracts"]["edges"]) == 4
    for edge in four["contracts"]["edges"]:
        first, *rest = edge["node"]["periods"]
        assert first["scorecard"]["tier"] == "D" and all(p["scorecard"] is None for p in rest)
        assert (first["payment"] is not None) == (who == "officer")
    assert large == small
    # officer: clock offset + actor, count + page, scorecards, payments; the public: count + page, scorecards
    assert large == (6 if who == "officer" else 3)


def test_the_real_app_installs_the_scoring_hooks():
    """In a fresh interpreter: importing the contracts alone installs nothing; the app does."""
    program = (
        "import contracts.audits, scoring.hooks\n"
        "assert not scoring.hooks.installed()\n"
        "import app\n"
        "assert scoring.hooks.installed()\n"
        "app.create_app(); app.command_line()\n"
        "print('installed')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "installed"


async def test_an_appeal_decided_through_the_api_rescores_the_period(session, api):
    """decideAppeal over HTTP (the app's own hooks): a new scorecard version and a correction."""
    world = await sw.build(session, on=dt.date(2030, 3, 25))
    await sw.deliver(world, dt.date(2030, 3, 2), 300)
    made, items = await sw.audit(world, 1, value=95, checks=[(1.0, True), (1.0, False)])  # A 50: 70.00, C
    await sw.move_to(world, dt.date(2030, 4, 1), hour=1)
    officer = await login(api, world, "officer")
    contract = gid("Contract", world.contract.id)
    finalized = (await api(FINALIZE, {"c": contract, "p": 1}, token=officer))["r"]
    assert finalized["scorecard"]["tier"] == "C" and finalized["payment"]["amount"] == "24300.00"
    provider = await login(api, world, "provider")
    appeal = await api(
        'mutation($a: ID!, $c: [ID!]!) { r: appealAudit(auditId: $a, checkIds: $c, reason: "证据") { appeal { id } } }',
        {"a": gid("Audit", made.id), "c": [gid("AuditCheck", items[1].id)]},
        token=provider,
    )
    decided = await api(
        f"mutation($id: ID!, $d: [AppealDecisionInput!]!) {{ r: decideAppeal(id: $id, decisions: $d) {{ {ERRORS} }} }}",
        {
            "id": appeal["r"]["appeal"]["id"],
            "d": [{"checkId": gid("AuditCheck", items[1].id), "upheld": False}],
        },
        token=officer,
    )
    assert decided["r"]["errors"] == []

    periods = (await api(PERIODS, {"id": contract}, token=officer))["node"]["periods"]
    # A 100: 20 + 40 + 20 = 80.00, B: payout 30 000.00 less 3 000.00 = 27 000.00 (was 24 300.00)
    assert periods[0]["scorecard"] == {"version": 2, "composite": 80.0, "tier": "B", "payout": "30000.00"}
    from sqlalchemy import select

    from scoring.models import Payment, PaymentKind

    corrections = (await session.scalars(select(Payment).where(Payment.kind == PaymentKind.CORRECTION))).all()
    assert [c.amount for c in corrections] == [Decimal("2700.00")]
