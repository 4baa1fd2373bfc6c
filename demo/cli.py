"""`market demo`: load the demo marketplace, or bulk ratings."""

from __future__ import annotations

import typer

from core.cli import group, run
from demo import marketplace

commands = group("Demo data.")


@commands.command("load")
def demo_load(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when accounts already exist."),
) -> None:
    """Load the demo marketplace: districts, accounts, providers, packages, tenders and a contract."""

    async def work(session):
        if if_empty and not await marketplace.database_is_empty(session):
            return None
        return await marketplace.load(session)

    summary = run(work)
    typer.echo(summary if summary is not None else "demo data not loaded: the database already has accounts")


@commands.command("ratings")
def demo_ratings(
    count: int = typer.Option(..., "--count", min=1, help="Ratings to generate, with their deliveries."),
    contract_id: int | None = typer.Option(
        None, help="Only this contract; default: every ACTIVE contract whose term has started."
    ),
) -> None:
    """Bulk-generate realistic deliveries and ratings (COPY on PostgreSQL); one journal event per batch."""
    from contracts import bulk

    with typer.progressbar(length=count, label="ratings") as bar:
        result = run(
            lambda session: bulk.generate_ratings(
                session, contract_id=contract_id, count=count, progress=bar.update
            )
        )
    typer.echo(result.summary())
