"""complaint reference numbers

Every complaint gets the number a resident quotes on the hotline; complaints filed
before this revision get one too (random, like new ones).

Revision ID: 0005_complaint_reference
Revises: 0004_outbox_sealed
Create Date: 2026-11-26 15:16:29.838729
"""
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from stdnum import verhoeff

revision: str = '0005_complaint_reference'
down_revision: str | None = '0004_outbox_sealed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reference() -> str:
    """As contracts.service.new_complaint_reference at this revision: 11 random digits and a check digit."""
    body = secrets.choice('123456789') + ''.join(secrets.choice('0123456789') for _ in range(10))
    digits = body + verhoeff.calc_check_digit(body)
    return f'{digits[:4]}-{digits[4:8]}-{digits[8:]}'


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=14), nullable=True))

    connection = op.get_bind()
    complaint = sa.table('complaint', sa.column('id', sa.Integer), sa.column('reference', sa.String))
    ids = connection.execute(sa.select(complaint.c.id).order_by(complaint.c.id)).scalars().all()
    references: set[str] = set()
    for complaint_id in ids:
        reference = _reference()
        while reference in references:
            reference = _reference()
        references.add(reference)
        connection.execute(
            complaint.update().where(complaint.c.id == complaint_id).values(reference=reference)
        )

    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.alter_column(
            'reference', existing_type=sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False
        )
        batch_op.create_unique_constraint(batch_op.f('uq_complaint_reference'), ['reference'])


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_complaint_reference'), type_='unique')
        batch_op.drop_column('reference')
