"""Commands of the scoring domain: `market scoring run` (finalising the periods that are due) and
`market payments send`, both meant for a scheduler, and `market scoring certify`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import typer

from core import clock
from core.auth import Actor, Role
from core.cli import group, run
from core.db import create_engine, create_sessionmaker
from core.errors import DomainError
from core.settings import get_settings
from scoring import certification, scorecards

commands = group("Scorecards, payments and star certification.")

OPERATOR = Actor(user_id=None, role=Role.ADMIN)
"""The platform operator, as the journal records the command line (a system ADMIN)."""


@commands.command("run")
def scoring_run(
    as_of: dt.datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Finalise the periods that ended before this date "
        "(default: today, in TIMEZONE); not after today.",
    ),
) -> None:
    """Finalise every due period (ended, audit submitted, no appeal open) and settle completed contracts'
    holdbacks; the periods skipped are listed with the reason. Safe to run from two workers at once."""

    async def work(session):
        day = as_of.date() if as_of else clock.today(await clock.now(session))
        plan = await scorecards.plan_run(session, as_of=day)
        with typer.progressbar(length=len(plan.ready), label="periods") as bar:
            return await scorecards.run(session, plan, progress=bar.update)

    report = run(work)
    for card in report.finalized:
        typer.echo(
            f"contract {card.contract_id} period {card.period_index}: tier {card.tier.value}, composite "
            f"{card.composite:.2f}, payment {card.payout - card.holdback} CNY"
        )
    for skipped in report.skipped:
        typer.echo(f"skipped contract {skipped.contract_id} period {skipped.period_index}: {skipped.reason}")
    for contract_id in report.suspended:
        typer.echo(f"contract {contract_id} suspended: two consecutive periods in tier E")
    for settlement in report.settlements:
        typer.echo(
            f"contract {settlement.contract_id} holdback: {settlement.outcome} {settlement.amount} CNY"
        )
    typer.echo(f"{len(report.finalized)} finalised, {len(report.skipped)} skipped")


@commands.command("certify")
def certify(
    as_of: dt.datetime = typer.Option(
        ..., "--as-of", formats=["%Y-%m-%d"], help="The run's date (YYYY-MM-DD), not in the future."
    ),
) -> None:
    """Certify every provider as of a date (SPEC §6.3); running again for the same date issues nothing new."""

    async def work(session):
        total = await certification.providers_to_certify(session)
        with typer.progressbar(length=total, label="providers") as bar:
            return await certification.run_certification(
                session=session, actor=OPERATOR, as_of=as_of.date(), progress=bar.update
            )

    typer.echo(run(work).summary())


# ---------------------------------------------------------------- payments

payments_commands = group("Payments to providers.")


@payments_commands.command("send")
def payments_send(
    limit: int | None = typer.Option(None, min=1, help="At most this many payments (default: all)."),
) -> None:
    """Send every APPROVED payment through PAYOUT_BACKEND, finish unanswered SENT ones (same key) and
    send FAILED ones again while they have attempts left; each payment in its own transactions."""
    from scoring import payments
    from scoring.payouts import backend_from_settings

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = get_settings()

    async def send() -> payments.BatchResult:
        engine = create_engine(settings.database_url)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                statement = payments.sendable_statement()
                ids = (await session.scalars(statement.limit(limit) if limit else statement)).all()
            backend = backend_from_settings(settings)
            with typer.progressbar(length=len(ids), label=f"payments via {backend.name}") as bar:
                return await payments.send_batch(
                    sessionmaker=sessionmaker, actor=OPERATOR, backend=backend, ids=ids, progress=bar.update
                )
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(send())
    except DomainError as error:
        typer.echo(f"error: {error.code.value}: {error}", err=True)
        raise typer.Exit(1) from None
    for problem in result.problems:
        typer.echo(problem, err=True)
    typer.echo(result.summary())
    if result.failed or result.unanswered:
        raise typer.Exit(1)
