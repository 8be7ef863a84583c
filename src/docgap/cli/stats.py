"""``docgap stats``: documentation coverage statistics of a corpus."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from docgap.engines.loop import analyze_one
from docgap.inputs.reading import InputError, open_sources
from docgap.outputs.writers import (
    ReportFileError,
    is_report_file,
    read_reports,
)

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    pass

from docgap.cli.base import (
    EXIT_INTERRUPTED,
    InFormat,
    _default_analyzer,
    _fail,
    _internal_errors,
    _progress,
    _say,
    _stdout_console,
    app,
)


def _stats_records(
    inputs: list[str], *, input_format: str, id_col: str, text_col: str, quiet: bool
) -> Iterator[dict[str, Any]]:
    """Report records from scan reports as they are, and from raw inputs by scanning them."""
    reports = [i for i in inputs if input_format == "auto" and is_report_file(Path(i))]
    raw = [i for i in inputs if i not in reports]
    # Validate every raw input before reading anything (a missing file is exit 2 at once).
    sources = open_sources(raw, fmt=input_format, id_col=id_col, text_col=text_col) if raw else []
    for item in reports:
        yield from read_reports(Path(item))
    if sources:
        analyzer = _default_analyzer()
        with _progress("scanning", not quiet) as advance:
            for record in chain.from_iterable(s.records() for s in sources):
                yield analyze_one(analyzer, record).to_dict()
                advance()


_STATS_EXITS = (
    "Exit codes: 0 figures written; 2 unusable input (missing or malformed file, no notes) or "
    "usage error; 1 unexpected internal error; 130 interrupted (Ctrl-C)."
)


@app.command(epilog=_STATS_EXITS)
def stats(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="REPORTS...",
            help="JSON Lines reports of 'docgap scan', or raw inputs (scanned first).",
            show_default=False,
        ),
    ],
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            "-g",
            help="Break down by this column (a meta key of the reports, e.g. specialty).",
        ),
    ] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the figures as one tidy CSV.", dir_okay=False),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.", dir_okay=False)
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many gaps to list.")] = 10,
    id_col: Annotated[str, typer.Option("--id-col", help="Id column of raw inputs.")] = "note_id",
    text_col: Annotated[
        str, typer.Option("--text-col", help="Text column of raw inputs.")
    ] = "text",
    input_format: Annotated[
        InFormat,
        typer.Option(
            "--input-format",
            help="Raw input format (auto: reports are recognised, other files go by suffix).",
        ),
    ] = InFormat.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No tables on stdout.")] = False,
) -> None:
    """Coverage statistics: element prevalence by assertion, statuses, top gaps, by group."""
    from docgap.evaluation.stats import NO_GROUP, CorpusStats, render_stats  # pandas: loaded on use

    with _internal_errors(expected=(InputError, ReportFileError)):
        try:
            records = _stats_records(
                inputs,
                input_format=input_format.value,
                id_col=id_col,
                text_col=text_col,
                quiet=quiet,
            )
            figures = CorpusStats.from_records(records, group_by=group_by, top=top)
        except (InputError, ReportFileError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _say("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if figures.notes.empty:
            _fail("no notes in the input")
        if group_by and set(figures.notes["group"]) == {NO_GROUP}:
            _say(f"warning: no note has a {group_by!r} column or meta key")
        if not quiet:
            render_stats(figures, _stdout_console())
        if csv_out is not None:
            figures.write_csv(csv_out)
        if json_out is not None:
            figures.write_json(json_out)
