"""Tables of the contracts domain (SPEC §5). The enums come first; the tables come with the delivery issue."""

from __future__ import annotations

import enum


class ContractStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class ComplaintStatus(enum.Enum):
    OPEN = "OPEN"
    RESPONDED = "RESPONDED"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"


class Light(enum.Enum):
    """红黄绿灯督办: how much of a complaint's current deadline has passed."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class Severity(enum.Enum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


class AuditStatus(enum.Enum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
