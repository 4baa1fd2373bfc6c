"""The `market` command's entry and its infrastructure commands; each part adds its own (see app.py).

Every command that writes runs in one unit of work: committed when it ends, nothing written when
it fails. A user error ends the command with its code and message, exit status 1.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from core import graphiql
from core.db import alembic_config, create_engine, create_sessionmaker, unit_of_work
from core.errors import DomainError
from core.settings import base_url_for, get_settings

T = TypeVar("T")


def run(work: Callable[..., Awaitable[T]]) -> T:
    """Run `work(session)` in one unit of work; a user error ends the command (exit status 1)."""

    async def in_a_session() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with create_sessionmaker(engine)() as session, unit_of_work(session):
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(in_a_session())
    except DomainError as error:
        for problem in error.problems:
            typer.echo(f"error: {problem.code.value}: {problem.message}", err=True)
        raise typer.Exit(1) from None


def group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True)


db = group("Database schema.")
journal = group("The hash-chained journal.")
graphiql_files = group("GraphiQL's files, served by the app.")


@db.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    typer.echo(f"database at {revision}: {get_settings().database_url}")


@journal.command("verify")
def journal_verify() -> None:
    """Check the hash chain; name the first broken link."""
    from sqlalchemy.exc import SQLAlchemyError

    from core import journal as chain

    try:
        result = run(chain.verify)
    except SQLAlchemyError as error:
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        typer.echo(f"error: cannot read the journal: {cause}", err=True)
        raise typer.Exit(1) from None
    if result.ok:
        typer.echo(f"journal intact: {result.checked} events verified")
        return
    typer.echo(f"journal broken: {result.reason}", err=True)
    raise typer.Exit(1)


@graphiql_files.command("install")
def graphiql_install(
    force: bool = typer.Option(False, help="Download again even when the files are in place."),
) -> None:
    """Fetch GraphiQL's pinned npm packages (sha512-checked) into static/graphiql/, once."""
    try:
        fetched = graphiql.install(force=force)
    except graphiql.AssetError as error:
        typer.echo(f"error: GraphiQL not installed: {error}", err=True)
        raise typer.Exit(1) from None
    state = "installed" if fetched else "already installed"
    typer.echo(f"GraphiQL {graphiql.GRAPHIQL.version} {state} in {graphiql.ASSETS_DIR}")


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="Worker processes; use PostgreSQL for more than one."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        help="Proxies trusted for X-Forwarded-For (comma-separated, or *): behind a load balancer, its "
        "address, so that residents' own addresses reach the rating rules.",
    ),
) -> None:
    """Serve the API at http://HOST:PORT/graphql."""
    import uvicorn

    settings = get_settings()
    origin = "PUBLIC_BASE_URL"
    if not settings.public_base_url_set:
        # The residents' links follow the address served, in this process and its workers.
        os.environ["PUBLIC_BASE_URL"] = base_url_for(host, port)
        get_settings.cache_clear()
        settings = get_settings()
        origin = "from --host and --port; set PUBLIC_BASE_URL to change"
    typer.echo(f"residents' links: {settings.public_base_url}/r/… ({origin})", err=True)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo("note: several workers on SQLite queue on its single writer lock", err=True)
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        http="core.http:NoDelayHTTPProtocol",
    )


def root() -> typer.Typer:
    """The `market` command with the infrastructure's commands; the composition root adds the parts'."""
    cli = typer.Typer(help="Marketplace for government purchase of public services.", no_args_is_help=True)
    cli.add_typer(db, name="db")
    cli.add_typer(journal, name="journal")
    cli.add_typer(graphiql_files, name="graphiql")
    cli.command("serve")(serve)
    return cli
