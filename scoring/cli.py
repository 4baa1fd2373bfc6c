"""`market scoring`: finalising the periods that are due, from a scheduler."""

from __future__ import annotations

import datetime as dt

import typer

from core import clock
from core.cli import group, run
from scoring import scorecards

commands = group("Period scorecards and payments.")


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
