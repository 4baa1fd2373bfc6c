"""Who is calling: password hashes, signed tokens, the actor and role checks."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import DomainError, ErrorCode

TOKEN_LIFETIME = dt.timedelta(hours=12)
TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "market"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Role(enum.Enum):
    ADMIN = "ADMIN"
    OFFICER = "OFFICER"
    EVALUATOR = "EVALUATOR"
    PROVIDER = "PROVIDER"
    AUDITOR = "AUDITOR"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(*, user_id: int, secret_key: str, now: dt.datetime) -> tuple[str, dt.datetime]:
    expires = now + TOKEN_LIFETIME
    claims = {"sub": str(user_id), "aud": TOKEN_AUDIENCE, "iat": now, "exp": expires}
    return jwt.encode(claims, secret_key, algorithm=TOKEN_ALGORITHM), expires


class TokenRefused(Exception):
    """The bearer token is expired, forged or malformed."""


def read_token(token: str, *, secret_key: str, now: dt.datetime) -> int:
    """The user id in a valid token. Expiry is judged by the platform clock."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            # Time claims are judged by the platform clock (which the test clock can move), not by PyJWT.
            options={
                "require": ["sub", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as error:
        raise TokenRefused("the token is invalid") from error
    if now.timestamp() >= claims["exp"]:
        raise TokenRefused("the token has expired; log in again")
    return user_id


@dataclass(frozen=True)
class Actor:
    """The authenticated user behind a request, or None for anonymous callers."""

    user_id: int | None  # None: the platform operator acting from the command line
    role: Role
    department_id: int | None = None
    provider_id: int | None = None
    audit_firm_id: int | None = None

    def has(self, *roles: Role) -> bool:
        return self.role in roles


def require(actor: Actor | None, *roles: Role) -> Actor:
    """The actor, if authenticated and in one of `roles` (any role when none given)."""
    if actor is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
    if roles and actor.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise DomainError(ErrorCode.PERMISSION_DENIED, f"only {allowed} may do this")
    return actor
