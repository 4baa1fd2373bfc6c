"""`market scoring`: the scoring domain's commands."""

from __future__ import annotations

import datetime as dt

import typer

from core.auth import Actor, Role
from core.cli import group, run
from scoring import certification

commands = group("Scorecards, payments and star certification.")

# The command line acts with the operator's authority, as a system ADMIN.
OPERATOR = Actor(user_id=None, role=Role.ADMIN)


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
