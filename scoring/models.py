"""Tables of the scoring domain (SPEC §6). The enums come first; the tables come with the scoring issue."""

from __future__ import annotations

import enum


class Tier(enum.Enum):
    """Payment tier of a period's composite score (阶梯化支付)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class PaymentStatus(enum.Enum):
    CALCULATED = "CALCULATED"
    APPROVED = "APPROVED"
    SENT = "SENT"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
