"""Mutations of the contracts domain (SPEC §5): inputs, payloads and thin resolvers.

Each mutation names its roles where it is registered (`core.api.mutation`); the services check what
depends on the objects (this officer's department, this provider's contract, the assigned firm).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from contracts import audits, complaints, deliveries, lifecycle, ratings
from contracts.types import (
    Appeal,
    Audit,
    Complaint,
    Contract,
    Delivery,
    Rating,
    ResidentDelivery,
    SeverityType,
)
from core.api import UserError, context_of, decode_id, decode_ids, mutate, mutation
from core.auth import Role
from core.limits import LONG_TEXT, LongText, text_field

COMPLAINT_CATEGORY = (
    "What the complaint is about: one of the codes of `complaintCategories` (QUALITY, ATTITUDE, LATE, "
    "CHARGES, SAFETY, OTHER)."
)


@strawberry.input(description="PROVIDER of the contract: a delivery, within the term and not in the future.")
class RecordDeliveryInput:
    contract_id: strawberry.ID
    delivered_on: dt.date
    units: int = strawberry.field(description="At least 1.")
    resident_phone: str = text_field(
        "Mainland mobile number; it receives the resident's link, then only a keyed hash is kept.",
        max_length=40,
    )
    note: str | None = text_field(max_length=LONG_TEXT, default=None)


@strawberry.input(description="The resident's rating through the link: 1-5 stars, dimensions optional.")
class RateDeliveryInput:
    token: str
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    professionalism: int | None = None
    comment: str | None = text_field(max_length=LONG_TEXT, default=None)


@strawberry.input(description="The resident's complaint through the link.")
class FileComplaintInput:
    token: str
    category: str = text_field(COMPLAINT_CATEGORY, max_length=40)
    text: str = text_field(max_length=LONG_TEXT)


@strawberry.input(description="OFFICER: a complaint a resident made by phone (hotline), about a delivery.")
class FileComplaintForResidentInput:
    delivery_id: strawberry.ID
    category: str = text_field(COMPLAINT_CATEGORY, max_length=40)
    text: str = text_field(max_length=LONG_TEXT)


@strawberry.input(description="An audit checklist item.")
class AuditCheckInput:
    item: str = text_field(max_length=300)
    passed: bool
    weight: float = strawberry.field(description="Above 0.")
    severity: SeverityType
    note: str | None = text_field(max_length=LONG_TEXT, default=None)
    evidence: str | None = text_field("Reference to an evidence attachment.", max_length=500, default=None)


@strawberry.input(description="The decision on one appealed item: upheld, or overturned (upheld false).")
class AppealDecisionInput:
    check_id: strawberry.ID
    upheld: bool
    note: str | None = text_field(max_length=LONG_TEXT, default=None)


@strawberry.type(description="The contract, or errors (then nothing was written).")
class ContractPayload:
    contract: Contract | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The delivery, or errors (then nothing was written).")
class DeliveryPayload:
    delivery: Delivery | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="What the resident sees after the action, or errors.")
class ResidentPayload:
    delivery: ResidentDelivery | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The complaint, or errors.")
class ComplaintPayload:
    complaint: Complaint | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The audit, or errors.")
class AuditPayload:
    audit: Audit | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The appeal, or errors.")
class AppealPayload:
    appeal: Appeal | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The rating, or errors.")
class RatingPayload:
    rating: Rating | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="How many staff phones were added, or errors.")
class StaffPhonesPayload:
    added: int | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


def _contract(row) -> dict[str, Any]:
    return {"contract": Contract.from_row(row)}


def _resident(view) -> dict[str, Any]:
    return {"delivery": ResidentDelivery.from_view(view)}


def _complaint(row) -> dict[str, Any]:
    return {"complaint": Complaint.from_row(row)}


def _audit(row) -> dict[str, Any]:
    return {"audit": Audit.from_row(row)}


def _appeal(row) -> dict[str, Any]:
    return {"appeal": Appeal.from_row(row)}


def _id(value, type_name: str, *field: str) -> int:
    return decode_id(value, type_name, field=list(field))


def _client_address(info: Info) -> str | None:
    """The caller's network address, for the many-ratings-per-address rule."""
    request = context_of(info).request
    return request.client.host if request is not None and request.client else None


OFFICER, PROVIDER, AUDITOR = [Role.OFFICER], [Role.PROVIDER], [Role.AUDITOR]


@strawberry.type
class Mutation:
    @mutation(
        "OFFICER of the department: after the challenge period, with no challenge open, the award becomes "
        "final and the contract is made (TOO_EARLY before, CHALLENGE_OPEN while one is open).",
        roles=OFFICER,
    )
    async def finalize_award(self, info: Info, tender_id: strawberry.ID) -> ContractPayload:
        return await mutate(info, ContractPayload, lambda s, a: lifecycle.finalize_award(
            session=s, actor=a, tender_id=_id(tender_id, "Tender", "tenderId"),
        ), _contract)  # fmt: skip

    @mutation("OFFICER of the department: assign the third-party audit firm.", roles=OFFICER)
    async def assign_audit_firm(
        self, info: Info, contract_id: strawberry.ID, audit_firm_id: strawberry.ID
    ) -> ContractPayload:
        return await mutate(info, ContractPayload, lambda s, a: lifecycle.assign_audit_firm(
            session=s, actor=a, contract_id=_id(contract_id, "Contract", "contractId"),
            audit_firm_id=_id(audit_firm_id, "AuditFirm", "auditFirmId"),
        ), _contract)  # fmt: skip

    @mutation("OFFICER of the department: suspend an ACTIVE contract, with a reason.", roles=OFFICER)
    async def suspend_contract(self, info: Info, id: strawberry.ID, reason: LongText) -> ContractPayload:
        return await _status(info, id, "suspended", reason)

    @mutation("OFFICER of the department: reinstate a SUSPENDED contract.", roles=OFFICER)
    async def reinstate_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        return await _status(info, id, "reinstated", None)

    @mutation("OFFICER of the department: terminate the contract, with a reason.", roles=OFFICER)
    async def terminate_contract(self, info: Info, id: strawberry.ID, reason: LongText) -> ContractPayload:
        return await _status(info, id, "terminated", reason)

    @mutation("OFFICER of the department: complete an ACTIVE contract after its term.", roles=OFFICER)
    async def complete_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        return await _status(info, id, "completed", None)

    @mutation(
        "PROVIDER of the contract: record a delivery; the platform texts the resident a link "
        "(CONTRACT_SUSPENDED while the contract is suspended).",
        roles=PROVIDER,
    )
    async def record_delivery(self, info: Info, input: RecordDeliveryInput) -> DeliveryPayload:
        return await mutate(info, DeliveryPayload, lambda s, a: deliveries.record_delivery(
            session=s, actor=a, contract_id=_id(input.contract_id, "Contract", "input", "contractId"),
            delivered_on=input.delivered_on, units=input.units, resident_phone=input.resident_phone,
            note=input.note,
        ), lambda recorded: {"delivery": Delivery.from_row(recorded.delivery)})  # fmt: skip

    @mutation(
        "PROVIDER (its own) or ADMIN: register staff phone numbers (kept hashed); a rating from one of them "
        "is flagged.",
        roles=[Role.PROVIDER, Role.ADMIN],
    )
    async def register_staff_phones(
        self, info: Info, provider_id: strawberry.ID, phones: list[str]
    ) -> StaffPhonesPayload:
        return await mutate(info, StaffPhonesPayload, lambda s, a: ratings.register_staff_phones(
            session=s, actor=a, provider_id=_id(provider_id, "Provider", "providerId"), phones=phones,
        ), lambda added: {"added": added})  # fmt: skip

    @mutation("Resident (by link token): this did not happen; within 7 days of the delivery.", anyone=True)
    async def dispute_delivery(self, info: Info, token: str, reason: LongText) -> ResidentPayload:
        return await mutate(info, ResidentPayload, lambda s, _a: deliveries.dispute_delivery(
            session=s, token=token, reason=reason,
        ), _resident)  # fmt: skip

    @mutation(
        "Resident (by link token): rate once; the rating may be changed within 48 hours, then RATING_FINAL.",
        anyone=True,
    )
    async def rate_delivery(self, info: Info, input: RateDeliveryInput) -> ResidentPayload:
        stars = ratings.Stars(
            input.stars, input.timeliness, input.attitude, input.professionalism, input.comment
        )
        return await mutate(info, ResidentPayload, lambda s, _a: ratings.rate_delivery(
            session=s, token=input.token, rating=stars, client_address=_client_address(info),
        ), _resident)  # fmt: skip

    @mutation("Resident (by link token): file a complaint about the delivery.", anyone=True)
    async def file_complaint(self, info: Info, input: FileComplaintInput) -> ComplaintPayload:
        return await mutate(info, ComplaintPayload, lambda s, _a: complaints.file_complaint(
            session=s, token=input.token, category=input.category, text=input.text,
        ), _complaint)  # fmt: skip

    @mutation("OFFICER of the department: file a hotline complaint for a resident.", roles=OFFICER)
    async def file_complaint_for_resident(
        self, info: Info, input: FileComplaintForResidentInput
    ) -> ComplaintPayload:
        return await mutate(info, ComplaintPayload, lambda s, a: complaints.file_complaint_for_resident(
            session=s, actor=a, category=input.category, text=input.text,
            delivery_id=_id(input.delivery_id, "Delivery", "input", "deliveryId"),
        ), _complaint)  # fmt: skip

    @mutation(
        "PROVIDER of the contract or OFFICER of the department: the first response.",
        roles=[Role.PROVIDER, Role.OFFICER],
    )
    async def respond_complaint(self, info: Info, id: strawberry.ID, text: LongText) -> ComplaintPayload:
        return await mutate(info, ComplaintPayload, lambda s, a: complaints.respond_complaint(
            session=s, actor=a, complaint_id=_id(id, "Complaint", "id"), text=text,
        ), _complaint)  # fmt: skip

    @mutation("OFFICER of the department: resolve, substantiated or not, with a note.", roles=OFFICER)
    async def resolve_complaint(
        self, info: Info, id: strawberry.ID, substantiated: bool, note: LongText
    ) -> ComplaintPayload:
        return await _close(info, id, note, substantiated=substantiated, reject=False)

    @mutation("OFFICER of the department: reject a complaint (not admissible), with a note.", roles=OFFICER)
    async def reject_complaint(self, info: Info, id: strawberry.ID, note: LongText) -> ComplaintPayload:
        return await _close(info, id, note, substantiated=None, reject=True)

    @mutation("OFFICER of the department: a flagged rating counts again.", roles=OFFICER)
    async def clear_rating_flag(self, info: Info, delivery_id: strawberry.ID) -> RatingPayload:
        return await mutate(info, RatingPayload, lambda s, a: ratings.clear_rating_flag(
            session=s, actor=a, delivery_id=_id(delivery_id, "Delivery", "deliveryId"),
        ), lambda row: {"rating": Rating.from_row(row)})  # fmt: skip

    @mutation("AUDITOR of the assigned firm: start the audit of a contract period.", roles=AUDITOR)
    async def create_audit(self, info: Info, contract_id: strawberry.ID, period_index: int) -> AuditPayload:
        return await mutate(info, AuditPayload, lambda s, a: audits.create_audit(
            session=s, actor=a, contract_id=_id(contract_id, "Contract", "contractId"),
            period_index=period_index,
        ), _audit)  # fmt: skip

    @mutation("AUDITOR: the measured value of an AUDIT KPI.", roles=AUDITOR)
    async def record_kpi_value(
        self, info: Info, audit_id: strawberry.ID, kpi_id: strawberry.ID, value: float
    ) -> AuditPayload:
        return await mutate(info, AuditPayload, lambda s, a: audits.record_kpi_value(
            session=s, actor=a, audit_id=_id(audit_id, "Audit", "auditId"),
            kpi_id=_id(kpi_id, "Kpi", "kpiId"), value=value,
        ), _audit)  # fmt: skip

    @mutation("AUDITOR: a checklist item.", roles=AUDITOR)
    async def add_audit_check(
        self, info: Info, audit_id: strawberry.ID, input: AuditCheckInput
    ) -> AuditPayload:
        check = audits.CheckSpec(
            input.item, input.passed, input.weight, input.severity, input.note, input.evidence
        )
        return await mutate(info, AuditPayload, lambda s, a: audits.add_audit_check(
            session=s, actor=a, audit_id=_id(audit_id, "Audit", "auditId"), check=check,
        ), _audit)  # fmt: skip

    @mutation("AUDITOR: a spot check found a delivery of the period did not happen.", roles=AUDITOR)
    async def mark_delivery_false(
        self, info: Info, audit_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> AuditPayload:
        return await mutate(info, AuditPayload, lambda s, a: audits.mark_delivery_false(
            session=s, actor=a, audit_id=_id(audit_id, "Audit", "auditId"),
            delivery_id=_id(delivery_id, "Delivery", "deliveryId"),
        ), _audit)  # fmt: skip

    @mutation("AUDITOR: submit the audit; every AUDIT KPI needs a value.", roles=AUDITOR)
    async def submit_audit(self, info: Info, audit_id: strawberry.ID) -> AuditPayload:
        return await mutate(info, AuditPayload, lambda s, a: audits.submit_audit(
            session=s, actor=a, audit_id=_id(audit_id, "Audit", "auditId"),
        ), _audit)  # fmt: skip

    @mutation(
        "PROVIDER of the contract: appeal items of a submitted audit within 10 days (DEADLINE_PASSED after).",
        roles=PROVIDER,
    )
    async def appeal_audit(
        self, info: Info, audit_id: strawberry.ID, check_ids: list[strawberry.ID], reason: LongText
    ) -> AppealPayload:
        return await mutate(info, AppealPayload, lambda s, a: audits.appeal_audit(
            session=s, actor=a, audit_id=_id(audit_id, "Audit", "auditId"),
            check_ids=decode_ids(check_ids, "AuditCheck", field=["checkIds"]), reason=reason,
        ), _appeal)  # fmt: skip

    @mutation(
        "OFFICER of the department: uphold or overturn each appealed item; overturned items drop out.",
        roles=OFFICER,
    )
    async def decide_appeal(
        self, info: Info, id: strawberry.ID, decisions: list[AppealDecisionInput]
    ) -> AppealPayload:
        def items() -> list[audits.ItemDecision]:
            return [
                audits.ItemDecision(
                    _id(d.check_id, "AuditCheck", "decisions", str(i), "checkId"), d.upheld, d.note
                )
                for i, d in enumerate(decisions)
            ]

        return await mutate(info, AppealPayload, lambda s, a: audits.decide_appeal(
            session=s, actor=a, decisions=items(), appeal_id=_id(id, "Appeal", "id"),
        ), _appeal)  # fmt: skip


async def _status(info: Info, id: strawberry.ID, change: str, reason: str | None) -> ContractPayload:
    return await mutate(info, ContractPayload, lambda s, a: lifecycle.change_contract_status(
        session=s, actor=a, contract_id=_id(id, "Contract", "id"), change=change, reason=reason,
    ), _contract)  # fmt: skip


async def _close(
    info: Info, id: strawberry.ID, note: str, *, substantiated, reject: bool
) -> ComplaintPayload:
    return await mutate(info, ComplaintPayload, lambda s, a: complaints.close_complaint(
        session=s, actor=a, complaint_id=_id(id, "Complaint", "id"), note=note,
        substantiated=substantiated, reject=reject,
    ), _complaint)  # fmt: skip
