"""Inputs and payloads of the contracts domain (SPEC §5).

Part of the published contract; their mutations come with the delivery issue.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from contracts.types import Appeal, Audit, Complaint, Contract, Delivery, ResidentDelivery, SeverityType
from core.api import UserError


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


@strawberry.type
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
