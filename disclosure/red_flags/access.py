"""Who may see a tender's red flags, stated once as a predicate and as the SQL clause that matches it.

The officers of the purchasing department see them as soon as the bids are opened (the opening decides
which bids are valid), so that they can weigh them before finalising the award; everyone sees them once
the award is final, when the bids and scores they are made of are public too (SPEC §4.2, §7).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from core.auth import Actor
from market.access import is_tender_officer, tender_officer_clause
from market.models import Tender, TenderStatus


def can_see_red_flags(actor: Actor | None, tender: Tender) -> bool:
    return tender.status == TenderStatus.AWARDED or (
        tender.opened_at is not None and is_tender_officer(actor, tender)
    )


def red_flags_visible_clause(actor: Actor | None) -> ColumnElement[bool]:
    """`can_see_red_flags` on the Tender table."""
    return or_(
        Tender.status == TenderStatus.AWARDED,
        and_(Tender.opened_at.is_not(None), tender_officer_clause(actor)),
    )
