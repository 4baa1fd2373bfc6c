"""Typed exceptions for user mistakes. Services raise them; `core.api` maps them to payloads."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_STATE = "INVALID_STATE"
    TOO_EARLY = "TOO_EARLY"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    PRICE_ABOVE_CEILING = "PRICE_ABOVE_CEILING"
    PRICE_OUT_OF_RANGE = "PRICE_OUT_OF_RANGE"
    QUALIFICATION_MISSING = "QUALIFICATION_MISSING"
    NOT_ENOUGH_BIDS = "NOT_ENOUGH_BIDS"
    SCORES_MISSING = "SCORES_MISSING"
    CHALLENGE_OPEN = "CHALLENGE_OPEN"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    RATING_FINAL = "RATING_FINAL"
    AUDIT_MISSING = "AUDIT_MISSING"
    APPEAL_OPEN = "APPEAL_OPEN"
    CONTRACT_SUSPENDED = "CONTRACT_SUSPENDED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"


@dataclass(frozen=True)
class Problem:
    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class DomainError(Exception):
    """A user mistake: bad input, wrong state, missing permission. Carries one or more problems.

    The one way services report one: `raise DomainError(ErrorCode.NOT_FOUND, "no tender with this ID",
    field=["id"])`; `Validator` collects several and raises them together.
    """

    def __init__(self, code: ErrorCode, message: str, *, field: Sequence[str] | None = None):
        super().__init__(message)
        self.problems = [Problem(code, message, tuple(field) if field else None)]

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code

    @classmethod
    def many(cls, problems: Sequence[Problem]) -> DomainError:
        error = cls(problems[0].code, problems[0].message, field=problems[0].field)
        error.problems = list(problems)
        return error


class Validator:
    """Collects every problem of an input, then raises them together."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def check(
        self, ok: bool, message: str, *, field: Sequence[str], code: ErrorCode = ErrorCode.INVALID
    ) -> None:
        if not ok:
            self.problems.append(Problem(code, message, tuple(field)))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DomainError.many(self.problems)
