"""GraphQL types of the scoring domain (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from core.api import context_of
from core.cache import volatile_field
from scoring import certification
from scoring import models as m
from scoring.certification import CertificateStatus
from scoring.loaders import CurrentCertificateByProviderLoader

if TYPE_CHECKING:
    from contracts.types import Contract
    from market.types import Provider

TierType = strawberry.enum(m.Tier, name="Tier", description="A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, E < 60.")
PaymentStatusType = strawberry.enum(m.PaymentStatus, name="PaymentStatus")


@strawberry.type(description="The score of one contract period and the payment it earns.")
class Scorecard:
    version: int
    ratings_counted: int
    satisfaction: float
    kpi_score: float
    audit_score: float
    composite: float
    tier: TierType
    verified_units: int
    base: Decimal
    payout: Decimal
    holdback: Decimal


@strawberry.type(description="A payment to a provider for one contract period.")
class Payment(relay.Node):
    id: relay.NodeID[int]
    contract: Annotated[Contract, strawberry.lazy("contracts.types")]
    period_index: int
    amount: Decimal
    status: PaymentStatusType
    reference: str | None

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return [None for _ in node_ids]


# ---------------------------------------------------------------- star certification


CertificateStatusType = strawberry.enum(
    CertificateStatus,
    name="CertificateStatus",
    description="VALID; EXPIRED after its last day; REVOKED when its provider was suspended or debarred; "
    "SUPERSEDED by the provider's newer certificate.",
)


@strawberry.type(description="One contract period a certificate counted: its current scorecard's numbers.")
class CertificationPeriod:
    contract_title: str = strawberry.field(description="The title of the tender the contract came from.")
    period_index: int = strawberry.field(description="1-based.")
    starts_on: dt.date = strawberry.field(description="First day of the period.")
    ends_on: dt.date = strawberry.field(description="Last day of the period.")
    composite: float = strawberry.field(description="The period's composite score, 0-100.")
    base: Decimal = strawberry.field(description="The period's payment base, CNY: its weight in the score.")
    ratings_counted: int = strawberry.field(
        description="The period's unflagged ratings of verified deliveries."
    )
    critical_upheld: bool = strawberry.field(
        description="A CRITICAL checklist item of the period's audit failed and was not overturned."
    )
    scorecard_version: int = strawberry.field(description="The version of the period's scorecard counted.")
    contract_id: strawberry.Private[int]

    @strawberry.field(
        description="The contract; null for callers who may not see it (other firms' auditors)."
    )
    async def contract(self, info: Info) -> Annotated[Contract, strawberry.lazy("contracts.types")] | None:
        from contracts.loaders import VisibleContractByIdLoader
        from contracts.types import Contract

        row = await context_of(info).loader(VisibleContractByIdLoader).load(self.contract_id)
        return None if row is None else Contract.from_row(row)

    @classmethod
    def from_evidence(cls, item: dict) -> CertificationPeriod:
        return cls(
            contract_title=item["contract_title"],
            period_index=item["period_index"],
            starts_on=dt.date.fromisoformat(item["starts_on"]),
            ends_on=dt.date.fromisoformat(item["ends_on"]),
            composite=item["composite"],
            base=Decimal(item["base"]),
            ratings_counted=item["ratings_counted"],
            critical_upheld=item["critical_upheld"],
            scorecard_version=item["version"],
            contract_id=item["contract_id"],
        )


@strawberry.type(
    description="A service-quality star certificate (服务质量星级认证), public: from the periods that ended "
    "in the 12 months before its date, valid 12 months. Verify one with `certificate(code:)` or its page."
)
class Certification:
    stars: int | None = strawberry.field(description="1-5, or null when UNRATED.")
    rated: bool = strawberry.field(
        description="False (UNRATED) with fewer than 2 counted periods or fewer than 30 counted ratings."
    )
    score: float | None = strawberry.field(
        description="Base-weighted mean of the counted periods' composites (0-100, to 0.01); null when "
        "UNRATED."
    )
    code: str = strawberry.field(description="Public verification code.")
    issued_on: dt.date = strawberry.field(description="The run's date.")
    valid_until: dt.date = strawberry.field(description="Last day of validity: 12 months from issue.")
    periods_counted: int = strawberry.field(description="Contract periods counted (current scorecards).")
    ratings_counted: int = strawberry.field(description="Their counted ratings, summed.")
    as_of: dt.date = strawberry.field(
        description="The run's date: periods that ended in the 12 months before."
    )
    critical_upheld: bool = strawberry.field(
        description="A CRITICAL audit item upheld in the window took one star off (not below 1)."
    )
    status: CertificateStatusType = volatile_field(
        description="Today: valid, expired, revoked or superseded."
    )
    revoked_at: dt.datetime | None = strawberry.field(description="When a run revoked it; null otherwise.")
    revoked_reason: str | None = strawberry.field(
        description="Why: `provider suspended` or `provider debarred`; null unless revoked."
    )
    verification_url: str = strawberry.field(description="The public page, which its QR code holds.")
    evidence: list[CertificationPeriod] = strawberry.field(description="The periods counted, oldest first.")
    superseded_by: Certification | None = strawberry.field(
        description="The provider's newest certificate, when it superseded this one."
    )
    provider_id: strawberry.Private[int]

    @strawberry.field(description="The certified provider.")
    async def provider(self, info: Info) -> Annotated[Provider, strawberry.lazy("market.types")]:
        from market.loaders import ProviderByIdLoader
        from market.types import Provider

        return Provider.from_row(await context_of(info).loader(ProviderByIdLoader).load(self.provider_id))

    @classmethod
    def from_row(
        cls, row: m.Certificate, status: CertificateStatus, superseded_by: Certification | None = None
    ) -> Certification:
        return cls(
            stars=row.stars,
            rated=row.rated,
            score=row.score,
            code=row.code,
            issued_on=row.issued_on,
            valid_until=row.valid_until,
            periods_counted=row.periods_counted,
            ratings_counted=row.ratings_counted,
            as_of=row.as_of,
            critical_upheld=row.critical_upheld,
            status=status,
            revoked_at=row.revoked_at,
            revoked_reason=row.revoked_reason,
            verification_url=certification.verification_url(row.code),
            evidence=[CertificationPeriod.from_evidence(item) for item in row.evidence],
            superseded_by=superseded_by,
            provider_id=row.provider_id,
        )

    @classmethod
    def from_verification(cls, found: certification.Verification) -> Certification:
        newest = found.newest
        superseded_by = None
        if newest is not None:
            superseded_by = cls.from_row(
                newest, certification.status_of(newest, superseded=False, today=found.today)
            )
        return cls.from_row(found.certificate, found.status, superseded_by)


async def current_certification(info: Info, *, provider_id: int) -> Certification | None:
    """`Provider.certification`: the provider's current certificate, batched over a page of providers."""
    row = await context_of(info).loader(CurrentCertificateByProviderLoader).load(provider_id)
    return None if row is None else Certification.from_row(row, CertificateStatus.VALID)
