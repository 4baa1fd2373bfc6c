"""GraphQL types of the scoring domain (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from contracts import loaders as contract_loaders
from contracts.types import Contract
from core.api import context_of, parse_pk
from core.cache import volatile_field
from scoring import certification, loaders
from scoring import models as m
from scoring.certification import CertificateStatus
from scoring.loaders import CurrentCertificateByProviderLoader

if TYPE_CHECKING:
    from market.types import Provider

TierType = strawberry.enum(m.Tier, name="Tier", description="A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, E < 60.")
PaymentStatusType = strawberry.enum(m.PaymentStatus, name="PaymentStatus")


@strawberry.type(
    description="The score of one contract period and the payment it earns (SPEC §6.1, §6.2); public with "
    "the contract's summary. Scores are 0-100, rounded half-even to 0.01; the composite is computed from "
    "the rounded S, K and A. A rescore after an appeal makes a new version; the highest is current."
)
class Scorecard:
    version: int = strawberry.field(description="1 when finalised; +1 per rescore after an appeal.")
    ratings_counted: int = strawberry.field(
        description="Unflagged (or cleared) ratings of the period's verified deliveries."
    )
    satisfaction: float = strawberry.field(description="S: Bayesian average of the counted ratings, 0-100.")
    kpi_score: float = strawberry.field(description="K: weighted KPI attainment, 0-100.")
    audit_score: float = strawberry.field(description="A: passed weight / all weight, overturned left out.")
    composite: float = strawberry.field(description="w_S·S + w_K·K + w_A·A with the contract's weights.")
    tier: TierType
    verified_units: int = strawberry.field(
        description="Units of deliveries neither disputed nor marked false."
    )
    base: Decimal = strawberry.field(
        description="Verified units × unit price, capped so that the bases never exceed the contract value."
    )
    payout: Decimal = strawberry.field(description="Base × the tier's payout rate, half-even to 0.01 CNY.")
    holdback: Decimal = strawberry.field(
        description="Payout × the contract's holdback rate, retained until the contract completes."
    )
    period_index: int
    prior_mean: float = strawberry.field(
        description="m of the Bayesian average: the package's mean counted rating in the period's dates (3.0 "
        "with fewer than 10)."
    )
    payout_rate: Decimal = strawberry.field(description="The tier's share of the base, e.g. 1.05.")
    finalized_at: dt.datetime
    reason: str = strawberry.field(description="Why this version exists: finalised, or the appeal decided.")

    @classmethod
    def from_row(cls, row: m.Scorecard) -> Scorecard:
        return cls(
            version=row.version,
            ratings_counted=row.ratings_counted,
            satisfaction=row.satisfaction,
            kpi_score=row.kpi_score,
            audit_score=row.audit_score,
            composite=row.composite,
            tier=row.tier,
            verified_units=row.verified_units,
            base=row.base,
            payout=row.payout,
            holdback=row.holdback,
            period_index=row.period_index,
            prior_mean=row.prior_mean,
            payout_rate=row.payout_rate,
            finalized_at=row.finalized_at,
            reason=row.reason,
        )


PaymentKindType = strawberry.enum(m.PaymentKind, name="PaymentKind")


@strawberry.type(
    description="A payment to a provider: a period's payout less holdback, a correction after a rescore "
    "(negative: to recover), or the holdback released at completion. Seen by the contract's provider, the "
    "officers of its department and admins."
)
class Payment(relay.Node):
    id: relay.NodeID[int]
    period_index: int = strawberry.field(
        description="The period paid or corrected; 0 for a holdback release (it covers every period)."
    )
    amount: Decimal = strawberry.field(description="CNY; negative for money recovered from the provider.")
    status: PaymentStatusType
    reference: str | None = strawberry.field(
        description="The payout backend's transfer: a ledger transaction, Stripe tr_… or trr_… (a reversal)."
    )
    kind: PaymentKindType
    version: int = strawberry.field(description="Raised each time a FAILED payment is sent again.")
    attempts: int = strawberry.field(description="Calls made to the payout backend, retries included.")
    last_error: str | None = strawberry.field(
        description="Why the last send failed or went unanswered, or a reversal reported afterwards."
    )
    sent_at: dt.datetime | None
    paid_at: dt.datetime | None
    row: strawberry.Private[m.Payment]

    @strawberry.field(description="Whoever sees the payment sees its contract.")
    async def contract(self, info: Info) -> Contract:
        row = await context_of(info).loader(contract_loaders.ContractByIdLoader).load(self.row.contract_id)
        return Contract.from_row(row)

    @classmethod
    def from_row(cls, row: m.Payment) -> Payment:
        return cls(
            id=row.id,
            period_index=row.period_index or 0,
            amount=row.amount,
            status=row.status,
            reference=row.reference,
            kind=row.kind,
            version=row.version,
            attempts=row.attempts,
            last_error=row.last_error,
            sent_at=row.sent_at,
            paid_at=row.paid_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        rows = (
            await context_of(info)
            .loader(loaders.VisiblePaymentByIdLoader)
            .load_many([parse_pk(i) or 0 for i in node_ids])
        )
        return [None if row is None else cls.from_row(row) for row in rows]


async def scorecard_of_period(info: Info, contract_id: int, period_index: int) -> Scorecard | None:
    """`ContractPeriod.scorecard`: the period's current scorecard (public with the contract)."""
    row = await context_of(info).loader(loaders.ScorecardByPeriodLoader).load((contract_id, period_index))
    return None if row is None else Scorecard.from_row(row)


async def payment_of_period(info: Info, contract_id: int, period_index: int) -> Payment | None:
    """`ContractPeriod.payment`: the period's payment, for the contract's parties and admins."""
    row = await context_of(info).loader(loaders.PeriodPaymentByPeriodLoader).load((contract_id, period_index))
    return None if row is None else Payment.from_row(row)


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
