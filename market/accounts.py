"""Accounts (SPEC §2): creating them, logging in with throttling, the actor behind a token."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor, Role, hash_password, issue_token, verify_password
from core.errors import DomainError, ErrorCode, Problem, Validator
from market.models import AuditFirm, Department, LoginThrottle, Provider, User

LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def load_actor(*, session: AsyncSession, user_id: int) -> Actor | None:
    """The actor behind a token; None when the account is gone or deactivated."""
    user = await session.get(User, user_id)
    if user is None or not user.active:
        return None
    return actor_of(user)


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        role=user.role,
        department_id=user.department_id,
        provider_id=user.provider_id,
        audit_firm_id=user.audit_firm_id,
    )


# ---------------------------------------------------------------- login


@dataclass(frozen=True)
class LoginResult:
    """A token for the user, or why none was issued (`refusal`)."""

    token: str | None = None
    expires_at: dt.datetime | None = None
    user: User | None = None
    refusal: Problem | None = None


WRONG_CREDENTIALS = Problem(ErrorCode.UNAUTHENTICATED, "wrong email or password")


async def login(*, session: AsyncSession, email: str, password: str, secret_key: str) -> LoginResult:
    """Check the password and issue a 12-hour token.

    After 5 failures for one email within 15 minutes, attempts are refused for 15 minutes without
    looking at the password. A wrong password is a refusal in the result, not an error, because
    the failure it counts must be committed with the rest of the transaction.
    """
    email = normalise_email(email)
    now = await clock.now(session)
    throttle = await session.get(LoginThrottle, email, with_for_update=True)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS, "too many failed logins for this email; try again in 15 minutes"
        )

    user = await session.scalar(select(User).where(User.email == email))
    if user is not None and user.active and verify_password(user.password_hash, password):
        if throttle is not None:
            await session.delete(throttle)
        token, expires = issue_token(user_id=user.id, secret_key=secret_key, now=now)
        return LoginResult(token=token, expires_at=expires, user=user)

    if throttle is None:
        throttle = LoginThrottle(email=email, failures=0, window_started_at=now)
        session.add(throttle)
    if now - throttle.window_started_at > LOGIN_WINDOW:
        throttle.failures, throttle.window_started_at = 0, now
    throttle.failures += 1
    if throttle.failures >= LOGIN_MAX_FAILURES:
        throttle.failures, throttle.window_started_at = 0, now
        throttle.locked_until = now + LOGIN_LOCKOUT
    return LoginResult(refusal=WRONG_CREDENTIALS)


# ---------------------------------------------------------------- accounts


def check_new_account(
    check: Validator, *, email: str, password: str, name: str, fields: Sequence[str]
) -> None:
    """An account's email, password and name; `fields` names them in the input, in that order."""
    email_field, password_field, name_field = (["input", f] for f in fields)
    check.check(bool(_EMAIL.match(email)), "not a valid email address", field=email_field)
    check.check(
        len(password) >= MIN_PASSWORD_LENGTH,
        f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
        field=password_field,
    )
    check.check(bool(name.strip()), "a name is required", field=name_field)


async def email_taken(session: AsyncSession, email: str) -> bool:
    return bool(await session.scalar(select(exists().where(User.email == email))))


async def create_user(
    *,
    session: AsyncSession,
    actor: Actor,
    email: str,
    password: str,
    name: str,
    role: Role,
    department_id: int | None = None,
    provider_id: int | None = None,
    audit_firm_id: int | None = None,
) -> User:
    """An account with a role. OFFICERs need a department, PROVIDERs a provider, AUDITORs a firm."""
    email = normalise_email(email)
    check = Validator()
    check_new_account(check, email=email, password=password, name=name, fields=("email", "password", "name"))
    needs = {Role.OFFICER: "departmentId", Role.PROVIDER: "providerId", Role.AUDITOR: "auditFirmId"}
    given = {"departmentId": department_id, "providerId": provider_id, "auditFirmId": audit_firm_id}
    for key, value in given.items():
        if needs.get(role) == key:
            check.check(value is not None, f"a {role.value} account needs {key}", field=["input", key])
        elif key != "departmentId" or role not in (Role.EVALUATOR,):
            check.check(
                value is None, f"{key} does not apply to a {role.value} account", field=["input", key]
            )
    check.raise_if_any()
    for model, pk, key in (
        (Department, department_id, "departmentId"),
        (Provider, provider_id, "providerId"),
        (AuditFirm, audit_firm_id, "auditFirmId"),
    ):
        if pk is not None and await session.get(model, pk) is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no {model.__name__} with this ID", field=["input", key])
    if await email_taken(session, email):
        raise DomainError(
            ErrorCode.ALREADY_EXISTS, "an account with this email exists", field=["input", "email"]
        )
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        department_id=department_id,
        provider_id=provider_id,
        audit_firm_id=audit_firm_id,
        created_at=await clock.now(session),
    )
    session.add(user)
    await journal.record(session, actor=actor, action="user.created", entity=user)
    return user
