"""``docgap train`` and ``docgap model``: the one command line of the review-priority model.

``train`` fits the model on gold labels; ``model evaluate`` scores a trained model on a gold
file; ``model card`` rewrites a model card's generated section from a model's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from docgap.cli.base import (
    _READER_EXITS,
    _App,
    _fail,
    _internal_errors,
    _say,
    app,
)

_GOLD_HELP = (
    'A gold-label file, JSON Lines: one {"id", "text", "gold": {"elements", '
    '"status", "would_code", "chiropractic"}} object a line (README, "Evaluate docgap on '
    'your own notes").'
)

model_app = _App(
    help="Evaluate a trained review model, or refresh its model card.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@app.command(epilog=_READER_EXITS)
def train(
    gold: Annotated[Path, typer.Argument(metavar="GOLD", help=_GOLD_HELP)],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the new model and its metadata (the shipped one is "
            "models/review: overwrite it only on purpose).",
        ),
    ],
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Repeats of the grouped cross-validation.")
    ] = 2,
    card: Annotated[
        Path | None,
        typer.Option("--card", help="Also rewrite this model card's generated section."),
    ] = None,
) -> None:
    """Train the review-priority model on gold labels (reproducible: fixed seeds)."""
    from docgap.analyzer import Analyzer
    from docgap.evaluation.scores import GoldError
    from docgap.scoring.training import TrainingError, update_card
    from docgap.scoring.training import train as fit

    with _internal_errors(lambda: "no model written", expected=(GoldError, TrainingError)):
        try:
            metadata = fit(gold, out, analyzer=Analyzer(model=None), repeats=repeats)
        except (GoldError, TrainingError, FileNotFoundError) as exc:
            _fail(str(exc))
        if card is not None:
            try:
                changed = update_card(out, card)
            except (OSError, ValueError) as exc:
                _fail(f"{card}: {exc}")
            _say(f"{card}: {'updated' if changed else 'already up to date'}")
    cv = metadata.get("metrics", metadata)
    _say(f"model written to {out}; cross-validated figures in {out / 'metadata.json'}")
    if isinstance(cv, dict) and "log_loss" in cv:
        _say(f"log loss {cv['log_loss']}")


@model_app.command("evaluate")
def evaluate_model(
    gold: Annotated[Path, typer.Argument(metavar="GOLD", help=_GOLD_HELP)],
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model folder (default: the shipped model)."),
    ] = None,
) -> None:
    """Score a trained review model on a gold file (JSON on stdout)."""
    from docgap.evaluation.scores import GoldError
    from docgap.scoring.model import load_default_model, load_model
    from docgap.scoring.training import TrainingError
    from docgap.scoring.training import evaluate as evaluate_on

    with _internal_errors(expected=(GoldError, TrainingError)):
        review = load_model(model) if model is not None else load_default_model()
        if review is None:
            _fail("no usable review model (see the warning above)")
        try:
            shown = evaluate_on(review, gold)
        except (GoldError, TrainingError, OSError, ValueError) as exc:
            _fail(str(exc))
    typer.echo(json.dumps(shown, indent=1))


@model_app.command("card")
def model_card(
    model: Annotated[
        Path, typer.Argument(metavar="MODEL", help="Model folder (its metadata.json).")
    ],
    update: Annotated[Path, typer.Option("--update", help="The model card (Markdown).")],
) -> None:
    """Rewrite a model card's generated metrics section from the model's metadata."""
    from docgap.scoring.training import update_card

    try:
        changed = update_card(model, update)
    except (OSError, ValueError) as exc:
        _fail(f"{update}: {exc}")
    typer.echo(f"{update}: {'updated' if changed else 'already up to date'}")
