"""`market notify`: the outbox of texts to residents."""

from __future__ import annotations

import logging

import typer

from contracts.outbox import backend_from_settings, reseal_pending, send_notifications
from core.cli import group, run

outbox = group("The notification outbox.")


@outbox.command("send")
def notify_send(limit: int = typer.Option(500, help="At most this many messages.")) -> None:
    """Deliver pending messages through NOTIFY_BACKEND (default console: the log); only masks remain."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sent, failed = run(
        lambda session: send_notifications(session=session, backend=backend_from_settings(), limit=limit)
    )
    typer.echo(f"{sent} sent, {failed} failed (left pending for a retry)")


@outbox.command("reseal")
def notify_reseal() -> None:
    """Seal pending messages again under the first of OUTBOX_KEYS, so that an older key can be dropped."""
    resealed, unreadable = run(lambda session: reseal_pending(session=session))
    typer.echo(f"{resealed} resealed, {unreadable} opened by no configured key (left as they are)")
    if unreadable:
        raise typer.Exit(1)
