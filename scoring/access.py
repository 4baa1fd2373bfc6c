"""Who sees and who acts on what in the scoring domain (SPEC §6, §7): each rule stated once.

- A period's scorecard is public with the contract's summary: whoever may see the contract
  (`contracts.access.can_see_contract`) sees its scorecards. Nothing more to state here.
- A period is finalised by an officer of the contract's purchasing department
  (`contracts.access.is_contract_officer`, checked through `lifecycle.contract_for_officer`).

As in `contracts.access`, a rule that filters rows comes as a Python predicate on one row and as the
SQL clause that selects the same rows (tests/scoring/test_payment_access.py holds them together).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, select, true

from contracts import access as contract_access
from contracts.models import Contract
from core.auth import Actor, Role
from scoring.models import Payment

# ---------------------------------------------------------------- payments and payout accounts
#
# - A payment (amount, status, transfer reference) is seen by admins, the purchasing department's
#   officers and the contracted provider's staff: `can_see_payment`, `payment_visible_clause`,
#   `visible_payments`. Not by the public, other providers, other departments or auditors.
# - The department's officers approve and cancel its payments (`may_approve_payment`); they or an
#   admin send them (`may_send_payment`).
# - A provider's payout account is set by its own staff, an officer or an admin
#   (`may_set_payout_account`).


def _is(actor: Actor | None, role: Role) -> bool:
    return actor is not None and actor.role == role


def can_see_payment(actor: Actor | None, contract: Contract) -> bool:
    """Admins, the department's officers and the contracted provider."""
    return (
        _is(actor, Role.ADMIN)
        or contract_access.is_contract_officer(actor, contract)
        or contract_access.is_contract_provider(actor, contract)
    )


def payment_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    """SQL of `can_see_payment`, on `Contract`."""
    if _is(actor, Role.ADMIN):
        return true()
    if _is(actor, Role.OFFICER):
        return Contract.department_id == actor.department_id
    if _is(actor, Role.PROVIDER):
        return Contract.provider_id == actor.provider_id
    return false()


def visible_payments(actor: Actor | None) -> Select:
    """Payments the caller may see."""
    return (
        select(Payment)
        .join(Contract, Contract.id == Payment.contract_id)
        .where(payment_visible_clause(actor))
    )


def may_approve_payment(actor: Actor | None, contract: Contract) -> bool:
    """Approving and cancelling: an officer of the purchasing department."""
    return contract_access.is_contract_officer(actor, contract)


def may_send_payment(actor: Actor | None, contract: Contract) -> bool:
    """Sending (and sending again): an officer of the purchasing department, or an admin."""
    return _is(actor, Role.ADMIN) or contract_access.is_contract_officer(actor, contract)


def may_set_payout_account(actor: Actor | None, provider_id: int) -> bool:
    """The provider's own staff, any officer, or an admin."""
    return (
        _is(actor, Role.ADMIN)
        or _is(actor, Role.OFFICER)
        or (_is(actor, Role.PROVIDER) and actor.provider_id == provider_id)
    )


refusal = contract_access.refusal
