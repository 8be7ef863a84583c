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
        Path,
        typer.Argument(
            metavar="REPORT",
            help="A JSON Lines report written by 'docgap scan'.",
            show_default=False,
        ),
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N notes.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list supported, not_applicable and failed notes.")
    ] = False,
) -> None:
    """The notes a CDI specialist should act on, most urgent first.

    Order: at_risk, then query-opportunity downcodes, then redirect, then other downcodes.
    Reads the scan's report as written; nothing is re-analysed.
    """
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
