"""``docgap check``: a gate for scribe pipelines (exit code says pass/fail)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from docgap.engines.loop import analyze_one
from docgap.inputs.reading import InputError, open_sources

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    pass

from docgap.cli.base import (
    InFormat,
    _default_analyzer,
    _fail,
    _internal_errors,
    _say,
    app,
)
from docgap.cli.common import (
    _no_notes,
    _records,
    _say_skipped,
)


class Require(str, enum.Enum):
    """What ``check`` requires of every note."""

    supported = "supported"
    not_downcode = "not-downcode"
    no_required_gaps = "no-required-gaps"


class VerdictFormat(str, enum.Enum):
    """Output of ``check``."""

    text = "text"
    json = "json"


_CHECK_EXITS = (
    "Exit codes: 0 every note meets --require; 4 some note falls short; 3 some note could "
    "not be analysed (wins over 4); 2 unusable input or usage error; 1 internal error."
)


@app.command(epilog=_CHECK_EXITS)
def check(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Notes: .txt files, folders, tables, JSON Lines, FHIR JSON, or -.",
            show_default=False,
        ),
    ],
    require: Annotated[
        Require,
        typer.Option(
            "--require",
            "-r",
            help=(
                "supported: status supported; not-downcode: any status but downcode; "
                "no-required-gaps: no gap of severity required, whatever the status."
            ),
        ),
    ] = Require.supported,
    confident: Annotated[
        bool,
        typer.Option(
            "--confident",
            help=(
                "Also fail notes the review model flags for review, or that have no score "
                "because no review model is loaded."
            ),
        ),
    ] = False,
    fmt: Annotated[VerdictFormat, typer.Option("--format", "-f", help="Verdict format.")] = (
        VerdictFormat.text
    ),
    id_col: Annotated[str, typer.Option("--id-col", help="Id column/field.")] = "note_id",
    text_col: Annotated[str, typer.Option("--text-col", help="Text column/field.")] = "text",
    input_format: Annotated[
        InFormat, typer.Option("--input-format", help="Input format (auto: by suffix).")
    ] = InFormat.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line.")] = False,
) -> None:
    """Gate notes like a linter: a short verdict per note and an exit code to act on."""
    from docgap.outputs.gate import Gate, format_verdict

    try:
        sources = open_sources(inputs, fmt=input_format.value, id_col=id_col, text_col=text_col)
    except InputError as exc:
        _fail(str(exc))
    gate = Gate(require.value, confident)
    with _internal_errors(lambda: f"{gate.total} notes checked", expected=(InputError,)):
        analyzer = _default_analyzer()
        records, _ = _records(sources, peek_meta=False)
        for record in records:
            verdict = analyze_one(analyzer, record)
            gate.add(verdict)
            typer.echo(
                format_verdict(verdict, fmt.value, require=require.value, confident=confident)
            )
    if gate.total == 0:
        _no_notes(sources)
    if not quiet:
        _say_skipped(sources)
        _say(gate.summary())
    raise typer.Exit(gate.exit_code)


# -- serve ------------------------------------------------------------------------------
