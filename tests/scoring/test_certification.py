"""Star certification (SPEC §6.3) through the service: the window, the thresholds, the score and its
stars, the CRITICAL downgrade, validity, revocation, codes, idempotent and ordered runs, the lock,
and the stars a tender's track record reads (SPEC §4.3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import Counter

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from contracts import audits, lifecycle
from contracts.models import Severity
from core.db import create_sessionmaker
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent
from market import providers
from market.models import ProviderStatus
from scoring import certification as cert
from scoring.certification import CertificateStatus
from scoring.models import Certificate
from tests import factories
from tests.factories import ADMIN
from tests.scoring import cert_world as sw

DAY = dt.timedelta(days=1)


def summary(c: Certificate) -> tuple:
    return (c.rated, c.stars, c.score, c.periods_counted, c.ratings_counted)


async def two_periods(world, d, composites=(85.0, 85.0), ratings=(20, 20), bases=("1000.00", "1000.00")):
    for i, (composite, count, base) in enumerate(zip(composites, ratings, bases, strict=True), start=1):
        await sw.scorecard(world, period_index=i, ends_on=d - 30 * i * DAY, composite=composite, ratings=count,
                           base=base)  # fmt: skip


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("score", "stars"),
    [(100, 5), (90, 5), (89.99, 4), (80, 4), (79.99, 3), (70, 3), (69.99, 2), (60, 2), (59.99, 1), (0, 1)],
)
def test_every_star_boundary(score, stars):
    assert cert.stars_for(score, critical_upheld=False) == stars
    assert cert.stars_for(score, critical_upheld=True) == max(1, stars - 1)


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100), st.booleans())
def test_stars_are_monotonic_and_within_one_to_five(a, b, critical):
    low, high = sorted((a, b))
    assert (
        1
        <= cert.stars_for(low, critical_upheld=critical)
        <= cert.stars_for(high, critical_upheld=critical)
        <= 5
    )
    assert cert.stars_for(high, critical_upheld=True) <= cert.stars_for(high, critical_upheld=False)


def test_scores_round_half_even_to_a_hundredth():
    assert cert.round_score(84.305) == 84.30  # half-even; half-up would say 84.31
    assert cert.round_score(84.315) == 84.32
    assert cert.round_score(89.994999) == 89.99


def test_window_and_validity_are_twelve_months():
    assert cert.window(dt.date(2031, 2, 5)) == (dt.date(2030, 2, 5), dt.date(2031, 2, 4))
    assert cert.valid_until(dt.date(2031, 2, 5)) == dt.date(2032, 2, 4)
    assert cert.valid_until(dt.date(2028, 2, 29)) == dt.date(2029, 2, 27)  # to 28 Feb 2029, less a day


# ---------------------------------------------------------------- thresholds and the window


async def test_one_period_is_unrated_two_are_rated(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await sw.scorecard(world, period_index=1, ends_on=d - 100 * DAY, composite=85.0, ratings=40)
    first = sw.issued_to(await sw.run(world, d), provider_id)
    assert summary(first) == (False, None, None, 1, 40)
    assert len(first.evidence) == 1

    await sw.scorecard(world, period_index=2, ends_on=d - 10 * DAY, composite=85.0, ratings=0)
    second = sw.issued_to(await sw.run(world, d), provider_id)
    assert summary(second) == (True, 4, 85.0, 2, 40)


async def test_twenty_nine_ratings_are_unrated_thirty_are_rated(session):
    """The ratings of the current scorecard version count: a rescored period's new version replaces the old."""
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d, ratings=(15, 14))
    assert summary(sw.issued_to(await sw.run(world, d), provider_id)) == (False, None, None, 2, 29)

    await sw.scorecard(world, period_index=2, ends_on=d - 60 * DAY, composite=85.0, ratings=15, version=2)
    rated = sw.issued_to(await sw.run(world, d), provider_id)
    assert summary(rated) == (True, 4, 85.0, 2, 30)
    assert [(p["period_index"], p["version"]) for p in rated.evidence] == [(2, 2), (1, 1)]


async def test_the_window_is_the_twelve_months_before_the_date(session):
    """Periods ending from D − 12 months to D − 1 count; one ending on D or before the window does not."""
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    first = d - relativedelta(months=12)
    await sw.scorecard(world, period_index=1, ends_on=first - DAY, composite=10.0, ratings=50)
    await sw.scorecard(world, period_index=2, ends_on=first, composite=95.0, ratings=15)
    await sw.scorecard(world, period_index=3, ends_on=d - DAY, composite=95.0, ratings=15)
    await sw.scorecard(world, period_index=4, ends_on=d, composite=10.0, ratings=50)
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert summary(issued) == (True, 5, 95.0, 2, 30)
    assert [p["period_index"] for p in issued.evidence] == [2, 3]


async def test_star_boundaries_through_runs(session):
    """Each boundary score, from two periods of its own year, certified by a run a year after the last."""
    world = await sw.build(session)
    provider_id = world.contract.provider_id
    cases = [
        (100, 5),
        (90, 5),
        (89.99, 4),
        (80, 4),
        (79.99, 3),
        (70, 3),
        (69.99, 2),
        (60, 2),
        (59.99, 1),
        (0, 1),
    ]
    first = await world.today() - 366 * len(cases) * DAY
    for year, (score, stars) in enumerate(cases):
        as_of = first + 366 * year * DAY
        for index in (1, 2):
            await sw.scorecard(world, period_index=10 * year + index, ends_on=as_of - 10 * index * DAY,
                               composite=score, ratings=15)  # fmt: skip
        issued = sw.issued_to(await sw.run(world, as_of), provider_id)
        assert (issued.score, issued.stars) == (score, stars), (score, stars)


# ---------------------------------------------------------------- the score


async def test_score_is_the_base_weighted_mean(session):
    """95 on a base of 3000 and 75 on 1000: weighted (285000 + 75000) / 4000 = 90 (5★), not the plain 85."""
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d, composites=(95.0, 75.0), bases=("3000.00", "1000.00"))
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.score, issued.stars) == (90.0, 5)
    assert [(p["composite"], p["base"]) for p in issued.evidence] == [(75.0, "1000.00"), (95.0, "3000.00")]


async def test_score_is_the_plain_mean_when_every_base_is_zero(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d, composites=(95.0, 74.99), bases=("0.00", "0.00"))
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.score, issued.stars) == (85.0, 4)  # 169.99 / 2 = 84.995 -> half-even 85.00


async def test_a_zero_base_period_weighs_nothing_beside_others(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d, composites=(30.0, 91.0), bases=("0.00", "500.00"))
    assert sw.issued_to(await sw.run(world, d), provider_id).score == 91.0


# ---------------------------------------------------------------- CRITICAL items


async def quarterly(world, composite: float) -> dt.date:
    """Scorecards of the contract's four periods of 2030 (10 ratings each); the run's date."""
    for period in lifecycle.periods_of(world.contract):
        await sw.scorecard(world, period_index=period.index, ends_on=period.ends_on, composite=composite,
                           ratings=10)  # fmt: skip
    return await world.today()


async def test_an_upheld_critical_item_takes_a_star_off_until_it_is_overturned(session):
    world = await sw.build(session)
    d, provider_id = await quarterly(world, 85.0), world.contract.provider_id
    # Failed MAJOR and passed CRITICAL items take nothing off.
    await sw.audit(world, 1, [(Severity.MAJOR, False), (Severity.CRITICAL, True), (Severity.MINOR, False)])
    audit, (critical,) = await sw.audit(world, 2, [(Severity.CRITICAL, False)])
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.stars, issued.score, issued.critical_upheld) == (3, 85.0, True)
    assert [p["critical_upheld"] for p in issued.evidence] == [False, True, False, False]

    # Appealed: the item stands while the appeal is open, and when the officer upholds it.
    appeal = await audits.appeal_audit(session=session, actor=world.provider, audit_id=audit.id,
                                       check_ids=[critical.id], reason="有误")  # fmt: skip
    assert (await sw.run(world, d)).issued == []
    # Overturned: the same date's run issues a corrected certificate.
    await audits.decide_appeal(session=session, actor=world.officer, appeal_id=appeal.id,
                               decisions=[audits.ItemDecision(critical.id, upheld=False)])  # fmt: skip
    corrected = sw.issued_to(await sw.run(world, d), provider_id)
    assert (corrected.stars, corrected.critical_upheld) == (4, False)


async def test_upheld_on_appeal_still_counts(session):
    world = await sw.build(session)
    d, provider_id = await quarterly(world, 85.0), world.contract.provider_id
    audit, (critical, other) = await sw.audit(world, 3, [(Severity.CRITICAL, False), (Severity.MAJOR, False)])
    appeal = await audits.appeal_audit(session=session, actor=world.provider, audit_id=audit.id,
                                       check_ids=[critical.id, other.id], reason="有误")  # fmt: skip
    await audits.decide_appeal(session=session, actor=world.officer, appeal_id=appeal.id, decisions=[
        audits.ItemDecision(critical.id, upheld=True), audits.ItemDecision(other.id, upheld=False),
    ])  # fmt: skip
    assert sw.issued_to(await sw.run(world, d), provider_id).stars == 3


async def test_a_critical_item_of_an_audit_not_submitted_counts_not(session):
    world = await sw.build(session)
    d, provider_id = await quarterly(world, 85.0), world.contract.provider_id
    draft = await audits.create_audit(session=session, actor=world.auditor, contract_id=world.contract.id,
                                      period_index=2)  # fmt: skip
    await audits.add_audit_check(session=session, actor=world.auditor, audit_id=draft.id,
                                 check=audits.CheckSpec("消防安全", False, 1.0, Severity.CRITICAL))  # fmt: skip
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.stars, issued.critical_upheld) == (4, False)


async def test_a_critical_item_never_takes_the_last_star(session):
    world = await sw.build(session)
    d, provider_id = await quarterly(world, 50.0), world.contract.provider_id
    await sw.audit(world, 4, [(Severity.CRITICAL, False)])
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.stars, issued.critical_upheld) == (1, True)


async def test_a_critical_item_of_a_period_outside_the_window_counts_not(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await sw.scorecard(
        world, period_index=1, ends_on=d - relativedelta(months=13), composite=85.0, ratings=30
    )
    await two_periods_from(world, d, first_index=2)
    await sw.audit(world, 1, [(Severity.CRITICAL, False)])
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.stars, issued.critical_upheld) == (4, False)


async def two_periods_from(world, d, *, first_index):
    for offset, index in enumerate((first_index, first_index + 1), start=1):
        await sw.scorecard(
            world, period_index=index, ends_on=d - 20 * offset * DAY, composite=85.0, ratings=15
        )


# ---------------------------------------------------------------- validity and revocation


async def test_a_certificate_is_valid_twelve_months_then_expires(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d)
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    assert (issued.issued_on, issued.valid_until) == (d, d + relativedelta(months=12) - DAY)

    await world.advance((issued.valid_until - d).days * 86400)
    assert (await cert.verify(session, issued.code)).status == CertificateStatus.VALID
    assert (await cert.current_certificates(session, [provider_id]))[provider_id].id == issued.id
    assert await cert.stars_at(session, [provider_id], await world.now()) == {provider_id: 4}

    await world.advance(86400)
    assert (await cert.verify(session, issued.code)).status == CertificateStatus.EXPIRED
    assert await cert.current_certificates(session, [provider_id]) == {}
    assert await cert.stars_at(session, [provider_id], await world.now()) == {}


@pytest.mark.parametrize("status", [ProviderStatus.SUSPENDED, ProviderStatus.DEBARRED])
async def test_suspended_and_debarred_providers_lose_their_certificate(session, status):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d)
    issued = sw.issued_to(await sw.run(world, d), provider_id)
    change = providers.suspend_provider if status == ProviderStatus.SUSPENDED else providers.debar_provider
    await change(session=session, actor=ADMIN, provider_id=provider_id, reason="违规")
    await session.commit()

    result = await sw.run(world, d)
    assert [c.id for c in result.revoked] == [issued.id]
    assert [p.id for p in result.providers] == [provider_id]
    assert [c for c in result.issued if c.provider_id == provider_id] == []
    found = await cert.verify(session, issued.code)
    assert found.status == CertificateStatus.REVOKED
    assert found.certificate.revoked_reason == cert.REVOKED_BECAUSE[status]
    assert found.certificate.revoked_at is not None
    assert await cert.current_certificates(session, [provider_id]) == {}
    assert await cert.stars_at(session, [provider_id], await world.now()) == {}
    # Revoked once: a later run finds nothing more to do for it.
    await world.advance(86400)
    later = await sw.run(world, d + DAY)
    assert [c for c in later.issued + later.revoked if c.provider_id == provider_id] == []


async def test_a_reinstated_provider_is_certified_again(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d)
    await sw.run(world, d)
    await providers.suspend_provider(session=session, actor=ADMIN, provider_id=provider_id, reason="整改")
    await sw.run(world, d)
    await providers.reinstate_provider(session=session, actor=ADMIN, provider_id=provider_id)
    again = sw.issued_to(await sw.run(world, d), provider_id)
    assert (await cert.verify(session, again.code)).status == CertificateStatus.VALID


async def test_pending_providers_get_no_certificate_active_ones_unrated(session):
    world = await sw.build(session)
    pending = await factories.provider(session, status=ProviderStatus.PENDING)
    active = await factories.provider(session)
    result = await sw.run(world)
    by_provider = {c.provider_id: c for c in result.issued}
    assert pending.id not in by_provider
    assert summary(by_provider[active.id]) == (False, None, None, 0, 0)
    assert by_provider[active.id].evidence == []


# ---------------------------------------------------------------- codes


def test_codes_are_random_url_safe_and_unambiguous():
    codes = [cert.new_code() for _ in range(5000)]
    assert len(set(codes)) == len(codes)
    for code in codes[:100]:
        assert len(code) == 23 and code.count("-") == 3
        assert set(code.replace("-", "")) <= set(cert.CODE_ALPHABET)
    assert not set("01OI") & set(cert.CODE_ALPHABET)
    bits = cert.CODE_GROUPS * cert.CODE_GROUP_LENGTH * math.log2(len(cert.CODE_ALPHABET))
    assert bits >= 96
    # Every symbol at every position turns up about equally often (100,000 symbols, ~3,125 each).
    counts = Counter("".join(c.replace("-", "") for c in codes))
    assert set(counts) == set(cert.CODE_ALPHABET)
    assert all(2700 < n < 3550 for n in counts.values()), counts
    first = Counter(c[0] for c in codes)
    assert len(first) == 32


def test_codes_are_read_in_any_case_with_spaces_or_hyphens():
    code = "7KQ2M-XH9PA-3RTWN-B8CEF"
    assert cert.normalise_code("7kq2m xh9pa 3rtwn b8cef") == code
    assert cert.normalise_code("7KQ2MXH9PA3RTWNB8CEF") == code
    assert cert.normalise_code("7KQ2M-XH9PA-3RTWN-B8CE") is None
    assert cert.normalise_code("0KQ2M-XH9PA-3RTWN-B8CEF") is None
    assert cert.normalise_code("") is None


async def test_every_certificate_has_its_own_code(session):
    world = await sw.build(session)
    for _ in range(5):
        await factories.provider(session)
    d = await world.today()
    first = await sw.run(world, d - DAY)
    second = await sw.run(world, d)
    codes = [c.code for c in first.issued + second.issued]
    assert len(codes) == 18 and len(set(codes)) == 18
    assert all(cert.normalise_code(c) == c for c in codes)


# ---------------------------------------------------------------- runs


async def _events(session) -> int:
    return await session.scalar(select(func.count()).select_from(JournalEvent))


async def test_running_twice_for_the_same_date_issues_nothing_new(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d)
    first = await sw.run(world, d)
    assert len(first.issued) == 4 and first.unchanged == 0  # the world's four providers
    events = await _events(session)
    again = await sw.run(world, d)
    assert (again.issued, again.revoked, again.providers, again.unchanged) == ([], [], [], 4)
    assert await _events(session) == events
    assert await session.scalar(select(func.count()).select_from(Certificate)) == 4
    assert again.summary() == f"certification as of {d.isoformat()}: 0 issued, 0 revoked, 4 unchanged"

    # A later date renews every certificate; the earlier ones still verify, as superseded.
    old = sw.issued_to(first, provider_id)
    await world.advance(86400)
    renewed = sw.issued_to(await sw.run(world, d + DAY), provider_id)
    found = await cert.verify(session, old.code)
    assert found.status == CertificateStatus.SUPERSEDED and found.newest.id == renewed.id
    assert (await cert.verify(session, renewed.code)).status == CertificateStatus.VALID


async def test_a_run_is_neither_in_the_future_nor_before_the_latest(session):
    world = await sw.build(session)
    d = await world.today()
    with pytest.raises(DomainError) as future:
        await cert.run_certification(session=session, actor=ADMIN, as_of=d + DAY)
    assert (future.value.code, future.value.problems[0].field) == (ErrorCode.INVALID, ("asOf",))
    await sw.run(world, d)
    with pytest.raises(DomainError) as backwards:
        await cert.run_certification(session=session, actor=ADMIN, as_of=d - DAY)
    assert backwards.value.code == ErrorCode.INVALID_STATE


async def test_each_issue_and_revocation_is_journaled(session):
    world = await sw.build(session)
    d = await world.today()
    await sw.run(world, d)
    await providers.debar_provider(session=session, actor=ADMIN, provider_id=world.contract.provider_id,
                                   reason="违规")  # fmt: skip
    await sw.run(world, d)
    actions = Counter(
        (
            await session.scalars(
                select(JournalEvent.action).where(JournalEvent.entity_type == "Certificate")
            )
        ).all()
    )
    assert actions == {"certificate.issued": 4, "certificate.revoked": 1}


async def test_concurrent_runs_issue_one_certificate_each(scratch_engine):
    """A second worker's run of the same date waits for the first's to commit, then finds its certificates."""
    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await sw.build(session)
        d = await world.today()
        await two_periods(world, d)
        await session.commit()

    async def run_once():
        async with sessionmaker() as session:
            result = await cert.run_certification(session=session, actor=ADMIN, as_of=d)
            await session.commit()
            return len(result.issued), result.unchanged

    async with sessionmaker() as first:
        issued = await cert.run_certification(session=first, actor=ADMIN, as_of=d)
        second = asyncio.create_task(run_once())
        await asyncio.sleep(0.5)
        assert not second.done()  # it waits for the lock the first run holds until it commits
        await first.commit()
    assert len(issued.issued) == 4
    assert await second == (0, 4)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Certificate)) == 4


# ---------------------------------------------------------------- the stars a tender's track record reads


async def test_stars_in_effect_at_a_moment(session):
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    await two_periods(world, d, composites=(75.0, 75.0))
    other = next(p.id for p in world.market.providers if p.id != provider_id)
    before = await world.now()
    await world.advance(60)
    three = sw.issued_to(await sw.run(world, d), provider_id)
    issued_at = three.created_at
    assert three.stars == 3
    assert await cert.stars_at(session, [provider_id], issued_at - dt.timedelta(microseconds=1)) == {}
    assert await cert.stars_at(session, [provider_id, other], before) == {}
    assert await cert.stars_at(session, [provider_id, other], issued_at) == {provider_id: 3}  # other: unrated

    await world.advance(60)
    between = await world.now()
    await world.advance(60)
    await sw.scorecard(world, period_index=3, ends_on=d - 5 * DAY, composite=99.0, ratings=10, base="8000.00")
    assert sw.issued_to(await sw.run(world, d), provider_id).stars == 5
    assert await cert.stars_at(session, [provider_id], between) == {provider_id: 3}
    assert await cert.stars_at(session, [provider_id], await world.now()) == {provider_id: 5}
    assert await cert.stars_at(session, [], await world.now()) == {}
