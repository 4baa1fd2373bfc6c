"""Inputs and payloads of the contracts domain (SPEC §5).

Part of the published contract; their mutations come with the delivery issue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from contracts import service
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
from core.api import UserError, context_of, decode_id, decode_ids, mutate
from core.auth import Role, require
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


CONTRACT_TYPES: list = []


def _contract(row) -> dict[str, Any]:
    return {"contract": Contract.from_row(row)}


def _resident(view) -> dict[str, Any]:
    return {"delivery": ResidentDelivery.from_view(view)}


def _complaint(row) -> dict[str, Any]:
    return {"complaint": Complaint.from_row(row)}


def _audit(row) -> dict[str, Any]:
    return {"audit": Audit.from_row(row)}


def _id(value, type_name: str, *field: str) -> int:
    return decode_id(value, type_name, field=list(field))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="OFFICER of the department: after the challenge period, with no challenge open, the "
        "award becomes final and the contract is made (TOO_EARLY before, CHALLENGE_OPEN while one is open)."
    )
    async def finalize_award(self, info: Info, tender_id: strawberry.ID) -> ContractPayload:
        async def action(session, actor):
            require(actor, Role.OFFICER)
            return await service.finalize_award(
                session=session, actor=actor, tender_id=_id(tender_id, "Tender", "tenderId")
            )

        return await mutate(info, ContractPayload, action, _contract)

    @strawberry.mutation(description="OFFICER of the department: assign the third-party audit firm.")
    async def assign_audit_firm(
        self, info: Info, contract_id: strawberry.ID, audit_firm_id: strawberry.ID
    ) -> ContractPayload:
        async def action(session, actor):
            require(actor, Role.OFFICER)
            return await service.assign_audit_firm(
                session=session, actor=actor, contract_id=_id(contract_id, "Contract", "contractId"),
                audit_firm_id=_id(audit_firm_id, "AuditFirm", "auditFirmId"),
            )  # fmt: skip

        return await mutate(info, ContractPayload, action, _contract)

    @strawberry.mutation(description="OFFICER of the department: suspend an ACTIVE contract, with a reason.")
    async def suspend_contract(self, info: Info, id: strawberry.ID, reason: LongText) -> ContractPayload:
        return await _status(info, id, "suspended", reason)

    @strawberry.mutation(description="OFFICER of the department: reinstate a SUSPENDED contract.")
    async def reinstate_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        return await _status(info, id, "reinstated", None)

    @strawberry.mutation(description="OFFICER of the department: terminate the contract, with a reason.")
    async def terminate_contract(self, info: Info, id: strawberry.ID, reason: LongText) -> ContractPayload:
        return await _status(info, id, "terminated", reason)

    @strawberry.mutation(description="OFFICER of the department: complete an ACTIVE contract after its term.")
    async def complete_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        return await _status(info, id, "completed", None)

    @strawberry.mutation(
        description="PROVIDER of the contract: record a delivery; the platform texts the resident a link "
        "(CONTRACT_SUSPENDED while the contract is suspended)."
    )
    async def record_delivery(self, info: Info, input: RecordDeliveryInput) -> DeliveryPayload:
        async def action(session, actor):
            require(actor, Role.PROVIDER)
            recorded = await service.record_delivery(
                session=session,
                actor=actor,
                contract_id=_id(input.contract_id, "Contract", "input", "contractId"),
                delivered_on=input.delivered_on,
                units=input.units,
                resident_phone=input.resident_phone,
                note=input.note,
            )
            return recorded.delivery

        return await mutate(info, DeliveryPayload, action, lambda r: {"delivery": Delivery.from_row(r)})

    @strawberry.mutation(
        description="PROVIDER (its own) or ADMIN: register staff phone numbers (kept hashed); a rating "
        "from one of them is flagged."
    )
    async def register_staff_phones(
        self, info: Info, provider_id: strawberry.ID, phones: list[str]
    ) -> StaffPhonesPayload:
        async def action(session, actor):
            require(actor, Role.PROVIDER, Role.ADMIN)
            return await service.register_staff_phones(
                session=session,
                actor=actor,
                provider_id=_id(provider_id, "Provider", "providerId"),
                phones=phones,
            )

        return await mutate(info, StaffPhonesPayload, action, lambda added: {"added": added})

    @strawberry.mutation(
        description="Resident (by link token): this did not happen; within 7 days of the delivery."
    )
    async def dispute_delivery(self, info: Info, token: str, reason: LongText) -> ResidentPayload:
        return await mutate(
            info,
            ResidentPayload,
            lambda s, a: service.dispute_delivery(session=s, token=token, reason=reason),
            _resident,
        )

    @strawberry.mutation(
        description="Resident (by link token): rate once; the rating may be changed within 48 hours, then "
        "RATING_FINAL."
    )
    async def rate_delivery(self, info: Info, input: RateDeliveryInput) -> ResidentPayload:
        request = context_of(info).request
        address = request.client.host if request is not None and request.client else None
        stars = service.Stars(
            input.stars, input.timeliness, input.attitude, input.professionalism, input.comment
        )
        return await mutate(
            info,
            ResidentPayload,
            lambda s, a: service.rate_delivery(
                session=s, token=input.token, rating=stars, client_address=address
            ),
            _resident,
        )

    @strawberry.mutation(description="Resident (by link token): file a complaint about the delivery.")
    async def file_complaint(self, info: Info, input: FileComplaintInput) -> ComplaintPayload:
        return await mutate(
            info,
            ComplaintPayload,
            lambda s, a: service.file_complaint(
                session=s, token=input.token, category=input.category, text=input.text
            ),
            _complaint,
        )

    @strawberry.mutation(description="OFFICER of the department: file a hotline complaint for a resident.")
    async def file_complaint_for_resident(
        self, info: Info, input: FileComplaintForResidentInput
    ) -> ComplaintPayload:
        async def action(session, actor):
            require(actor, Role.OFFICER)
            return await service.file_complaint_for_resident(
                session=session, actor=actor, category=input.category, text=input.text,
                delivery_id=_id(input.delivery_id, "Delivery", "input", "deliveryId"),
            )  # fmt: skip

        return await mutate(info, ComplaintPayload, action, _complaint)

    @strawberry.mutation(
        description="PROVIDER of the contract or OFFICER of the department: the first response."
    )
    async def respond_complaint(self, info: Info, id: strawberry.ID, text: LongText) -> ComplaintPayload:
        async def action(session, actor):
            require(actor, Role.PROVIDER, Role.OFFICER)
            return await service.respond_complaint(
                session=session, actor=actor, complaint_id=_id(id, "Complaint", "id"), text=text
            )

        return await mutate(info, ComplaintPayload, action, _complaint)

    @strawberry.mutation(description="OFFICER of the department: resolve, substantiated or not, with a note.")
    async def resolve_complaint(
        self, info: Info, id: strawberry.ID, substantiated: bool, note: LongText
    ) -> ComplaintPayload:
        return await _close(info, id, note, substantiated=substantiated, reject=False)

    @strawberry.mutation(
        description="OFFICER of the department: reject a complaint (not admissible), with a note."
    )
    async def reject_complaint(self, info: Info, id: strawberry.ID, note: LongText) -> ComplaintPayload:
        return await _close(info, id, note, substantiated=None, reject=True)

    @strawberry.mutation(description="OFFICER of the department: a flagged rating counts again.")
    async def clear_rating_flag(self, info: Info, delivery_id: strawberry.ID) -> RatingPayload:
        async def action(session, actor):
            require(actor, Role.OFFICER)
            return await service.clear_rating_flag(
                session=session, actor=actor, delivery_id=_id(delivery_id, "Delivery", "deliveryId")
            )

        return await mutate(info, RatingPayload, action, lambda r: {"rating": Rating.from_row(r)})

    @strawberry.mutation(description="AUDITOR of the assigned firm: start the audit of a contract period.")
    async def create_audit(self, info: Info, contract_id: strawberry.ID, period_index: int) -> AuditPayload:
        async def action(session, actor):
            require(actor, Role.AUDITOR)
            return await service.create_audit(
                session=session, actor=actor, contract_id=_id(contract_id, "Contract", "contractId"),
                period_index=period_index,
            )  # fmt: skip

        return await mutate(info, AuditPayload, action, _audit)

    @strawberry.mutation(description="AUDITOR: the measured value of an AUDIT KPI.")
    async def record_kpi_value(
        self, info: Info, audit_id: strawberry.ID, kpi_id: strawberry.ID, value: float
    ) -> AuditPayload:
        async def action(session, actor):
            require(actor, Role.AUDITOR)
            return await service.record_kpi_value(
                session=session, actor=actor, audit_id=_id(audit_id, "Audit", "auditId"),
                kpi_id=_id(kpi_id, "Kpi", "kpiId"), value=value,
            )  # fmt: skip

        return await mutate(info, AuditPayload, action, _audit)

    @strawberry.mutation(description="AUDITOR: a checklist item.")
    async def add_audit_check(
        self, info: Info, audit_id: strawberry.ID, input: AuditCheckInput
    ) -> AuditPayload:
        async def action(session, actor):
            require(actor, Role.AUDITOR)
            check = service.CheckSpec(
                input.item, input.passed, input.weight, input.severity, input.note, input.evidence
            )
            return await service.add_audit_check(
                session=session, actor=actor, audit_id=_id(audit_id, "Audit", "auditId"), check=check
            )

        return await mutate(info, AuditPayload, action, _audit)

    @strawberry.mutation(description="AUDITOR: a spot check found a delivery of the period did not happen.")
    async def mark_delivery_false(
        self, info: Info, audit_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> AuditPayload:
        async def action(session, actor):
            require(actor, Role.AUDITOR)
            return await service.mark_delivery_false(
                session=session, actor=actor, audit_id=_id(audit_id, "Audit", "auditId"),
                delivery_id=_id(delivery_id, "Delivery", "deliveryId"),
            )  # fmt: skip

        return await mutate(info, AuditPayload, action, _audit)

    @strawberry.mutation(description="AUDITOR: submit the audit; every AUDIT KPI needs a value.")
    async def submit_audit(self, info: Info, audit_id: strawberry.ID) -> AuditPayload:
        async def action(session, actor):
            require(actor, Role.AUDITOR)
            return await service.submit_audit(
                session=session, actor=actor, audit_id=_id(audit_id, "Audit", "auditId")
            )

        return await mutate(info, AuditPayload, action, _audit)

    @strawberry.mutation(
        description="PROVIDER of the contract: appeal items of a submitted audit within 10 days "
        "(DEADLINE_PASSED after)."
    )
    async def appeal_audit(
        self, info: Info, audit_id: strawberry.ID, check_ids: list[strawberry.ID], reason: LongText
    ) -> AppealPayload:
        async def action(session, actor):
            require(actor, Role.PROVIDER)
            return await service.appeal_audit(
                session=session, actor=actor, audit_id=_id(audit_id, "Audit", "auditId"),
                check_ids=decode_ids(check_ids, "AuditCheck", field=["checkIds"]), reason=reason,
            )  # fmt: skip

        return await mutate(info, AppealPayload, action, lambda r: {"appeal": Appeal.from_row(r)})

    @strawberry.mutation(
        description="OFFICER of the department: uphold or overturn each appealed item; "
        "overturned items drop out."
    )
    async def decide_appeal(
        self, info: Info, id: strawberry.ID, decisions: list[AppealDecisionInput]
    ) -> AppealPayload:
        async def action(session, actor):
            require(actor, Role.OFFICER)
            items = [
                service.ItemDecision(
                    _id(d.check_id, "AuditCheck", "decisions", str(i), "checkId"), d.upheld, d.note
                )
                for i, d in enumerate(decisions)
            ]
            return await service.decide_appeal(
                session=session, actor=actor, appeal_id=_id(id, "Appeal", "id"), decisions=items
            )

        return await mutate(info, AppealPayload, action, lambda r: {"appeal": Appeal.from_row(r)})


async def _status(info: Info, id: strawberry.ID, change: str, reason: str | None) -> ContractPayload:
    async def action(session, actor):
        require(actor, Role.OFFICER)
        return await service.change_contract_status(
            session=session, actor=actor, contract_id=_id(id, "Contract", "id"), change=change, reason=reason
        )

    return await mutate(info, ContractPayload, action, _contract)


async def _close(
    info: Info, id: strawberry.ID, note: str, *, substantiated, reject: bool
) -> ComplaintPayload:
    async def action(session, actor):
        require(actor, Role.OFFICER)
        return await service.close_complaint(
            session=session, actor=actor, complaint_id=_id(id, "Complaint", "id"), note=note,
            substantiated=substantiated, reject=reject,
        )  # fmt: skip

    return await mutate(info, ComplaintPayload, action, _complaint)
