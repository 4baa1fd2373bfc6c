"""A bid's receipt (投标回执, SPEC §4.2): the canonical content of a bid version and its SHA-256.

Anyone entitled to read a bid after the opening can recompute the hash from the canonical content
and check it against the receipt its provider was given.
"""

from __future__ import annotations

import hashlib

from core import journal
from market.models import Bid, BidVersion


def canonical_bid(bid: Bid | BidVersion, *, tender_id: int, provider_id: int) -> str:
    """The exact text a receipt's SHA-256 covers."""
    return journal.canonical_json(
        {
            "tender": tender_id,
            "provider": provider_id,
            "version": bid.version,
            "unitPrice": str(bid.unit_price),
            "proposal": bid.proposal,
            "capacity": bid.capacity,
            "attachments": list(bid.attachments),
            "submittedAt": bid.submitted_at,
        }
    )


def receipt_sha256(bid: Bid, *, tender_id: int) -> str:
    return hashlib.sha256(
        canonical_bid(bid, tender_id=tender_id, provider_id=bid.provider_id).encode()
    ).hexdigest()
