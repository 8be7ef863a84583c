"""``docgap worklist``: the CDI worklist from a scan's reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docgap.outputs.worklist import build_worklist, render_worklist
from docgap.outputs.writers import (
    ReportFileError,
    read_reports,
)

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    pass

from docgap.cli.base import (
    _READER_EXITS,
    _fail,
    _internal_errors,
    _stdout_console,
    app,
)


@app.command(epilog=_READER_EXITS)
def worklist(
    report: Annotated[
        Path | None,
        typer.Argument(
            metavar="REPORT",
            help="A JSON Lines report written by 'docgap scan'.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N notes.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list supported, not_applicable and failed notes.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="List the review items of this worklist database instead."),
    ] = None,
    state: Annotated[str | None, typer.Option("--state", help="--db: only this state.")] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="--db: only this assignee's items.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="--db: table or json.")] = "table",
) -> None:
    """The notes a CDI specialist should act on, most urgent first.

    Order: at_risk, then query-opportunity downcodes, then redirect, then other downcodes.
    Reads the scan's report as written; nothing is re-analysed. With ``--db``, lists the
    database's review items with their lifecycle state instead.
    """
    if db is not None:
        from docgap.cli.db import show_db_worklist

        show_db_worklist(db, state=state, assignee=assignee, fmt=fmt, limit=limit)
        return
    if report is None:
        _fail("give a report file, or --db URL")
    with _internal_errors(expected=(ReportFileError,)):
        try:
            items, total = build_worklist(read_reports(report), include_all=show_all)
        except ReportFileError as exc:
            _fail(str(exc))
        console = _stdout_console()
        render_worklist(items, total, console, limit=limit)
        if not show_all and total > len(items):
            console.print(
                f"{total - len(items)} supported, not_applicable or failed notes not listed "
                "(--all lists them)"
            )


# -- evaluate ---------------------------------------------------------------------------
