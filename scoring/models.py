"""Tables of the scoring domain (SPEC §6): period rollups, scorecards, payments and their ledger,
star certificates.

Money columns are exact (`core.db.Money`, Decimal to the fen). A scorecard is never edited: a
rescore after an appeal adds a new version, and its payment difference is a new CORRECTION
payment; a payment that went out is never edited either, except for its status.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import Money, UTCDateTime, enum_type


class Tier(enum.Enum):
    """Payment tier of a period's composite score (阶梯化支付)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class PaymentStatus(enum.Enum):
    CALCULATED = "CALCULATED"
    APPROVED = "APPROVED"
    SENT = "SENT"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class PaymentKind(enum.Enum):
    PERIOD = "PERIOD"
    """The payout of a finalised period (less its holdback)."""
    CORRECTION = "CORRECTION"
    """The difference after a period was rescored (an appeal decided late); negative: recovered."""
    HOLDBACK_RELEASE = "HOLDBACK_RELEASE"
    """The holdbacks of all periods, released when the contract completes with a mean composite ≥ 60."""


class PeriodRollup(SQLModel, table=True):
    """The evidence of one contract period, kept current as it changes (SPEC §6.1).

    One row per contract period, made with the contract. Counted ratings are the unflagged (or
    flag-cleared) ratings of verified deliveries (not disputed, not marked false) delivered
    within the period's dates.
    """

    __tablename__ = "period_rollup"
    __table_args__ = (Index("ix_period_rollup_dates", "starts_on", "ends_on"),)

    contract_id: int = Field(foreign_key="contract.id", primary_key=True)
    period_index: int = Field(primary_key=True)
    starts_on: dt.date
    ends_on: dt.date
    package_id: int = Field(foreign_key="service_package.id", index=True)
    deliveries_recorded: int = 0
    verified_units: int = 0
    substantiated_complaints: int = 0
    ratings_given: int = 0
    """Every rating of the period's deliveries, flagged or of deliveries no longer verified included
    (what `Contract.ratingsCount` shows); `ratings_count` is those that count for the score."""
    ratings_count: int = 0
    ratings_sum: int = 0
    stars_1: int = 0
    stars_2: int = 0
    stars_3: int = 0
    stars_4: int = 0
    stars_5: int = 0


class Scorecard(SQLModel, table=True):
    """The score of one contract period (SPEC §6.1) and the money it earns (§6.2), one version
    per (re)scoring; the highest version is the current one."""

    __table_args__ = (
        UniqueConstraint("contract_id", "period_index", "version", name="uq_scorecard_period_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    period_index: int
    version: int
    starts_on: dt.date
    ends_on: dt.date
    verified_units: int
    deliveries_recorded: int
    substantiated_complaints: int
    ratings_counted: int
    ratings_sum: int
    prior_mean: float
    """m of the Bayesian average: the package's mean counted rating in the period's dates."""
    satisfaction: float
    kpi_score: float
    audit_score: float
    composite: float
    tier: Tier = Field(sa_type=enum_type(Tier))
    payout_rate: Decimal = Field(sa_type=Money)
    """The tier's share of the base, e.g. 1.05 (A)."""
    base: Decimal = Field(sa_type=Money)
    payout: Decimal = Field(sa_type=Money)
    holdback: Decimal = Field(sa_type=Money)
    details: dict = Field(default_factory=dict, sa_type=JSON)
    """How each number was reached: per KPI its source, value, target and attainment; the audit's
    counted items; the cap applied to the base."""
    finalized_at: dt.datetime = Field(sa_type=UTCDateTime)
    finalized_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    reason: str = Field(max_length=200)
    """Why this version exists: the period finalised, or the appeal that rescored it."""


class Payment(SQLModel, table=True):
    """Money owed to a provider for a contract period (SPEC §6.2), sent exactly once.

    `idempotency_key` is derived from the payment and its version and written before any call to
    a payout backend; every retry of a send uses it, so a backend that already made the transfer
    answers with that transfer instead of making another.
    """

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    period_index: int | None = None
    """The period paid or corrected; null for the holdback release."""
    scorecard_id: int | None = Field(default=None, foreign_key="scorecard.id", index=True)
    kind: PaymentKind = Field(sa_type=enum_type(PaymentKind))
    amount: Decimal = Field(sa_type=Money)
    status: PaymentStatus = Field(
        default=PaymentStatus.CALCULATED, sa_type=enum_type(PaymentStatus), index=True
    )
    version: int = 1
    """Raised each time the payment is sent again after a definite failure (a new transfer)."""
    backend: str | None = Field(default=None, max_length=20)
    idempotency_key: str | None = Field(default=None, max_length=100, unique=True)
    reference: str | None = Field(default=None, max_length=100)
    """The backend's transfer (Stripe `tr_…`, or the ledger's transaction number)."""
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    approved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    approved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class LedgerEntry(SQLModel, table=True):
    """One leg of a double-entry transaction of the embedded `ledger` payout backend.

    A transaction's legs share `transaction`; its debits equal its credits. One transaction per
    (payment, version), enforced by the unique constraint, is what makes a retried send a no-op.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("payment_id", "payment_version", "account", name="uq_ledger_entry_payment_leg"),
    )

    id: int | None = Field(default=None, primary_key=True)
    transaction: str = Field(max_length=100, index=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    payment_version: int
    account: str = Field(max_length=100, index=True)
    """e.g. `department:3:payable`, `provider:5:payout`."""
    debit: Decimal = Field(default=Decimal("0.00"), sa_type=Money)
    credit: Decimal = Field(default=Decimal("0.00"), sa_type=Money)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class Certificate(SQLModel, table=True):
    """A service-quality star certificate (服务质量星级认证, SPEC §6.3), from one certification run.

    A provider's current certificate is its newest one that is not revoked and still valid.
    """

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    code: str = Field(max_length=40, unique=True)
    """Public verification code: random, unguessable."""
    as_of: dt.date
    issued_on: dt.date
    valid_until: dt.date
    rated: bool
    stars: int | None = None
    score: float | None = None
    periods_counted: int
    ratings_counted: int
    critical_upheld: bool = False
    """A CRITICAL audit item upheld in the window took one star off."""
    evidence: list[dict] = Field(default_factory=list, sa_type=JSON)
    """The scorecards counted: contract, period, dates, composite, base, ratings."""
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_reason: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


# ---------------------------------------------------------------- payouts: webhook events seen


class WebhookEvent(SQLModel, table=True):
    """A payout backend's webhook event that was handled, kept so that a replayed event changes nothing."""

    __tablename__ = "webhook_event"

    id: str = Field(primary_key=True, max_length=100)
    """The backend's event ID (Stripe `evt_…`)."""
    type: str = Field(max_length=100)
    payment_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    """The payment it changed, if any."""
    received_at: dt.datetime = Field(sa_type=UTCDateTime)
