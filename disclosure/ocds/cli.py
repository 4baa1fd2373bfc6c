"""`market ocds export`: the OCDS export to a file or stdout, streamed page by page."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer

from core.cli import group, run
from disclosure.ocds import packages
from disclosure.ocds.selection import selection

commands = group("The Open Contracting Data Standard (OCDS 1.1) export.")


@commands.command("export")
def export(
    region: str | None = typer.Option(
        None, "--region", help="Only this district's tenders (region code, e.g. 310101)."
    ),
    first: str | None = typer.Option(
        None, "--from", help="Only releases dated on or after this day (YYYY-MM-DD)."
    ),
    last: str | None = typer.Option(
        None, "--to", help="Only releases dated on or before this day (YYYY-MM-DD)."
    ),
    records: bool = typer.Option(
        False, "--records", help="A record package (releases and compiled release per tender)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
) -> None:
    """Write a release package (or, with --records, a record package) of every published tender, or of a
    district's and/or of a date range's; a progress bar of the tenders read goes to stderr."""

    async def work(session):
        chosen = await selection(session, region=region, first=first, last=last)
        total = await packages.count_tenders(session, chosen)
        kind = "record-package" if records else "release-package"
        uri = packages.absolute(f"/ocds/{kind}.json")
        target = output.open("wb") if output else sys.stdout.buffer
        try:
            with click.progressbar(length=total, label="tenders", file=sys.stderr) as bar:
                async for chunk in packages.stream(
                    session, chosen, uri=uri, records=records, on_page=bar.update
                ):
                    target.write(chunk)
            target.write(b"\n")
        finally:
            if output:
                target.close()
            else:
                target.flush()
        return total

    total = run(work)
    if output:
        typer.echo(f"wrote {total} tenders to {output}", err=True)
