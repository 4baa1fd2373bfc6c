"""The visibility rules of contracts/access.py: each Python predicate selects exactly the rows its SQL
clause selects, for every kind of caller (loaders use one form, services and statements the other)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contracts import access, audits, complaints
from contracts import models as cm
from core.auth import Actor, Role
from tests.contracts.test_contract_permissions import _submitted
from tests.contracts.test_contracts import contract_worlds


@pytest.fixture
async def two_contracts(session):
    """Two contracts of one department: the first with its audit firm, a delivery, a complaint, an audit
    and an appeal; the second of another provider, no firm assigned, with a delivery and a complaint."""
    first, second = await contract_worlds(session, 2)
    for world in (first, second):
        _delivery, token = await world.deliver()
        await complaints.file_complaint(session=session, token=token, category="LATE", text="迟到")
    audit, check = await _submitted(first)
    await audits.appeal_audit(
        session=session, actor=first.provider, audit_id=audit.id, check_ids=[check.id], reason="证书齐全"
    )
    second.contract.provider_id = second.other_provider.provider_id
    second.contract.audit_firm_id = None
    await session.commit()
    return first, second


def _callers(first) -> list[Actor | None]:
    """Every kind of caller: each role linked to the first contract, to another organisation, to none."""
    contract = first.contract
    links = {
        Role.OFFICER: ("department_id", contract.department_id, first.market.other_officer.department_id),
        Role.PROVIDER: ("provider_id", contract.provider_id, first.other_provider.provider_id),
        Role.AUDITOR: ("audit_firm_id", contract.audit_firm_id, first.other_auditor.audit_firm_id),
    }
    callers: list[Actor | None] = [None, Actor(1, Role.ADMIN), Actor(2, Role.EVALUATOR)]
    for role, (link, own, other) in links.items():
        callers += [Actor(3, role, **{link: value}) for value in (own, other, None)]
    return callers


CONTRACT_RULES = [
    (access.can_see_contract, access.contract_visible_clause),
    (access.can_see_contract_details, access.contract_details_clause),
    (access.holds_contract, access.held_contracts_clause),
]


@pytest.mark.parametrize(("predicate", "clause"), CONTRACT_RULES, ids=["summary", "details", "held"])
async def test_each_contract_rule_selects_in_sql_what_its_predicate_admits(
    two_contracts, session, predicate, clause
):
    first, second = two_contracts
    contracts = [first.contract, second.contract]
    ids = [c.id for c in contracts]
    admitted_somewhere = refused_somewhere = False
    for actor in _callers(first):
        in_sql = set(
            (
                await session.scalars(select(cm.Contract.id).where(cm.Contract.id.in_(ids), clause(actor)))
            ).all()
        )
        in_python = {c.id for c in contracts if predicate(actor, c)}
        assert in_sql == in_python, actor
        admitted_somewhere |= bool(in_python)
        refused_somewhere |= in_python != set(ids)
    assert admitted_somewhere and refused_somewhere


DETAILS = [
    (access.visible_deliveries, cm.Delivery, lambda row: row.contract_id),
    (access.visible_complaints, cm.Complaint, lambda row: row.contract_id),
    (access.visible_audits, cm.Audit, lambda row: row.contract_id),
    (access.visible_appeals, cm.Appeal, None),
]


@pytest.mark.parametrize(
    ("statement", "model", "contract_of"), DETAILS, ids=["deliveries", "complaints", "audits", "appeals"]
)
async def test_each_kind_of_detail_is_visible_to_those_who_see_the_contracts_details(
    two_contracts, session, statement, model, contract_of
):
    first, second = two_contracts
    rows = (await session.scalars(select(model))).all()
    if contract_of is None:  # an appeal belongs to its audit's contract
        audit_contracts = dict((await session.execute(select(cm.Audit.id, cm.Audit.contract_id))).all())

        def contract_of(row):
            return audit_contracts[row.audit_id]

    contracts = {c.id: c for c in (first.contract, second.contract)}
    assert {contract_of(row) for row in rows} <= set(contracts) and rows
    for actor in _callers(first):
        seen = {row.id for row in (await session.scalars(statement(actor))).all()}
        expected = {
            row.id for row in rows if access.can_see_contract_details(actor, contracts[contract_of(row)])
        }
        assert seen == expected, actor


@pytest.mark.parametrize(
    ("actor", "sees"),
    [
        (None, False),
        (Actor(1, Role.ADMIN), True),
        *((Actor(1, role), False) for role in Role if role != Role.ADMIN),
    ],
    ids=lambda v: getattr(getattr(v, "role", None), "value", str(v)),
)
def test_only_admins_read_the_outbox(actor, sees):
    assert access.can_read_outbox(actor) is sees


def test_an_auditor_without_a_firm_is_assigned_nothing():
    contract = cm.Contract(department_id=1, provider_id=1, audit_firm_id=None)
    auditor = Actor(1, Role.AUDITOR, audit_firm_id=None)
    checks = [access.is_assigned_auditor, access.can_see_contract, access.can_see_contract_details]
    assert [check(auditor, contract) for check in checks] == [False] * 3
