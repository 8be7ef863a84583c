"""``docgap compare``: which notes changed between two scans (a rule or model change)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from docgap.cli.base import _fail, _internal_errors, _stdout_console, app
from docgap.evaluation.compare import CompareError, Comparison, compare_reports
from docgap.outputs.writers import ReportFileError, read_reports

_COMPARE_EXITS = (
    "Exit codes: 0 compared (whether or not anything changed); 2 unusable report file "
    "(missing, not a scan's JSON Lines, a note id twice) or usage error; 1 unexpected "
    "internal error."
)


class CompareFormat(str, enum.Enum):
    """Output formats of ``compare``."""

    table = "table"
    json = "json"


def _arrow(pair: tuple[object, object] | None) -> str:
    return "" if pair is None else f"{pair[0]} -> {pair[1]}"


def _print(comparison: Comparison, console: Console, limit: int | None) -> None:
    counts = comparison.counts()
    console.print(
        f"{comparison.in_both} notes in both runs: {comparison.unchanged} unchanged, "
        f"{len(comparison.changed)} changed (status {counts['status']}, would_code "
        f"{counts['would_code']}, elements {counts['elements']}); only in A: "
        f"{len(comparison.only_a)}, only in B: {len(comparison.only_b)}",
        highlight=False,
    )
    if comparison.transitions:
        moves = Table(title="Status changes (A -> B)", title_justify="left")
        for name in ("A", "B", "notes"):
            moves.add_column(name, justify="right" if name == "notes" else "left")
        for (a, b), n in comparison.transitions.most_common():
            moves.add_row(a, b, str(n))
        console.print(moves)
    if comparison.changed:
        notes = Table(title="Changed notes", title_justify="left")
        for name in ("note", "status", "would_code", "elements gained", "elements lost"):
            notes.add_column(name)
        for change in comparison.changed[:limit]:
            notes.add_row(
                change.note_id,
                _arrow(change.status),
                _arrow(change.would_code),
                ", ".join(change.elements_gained),
                ", ".join(change.elements_lost),
            )
        console.print(notes)
        if limit is not None and len(comparison.changed) > limit:
            console.print(f"{len(comparison.changed) - limit} more changed notes (--limit)")
    for label, ids in (("only in A", comparison.only_a), ("only in B", comparison.only_b)):
        if ids:
            console.print(f"{label}: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}")


@app.command(epilog=_COMPARE_EXITS)
def compare(
    run_a: Annotated[
        Path,
        typer.Argument(metavar="A", help="The earlier JSON Lines report of 'docgap scan'."),
    ],
    run_b: Annotated[
        Path,
        typer.Argument(metavar="B", help="The later JSON Lines report, of the same notes."),
    ],
    fmt: Annotated[
        CompareFormat, typer.Option("--format", "-f", help="table: for people; json: one object.")
    ] = CompareFormat.table,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="List at most N changed notes.")
    ] = None,
) -> None:
    """Which notes changed status, would-code or elements between two scans.

    Run the same notes through two versions of the rules (or two models) and compare the
    reports: a summary, the status transitions and each changed note. Nothing is
    re-analysed.
    """
    with _internal_errors(expected=(ReportFileError, CompareError)):
        try:
            comparison = compare_reports(read_reports(run_a), read_reports(run_b))
        except (ReportFileError, CompareError) as exc:
            _fail(str(exc))
        if fmt is CompareFormat.json:
            typer.echo(json.dumps(comparison.to_dict(), indent=2))
        else:
            _print(comparison, _stdout_console(), limit)
