"""Star certification (服务质量星级认证, SPEC §6.3): a run at a date D certifies every provider from the
scorecards of the periods that ended in the 12 months before D; its certificates have a public code,
are valid 12 months and feed the track-record score of later tenders (SPEC §4.3).

The rules, as built:

- Window: the current version (highest) of each finalised scorecard whose period ended on a day
  from D − 12 months to D − 1 (a period ending on D is not over on D).
- UNRATED when fewer than 2 such periods or fewer than 30 counted ratings (`ratings_counted`, the
  unflagged ratings of verified deliveries); an unrated certificate has no stars and no score.
- Score: the base-weighted mean of the periods' composites (the plain mean when every base is 0),
  rounded half-even to 0.01; stars from the rounded score (what the page shows is what decided).
- Minus one star, not below 1, when a CRITICAL checklist item of a counted period's submitted audit
  stands: failed and not overturned. An item stands until an appeal overturns it: never appealed,
  upheld on appeal, or under an appeal not yet decided. A later overturn changes the result, and
  the next run (even for the same D) issues a corrected certificate.
- ACTIVE providers are certified (rated or not); SUSPENDED and DEBARRED ones lose their current
  certificate (revoked, with the reason) and get none; PENDING ones, not yet admitted to the
  market, get none.
- History is kept: a new certificate supersedes the provider's earlier ones, which still verify
  and say so. Running again for the same D issues nothing when nothing changed; a run for a date
  before the latest run's is refused (certification only moves forward). Runs take a lock, so two
  at once (two workers) run one after the other and the second issues nothing new.
- A certificate is issued on D and valid through D + 12 months − 1 day. The track record of a
  tender reads the certificate in effect at its bid deadline: the newest recorded before the
  deadline, unless revoked by then or expired; a certificate recorded after the deadline never
  changes that tender's scores, whatever date it is issued on.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Float, Integer, Select, and_, case, cast, exists, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.models import Audit, AuditCheck, AuditStatus, Contract, Severity
from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode
from core.settings import get_settings
from market.models import Provider, ProviderStatus, Tender
from scoring.models import Certificate, Scorecard

WINDOW = relativedelta(months=12)
VALIDITY = relativedelta(months=12)
MIN_PERIODS = 2
MIN_RATINGS = 30
STAR_FLOORS = ((90, 5), (80, 4), (70, 3), (60, 2))
"""Lowest score of each star count; below 60 is 1 star."""
SCORE_PLACES = Decimal("0.01")

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""32 symbols (5 bits each), no 0/O, 1/I: a code read aloud or typed from paper is not mistaken."""
CODE_GROUPS, CODE_GROUP_LENGTH = 4, 5
"""Four groups of five: 20 symbols, 100 random bits, e.g. 7KQ2M-XH9PA-3RTWN-B8CEF."""

REVOKED_BECAUSE = {
    ProviderStatus.SUSPENDED: "provider suspended",
    ProviderStatus.DEBARRED: "provider debarred",
}
"""The reason a run writes on the certificate it revokes (the page translates these)."""

# pg_advisory_xact_lock(class, key): one key for certification runs, apart from other advisory locks.
_RUN_LOCK_CLASS, _RUN_LOCK_KEY = 5_400_009, 1


class CertificateStatus(enum.Enum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    SUPERSEDED = "SUPERSEDED"


# ---------------------------------------------------------------- formulas


def round_score(value: float) -> float:
    """Half-even to 0.01, as published."""
    return float(Decimal(repr(value)).quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN))


def stars_for(score: float, *, critical_upheld: bool) -> int:
    """≥ 90 → 5, ≥ 80 → 4, ≥ 70 → 3, ≥ 60 → 2, else 1; one fewer (not below 1) after an upheld CRITICAL
    item."""
    stars = next((n for floor, n in STAR_FLOORS if score >= floor), 1)
    return max(1, stars - 1) if critical_upheld else stars


def is_rated(periods: int, ratings: int) -> bool:
    return periods >= MIN_PERIODS and ratings >= MIN_RATINGS


def window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day on which a counted period may have ended."""
    return as_of - WINDOW, as_of - dt.timedelta(days=1)


def valid_until(issued_on: dt.date) -> dt.date:
    """The last day of validity: 12 months from issue."""
    return issued_on + VALIDITY - dt.timedelta(days=1)


def status_of(certificate: Certificate, *, superseded: bool, today: dt.date) -> CertificateStatus:
    if certificate.revoked_at is not None:
        return CertificateStatus.REVOKED
    if superseded:
        return CertificateStatus.SUPERSEDED
    if today > certificate.valid_until:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID


# ---------------------------------------------------------------- public codes


def new_code() -> str:
    """A random public code from the OS's CSPRNG: 100 bits, URL-safe, grouped for reading."""
    return _grouped("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LENGTH)))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, spaces or hyphens anywhere) in its stored form; None if it cannot be one."""
    symbols = "".join(text.split()).replace("-", "").upper()
    if len(symbols) != CODE_GROUPS * CODE_GROUP_LENGTH or any(c not in CODE_ALPHABET for c in symbols):
        return None
    return _grouped(symbols)


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i : i + CODE_GROUP_LENGTH] for i in range(0, len(symbols), CODE_GROUP_LENGTH))


def verification_url(code: str) -> str:
    """The absolute address of the certificate's public page (what its QR code holds)."""
    return f"{get_settings().public_base_url.rstrip('/')}/certificates/{code}"


# ---------------------------------------------------------------- assessing providers, in SQL


def _from_counted(statement: Select, as_of: dt.date) -> Select:
    """`statement` over the counted scorecards (current versions whose period ended in the window),
    each joined to its contract."""
    first, last = window(as_of)
    latest = (
        select(
            Scorecard.contract_id,
            Scorecard.period_index,
            func.max(Scorecard.version).label("version"),
        )
        .where(Scorecard.ends_on.between(first, last))
        .group_by(Scorecard.contract_id, Scorecard.period_index)
        .subquery("latest")
    )
    return (
        statement.select_from(Scorecard)
        .join(
            latest,
            and_(
                latest.c.contract_id == Scorecard.contract_id,
                latest.c.period_index == Scorecard.period_index,
                latest.c.version == Scorecard.version,
            ),
        )
        .join(Contract, Contract.id == Scorecard.contract_id)
    )


def _critical_upheld():
    """SQL: the scorecard's period has a CRITICAL item that stands in its submitted audit."""
    return exists().where(
        Audit.contract_id == Scorecard.contract_id,
        Audit.period_index == Scorecard.period_index,
        Audit.status == AuditStatus.SUBMITTED,
        AuditCheck.audit_id == Audit.id,
        AuditCheck.severity == Severity.CRITICAL,
        not_(AuditCheck.passed),
        not_(AuditCheck.overturned),
    )


@dataclass(frozen=True)
class Assessment:
    """What a run finds for one provider."""

    rated: bool = False
    stars: int | None = None
    score: float | None = None
    periods_counted: int = 0
    ratings_counted: int = 0
    critical_upheld: bool = False
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, certificate: Certificate) -> bool:
        return (
            certificate.rated == self.rated
            and certificate.stars == self.stars
            and certificate.score == self.score
            and certificate.periods_counted == self.periods_counted
            and certificate.ratings_counted == self.ratings_counted
            and certificate.critical_upheld == self.critical_upheld
            and certificate.evidence == self.evidence
        )


async def assess(session: AsyncSession, as_of: dt.date) -> dict[int, Assessment]:
    """Every provider with counted periods, by provider ID: two statements, whatever their number."""
    weight = cast(Scorecard.base, Float)  # fen; the unit cancels out in the weighted mean
    totals = (
        await session.execute(
            _from_counted(
                select(
                    Contract.provider_id,
                    func.count().label("periods"),
                    func.coalesce(func.sum(Scorecard.ratings_counted), 0).label("ratings"),
                    func.coalesce(func.sum(weight), 0.0).label("base"),
                    func.coalesce(func.sum(weight * Scorecard.composite), 0.0).label("weighted"),
                    func.avg(Scorecard.composite).label("mean"),
                    func.max(case((_critical_upheld(), 1), else_=0)).label("critical"),
                ),
                as_of,
            ).group_by(Contract.provider_id)
        )
    ).all()
    evidence = (
        await session.execute(
            _from_counted(
                select(
                    Contract.provider_id,
                    Scorecard.id,
                    Scorecard.version,
                    Scorecard.contract_id,
                    Scorecard.period_index,
                    Scorecard.starts_on,
                    Scorecard.ends_on,
                    Scorecard.composite,
                    Scorecard.base,
                    Scorecard.ratings_counted,
                    cast(case((_critical_upheld(), 1), else_=0), Integer).label("critical"),
                    Tender.title,
                ),
                as_of,
            )
            .join(Tender, Tender.id == Contract.tender_id)
            .order_by(Contract.provider_id, Scorecard.ends_on, Scorecard.contract_id, Scorecard.period_index)
        )
    ).all()
    periods: dict[int, list[dict[str, Any]]] = {}
    for row in evidence:
        periods.setdefault(row.provider_id, []).append(
            {
                "scorecard_id": row.id,
                "version": row.version,
                "contract_id": row.contract_id,
                "contract_title": row.title,
                "period_index": row.period_index,
                "starts_on": row.starts_on.isoformat(),
                "ends_on": row.ends_on.isoformat(),
                "composite": row.composite,
                "base": str(row.base),
                "ratings_counted": row.ratings_counted,
                "critical_upheld": bool(row.critical),
            }
        )
    found = {}
    for row in totals:
        rated = is_rated(row.periods, row.ratings)
        critical = bool(row.critical)
        score = None
        if rated:
            score = round_score(row.weighted / row.base if row.base > 0 else row.mean)
        found[row.provider_id] = Assessment(
            rated=rated,
            stars=stars_for(score, critical_upheld=critical) if rated else None,
            score=score,
            periods_counted=row.periods,
            ratings_counted=row.ratings,
            critical_upheld=critical,
            evidence=periods.get(row.provider_id, []),
        )
    return found


# ---------------------------------------------------------------- the run


@dataclass
class RunResult:
    as_of: dt.date
    issued: list[Certificate] = field(default_factory=list)
    revoked: list[Certificate] = field(default_factory=list)
    unchanged: int = 0
    providers: list[Provider] = field(default_factory=list)
    """Providers whose certificate this run issued or revoked, in ID order."""

    def summary(self) -> str:
        return (
            f"certification as of {self.as_of.isoformat()}: {len(self.issued)} issued, "
            f"{len(self.revoked)} revoked, {self.unchanged} unchanged"
        )


CERTIFIED = (ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED, ProviderStatus.DEBARRED)
"""Providers a run looks at: the ACTIVE are certified, the others lose their certificate."""


async def providers_to_certify(session: AsyncSession) -> int:
    """How many providers a run goes through (for a progress bar)."""
    return await session.scalar(select(func.count()).where(Provider.status.in_(CERTIFIED))) or 0


async def _lock_runs(session: AsyncSession) -> None:
    """One run at a time. PostgreSQL: a transaction-scoped advisory lock, taken before anything is
    read, so a second run reads the first's certificates (READ COMMITTED). SQLite needs nothing: a
    writing transaction is BEGIN IMMEDIATE (`core.db.sqlite_writes`), one at a time."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(
            select(func.pg_advisory_xact_lock(cast(_RUN_LOCK_CLASS, Integer), cast(_RUN_LOCK_KEY, Integer)))
        )


async def newest_certificates(session: AsyncSession, provider_ids: Sequence[int] | None = None) -> dict:
    """Each provider's newest certificate (revoked or not), by provider ID."""
    newest = select(func.max(Certificate.id)).group_by(Certificate.provider_id)
    if provider_ids is not None:
        newest = newest.where(Certificate.provider_id.in_(provider_ids))
    rows = (await session.scalars(select(Certificate).where(Certificate.id.in_(newest)))).all()
    return {row.provider_id: row for row in rows}


async def run_certification(
    *,
    session: AsyncSession,
    actor: Actor | None,
    as_of: dt.date,
    progress: Callable[[int], Any] | None = None,
) -> RunResult:
    """Certify every provider as of `as_of` (not after today, not before the latest run's date)."""
    now = await clock.now(session)
    if as_of > clock.today(now):
        raise DomainError(
            ErrorCode.INVALID, "a certification run cannot be dated in the future", field=["asOf"]
        )
    await _lock_runs(session)
    latest = await session.scalar(select(func.max(Certificate.as_of)))
    if latest is not None and as_of < latest:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            f"certificates as of {latest.isoformat()} exist: a run cannot go back before them",
            field=["asOf"],
        )
    assessments = await assess(session, as_of)
    providers = (
        await session.scalars(select(Provider).where(Provider.status.in_(CERTIFIED)).order_by(Provider.id))
    ).all()
    held = await newest_certificates(session)
    result = RunResult(as_of=as_of)
    for provider in providers:
        current = held.get(provider.id)
        if provider.status != ProviderStatus.ACTIVE:
            if current is not None and current.revoked_at is None:
                before = journal.snapshot(current)
                current.revoked_at, current.revoked_reason = now, REVOKED_BECAUSE[provider.status]
                await journal.record(
                    session, actor=actor, action="certificate.revoked", entity=current, before=before
                )
                result.revoked.append(current)
                result.providers.append(provider)
        else:
            assessment = assessments.get(provider.id, Assessment())
            if (
                current is not None
                and current.revoked_at is None
                and current.as_of == as_of
                and assessment.matches(current)
            ):
                result.unchanged += 1
            else:
                result.issued.append(await _issue(session, actor, provider, as_of, assessment, now))
                result.providers.append(provider)
        if progress is not None:
            progress(1)
    return result


async def _issue(
    session: AsyncSession,
    actor: Actor | None,
    provider: Provider,
    as_of: dt.date,
    assessment: Assessment,
    now: dt.datetime,
) -> Certificate:
    certificate = Certificate(
        provider_id=provider.id,
        code=new_code(),
        as_of=as_of,
        issued_on=as_of,
        valid_until=valid_until(as_of),
        rated=assessment.rated,
        stars=assessment.stars,
        score=assessment.score,
        periods_counted=assessment.periods_counted,
        ratings_counted=assessment.ratings_counted,
        critical_upheld=assessment.critical_upheld,
        evidence=assessment.evidence,
        created_at=now,
    )
    session.add(certificate)
    await journal.record(session, actor=actor, action="certificate.issued", entity=certificate)
    return certificate


# ---------------------------------------------------------------- reading certificates


@dataclass(frozen=True)
class Verification:
    """A certificate as its public page shows it."""

    certificate: Certificate
    provider_name: str
    credit_code: str
    status: CertificateStatus
    newest: Certificate | None
    """The provider's newest certificate, when it superseded this one."""
    today: dt.date


async def verify(session: AsyncSession, code: str) -> Verification | None:
    """The certificate with this public code, its status today and what superseded it; None if unknown."""
    normalised = normalise_code(code)
    if normalised is None:
        return None
    row = (
        await session.execute(
            select(Certificate, Provider.legal_name, Provider.credit_code)
            .join(Provider, Provider.id == Certificate.provider_id)
            .where(Certificate.code == normalised)
        )
    ).first()
    if row is None:
        return None
    certificate = row[0]
    newest = (await newest_certificates(session, [certificate.provider_id]))[certificate.provider_id]
    superseded = newest.id != certificate.id
    today = clock.today(await clock.now(session))
    return Verification(
        certificate=certificate,
        provider_name=row.legal_name,
        credit_code=row.credit_code,
        status=status_of(certificate, superseded=superseded, today=today),
        newest=newest if superseded else None,
        today=today,
    )


async def current_certificates(session: AsyncSession, provider_ids: Sequence[int]) -> dict[int, Certificate]:
    """Each provider's current certificate: its newest, unless revoked or expired. One statement."""
    today = clock.today(await clock.now(session))
    newest = await newest_certificates(session, provider_ids)
    return {
        provider_id: row
        for provider_id, row in newest.items()
        if status_of(row, superseded=False, today=today) == CertificateStatus.VALID
    }


async def stars_at(session: AsyncSession, provider_ids: Sequence[int], moment: dt.datetime) -> dict[int, int]:
    """Stars of the certificates in effect at `moment` (the track record, SPEC §4.3); unrated ones absent.

    In effect: the provider's newest certificate recorded at or before the moment, unless it was
    revoked by then or had expired on that day.
    """
    if not provider_ids:
        return {}
    newest = (
        select(func.max(Certificate.id))
        .where(Certificate.provider_id.in_(provider_ids), Certificate.created_at <= moment)
        .group_by(Certificate.provider_id)
    )
    rows = (await session.scalars(select(Certificate).where(Certificate.id.in_(newest)))).all()
    day = clock.today(moment)
    return {
        row.provider_id: row.stars
        for row in rows
        if row.stars is not None
        and (row.revoked_at is None or row.revoked_at > moment)
        and row.valid_until >= day
    }
