"""The demo's track record: last year's contracts of 颐康 (黄浦区) and 乐龄 (崇明区), what scoring made of
them, and the star certificates the demo ends with.

Told through the services, like the rest of the demo (`demo.marketplace` tells the tenders that made
these contracts):

- 上海明鉴 audited every quarter: the AUDIT KPI's value and a checklist (乐龄's second quarter has a
  failed CRITICAL item, never appealed: one star off its certificate);
- the residents' visits and ratings of each term were imported in bulk at its end (`contracts.bulk`,
  seeded: the same shapes on every load; one journal event per batch);
- on SCORING_RUN the platform's scoring run (`scorecards.plan_run` / `run`, what `market scoring run`
  does) finalised their eight periods: scorecards and CALCULATED payments;
- the officers then completed both contracts (each holdback released as a CALCULATED payment),
  approved the payments of periods 1 to 3 and sent them through the ledger backend; period 4's and
  the holdbacks are left CALCULATED, for a newcomer to approve;
- after the history, a certification run as of the day of loading certifies every provider: 颐康
  and 乐龄 with stars, the two without contracts UNRATED.

Bulk loads and payment sends commit as they go; here they run in a session of their own on the
demo's connection (`_own_transactions`), whose commits are savepoints of the demo's one transaction:
a load that fails still leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import audits, bulk, lifecycle
from contracts.audits import CheckSpec
from contracts.models import Contract, Severity
from core import clock
from core.auth import Actor, Role
from core.db import create_sessionmaker
from demo.history import History, When
from market.models import KpiSource
from scoring import certification, payments, scorecards
from scoring.models import Payment, PaymentKind, PaymentStatus
from scoring.payouts.ledger import LedgerBackend

OPERATOR = Actor(user_id=None, role=Role.ADMIN)


@dataclass(frozen=True)
class PastAudit:
    """上海明鉴's audit of one quarter: 按时上门率 and the checklist."""

    on_time_rate: float
    checks: tuple[CheckSpec, ...]


@dataclass(frozen=True)
class PastContract:
    provider: str  # the provider account's email
    ratings: int  # generated over the term by `contracts.bulk`, with their deliveries
    seed: int
    audits: tuple[PastAudit, ...]  # one per period


def _licensed(passed: bool = True) -> CheckSpec:
    return CheckSpec("护理员持证上岗（抽查20人）", passed, 3, Severity.MAJOR, "证书抽查表见评估底稿附件1。")


def _sixty_minutes(passed: bool = True) -> CheckSpec:
    note = "电话回访30户，服务时长均达标。" if passed else "电话回访30户，6户反映服务不足60分钟。"
    return CheckSpec("每次服务不少于60分钟（电话回访30户）", passed, 3, Severity.MAJOR, note)


def _signed(passed: bool = True) -> CheckSpec:
    note = "抽查40份服务记录，签字齐全。" if passed else "抽查40份服务记录，4份无老人或家属签字。"
    return CheckSpec("服务记录由老人或家属签字确认", passed, 2, Severity.MINOR, note)


def _reported(passed: bool = True) -> CheckSpec:
    return CheckSpec("异常情况24小时内报告社区", passed, 2, Severity.MAJOR, "居委会登记簿核对无误。")


_HEALTH_CHECKED = CheckSpec(
    "新入职护理员上岗前健康体检",
    False,
    2,
    Severity.CRITICAL,
    "本季度新入职的3名护理员中2名未经健康体检即上门服务。",
    "评估底稿 MJ-LL-02 附件2：入职体检记录",
)

PAST_CONTRACTS = (
    PastContract(
        "yikang@provider.demo.cn",
        ratings=3_600,
        seed=2025_0101,
        audits=(
            PastAudit(96.0, (_licensed(), _sixty_minutes(), _signed(False), _reported())),
            PastAudit(94.0, (_licensed(), _sixty_minutes(False), _signed(), _reported())),
            PastAudit(95.5, (_licensed(), _sixty_minutes(), _signed(False), _reported())),
            PastAudit(97.0, (_licensed(), _sixty_minutes(), _signed(False), _reported())),
        ),
    ),
    PastContract(
        "leling@provider.demo.cn",
        ratings=1_900,
        seed=2025_0151,
        audits=(
            PastAudit(90.0, (_licensed(), _sixty_minutes(False), _signed(), _reported(False))),
            PastAudit(92.0, (_licensed(), _sixty_minutes(False), _signed(), _HEALTH_CHECKED)),
            PastAudit(91.0, (_licensed(), _sixty_minutes(), _signed(False), _reported())),
            PastAudit(93.0, (_licensed(), _sixty_minutes(), _signed(False), _reported())),
        ),
    ),
)
AUDIT_DAYS = {"created": 3, "submitted": 6}  # after the quarter's last day
SCORING_RUN = When(-45, "02:00")
COMPLETED = When(-44, "10:00")
APPROVED = When(-43, "10:30")
SENT = When(-42, "11:00")
PAID_PERIODS = (1, 2, 3)  # approved and sent; the others' payments stay CALCULATED


@asynccontextmanager
async def _own_transactions(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session on the demo's connection, at the demo's moment, whose commits are savepoints of the
    demo's one transaction: for services that commit as they go (bulk batches; a payment's claim, then
    its answer)."""
    connection = await session.connection()
    async with create_sessionmaker(connection, join_transaction_mode="create_savepoint")() as own:
        clock.pin(own, await clock.now(session))
        yield own
    # What that session changed, the demo's session reads again rather than from its identity map.
    for row in list(session.identity_map.values()):
        if isinstance(row, Payment):
            session.expire(row)


class PastContractStory:
    """One of last year's contracts after its award: its audit firm, quarterly audits and the bulk import."""

    def __init__(
        self,
        history: History,
        *,
        past: PastContract,
        contracts: dict[int, Contract],
        tender_index: int,
        actors: dict[str, Actor],
        officer: str,
        awarded: When,
        periods: list[lifecycle.Period],
    ):
        self.history, self.past, self.session = history, past, history.session
        self.contracts, self.tender_index, self.actors, self.officer_email = (
            contracts,
            tender_index,
            actors,
            officer,
        )
        self.awarded, self.periods = awarded, periods
        self.audit_ids: dict[int, int] = {}

    def tell(self) -> None:
        at = self.history.at
        at(When(self.awarded.day, "15:00"), self.assign_audit_firm)
        for period, audit in zip(self.periods, self.past.audits, strict=True):
            end = (period.ends_on - self.history.today).days
            at(When(end + AUDIT_DAYS["created"], "09:30"), partial(self.audit, period.index, audit))
            at(When(end + AUDIT_DAYS["submitted"], "17:00"), partial(self.submit, period.index))
        last = (self.periods[-1].ends_on - self.history.today).days
        at(When(last, "21:00"), self.import_visits)

    @property
    def contract_id(self) -> int:
        return self.contracts[self.tender_index].id

    @property
    def auditor(self) -> Actor:
        return next(a for a in self.actors.values() if a.role == Role.AUDITOR)

    async def assign_audit_firm(self) -> None:
        await lifecycle.assign_audit_firm(
            session=self.session,
            actor=self.actors[self.officer_email],
            contract_id=self.contract_id,
            audit_firm_id=self.auditor.audit_firm_id,
        )

    async def audit(self, period_index: int, spec: PastAudit) -> None:
        audit = await audits.create_audit(
            session=self.session, actor=self.auditor, contract_id=self.contract_id, period_index=period_index
        )
        await self.session.flush()
        self.audit_ids[period_index] = audit.id
        for kpi in await lifecycle.contract_kpis(self.session, [self.contract_id]):
            if kpi.source == KpiSource.AUDIT:
                await audits.record_kpi_value(
                    session=self.session,
                    actor=self.auditor,
                    audit_id=audit.id,
                    kpi_id=kpi.id,
                    value=spec.on_time_rate,
                )
        for check in spec.checks:
            await audits.add_audit_check(
                session=self.session, actor=self.auditor, audit_id=audit.id, check=check
            )

    async def submit(self, period_index: int) -> None:
        await audits.submit_audit(
            session=self.session, actor=self.auditor, audit_id=self.audit_ids[period_index]
        )

    async def import_visits(self) -> None:
        """The term's visits and ratings, imported at its end: spread over the term, none after now."""
        async with _own_transactions(self.session) as own:
            await bulk.generate_ratings(
                own, contract_id=self.contract_id, count=self.past.ratings, seed=self.past.seed
            )


@dataclass
class Scored:
    """What the scoring history made, for the summary."""

    finalized: int = 0
    paid: int = 0
    calculated: int = 0


def tell_scoring(
    history: History,
    *,
    contracts: dict[int, Contract],
    tender_indexes: list[int],
    officers: dict[int, str],
    actors: dict[str, Actor],
    scored: Scored,
) -> None:
    """The scoring run over last year's contracts, their completion, approvals and payments sent."""
    session, at = history.session, history.at

    async def run() -> None:
        plan = await scorecards.plan_run(session, as_of=clock.today(await clock.now(session)))
        report = await scorecards.run(session, plan)
        expected = sum(contracts[i].periods for i in tender_indexes)
        if len(report.finalized) != expected:
            raise RuntimeError(f"scoring finalised {len(report.finalized)} periods, not {expected}")
        scored.finalized = len(report.finalized)

    async def complete() -> None:
        for i in tender_indexes:
            await lifecycle.change_contract_status(
                session=session, actor=actors[officers[i]], contract_id=contracts[i].id, change="completed"
            )

    async def period_payments(i: int) -> list[Payment]:
        rows = await session.scalars(
            select(Payment)
            .where(
                Payment.contract_id == contracts[i].id,
                Payment.kind == PaymentKind.PERIOD,
                Payment.period_index.in_(PAID_PERIODS),
            )
            .order_by(Payment.period_index)
        )
        return list(rows.all())

    async def approve() -> None:
        for i in tender_indexes:
            for payment in await period_payments(i):
                await payments.approve_payment(
                    session=session, actor=actors[officers[i]], payment_id=payment.id
                )

    async def send() -> None:
        backend = LedgerBackend()
        for i in tender_indexes:
            ids = [p.id for p in await period_payments(i)]
            async with _own_transactions(session) as own:
                for payment_id in ids:
                    paid = await payments.send_payment(
                        session=own, actor=actors[officers[i]], payment_id=payment_id, backend=backend
                    )
                    if paid.status != PaymentStatus.PAID:
                        raise RuntimeError(f"demo payment {payment_id} is {paid.status.value}, not PAID")
                    scored.paid += 1
                await own.commit()
        calculated = select(Payment.id).where(Payment.status == PaymentStatus.CALCULATED)
        scored.calculated = len((await session.scalars(calculated)).all())

    at(SCORING_RUN, run)
    at(COMPLETED, complete)
    at(APPROVED, approve)
    at(SENT, send)


async def certify(session: AsyncSession) -> certification.RunResult:
    """A certification run as of the day of loading, after the history (the clock no longer pinned)."""
    today = clock.today(await clock.now(session))
    return await certification.run_certification(session=session, actor=OPERATOR, as_of=today)
