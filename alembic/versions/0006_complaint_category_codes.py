"""complaint categories: a closed set of codes

Complaints kept the category as typed (the resident's page stored the Chinese name); they now
hold one of the codes of contracts.service.COMPLAINT_CATEGORIES. Known names become their code,
anything else OTHER (the complaint's text is untouched).

Revision ID: 0006_complaint_category_codes
Revises: 0005_complaint_reference
Create Date: 2026-11-26 17:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_complaint_category_codes'
down_revision: str | None = '0005_complaint_reference'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The categories at this revision: code, Chinese name, English name.
CATEGORIES = (
    ('QUALITY', '服务质量', 'Quality of the service'),
    ('ATTITUDE', '服务态度', 'Staff attitude'),
    ('LATE', '未按时上门', 'Late or missed visit'),
    ('CHARGES', '违规收费', 'Asked to pay'),
    ('SAFETY', '安全隐患', 'Safety concern'),
    ('OTHER', '其他', 'Other'),
)

complaint = sa.table('complaint', sa.column('category', sa.String))


def upgrade() -> None:
    known = {}
    for code, name, name_en in CATEGORIES:
        for spelling in (code, code.lower(), name, name_en):
            known[spelling] = code
    op.execute(
        complaint.update().values(
            category=sa.case(
                *((complaint.c.category == spelling, code) for spelling, code in known.items()),
                else_='OTHER',
            )
        )
    )


def downgrade() -> None:
    op.execute(
        complaint.update().values(
            category=sa.case(*((complaint.c.category == code, name) for code, name, _ in CATEGORIES), else_=complaint.c.category)
        )
    )
