"""`market scoring run`: every due period finalised once, the others skipped with the reason, two runs
at once on a database of their own (committed for real, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import create_sessionmaker, unit_of_work
from core.errors import DomainError, ErrorCode
from scoring import scorecards
from scoring.models import Payment, Scorecard
from tests.scoring import world as sw

ROOT = Path(__file__).resolve().parents[2]


async def _year_of_audits(world) -> None:
    """Period 1 audited and submitted, period 2 audited in draft, period 3 without an audit."""
    await sw.deliver(world, dt.date(2030, 3, 2), 300)
    await sw.audit(world, 1, value=95)
    await sw.move_to(world, dt.date(2030, 6, 20))
    await sw.audit(world, 2, value=95, submit=False)
    await sw.move_to(world, dt.date(2030, 10, 5))


async def test_the_run_finalises_what_is_due_and_says_why_it_skips_the_rest(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await _year_of_audits(world)
    reported = []

    plan = await scorecards.plan_run(session, as_of=dt.date(2030, 10, 5))
    report = await scorecards.run(session, plan, progress=reported.append)
    await session.commit()

    assert [(c.contract_id, c.period_index, c.tier.value) for c in report.finalized] == [
        (world.contract.id, 1, "B")
    ]
    assert sorted((s.period_index, s.reason.split(":")[0]) for s in report.skipped) == [
        (2, "AUDIT_MISSING"), (3, "AUDIT_MISSING"),
    ]  # fmt: skip
    assert reported == [1]
    # Period 4 has not ended: not even considered. Again: nothing new.
    again = await scorecards.run(session, await scorecards.plan_run(session, as_of=dt.date(2030, 10, 5)))
    assert again.finalized == [] and len(again.skipped) == 2
    assert await session.scalar(select(func.count()).select_from(Payment)) == 1


async def test_the_run_cannot_look_ahead(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    with pytest.raises(DomainError) as caught:
        await scorecards.plan_run(session, as_of=await world.today() + dt.timedelta(days=1))
    assert caught.value.code == ErrorCode.INVALID


async def test_two_runs_at_once_finalise_each_period_once(scratch_engine):
    """Two workers run at the same moment, each in its own transaction: the contract's row lock (and
    SQLite's single writer) makes the second wait and find the periods finalised."""
    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await sw.build(session, on=dt.date(2030, 3, 20))
        await _year_of_audits(world)
        await session.commit()
        contract_id = world.contract.id

    async def one_run():
        async with sessionmaker() as session, unit_of_work(session):
            plan = await scorecards.plan_run(session, as_of=dt.date(2030, 10, 5))
            await asyncio.sleep(0.05)  # both have planned before either writes
            return await scorecards.run(session, plan)

    first, second = await asyncio.gather(one_run(), one_run())

    assert sorted(len(r.finalized) for r in (first, second)) == [0, 1]
    loser = first if not first.finalized else second
    if scratch_engine.dialect.name == "postgresql":
        # Both planned period 1; the second waited for the contract's lock, then found it finalised.
        assert [s.period_index for s in loser.skipped if "finalised already" in s.reason] == [1]
    else:
        # SQLite: the second's first statement waited for the first's commit; period 1 was no longer due.
        assert sorted(s.period_index for s in loser.skipped) == [2, 3]
    async with sessionmaker() as session:
        cards = (await session.scalars(select(Scorecard).where(Scorecard.contract_id == contract_id))).all()
        assert [(c.period_index, c.version) for c in cards] == [(1, 1)]
        assert await session.scalar(select(func.count()).select_from(Payment)) == 1


def test_the_command_runs_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    environment = {**os.environ, "DATABASE_URL": url}
    market = (
        [sys.executable, "-m", "typer", "app", "run"]
        if False
        else [str(Path(sys.executable).parent / "market")]
    )
    subprocess.run([*market, "db", "upgrade"], env=environment, check=True, capture_output=True, cwd=ROOT)  # noqa: S603
    result = subprocess.run(  # noqa: S603
        [*market, "scoring", "run"], env=environment, capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("0 finalised, 0 skipped")
    refused = subprocess.run(  # noqa: S603
        [*market, "scoring", "run", "--as-of", "2999-01-01"], env=environment, capture_output=True, text=True,
        cwd=ROOT, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "INVALID" in refused.stderr


async def test_the_run_journals_each_scorecard_and_payment_as_the_rows_hold_them(session):
    """The run writes rows around the ORM: its journal events must still hold each row as stored."""
    from core import journal
    from core.models import JournalEvent

    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await _year_of_audits(world)
    report = await scorecards.run(session, await scorecards.plan_run(session, as_of=dt.date(2030, 10, 5)))
    await session.commit()

    (finalized,) = report.finalized
    card = await session.get(Scorecard, finalized.scorecard_id)
    payment = await session.scalar(select(Payment).where(Payment.scorecard_id == card.id))
    events = {
        (e.action, e.entity_type, e.entity_id): e.after
        for e in (await session.scalars(select(JournalEvent).where(JournalEvent.action.in_(
            ["scorecard.finalized", "payment.calculated"])))).all()
    }  # fmt: skip
    assert events == {
        ("scorecard.finalized", "Scorecard", str(card.id)): journal.canonical_json(journal.snapshot(card)),
        ("payment.calculated", "Payment", str(payment.id)): journal.canonical_json(journal.snapshot(payment)),
    }
    assert (finalized.tier, finalized.payout, finalized.holdback) == (card.tier, card.payout, card.holdback)
    assert payment.amount == card.payout - card.holdback
    assert (await journal.verify(session)).ok
