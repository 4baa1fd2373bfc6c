"""The outbox (SPEC §5.3): texts to residents, readable only as masks, their clear text sealed until
sent (`core.sealing`), delivered by `market notify send` through a backend."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import access
from contracts.models import Notification, NotificationStatus
from contracts.residents import mask_links, mask_personal_data, mask_phone
from core import clock, sealing
from core.auth import Actor
from core.settings import get_settings

log = logging.getLogger("market.notify")

MAX_SEND_ATTEMPTS = 5


class NotificationBackend(Protocol):
    """Delivers one message; raises to leave it pending for a retry. An SMS gateway implements this."""

    def send(self, *, channel: str, recipient: str, body: str) -> str | None: ...


@dataclass(frozen=True)
class Text:
    """A message as the gateway receives it; it exists only in memory."""

    recipient: str
    body: str


def queue_text(
    *, recipient: str, body: str, created_at: dt.datetime, delivery_id: int | None = None
) -> Notification:
    """An SMS for the outbox: readable only as masks, the clear text sealed until it is sent."""
    return Notification(
        channel="sms",
        recipient=mask_phone(recipient),
        body=mask_links(body),
        sealed=sealing.seal({"recipient": recipient, "body": body}),
        created_at=created_at,
        delivery_id=delivery_id,
    )


def unseal(message: Notification) -> Text:
    """The clear text of a pending message; raises `sealing.Unreadable` when it cannot be opened."""
    if message.sealed is None:
        raise sealing.Unreadable(f"the message is {message.status.value}: only its masks are kept")
    values = sealing.unseal(message.sealed)
    return Text(recipient=values["recipient"], body=values["body"])


class ConsoleBackend:
    """Writes messages to the log: for development, and where no SMS gateway is configured.

    Outside production it writes the whole text, so that a developer can open the link; in
    production only the masks, since logs are kept and read by more people than the outbox.
    """

    def __init__(self, write=None, *, reveal: bool | None = None):
        self.write = write or log.info
        self.reveal = get_settings().environment != "production" if reveal is None else reveal

    def send(self, *, channel: str, recipient: str, body: str) -> str | None:
        if self.reveal:
            self.write(f"[{channel} to {recipient}] {body}")
        else:
            self.write(f"[{channel} to {mask_phone(recipient)}] {mask_personal_data(body)}")
        return None


def backend_from_settings() -> NotificationBackend:
    return {"console": ConsoleBackend}[get_settings().notify_backend]()


async def send_notifications(
    *, session: AsyncSession, backend: NotificationBackend, limit: int = 500
) -> tuple[int, int]:
    """Send pending messages; a sent (or given-up) message keeps only its masks. (sent, failed)."""
    pending = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    sent = failed = 0
    for message in pending:
        message.attempts += 1
        try:
            text = unseal(message)
            backend.send(channel=message.channel, recipient=text.recipient, body=text.body)
        except Exception as error:  # any gateway failure leaves the message for a retry
            # A gateway may quote the number or the link back: the stored error does not.
            message.last_error = mask_personal_data(str(error))[:500]
            failed += 1
            if message.attempts >= MAX_SEND_ATTEMPTS:
                # Given up: the clear text is not kept for ever either.
                message.status, message.sealed = NotificationStatus.FAILED, None
            continue
        message.status, message.sent_at = NotificationStatus.SENT, await clock.now(session)
        message.sealed, message.last_error = None, None
        sent += 1
    return sent, failed


async def reseal_pending(*, session: AsyncSession) -> tuple[int, int]:
    """Seal pending messages again under the first of OUTBOX_KEYS, so that older keys can be dropped.

    (resealed, unreadable): a message no configured key opens is left as it is.
    """
    pending = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING, Notification.sealed.is_not(None))
            .with_for_update(skip_locked=True)
        )
    ).all()
    resealed = unreadable = 0
    for message in pending:
        try:
            message.sealed = sealing.reseal(message.sealed)
            resealed += 1
        except sealing.Unreadable:
            unreadable += 1
    return resealed, unreadable


def messages_statement(*, actor: Actor | None) -> Select:
    """The outbox, newest first, for those who may read it."""
    if not access.can_read_outbox(actor):
        raise access.refusal(actor, "only ADMIN may do this")
    return select(Notification).order_by(Notification.id.desc())
