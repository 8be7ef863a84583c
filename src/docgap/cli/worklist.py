"""``docgap worklist``: the CDI worklist from a scan's reports."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docgap.outputs.worklist import (
    WORKLIST_FORMATS,
    WorkItem,
    build_worklist,
    render_worklist,
    write_worklist,
)
from docgap.outputs.writers import OutputError, ReportFileError, output_errors, read_reports

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
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="table, csv or json (csv opens in a spreadsheet; --db: table or json).",
        ),
    ] = "table",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write csv or json here instead of stdout.", dir_okay=False
        ),
    ] = None,
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
    if fmt not in WORKLIST_FORMATS:
        _fail(f"unknown format {fmt!r}; choose from {', '.join(WORKLIST_FORMATS)}")
    if out is not None and fmt == "table":
        _fail("--out writes csv or json: add --format csv or --format json")
    with _internal_errors(expected=(ReportFileError, OutputError)):
        try:
            items, total = build_worklist(read_reports(report), include_all=show_all)
        except ReportFileError as exc:
            _fail(str(exc))
        if fmt != "table":
            try:
                _write_items(items, fmt, out, limit)
            except OutputError as exc:
                _fail(str(exc))
            return
        console = _stdout_console()
        render_worklist(items, total, console, limit=limit)
        if not show_all and total > len(items):
            console.print(
                f"{total - len(items)} supported, not_applicable or failed notes not listed "
                "(--all lists them)"
            )


def _write_items(items: list[WorkItem], fmt: str, out: Path | None, limit: int | None) -> None:
    """The worklist as csv or json on ``out`` or stdout (UTF-8 whatever the console's)."""
    if out is None:
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            write_worklist(items, stream, fmt, limit=limit)
        finally:
            stream.flush()
            stream.detach()
        return
    with output_errors(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as handle:
            write_worklist(items, handle, fmt, limit=limit)


# -- evaluate ---------------------------------------------------------------------------
