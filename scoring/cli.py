"""Commands of the scoring domain."""

from __future__ import annotations

import asyncio
import logging

import typer

from core.auth import Actor, Role
from core.cli import group
from core.db import create_engine, create_sessionmaker
from core.errors import DomainError
from core.settings import get_settings

# ---------------------------------------------------------------- payments

payments_commands = group("Payments to providers.")

OPERATOR = Actor(user_id=None, role=Role.ADMIN)
"""The platform operator, as the journal records the command line."""


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
