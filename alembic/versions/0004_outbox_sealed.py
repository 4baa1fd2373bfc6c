"""outbox: the clear text of a pending message sealed, only masks readable

Revision ID: 0004_outbox_sealed
Revises: 0003_delivery
Create Date: 2026-11-24 10:00:00.000000

Pending messages written by 0003 held the resident's number and the link's token in clear:
they are sealed with the deployment's keys (OUTBOX_KEYS, or SECRET_KEY) and masked. Sent
messages were masked by an UPDATE that left the old values in the database's free pages (SQLite)
or dead row versions (PostgreSQL): the table is rewritten (VACUUM) so that they are gone.
"""
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core import sealing

revision: str = '0004_outbox_sealed'
down_revision: str | None = '0003_delivery'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

notification = sa.table(
    'notification',
    sa.column('id', sa.Integer),
    sa.column('recipient', sa.String),
    sa.column('body', sa.Text),
    sa.column('sealed', sa.Text),
    sa.column('status', sa.String),
)


# The masks of contracts.service as they were at this revision.
def _mask_phone(phone: str) -> str:
    return phone[:3] + '****' + phone[-4:]


def _mask_links(text: str) -> str:
    return re.sub(r'(/r/)[A-Za-z0-9_\-]+', r'\1••••••', text)


def _online_only() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0004_outbox_sealed seals pending messages with the deployment's keys: run it online")


def upgrade() -> None:
    _online_only()
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))

    connection = op.get_bind()
    pending = connection.execute(
        sa.select(notification.c.id, notification.c.recipient, notification.c.body).where(
            notification.c.status == 'PENDING', notification.c.sealed.is_(None)
        )
    ).all()
    for row in pending:
        connection.execute(
            notification.update()
            .where(notification.c.id == row.id)
            .values(
                recipient=_mask_phone(row.recipient),
                body=_mask_links(row.body),
                sealed=sealing.seal({'recipient': row.recipient, 'body': row.body}),
            )
        )
    # The clear values just replaced, and those of messages sent before, linger in free pages or
    # dead row versions until the table is rewritten. VACUUM runs outside a transaction.
    with op.get_context().autocommit_block():
        if connection.dialect.name == 'sqlite':
            op.execute('VACUUM')
            op.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        else:
            op.execute('VACUUM FULL notification')


def downgrade() -> None:
    _online_only()
    connection = op.get_bind()
    pending = connection.execute(
        sa.select(notification.c.id, notification.c.sealed).where(
            notification.c.status == 'PENDING', notification.c.sealed.is_not(None)
        )
    ).all()
    for row in pending:
        values = sealing.unseal(row.sealed)
        connection.execute(
            notification.update()
            .where(notification.c.id == row.id)
            .values(recipient=values['recipient'], body=values['body'])
        )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('sealed')
