"""Inputs and payloads of the contracts domain (SPEC §5).

Part of the published contract; their mutations come with the delivery issue.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from contracts import service
from contracts.types import Appeal, Audit, Complaint, Contract, Delivery, ResidentDelivery, SeverityType
from core.api import UserError, decode_id, mutate
from core.auth import Role, require


@strawberry.input
class RecordDeliveryInput:
    contract_id: strawberry.ID
    delivered_on: dt.date
    units: int
    resident_phone: str
    note: str | None = None


@strawberry.input
class RateDeliveryInput:
    token: str
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    professionalism: int | None = None
    comment: str | None = None


@strawberry.input
class FileComplaintInput:
    token: str
    category: str
    text: str


@strawberry.input
class AuditCheckInput:
    item: str
    passed: bool
    weight: float
    severity: SeverityType
    note: str | None = None


@strawberry.input
class AppealDecisionInput:
    check_id: strawberry.ID
    upheld: bool


@strawberry.type(description="The contract, or errors (then nothing was written).")
class ContractPayload:
    contract: Contract | None = None
    errors: list[UserError]


@strawberry.type
class DeliveryPayload:
    delivery: Delivery | None = None
    errors: list[UserError]


@strawberry.type
class ResidentPayload:
    delivery: ResidentDelivery | None = None
    errors: list[UserError]


@strawberry.type
class ComplaintPayload:
    complaint: Complaint | None = None
    errors: list[UserError]


@strawberry.type
class AuditPayload:
    audit: Audit | None = None
    errors: list[UserError]


@strawberry.type
class AppealPayload:
    appeal: Appeal | None = None
    errors: list[UserError]


CONTRACT_TYPES = [
    RecordDeliveryInput,
    RateDeliveryInput,
    FileComplaintInput,
    AuditCheckInput,
    AppealDecisionInput,
    ContractPayload,
    DeliveryPayload,
    ResidentPayload,
    ComplaintPayload,
    AuditPayload,
    AppealPayload,
]


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
                session=session, actor=actor, tender_id=decode_id(tender_id, "Tender", field=["tenderId"])
            )

        return await mutate(info, ContractPayload, action, lambda r: {"contract": Contract.from_row(r)})
