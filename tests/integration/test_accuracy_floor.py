"""Accuracy floors: the figures docgap reaches on its gold corpora, kept from dropping.

Raise a floor when the rules improve; never lower one to make a change pass. The held-out
corpus is not tuned on (corpus/heldout/README.md), so its floor is the honest one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import docgap
from docgap.evaluation.scores import load_gold, score

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

# (gold file, status accuracy, element micro-F1, most false "supported" verdicts)
FLOORS = [
    pytest.param(CORPUS / "dev" / "gold.jsonl", 0.95, 0.96, 0, id="dev"),
    pytest.param(CORPUS / "heldout" / "heldout.jsonl", 0.96, 0.98, 0, id="heldout"),
    # New voices and real near misses (issue 12): floors a little under today's figures.
    pytest.param(CORPUS / "voices" / "gold.jsonl", 0.88, 0.93, 0, id="voices"),
    pytest.param(CORPUS / "voices3" / "gold.jsonl", 0.88, 0.95, 1, id="voices3"),
    pytest.param(CORPUS / "mtsamples2" / "gold.jsonl", 0.96, 0.56, 0, id="mtsamples2"),
    pytest.param(CORPUS / "mtsamples3" / "gold.jsonl", 0.98, 0.68, 0, id="mtsamples3"),
    pytest.param(CORPUS / "heldout" / "voices.jsonl", 0.80, 0.91, 2, id="heldout-voices"),
    pytest.param(CORPUS / "heldout" / "voices2.jsonl", 0.80, 0.94, 4, id="heldout-voices2"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("gold", "accuracy", "micro_f1", "false_pass"), FLOORS)
def test_accuracy_floor(
    analyzer: docgap.Analyzer, gold: Path, accuracy: float, micro_f1: float, false_pass: int
) -> None:
    notes = list(load_gold(gold))
    scores = score(((g, analyzer.analyze(g.text, g.id)) for g in notes), bootstrap_rounds=0)
    assert scores.failed == 0
    assert scores.status_accuracy >= accuracy, scores.status_accuracy
    assert scores.element_micro_f1 >= micro_f1, scores.element_micro_f1
    assert scores.false_pass <= false_pass, scores.false_pass
