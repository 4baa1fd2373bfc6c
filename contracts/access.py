"""Who sees and who acts on what in the contracts domain (SPEC §5): each rule stated once.

A rule that filters rows comes twice, as a Python predicate on one row and as the SQL clause that
selects the same rows (tests/contracts/test_access.py holds the two to each other); services,
loaders and queries use these and nothing else, and the GraphQL types decide nothing.

- A contract's summary (terms, KPIs, periods, provider, audit firm) is public, except that an
  auditor sees only the contracts its firm is assigned to: `can_see_contract`,
  `contract_visible_clause`.
- Its details (deliveries and their ratings, complaints, audits and their appeals) are seen by
  admins, the purchasing department's officers, the contracted provider and the assigned firm's
  auditors: `can_see_contract_details`, `contract_details_clause`, and the statements of each kind
  below (`visible_deliveries`, `visible_complaints`, `visible_audits`, `visible_appeals`).
- "My contracts" are those the caller works on: its department's, its own, its firm's:
  `holds_contract`, `held_contracts_clause`.
- Complaints are listed to signed-in callers, each the complaints it may see.
- The outbox (masks only) is read by admins.

Acting on a contract, beyond the role its mutation names: the department's officers run it and
decide on complaints and appeals, the contracted provider records deliveries and appeals audits,
either of them answers a complaint, the assigned firm's auditors audit it, and a provider's
staff phones are registered by that provider or an admin.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from contracts.models import Appeal, Audit, Complaint, Contract, Delivery
from core.auth import Actor, Role
from core.errors import DomainError, ErrorCode


def _is(actor: Actor | None, role: Role) -> bool:
    return actor is not None and actor.role == role


# ---------------------------------------------------------------- the parties of a contract


def is_contract_officer(actor: Actor | None, contract: Contract) -> bool:
    """An officer of the purchasing department."""
    return _is(actor, Role.OFFICER) and actor.department_id == contract.department_id


def _officer_clause(actor: Actor | None) -> ColumnElement[bool]:
    return Contract.department_id == actor.department_id if _is(actor, Role.OFFICER) else false()


def is_contract_provider(actor: Actor | None, contract: Contract) -> bool:
    """The contracted provider's staff."""
    return _is(actor, Role.PROVIDER) and actor.provider_id == contract.provider_id


def _provider_clause(actor: Actor | None) -> ColumnElement[bool]:
    return Contract.provider_id == actor.provider_id if _is(actor, Role.PROVIDER) else false()


def is_assigned_auditor(actor: Actor | None, contract: Contract) -> bool:
    """An auditor of the audit firm assigned to the contract (none before one is assigned)."""
    return (
        _is(actor, Role.AUDITOR)
        and contract.audit_firm_id is not None
        and actor.audit_firm_id == contract.audit_firm_id
    )


def _auditor_clause(actor: Actor | None) -> ColumnElement[bool]:
    if not _is(actor, Role.AUDITOR) or actor.audit_firm_id is None:
        return false()
    return Contract.audit_firm_id == actor.audit_firm_id


def holds_contract(actor: Actor | None, contract: Contract) -> bool:
    """The caller works on the contract: its department's officer, its provider, its firm's auditor."""
    return (
        is_contract_officer(actor, contract)
        or is_contract_provider(actor, contract)
        or is_assigned_auditor(actor, contract)
    )


def held_contracts_clause(actor: Actor | None) -> ColumnElement[bool]:
    """SQL of `holds_contract`, on `Contract`."""
    return or_(_officer_clause(actor), _provider_clause(actor), _auditor_clause(actor))


# ---------------------------------------------------------------- seeing a contract


def can_see_contract(actor: Actor | None, contract: Contract) -> bool:
    """The summary is public, except to auditors of firms not assigned to the contract."""
    return not _is(actor, Role.AUDITOR) or is_assigned_auditor(actor, contract)


def contract_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    """SQL of `can_see_contract`, on `Contract`."""
    return _auditor_clause(actor) if _is(actor, Role.AUDITOR) else true()


def can_see_contract_details(actor: Actor | None, contract: Contract) -> bool:
    """Deliveries, ratings, complaints, audits, appeals: admins and the contract's parties."""
    return _is(actor, Role.ADMIN) or holds_contract(actor, contract)


def contract_details_clause(actor: Actor | None) -> ColumnElement[bool]:
    """SQL of `can_see_contract_details`, on `Contract`."""
    return true() if _is(actor, Role.ADMIN) else held_contracts_clause(actor)


def visible_contracts(actor: Actor | None) -> Select:
    return select(Contract).where(contract_visible_clause(actor))


def visible_deliveries(actor: Actor | None) -> Select:
    """Deliveries (a contract's details) the caller may see."""
    return (
        select(Delivery)
        .join(Contract, Contract.id == Delivery.contract_id)
        .where(contract_details_clause(actor))
    )


def visible_complaints(actor: Actor | None) -> Select:
    """Complaints (a contract's details) the caller may see."""
    return (
        select(Complaint)
        .join(Contract, Contract.id == Complaint.contract_id)
        .where(contract_details_clause(actor))
    )


def visible_audits(actor: Actor | None) -> Select:
    """Audits (a contract's details) the caller may see."""
    return (
        select(Audit).join(Contract, Contract.id == Audit.contract_id).where(contract_details_clause(actor))
    )


def visible_appeals(actor: Actor | None) -> Select:
    """Appeals of audits (a contract's details) the caller may see."""
    return (
        select(Appeal)
        .join(Audit, Audit.id == Appeal.audit_id)
        .join(Contract, Contract.id == Audit.contract_id)
        .where(contract_details_clause(actor))
    )


def can_list_complaints(actor: Actor | None) -> bool:
    """The complaints list asks for a signed-in caller; each sees those of `visible_complaints`."""
    return actor is not None


def can_read_outbox(actor: Actor | None) -> bool:
    """The outbox, masks only, for admins."""
    return _is(actor, Role.ADMIN)


# ---------------------------------------------------------------- acting on a contract


def may_respond_to_complaint(actor: Actor | None, contract: Contract) -> bool:
    """The first response to a complaint: the contracted provider or the department's officers."""
    return is_contract_officer(actor, contract) or is_contract_provider(actor, contract)


def may_work_on_audit(actor: Actor | None, audit: Audit, contract: Contract) -> bool:
    """An audit is worked on by its own firm, while that firm is still assigned to the contract."""
    return is_assigned_auditor(actor, contract) and audit.audit_firm_id == actor.audit_firm_id


def may_register_staff_phones(actor: Actor | None, provider_id: int) -> bool:
    """A provider's staff phones: its own staff or an admin; not officers (a number registered as staff
    silences that resident's ratings)."""
    return _is(actor, Role.ADMIN) or (_is(actor, Role.PROVIDER) and actor.provider_id == provider_id)


def refusal(actor: Actor | None, message: str) -> DomainError:
    """The error for a caller a rule leaves out: UNAUTHENTICATED when nobody is signed in."""
    if actor is None:
        return DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
    return DomainError(ErrorCode.PERMISSION_DENIED, message)
