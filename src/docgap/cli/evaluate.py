"""``docgap evaluate``: score docgap against gold labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docgap.engines.loop import analyze_one
from docgap.inputs.reading import NoteInput

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    from docgap.evaluation.errors import ErrorAnalysis
    from docgap.evaluation.scores import Scores

from docgap.cli.base import (
    EXIT_INTERRUPTED,
    _default_analyzer,
    _fail,
    _internal_errors,
    _progress,
    _say,
    _stdout_console,
    app,
)


def _figure(value: float | None, digits: int = 3) -> str:
    """A figure, or "n/a" when there was nothing to measure (no gold and no predicted case)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(figures: dict[str, Any], measure: str) -> str:
    low_high = (figures.get("ci95") or {}).get(measure)
    value = _figure(figures[measure])
    return f"{value} [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else value


def _with_interval(value: float | None, interval: list[float] | None) -> str:
    text = _figure(value, 4)
    return f"{text} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else text


def _print_scores(scores: Scores, console: Console) -> None:
    table = Table(
        title=f"Elements ({scores.n} notes; 95% intervals: Wilson for precision and recall, "
        f"F1: {scores.ci_method.get('f1', 'none')}; n/a: no gold and no predicted case)",
        title_justify="left",
    )
    for name in ("element", "gold", "predicted", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "element" else "right")
    for element, figures in scores.elements.items():
        table.add_row(
            element,
            str(figures["support"]),
            str(figures["predicted"]),
            _ci(figures, "precision"),
            _ci(figures, "recall"),
            _ci(figures, "f1"),
        )
    console.print(table)
    not_supported = sum(
        n for gold, row in scores.confusion.items() if gold != "supported" for n in row.values()
    )
    for label, value in (
        (
            "status accuracy",
            _with_interval(scores.status_accuracy, scores.status_accuracy_ci95),
        ),
        (
            "status macro-F1",
            f"{scores.status_macro_f1:.4f} (over {', '.join(scores.status_labels)})",
        ),
        ("element micro-F1", _figure(scores.element_micro_f1, 4)),
        (
            "false supported",
            f"{scores.false_pass} (rate "
            f"{_with_interval(scores.false_pass_rate, scores.false_pass_rate_ci95)} of the "
            f"{not_supported} notes whose gold status is not supported)",
        ),
        ("chiropractic accuracy", f"{scores.chiropractic_accuracy:.4f}"),
        ("would-code accuracy", f"{scores.would_code_accuracy:.4f}"),
        ("notes not analysed", str(scores.failed)),
    ):
        console.print(f"{label + ':':<24}{value}")
    labels = list(next(iter(scores.confusion.values())).keys())
    matrix = Table(title="Status confusion (rows: gold, columns: predicted)", title_justify="left")
    matrix.add_column("gold \\ predicted")
    for label in labels:
        matrix.add_column(label, justify="right")
    for gold, row in scores.confusion.items():
        matrix.add_row(gold, *(str(row[p]) for p in labels))
    console.print(matrix)


def _print_errors(errors: list[dict[str, Any]], console: Console) -> None:
    console.print(f"\n{len(errors)} notes with a wrong status or element:")
    for error in errors:
        console.print(
            f"\n[bold]{error['id']}[/bold]  status gold {error['gold_status']} / predicted "
            f"{error['predicted_status']}  would_code gold {error['gold_would_code']} / "
            f"predicted {error['predicted_would_code']}",
            highlight=False,
        )
        if error.get("error"):
            console.print(f"  not analysed: {error['error']}", highlight=False)
        for element, values in error["wrong_elements"].items():
            console.print(
                f"  {element}: gold {values['gold']}, predicted {values['predicted']}",
                highlight=False,
            )
        for ev in error["evidence"]:
            why = f" ({ev['reason']})" if ev.get("reason") else ""
            console.print(
                f"    {ev['element']} {ev['text']!r} @{ev['start']} "
                f"[{ev.get('section') or '-'}] {ev['assertion']}"
                f"{' counted' if ev['counted'] else ' not counted'}{why}",
                highlight=False,
                markup=False,
            )


_TOP_CAUSES = 3  # causes printed per element and kind; the JSON has them all
_TOP_CLASSES = 10  # rows printed of the cross-element cause and status groupings


def _print_error_summary(analysis: ErrorAnalysis, console: Console) -> None:
    """The grouped disagreements: top causes per element, then cause classes and statuses.

    Note ids only: causes are reason classes (quoted note words removed), never evidence text.
    """
    groups = analysis.groups()
    totals = analysis.to_dict()["totals"]
    console.print(
        f"\nError analysis ({analysis.n_notes} notes): false positive elements "
        f"{totals['false_positive']}, false negative elements {totals['false_negative']}, "
        f"wrong statuses {totals['status']}",
        highlight=False,
    )
    if not groups["by_element"]:
        console.print("  no element disagreement", highlight=False)
    for row in groups["by_element"]:
        console.print(f"  {row['element']} {row['kind']}: {row['count']}", highlight=False)
        for cause in row["causes"][:_TOP_CAUSES]:
            console.print(
                f"    {cause['count']:>3}  {cause['cause']}  (e.g. {', '.join(cause['examples'])})",
                highlight=False,
                markup=False,
            )
        hidden = len(row["causes"]) - _TOP_CAUSES
        if hidden > 0:
            console.print(f"         … {hidden} more causes (--errors-json)", highlight=False)
    if groups["by_cause"]:
        console.print("\nCauses across elements:", highlight=False)
        for row in groups["by_cause"][:_TOP_CLASSES]:
            elements = ", ".join(f"{e} {n}" for e, n in row["elements"].items())
            console.print(
                f"  {row['count']:>3}  {row['kind']}  {row['cause']}  [{elements}]",
                highlight=False,
                markup=False,
            )
    if groups["by_status"]:
        console.print("\nStatus disagreements (gold -> predicted):", highlight=False)
        for row in groups["by_status"][:_TOP_CLASSES]:
            drove = ", ".join(f"{e} {n}" for e, n in row["elements"].items())
            console.print(
                f"  {row['count']:>3}  {row['gold']} -> {row['predicted']}  [{drove}]  "
                f"(e.g. {', '.join(row['examples'])})",
                highlight=False,
                markup=False,
            )


_EVALUATE_EXITS = (
    "Exit codes: 0 scored; 2 unusable gold file (missing, not JSON Lines, a record without "
    "its labels; the message names the line) or usage error; 1 unexpected internal error; "
    "130 interrupted (Ctrl-C)."
)


@app.command(epilog=_EVALUATE_EXITS)
def evaluate(
    gold: Annotated[
        Path,
        typer.Argument(
            metavar="GOLD",
            help=(
                'Gold file, JSON Lines: one {"id", "text", "gold": {"elements": {8 booleans}, '
                '"status", "would_code", "chiropractic"}} object a line (README, "Evaluate '
                'docgap on your own notes").'
            ),
            show_default=False,
        ),
    ],
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the scores as JSON to FILE.", dir_okay=False),
    ] = None,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors",
            help="List each wrong note with its evidence, then the disagreements grouped "
            "by element and cause (docs/error-analysis.md).",
        ),
    ] = False,
    errors_json: Annotated[
        Path | None,
        typer.Option(
            "--errors-json",
            help="Write every disagreement with its cause, and their groupings, as JSON to "
            "FILE (docs/error-analysis.md).",
            dir_okay=False,
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            min=0,
            help="Bootstrap rounds for the F1 intervals (0: none); precision, recall and "
            "rates always get Wilson intervals.",
        ),
    ] = 1000,
    id_col: Annotated[
        str, typer.Option("--id-col", help="The field of each gold record holding the note id.")
    ] = "id",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run docgap over a gold file and score it against the labels.

    Per element: precision, recall, F1 with 95% intervals (Wilson for proportions, which
    stay meaningful on a few dozen notes; a bootstrap for F1); "n/a" where an element is
    absent from gold and prediction. Status accuracy, macro-F1 over the statuses present,
    the confusion matrix and the false 'supported' verdicts.
    """
    from docgap.evaluation.scores import GoldError, load_gold, score  # scikit-learn: loaded on use

    try:
        notes = list(load_gold(gold, id_col=id_col))
    except GoldError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{gold}: cannot read ({exc.strerror or type(exc).__name__})")
    except UnicodeDecodeError:
        _fail(f"{gold}: not UTF-8 text")
    if not notes:
        _fail(f"{gold}: no labelled notes")
    try:
        with _internal_errors():
            analyzer = _default_analyzer()
            pairs = []
            with _progress("evaluating", not quiet) as advance:
                for note in notes:
                    text = note.text if isinstance(note.text, str) else None
                    problem = None if text is not None else "gold text is not a string"
                    report = analyze_one(analyzer, NoteInput(note.id, text, problem))
                    pairs.append((note, report))
                    advance()
            scores = score(pairs, bootstrap_rounds=bootstrap, keep_errors=errors)
            console = _stdout_console()
            _print_scores(scores, console)
            analysis = None
            if errors or errors_json is not None:
                from docgap.evaluation.errors import analyze_errors

                analysis = analyze_errors(pairs)
            if errors and analysis is not None:
                _print_errors(scores.errors, console)
                _print_error_summary(analysis, console)
            if json_out is not None:
                json_out.parent.mkdir(parents=True, exist_ok=True)
                json_out.write_text(json.dumps(scores.to_dict(), indent=2) + "\n", encoding="utf-8")
            if errors_json is not None and analysis is not None:
                errors_json.parent.mkdir(parents=True, exist_ok=True)
                errors_json.write_text(
                    json.dumps(analysis.to_dict(), indent=2) + "\n", encoding="utf-8"
                )
    except KeyboardInterrupt:
        _say("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


# -- stats ------------------------------------------------------------------------------
