"""Who sees and who acts on what in the scoring domain (SPEC §6, §7): each rule stated once.

- A period's scorecard is public with the contract's summary: whoever may see the contract
  (`contracts.access.can_see_contract`) sees its scorecards. Nothing more to state here.
- Payments (amounts, status, the transfer's reference) are seen by the contract's parties, its
  provider's staff and the officers of its purchasing department, and by admins; not by the public
  nor by the assigned auditors: `can_see_payments`, `payments_clause`.
- A period is finalised by an officer of the contract's purchasing department
  (`contracts.access.is_contract_officer`, checked through `lifecycle.contract_for_officer`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from contracts import access as contract_access
from contracts.models import Contract
from core.auth import Actor, Role
from scoring.models import Payment


def can_see_payments(actor: Actor | None, contract: Contract) -> bool:
    """A contract's payments: admins, the department's officers and the contracted provider."""
    return (
        (actor is not None and actor.role == Role.ADMIN)
        or contract_access.is_contract_officer(actor, contract)
        or contract_access.is_contract_provider(actor, contract)
    )


def payments_clause(actor: Actor | None) -> ColumnElement[bool]:
    """SQL of `can_see_payments`, on `Contract`."""
    if actor is None:
        return false()
    if actor.role == Role.ADMIN:
        return true()
    return or_(
        Contract.department_id == actor.department_id if actor.role == Role.OFFICER else false(),
        Contract.provider_id == actor.provider_id if actor.role == Role.PROVIDER else false(),
    )


def visible_payments(actor: Actor | None) -> Select:
    """Payments the caller may see."""
    return select(Payment).join(Contract, Contract.id == Payment.contract_id).where(payments_clause(actor))
