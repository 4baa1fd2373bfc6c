"""A purchasing world for the benchmarks, built through the services (so it obeys the rules of real data).

One purchasing department with its officer, a panel of evaluators, many ACTIVE
providers with a PROVIDER account each, one package, and tenders:

- `OPENED` tenders whose deadline passed last month (back-filled with a pinned
  clock) and whose bids were opened: the officer sees their bids on a page;
- the others PUBLISHED with a deadline a year ahead; the first `bidding` of
  them already hold one bid of every provider, so every timed `submitBid` (and
  every bare insert-or-update) is a new version of a live bid on both sides.

Tenders are created in an interleaved order, so that the newest 50 mix both kinds.
The `NODE_TENDERS` published tenders after the bidding ones are the ones read one
by one by `node(id:)`: each has `QUESTIONS` clarifications asked by providers, of
which all but the last are answered by the officer (anonymous readers see those).

Before them (older IDs, so the newest 50 stay the same), `contracts` tenders
run the whole purchase, back-dated: published five months ago, bids, opening,
the panel's declarations and scores, the recommendation, the challenge period
and the award, which makes an ACTIVE contract whose term started about 100 days
ago. Residents rate deliveries of the first one in scenario (c): `rating_tokens`
deliveries of the last week, each with a link token the load generator knows
(`bench.load.rating_token`), are bulk-inserted with `contracts.bulk`
(`generate_deliveries`: one journal event per batch) rather than recorded one
by one, which would take minutes for the tens of thousands a run may use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from argon2 import PasswordHasher
from stdnum.cn import uscc

from contracts import bulk, lifecycle
from core import auth, clock
from core.auth import Actor, Role
from core.db import create_engine, create_sessionmaker
from market import accounts, awards, bids, catalogue, directory, evaluation, providers, tenders
from market import models as m
from scoring import hooks as scoring_hooks

# The period rollups follow the contracts and ratings seeded here, as they do in the app (app.py).
scoring_hooks.install()

ADMIN = Actor(user_id=None, role=Role.ADMIN)
PASSWORD = "bench-password-2026"
TENDERS = 60
OPENED_EVERY = 3  # every third tender has opened bids
BIDS_PER_OPENED = 4
NODE_TENDERS = 10
QUESTIONS = 4  # per node tender; all but the last answered


@dataclass
class Account:
    email: str
    user_id: int
    provider_id: int | None = None
    department_id: int | None = None


@dataclass
class World:
    officer: Account
    providers: list[Account]
    bidding_tender_ids: list[int]
    node_tender_ids: list[int]
    tenders: int
    opened_tenders: int
    opened_bids: int
    contract_ids: list[int] = field(default_factory=list)
    rating_tokens: int = 0
    password: str = PASSWORD

    def to_json(self) -> dict:
        return asdict(self)


def credit_code(n: int) -> str:
    body = f"51310000{n:09d}"
    return body + uscc.calc_check_digit(body)


def package_spec() -> catalogue.PackageSpec:
    higher, lower = m.KpiDirection.HIGHER_IS_BETTER, m.KpiDirection.LOWER_IS_BETTER
    kpis = [
        catalogue.KpiSpec("按时上门率", "%", 95, higher, 0.5, m.KpiSource.AUDIT),
        catalogue.KpiSpec("服务完成率", "%", 100, higher, 0.3, m.KpiSource.DELIVERY_RATE),
        catalogue.KpiSpec("有效投诉率", "per 100", 1, lower, 0.2, m.KpiSource.COMPLAINT_RATE),
    ]
    return catalogue.PackageSpec(
        name="居家养老上门服务",
        name_en="Home elderly care visit",
        category="ELDERLY_CARE",
        tier=m.PackageTier.BASIC,
        unit="visit",
        standard="Two hours of personal care by a certified carer.",
        min_unit_price=Decimal("60.00"),
        max_unit_price=Decimal("120.00"),
        kpis=kpis,
    )


def terms(
    package, region, evaluators, *, index: int, deadline: dt.datetime, starts_after_days: int = 30
) -> tenders.TenderTerms:
    return tenders.TenderTerms(
        package_id=package.id,
        region_id=region.id,
        title=f"黄浦区居家养老上门服务采购（第{index + 1}包）",
        quantity=1200,
        periods=4,
        period_months=3,
        start_date=(deadline + dt.timedelta(days=starts_after_days)).date(),
        max_unit_price=Decimal("110.00"),
        bid_deadline=deadline,
        price_weight=0.3,
        quality_weight=0.6,
        record_weight=0.1,
        evaluator_ids=[e.id for e in evaluators],
    )


async def build(
    url: str, *, providers: int = 40, bidding: int = 8, contracts: int = 4, rating_tokens: int = 0
) -> World:
    """Create the world in the (migrated, empty) database at `url` and commit it."""
    from bench.load import rating_token

    # Cheap password hashes, as in the tests: logins are not what is measured, and
    # verification uses the parameters stored in each hash.
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            world = await _build(session, providers, bidding, contracts)
        if rating_tokens:
            tokens = [rating_token(n) for n in range(rating_tokens)]
            await bulk.generate_deliveries(engine, contract_id=world.contract_ids[0], tokens=tokens, seed=1)
            world.rating_tokens = rating_tokens
        return world
    finally:
        await engine.dispose()


async def _build(session, provider_count: int, bidding_count: int, contract_count: int) -> World:
    now = clock.real_now()
    past = now - dt.timedelta(days=60)
    clock.pin(session, now - dt.timedelta(days=160))
    huangpu = await directory.create_region(
        session=session, actor=ADMIN, code="310101", name="上海市黄浦区", kind=m.RegionKind.URBAN,
        population=662_000,
    )  # fmt: skip
    department = await directory.create_department(
        session=session, actor=ADMIN, name="黄浦区民政局", region_id=huangpu.id
    )
    officer = await accounts.create_user(
        session=session, actor=ADMIN, email="officer@bench.example.org", password=PASSWORD,
        name="采购专员", role=Role.OFFICER, department_id=department.id,
    )  # fmt: skip
    evaluators = [
        await accounts.create_user(
            session=session,
            actor=ADMIN,
            email=f"evaluator{i}@bench.example.org",
            password=PASSWORD,
            name=f"评审专家{i}",
            role=Role.EVALUATOR,
        )
        for i in range(3)
    ]
    package = await catalogue.create_service_package(
        session=session, actor=ADMIN, code="ELDER-HOME-VISIT", spec=package_spec()
    )
    provider_accounts, bidders = [], []
    for i in range(provider_count):
        registration = await providers.register_provider(
            session=session, actor=None, legal_name=f"上海市黄浦区第{i + 1}居家养老服务中心",
            credit_code=credit_code(i + 1), kind=m.ProviderKind.SOCIAL_ORGANISATION,
            region_ids=[huangpu.id], admin_email=f"provider{i + 1}@bench.example.org",
            admin_password=PASSWORD, admin_name=f"投标人{i + 1}",
        )  # fmt: skip
        await providers.approve_provider(session=session, actor=ADMIN, provider_id=registration.provider.id)
        provider_accounts.append(
            Account(registration.user.email, registration.user.id, registration.provider.id)
        )
        bidders.append(accounts.actor_of(registration.user))
    await session.commit()

    owner = accounts.actor_of(officer)
    panel = [accounts.actor_of(e) for e in evaluators]
    contract_ids = []
    for index in range(contract_count):
        contract = await _contract(
            session, owner, panel, bidders, package, huangpu, evaluators,
            index=TENDERS + index, published=now - dt.timedelta(days=150 - index),
        )  # fmt: skip
        contract_ids.append(contract.id)

    clock.pin(session, past)
    opened, open_for_bids, opened_bids = [], [], 0
    for index in range(TENDERS):
        was_opened = index % OPENED_EVERY == 0
        deadline = past + dt.timedelta(days=20) if was_opened else now + dt.timedelta(days=365)
        tender = await tenders.create_tender(
            session=session, actor=owner,
            terms=terms(package, huangpu, evaluators, index=index, deadline=deadline),
        )  # fmt: skip
        await tenders.publish_tender(session=session, actor=owner, tender_id=tender.id)
        if was_opened:
            for k in range(BIDS_PER_OPENED):
                bidder = (index + k) % provider_count
                await bids.submit_bid(
                    session=session, actor=bidders[bidder], tender_id=tender.id,
                    unit_price=Decimal(90 + 3 * k + index % 5), proposal=f"技术方案：投标人{bidder + 1}",
                )  # fmt: skip
                opened_bids += 1
            opened.append(tender.id)
        else:
            open_for_bids.append(tender.id)
        await session.commit()

    clock.pin(session, past + dt.timedelta(days=21))
    for tender_id in opened:
        await bids.open_bids(session=session, actor=owner, tender_id=tender_id)
    await session.commit()

    clock.pin(session, None)
    bidding = open_for_bids[:bidding_count]
    for tender_id in bidding:
        for i, bidder in enumerate(bidders):
            await bids.submit_bid(
                session=session, actor=bidder, tender_id=tender_id,
                unit_price=Decimal(80 + i % 25), proposal=f"技术方案：投标人{i + 1}",
            )  # fmt: skip
        await session.commit()

    node_tenders = open_for_bids[bidding_count : bidding_count + NODE_TENDERS]
    for n, tender_id in enumerate(node_tenders):
        for q in range(QUESTIONS):
            bidder = (n + q) % provider_count
            clarification = await tenders.ask_clarification(
                session=session, actor=bidders[bidder], tender_id=tender_id,
                question=f"第{q + 1}问：上门时段可否由服务机构与老人另行约定？（投标人{bidder + 1}）",
            )  # fmt: skip
            await session.flush()
            if q < QUESTIONS - 1:
                await tenders.answer_clarification(
                    session=session, actor=owner, clarification_id=clarification.id,
                    answer="可以。上门时段由服务机构与服务对象协商确定，并在服务记录中注明；"
                    "每周上门次数与每次时长不得低于服务标准。",
                )  # fmt: skip
        await session.commit()

    return World(
        officer=Account(officer.email, officer.id, department_id=department.id),
        providers=provider_accounts,
        bidding_tender_ids=bidding,
        node_tender_ids=node_tenders,
        tenders=TENDERS,
        opened_tenders=len(opened),
        opened_bids=opened_bids,
        contract_ids=contract_ids,
    )


async def _contract(session, owner, panel, bidders, package, region, evaluators, *, index, published):
    """A tender through the whole purchase to its contract, each step at its (past) moment."""
    deadline = published + dt.timedelta(days=20)
    clock.pin(session, published)
    tender = await tenders.create_tender(
        session=session, actor=owner,
        terms=terms(package, region, evaluators, index=index, deadline=deadline, starts_after_days=30),
    )  # fmt: skip
    await tenders.publish_tender(session=session, actor=owner, tender_id=tender.id)
    clock.pin(session, published + dt.timedelta(days=2))
    bid_ids = []
    for k in range(3):
        bidder = bidders[(3 * index + k) % len(bidders)]
        submission = await bids.submit_bid(
            session=session, actor=bidder, tender_id=tender.id,
            unit_price=Decimal(95 + 2 * k), proposal=f"技术方案：第{k + 1}家",
        )  # fmt: skip
        bid_ids.append(submission.bid.id)
    await session.commit()
    clock.pin(session, deadline + dt.timedelta(hours=1))
    await bids.open_bids(session=session, actor=owner, tender_id=tender.id)
    clock.pin(session, deadline + dt.timedelta(days=1))
    for evaluator in panel:
        await evaluation.declare_conflicts(
            session=session, actor=evaluator, tender_id=tender.id, provider_ids=[]
        )
        for k, bid_id in enumerate(bid_ids):
            await evaluation.score_bid(session=session, actor=evaluator, bid_id=bid_id, score=90 - 5 * k)
    clock.pin(session, deadline + dt.timedelta(days=2))
    tender = await awards.recommend_award(session=session, actor=owner, tender_id=tender.id)
    await session.commit()
    clock.pin(session, tender.challenge_deadline + dt.timedelta(hours=1))
    contract = await lifecycle.finalize_award(session=session, actor=owner, tender_id=tender.id)
    await session.commit()
    return contract
