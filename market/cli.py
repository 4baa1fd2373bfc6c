"""`market user`: accounts from the command line."""

from __future__ import annotations

import typer

from core.auth import Actor, Role
from core.cli import group, run
from market import accounts

users = group("Accounts.")


@users.command("create")
def user_create(
    email: str = typer.Option(...),
    password: str = typer.Option(..., prompt=True, hide_input=True),
    name: str = typer.Option(...),
    role: str = typer.Option(..., help="ADMIN, OFFICER, EVALUATOR, PROVIDER or AUDITOR"),
    department_id: int | None = typer.Option(None),
    provider_id: int | None = typer.Option(None),
    audit_firm_id: int | None = typer.Option(None),
) -> None:
    """Create an account from the command line (the first ADMIN, typically)."""
    try:
        role_value = Role(role.upper())
    except ValueError:
        raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role") from None
    # The command line acts with the operator's authority, as a system ADMIN.
    operator = Actor(user_id=None, role=Role.ADMIN)
    user = run(
        lambda session: accounts.create_user(
            session=session,
            actor=operator,
            email=email,
            password=password,
            name=name,
            role=role_value,
            department_id=department_id,
            provider_id=provider_id,
            audit_firm_id=audit_firm_id,
        )
    )
    typer.echo(f"created {user.role.value} {user.email} (id {user.id})")
