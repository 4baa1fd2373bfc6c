"""Write side of the market domain: parse input, call the service, map the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from core.api import UserError, context_of, decode_id, decode_ids, mutate
from core.auth import Role
from core.limits import LONG_TEXT, LongText, list_field, text_field
from market import service, tendering
from market.types import (
    AuditFirm,
    Bid,
    BidReceipt,
    Challenge,
    ChallengeDecisionType,
    Clarification,
    Department,
    KpiDirectionType,
    KpiSourceType,
    PackageTierType,
    Provider,
    ProviderKindType,
    Region,
    RegionKindType,
    RoleType,
    ServiceCategory,
    ServicePackage,
    Tender,
    User,
)

# ---------------------------------------------------------------- inputs


@strawberry.input(description="Credentials; the email is case-insensitive.")
class LoginInput:
    email: str = text_field(max_length=254)
    password: str


@strawberry.input(
    description="ADMIN only. OFFICER needs departmentId, PROVIDER providerId, AUDITOR auditFirmId."
)
class CreateUserInput:
    email: str = text_field(max_length=254)
    password: str = strawberry.field(description="At least 8 characters.")
    name: str
    role: RoleType
    department_id: strawberry.ID | None = None
    provider_id: strawberry.ID | None = None
    audit_firm_id: strawberry.ID | None = None


@strawberry.input(description="ADMIN: a region; the code is unique.")
class CreateRegionInput:
    code: str = text_field(max_length=20)
    name: str = text_field(max_length=100)
    kind: RegionKindType
    population: int
    parent_id: strawberry.ID | None = None


@strawberry.input(description="ADMIN: a purchasing department in a region.")
class CreateDepartmentInput:
    name: str
    region_id: strawberry.ID


@strawberry.input(description="ADMIN: a third-party audit firm.")
class CreateAuditFirmInput:
    name: str
    credit_code: str = strawberry.field(description="Checked with its check digit.")


@strawberry.input(description="Self-registration of a provider with its first account. Anyone may call it.")
class RegisterProviderInput:
    legal_name: str
    credit_code: str = strawberry.field(
        description="Unified Social Credit Code, checked with its check digit."
    )
    kind: ProviderKindType
    region_ids: list[strawberry.ID] = list_field("Regions served; at least one.", max_items=50)
    admin_email: str = text_field(max_length=254)
    admin_password: str = strawberry.field(description="At least 8 characters.")
    admin_name: str


@strawberry.input(description="A qualification of a provider.")
class AddQualificationInput:
    provider_id: strawberry.ID
    type: str = text_field("e.g. 养老机构设立许可, as tenders name it.", max_length=100)
    number: str = text_field(max_length=100)
    valid_from: dt.date
    valid_to: dt.date = strawberry.field(description="Last day of validity; not before validFrom.")
    document: str | None = text_field("Reference to the scanned document.", max_length=500, default=None)


@strawberry.input(description="A KPI template; the weights of a set sum to 1.")
class KpiInput:
    name: str
    unit: str = text_field(max_length=40)
    target: float
    direction: KpiDirectionType
    weight: float
    source: KpiSourceType


@strawberry.input(description="OFFICER or ADMIN. Prices in CNY with at most 2 decimals; min ≤ max.")
class CreateServicePackageInput:
    code: str = text_field(max_length=40)
    name: str
    name_en: str | None = None
    category: str = text_field("A service category code, e.g. ELDERLY_CARE.", max_length=40)
    tier: PackageTierType
    unit: str = text_field(max_length=40)
    standard: str = text_field(max_length=10000)
    min_unit_price: Decimal
    max_unit_price: Decimal
    kpis: list[KpiInput] = list_field(max_items=20)
    satisfaction_weight: float | None = strawberry.field(default=None, description="Default 0.4; ≥ 0.30.")
    kpi_weight: float | None = strawberry.field(default=None, description="Default 0.4.")
    audit_weight: float | None = strawberry.field(default=None, description="Default 0.2.")


@strawberry.input(description="Fields to change; omitted fields keep their value. `kpis` replaces the set.")
class UpdateServicePackageInput:
    name: str | None = None
    name_en: str | None = None
    category: str | None = text_field(max_length=40, default=None)
    tier: PackageTierType | None = None
    unit: str | None = text_field(max_length=40, default=None)
    standard: str | None = text_field(max_length=10000, default=None)
    min_unit_price: Decimal | None = None
    max_unit_price: Decimal | None = None
    kpis: list[KpiInput] | None = list_field(max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None


@strawberry.input(description="ADMIN: a new service category; the code is unique.")
class CreateServiceCategoryInput:
    code: str = text_field(max_length=40)
    name: str = text_field(max_length=100)
    name_en: str = text_field(max_length=100)


def _kpi_specs(kpis: list[KpiInput]) -> list[service.KpiSpec]:
    return [service.KpiSpec(k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in kpis]


# ---------------------------------------------------------------- payloads


@strawberry.type(description="The token, or why none was issued.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`; valid 12 hours."
    )
    expires_at: dt.datetime | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created account, or errors.")
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created region, or errors.")
class RegionPayload:
    region: Region | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created department, or errors.")
class DepartmentPayload:
    department: Department | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created audit firm, or errors.")
class AuditFirmPayload:
    audit_firm: AuditFirm | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The provider as changed, or errors (then nothing was written).")
class ProviderPayload:
    provider: Provider | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The package version made, or errors (then nothing was written).")
class ServicePackagePayload:
    service_package: ServicePackage | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The created category, or errors.")
class ServiceCategoryPayload:
    service_category: ServiceCategory | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The platform time after the move, or errors.")
class ClockPayload:
    now: dt.datetime | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


# ---------------------------------------------------------------- mutations


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Exchange email and password for a token. After 5 failures for one email within "
        "15 minutes, attempts are refused (TOO_MANY_ATTEMPTS) for 15 minutes."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        secret = context_of(info).settings.secret_key
        return await mutate(
            info,
            LoginPayload,
            lambda s, a: service.login(
                session=s, email=input.email, password=input.password, secret_key=secret
            ),
            lambda r: {"token": r.token, "expires_at": r.expires_at, "user": User.from_row(r.user)},
        )

    @strawberry.mutation(description="ADMIN: create an account with a role.")
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        async def action(session, actor):
            return await service.create_user(
                session=session,
                actor=service.require_admin(actor),
                email=input.email,
                password=input.password,
                name=input.name,
                role=input.role,
                department_id=_optional_id(input.department_id, "Department", "departmentId"),
                provider_id=_optional_id(input.provider_id, "Provider", "providerId"),
                audit_firm_id=_optional_id(input.audit_firm_id, "AuditFirm", "auditFirmId"),
            )

        return await mutate(info, UserPayload, action, lambda r: {"user": User.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a region.")
    async def create_region(self, info: Info, input: CreateRegionInput) -> RegionPayload:
        async def action(session, actor):
            return await service.create_region(
                session=session,
                actor=service.require_admin(actor),
                code=input.code,
                name=input.name,
                kind=input.kind,
                population=input.population,
                parent_id=_optional_id(input.parent_id, "Region", "parentId"),
            )

        return await mutate(info, RegionPayload, action, lambda r: {"region": Region.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a purchasing department.")
    async def create_department(self, info: Info, input: CreateDepartmentInput) -> DepartmentPayload:
        async def action(session, actor):
            return await service.create_department(
                session=session,
                actor=service.require_admin(actor),
                name=input.name,
                region_id=decode_id(input.region_id, "Region", field=["input", "regionId"]),
            )

        return await mutate(info, DepartmentPayload, action, lambda r: {"department": Department.from_row(r)})

    @strawberry.mutation(description="ADMIN: add a third-party audit firm.")
    async def create_audit_firm(self, info: Info, input: CreateAuditFirmInput) -> AuditFirmPayload:
        return await mutate(
            info,
            AuditFirmPayload,
            lambda s, a: service.create_audit_firm(
                session=s, actor=a, name=input.name, credit_code=input.credit_code
            ),
            lambda r: {"audit_firm": AuditFirm.from_row(r)},
        )

    @strawberry.mutation(
        description="Anyone: register a provider. It starts PENDING until an OFFICER or ADMIN approves it."
    )
    async def register_provider(self, info: Info, input: RegisterProviderInput) -> ProviderPayload:
        async def action(session, actor):
            return await service.register_provider(
                session=session,
                actor=actor,
                legal_name=input.legal_name,
                credit_code=input.credit_code,
                kind=input.kind,
                region_ids=decode_ids(input.region_ids, "Region", field=["input", "regionIds"]),
                admin_email=input.admin_email,
                admin_password=input.admin_password,
                admin_name=input.admin_name,
            )

        return await mutate(
            info, ProviderPayload, action, lambda r: {"provider": Provider.from_row(r.provider)}
        )

    @strawberry.mutation(description="OFFICER or ADMIN: admit a PENDING provider (→ ACTIVE).")
    async def approve_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_action(info, id, service.approve_provider)

    @strawberry.mutation(description="OFFICER or ADMIN: suspend an ACTIVE provider, with a reason.")
    async def suspend_provider(self, info: Info, id: strawberry.ID, reason: LongText) -> ProviderPayload:
        return await _provider_action(info, id, service.suspend_provider, reason=reason)

    @strawberry.mutation(description="OFFICER or ADMIN: lift a suspension (→ ACTIVE).")
    async def reinstate_provider(self, info: Info, id: strawberry.ID) -> ProviderPayload:
        return await _provider_action(info, id, service.reinstate_provider)

    @strawberry.mutation(description="OFFICER or ADMIN: debar a provider (final), with a reason.")
    async def debar_provider(self, info: Info, id: strawberry.ID, reason: LongText) -> ProviderPayload:
        return await _provider_action(info, id, service.debar_provider, reason=reason)

    @strawberry.mutation(description="The provider's own staff, an OFFICER or an ADMIN: add a qualification.")
    async def add_qualification(self, info: Info, input: AddQualificationInput) -> ProviderPayload:
        async def action(session, actor):
            return await service.add_qualification(
                session=session,
                actor=service.require_signed_in(actor),
                provider_id=decode_id(input.provider_id, "Provider", field=["input", "providerId"]),
                type=input.type,
                number=input.number,
                valid_from=input.valid_from,
                valid_to=input.valid_to,
                document=input.document,
            )

        return await mutate(info, ProviderPayload, action, lambda r: {"provider": Provider.from_row(r)})

    @strawberry.mutation(description="OFFICER or ADMIN: add a package to the catalogue, as version 1.")
    async def create_service_package(
        self, info: Info, input: CreateServicePackageInput
    ) -> ServicePackagePayload:
        weights = {
            key: value
            for key in ("satisfaction_weight", "kpi_weight", "audit_weight")
            if (value := getattr(input, key)) is not None
        }
        spec = service.PackageSpec(
            name=input.name,
            name_en=input.name_en,
            category=input.category.strip().upper(),
            tier=input.tier,
            unit=input.unit,
            standard=input.standard,
            min_unit_price=input.min_unit_price,
            max_unit_price=input.max_unit_price,
            kpis=_kpi_specs(input.kpis),
            **weights,
        )
        return await mutate(
            info,
            ServicePackagePayload,
            lambda s, a: service.create_service_package(session=s, actor=a, code=input.code, spec=spec),
            lambda r: {"service_package": ServicePackage.from_row(r)},
        )

    @strawberry.mutation(
        description="OFFICER or ADMIN: edit the latest version of a package; this makes the next version "
        "and leaves the edited one unchanged."
    )
    async def update_service_package(
        self, info: Info, id: strawberry.ID, input: UpdateServicePackageInput
    ) -> ServicePackagePayload:
        changes = {
            f.name: value
            for f in dataclasses.fields(service.PackageSpec)
            if (value := getattr(input, f.name, None)) is not None
        }
        if input.kpis is not None:
            changes["kpis"] = _kpi_specs(input.kpis)
        if input.category is not None:
            changes["category"] = input.category.strip().upper()

        async def action(session, actor):
            return await service.revise_service_package(
                session=session,
                actor=actor,
                package_id=decode_id(id, "ServicePackage", field=["id"]),
                changes=changes,
            )

        return await mutate(
            info, ServicePackagePayload, action, lambda r: {"service_package": ServicePackage.from_row(r)}
        )

    @strawberry.mutation(description="ADMIN: add a service category.")
    async def create_service_category(
        self, info: Info, input: CreateServiceCategoryInput
    ) -> ServiceCategoryPayload:
        return await mutate(
            info,
            ServiceCategoryPayload,
            lambda s, a: service.create_service_category(
                session=s, actor=a, code=input.code, name=input.name, name_en=input.name_en
            ),
            lambda r: {"service_category": ServiceCategory.from_row(r)},
        )

    @strawberry.mutation(
        description="Moves the shared test clock forward (ADMIN; only where the test clock is enabled)."
    )
    async def advance_clock(self, info: Info, seconds: int) -> ClockPayload:
        enabled = context_of(info).settings.market_test_clock
        return await mutate(
            info,
            ClockPayload,
            lambda s, a: service.advance_clock(session=s, actor=a, seconds=seconds, enabled=enabled),
            lambda r: {"now": r},
        )


def _optional_id(value: strawberry.ID | None, type_name: str, key: str) -> int | None:
    return decode_id(value, type_name, field=["input", key]) if value is not None else None


async def _provider_action(info: Info, id: strawberry.ID, action, **kwargs) -> ProviderPayload:
    async def run(session, actor):
        return await action(
            session=session,
            actor=service.require_staff(actor),
            provider_id=decode_id(id, "Provider", field=["id"]),
            **kwargs,
        )

    return await mutate(info, ProviderPayload, run, lambda r: {"provider": Provider.from_row(r)})


# ---------------------------------------------------------------- tenders (SPEC §4)


@strawberry.input(description="A payment tier; the table lists A to E with falling minimum scores, E from 0.")
class PaymentTierInput:
    tier: str = text_field(max_length=10)
    min_score: float
    payout_rate: float


@strawberry.input(
    description="OFFICER: a new DRAFT tender for the officer's department. Weights are shares: price "
    "0.10-0.30, and the three sum to 1. KPIs, scoring weights and payment tiers default to the package's."
)
class CreateTenderInput:
    package_id: strawberry.ID = strawberry.field(description="The latest version of a package.")
    region_id: strawberry.ID
    title: str = text_field(max_length=300)
    quantity: int = strawberry.field(description="Units over the whole contract; at least 1.")
    periods: int = strawberry.field(description="Payment periods; at least 1.")
    period_months: int = strawberry.field(description="1 to 12.")
    start_date: dt.date = strawberry.field(description="After the bid deadline.")
    max_unit_price: Decimal = strawberry.field(description="Ceiling (最高限价), CNY with at most 2 decimals.")
    bid_deadline: dt.datetime = strawberry.field(description="In the future; with a UTC offset.")
    min_valid_bids: int | None = strawberry.field(default=None, description="Default 3.")
    price_weight: float
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] | None = list_field(
        "Qualification types every bidder must hold on the deadline.",
        max_items=20,
        max_length=100,
        default=None,
    )
    evaluator_ids: list[strawberry.ID] = list_field("EVALUATOR or OFFICER accounts.", max_items=20)
    kpis: list[KpiInput] | None = list_field("Default: the package's KPIs.", max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None
    holdback_rate: float | None = strawberry.field(default=None, description="Default 0.10.")
    payment_tiers: list[PaymentTierInput] | None = list_field(
        "Default SPEC §6.2.", max_items=10, default=None
    )


@strawberry.input(description="Changes to a DRAFT tender; omitted fields keep their value.")
class UpdateTenderInput:
    package_id: strawberry.ID | None = None
    region_id: strawberry.ID | None = None
    title: str | None = text_field(max_length=300, default=None)
    quantity: int | None = None
    periods: int | None = None
    period_months: int | None = None
    start_date: dt.date | None = None
    max_unit_price: Decimal | None = None
    bid_deadline: dt.datetime | None = None
    min_valid_bids: int | None = None
    price_weight: float | None = None
    quality_weight: float | None = None
    record_weight: float | None = None
    required_qualifications: list[str] | None = list_field(max_items=20, max_length=100, default=None)
    evaluator_ids: list[strawberry.ID] | None = list_field(max_items=20, default=None)
    kpis: list[KpiInput] | None = list_field(max_items=20, default=None)
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None
    holdback_rate: float | None = None
    payment_tiers: list[PaymentTierInput] | None = list_field(max_items=10, default=None)


@strawberry.input(
    description="A correction notice on a PUBLISHED tender. At least 15 days remain after it (the deadline "
    "moves when needed); existing bids must be re-confirmed."
)
class AmendTenderInput:
    reason: str = text_field(max_length=LONG_TEXT)
    title: str | None = text_field(max_length=300, default=None)
    quantity: int | None = None
    max_unit_price: Decimal | None = None
    bid_deadline: dt.datetime | None = None
    min_valid_bids: int | None = None
    required_qualifications: list[str] | None = list_field(max_items=20, max_length=100, default=None)
    start_date: dt.date | None = None


@strawberry.input(description="PROVIDER: a sealed bid before the deadline, or a new version of its live bid.")
class SubmitBidInput:
    tender_id: strawberry.ID
    unit_price: Decimal = strawberry.field(description="CNY; ≤ the ceiling and within the package's range.")
    proposal: str = text_field("Technical proposal.", max_length=50000)
    capacity: str | None = text_field("Capacity statement.", max_length=10000, default=None)
    attachments: list[str] | None = list_field(
        "References to documents.", max_items=20, max_length=500, default=None
    )


@strawberry.type(description="The tender, or errors (then nothing was written).")
class TenderPayload:
    tender: Tender | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The bid and its receipt, or errors (then nothing was written).")
class BidPayload:
    bid: Bid | None = None
    receipt: BidReceipt | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The challenge, or errors.")
class ChallengePayload:
    challenge: Challenge | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


@strawberry.type(description="The clarification, or errors.")
class ClarificationPayload:
    clarification: Clarification | None = None
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


TERM_IDS = {"package_id": "ServicePackage", "region_id": "Region"}


def _terms_changes(input: Any) -> dict[str, Any]:
    """Input fields as TenderTerms fields: IDs decoded, KPIs and tiers converted, unset ones left out."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(tendering.TenderTerms):
        value = getattr(input, f.name, None)
        if value is None:
            continue
        if f.name in TERM_IDS:
            value = decode_id(value, TERM_IDS[f.name], field=["input", strawberry_name(f.name)])
        elif f.name == "evaluator_ids":
            value = decode_ids(value, "User", field=["input", "evaluatorIds"])
        elif f.name == "kpis":
            value = _kpi_specs(value)
        elif f.name == "payment_tiers":
            value = [{"tier": t.tier, "min_score": t.min_score, "payout_rate": t.payout_rate} for t in value]
        changes[f.name] = value
    return changes


def strawberry_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _tender(row) -> dict[str, Any]:
    return {"tender": Tender.from_row(row)}


def _own_bid(submission) -> dict[str, Any]:
    bid = submission.bid
    return {
        "bid": Bid.from_row(bid, tendering.BidAccess(bid.provider_id, False, False)),
        "receipt": BidReceipt(
            sha256=submission.receipt.receipt_sha256, submitted_at=submission.receipt.submitted_at
        ),
    }


def _bid_for(actor_bid) -> dict[str, Any]:
    bid, access = actor_bid
    return {"bid": Bid.from_row(bid, access)}


async def _with_access(session, actor, bid):
    tender = await session.get(tendering.Tender, bid.tender_id)
    return bid, await tendering.bid_access(session, actor, tender)


@strawberry.type
class TenderMutation:
    @strawberry.mutation(description="OFFICER: draft a tender for the officer's department.")
    async def create_tender(self, info: Info, input: CreateTenderInput) -> TenderPayload:
        async def action(session, actor):
            service.require_role(actor, Role.OFFICER)
            changes = _terms_changes(input)
            terms = tendering.TenderTerms(**changes)
            return await tendering.create_tender(session=session, actor=actor, terms=terms)

        return await mutate(info, TenderPayload, action, _tender)

    @strawberry.mutation(description="OFFICER of the department: edit a DRAFT tender.")
    async def update_tender(self, info: Info, id: strawberry.ID, input: UpdateTenderInput) -> TenderPayload:
        async def action(session, actor):
            service.require_role(actor, Role.OFFICER)
            return await tendering.update_tender(
                session=session, actor=actor, tender_id=decode_id(id, "Tender", field=["id"]),
                changes=_terms_changes(input),
            )  # fmt: skip

        return await mutate(info, TenderPayload, action, _tender)

    @strawberry.mutation(
        description="OFFICER of the department: publish a DRAFT; bids open until the deadline."
    )
    async def publish_tender(self, info: Info, id: strawberry.ID) -> TenderPayload:
        return await _tender_action(info, id, tendering.publish_tender)

    @strawberry.mutation(description="OFFICER of the department: a correction notice on a PUBLISHED tender.")
    async def amend_tender(self, info: Info, id: strawberry.ID, input: AmendTenderInput) -> TenderPayload:
        changes = {
            name: value for name in tendering.AMENDABLE if (value := getattr(input, name, None)) is not None
        }
        return await _tender_action(info, id, tendering.amend_tender, reason=input.reason, changes=changes)

    @strawberry.mutation(
        description="OFFICER of the department: cancel, with a reason, any time before AWARDED."
    )
    async def cancel_tender(self, info: Info, id: strawberry.ID, reason: LongText) -> TenderPayload:
        return await _tender_action(info, id, tendering.cancel_tender, reason=reason)

    @strawberry.mutation(description="PROVIDER: ask a question about a PUBLISHED tender before its deadline.")
    async def ask_clarification(
        self, info: Info, tender_id: strawberry.ID, question: LongText
    ) -> ClarificationPayload:
        async def action(session, actor):
            service.require_role(actor, Role.PROVIDER)
            return await tendering.ask_clarification(
                session=session, actor=actor, tender_id=decode_id(tender_id, "Tender", field=["tenderId"]),
                question=question,
            )  # fmt: skip

        return await mutate(
            info, ClarificationPayload, action, lambda r: {"clarification": Clarification.from_row(r)}
        )

    @strawberry.mutation(description="OFFICER of the department: answer a question; the answer is public.")
    async def answer_clarification(
        self, info: Info, id: strawberry.ID, answer: LongText
    ) -> ClarificationPayload:
        async def action(session, actor):
            service.require_role(actor, Role.OFFICER)
            return await tendering.answer_clarification(
                session=session, actor=actor, clarification_id=decode_id(id, "Clarification", field=["id"]),
                answer=answer,
            )  # fmt: skip

        return await mutate(
            info, ClarificationPayload, action, lambda r: {"clarification": Clarification.from_row(r)}
        )

    @strawberry.mutation(
        description="PROVIDER (ACTIVE): a sealed bid, or a new version of its live bid, before the deadline."
    )
    async def submit_bid(self, info: Info, input: SubmitBidInput) -> BidPayload:
        async def action(session, actor):
            service.require_role(actor, Role.PROVIDER)
            return await tendering.submit_bid(
                session=session,
                actor=actor,
                tender_id=decode_id(input.tender_id, "Tender", field=["input", "tenderId"]),
                unit_price=input.unit_price,
                proposal=input.proposal,
                capacity=input.capacity,
                attachments=input.attachments or (),
            )

        return await mutate(info, BidPayload, action, _own_bid)

    @strawberry.mutation(
        description="PROVIDER: re-confirm its bid unchanged after an amendment (new receipt)."
    )
    async def confirm_bid(self, info: Info, id: strawberry.ID) -> BidPayload:
        return await _bid_action(info, id, tendering.confirm_bid, _own_bid)

    @strawberry.mutation(description="PROVIDER: withdraw its bid before the deadline.")
    async def withdraw_bid(self, info: Info, id: strawberry.ID) -> BidPayload:
        return await _bid_action(
            info, id, tendering.withdraw_bid,
            lambda bid: {"bid": Bid.from_row(bid, tendering.BidAccess(bid.provider_id, False, False))},
        )  # fmt: skip

    @strawberry.mutation(
        description="OFFICER of the department: open the bids (开标) after the deadline; decides validity."
    )
    async def open_bids(self, info: Info, tender_id: strawberry.ID) -> TenderPayload:
        return await _tender_action(info, tender_id, tendering.open_bids, field="tenderId")

    @strawberry.mutation(
        description="Panel member: declare conflicts with bidders (an empty list: none); a conflict removes "
        "the member from this tender's panel."
    )
    async def declare_conflicts(
        self, info: Info, tender_id: strawberry.ID, provider_ids: list[strawberry.ID]
    ) -> TenderPayload:
        async def action(session, actor):
            service.require_role(actor, Role.EVALUATOR, Role.OFFICER)
            return await tendering.declare_conflicts(
                session=session, actor=actor, tender_id=decode_id(tender_id, "Tender", field=["tenderId"]),
                provider_ids=decode_ids(provider_ids, "Provider", field=["providerIds"]),
            )  # fmt: skip

        return await mutate(info, TenderPayload, action, _tender)

    @strawberry.mutation(
        description="Panel member (declared, not conflicted): quality score 0-100 of a valid bid."
    )
    async def score_bid(self, info: Info, bid_id: strawberry.ID, score: float) -> BidPayload:
        async def action(session, actor):
            service.require_role(actor, Role.EVALUATOR, Role.OFFICER)
            bid = await tendering.score_bid(
                session=session, actor=actor, bid_id=decode_id(bid_id, "Bid", field=["bidId"]), score=score
            )
            return await _with_access(session, actor, bid)

        return await mutate(info, BidPayload, action, _bid_for)

    @strawberry.mutation(description="PROVIDER: justify its abnormally low price in writing.")
    async def justify_bid(self, info: Info, bid_id: strawberry.ID, text: LongText) -> BidPayload:
        async def action(session, actor):
            service.require_role(actor, Role.PROVIDER)
            bid = await tendering.justify_bid(
                session=session, actor=actor, bid_id=decode_id(bid_id, "Bid", field=["bidId"]), text=text
            )
            return await _with_access(session, actor, bid)

        return await mutate(info, BidPayload, action, _bid_for)

    @strawberry.mutation(
        description="OFFICER of the department: accept (stays valid) or reject (invalid) a justification."
    )
    async def decide_justification(self, info: Info, bid_id: strawberry.ID, accept: bool) -> BidPayload:
        async def action(session, actor):
            service.require_role(actor, Role.OFFICER)
            bid = await tendering.decide_justification(
                session=session, actor=actor, bid_id=decode_id(bid_id, "Bid", field=["bidId"]), accept=accept
            )
            return await _with_access(session, actor, bid)

        return await mutate(info, BidPayload, action, _bid_for)

    @strawberry.mutation(
        description="OFFICER of the department: compute and keep every score and the ranking "
        "(SCORES_MISSING until every remaining evaluator scored every valid bid)."
    )
    async def rank_bids(self, info: Info, tender_id: strawberry.ID) -> TenderPayload:
        return await _tender_action(info, tender_id, tendering.rank_bids, field="tenderId")

    @strawberry.mutation(
        description="OFFICER of the department: rank and recommend the top bid; starts the challenge period."
    )
    async def recommend_award(self, info: Info, tender_id: strawberry.ID) -> TenderPayload:
        return await _tender_action(info, tender_id, tendering.recommend_award, field="tenderId")

    @strawberry.mutation(description="PROVIDER that bid: challenge the recommended award within the period.")
    async def file_challenge(
        self, info: Info, tender_id: strawberry.ID, reason: LongText
    ) -> ChallengePayload:
        async def action(session, actor):
            service.require_role(actor, Role.PROVIDER)
            return await tendering.file_challenge(
                session=session, actor=actor, tender_id=decode_id(tender_id, "Tender", field=["tenderId"]),
                reason=reason,
            )  # fmt: skip

        return await mutate(info, ChallengePayload, action, lambda r: {"challenge": Challenge.from_row(r)})

    @strawberry.mutation(
        description="OFFICER of the department: DISMISSED, or UPHELD (the tender goes back to EVALUATING)."
    )
    async def decide_challenge(
        self, info: Info, id: strawberry.ID, decision: ChallengeDecisionType, note: LongText
    ) -> ChallengePayload:
        async def action(session, actor):
            service.require_role(actor, Role.OFFICER)
            return await tendering.decide_challenge(
                session=session, actor=actor, challenge_id=decode_id(id, "Challenge", field=["id"]),
                decision=decision, note=note,
            )  # fmt: skip

        return await mutate(info, ChallengePayload, action, lambda r: {"challenge": Challenge.from_row(r)})


async def _tender_action(
    info: Info, id: strawberry.ID, action, *, field: str = "id", **kwargs
) -> TenderPayload:
    async def run(session, actor):
        service.require_role(actor, Role.OFFICER)
        return await action(
            session=session, actor=actor, tender_id=decode_id(id, "Tender", field=[field]), **kwargs
        )

    return await mutate(info, TenderPayload, run, _tender)


async def _bid_action(info: Info, id: strawberry.ID, action, present) -> BidPayload:
    async def run(session, actor):
        service.require_role(actor, Role.PROVIDER)
        return await action(session=session, actor=actor, bid_id=decode_id(id, "Bid", field=["id"]))

    return await mutate(info, BidPayload, run, present)


CONTRACT_TYPES: list = []
