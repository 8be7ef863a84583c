"""Score docgap against gold labels (gold format: README, "Evaluate docgap...").

The figures a release is judged by: per-element precision/recall/F1 with 95% intervals,
status accuracy and macro-F1, the confusion matrix, and the false "supported" verdicts (the
ones that fail audits). Honest on small sets: a figure with nothing to measure is ``None``
("n/a"), never a 0 or a 1 that looks like a result; macro-F1 averages only the statuses that
occur (in gold or prediction); intervals are Wilson for proportions and a bootstrap for F1
(:mod:`docgap.evaluation.intervals`), each named in ``ci_method``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from docgap.evaluation.intervals import (
    BOOTSTRAP,
    F1_MIN_POSITIVES,
    WILSON,
    bootstrap_f1,
    f1_of,
    wilson,
)
from docgap.packs.registry import pack_info
from docgap.report import STATUSES, NoteReport

__all__ = ["GoldError", "GoldNote", "Scores", "load_gold", "score"]

# The elements a gold label states, as the default pack's pack.yml declares them.
ELEMENTS: tuple[str, ...] = pack_info().elements

_BOOTSTRAP_ROUNDS = 1000
_SEED = 20261126


class GoldError(ValueError):
    """A gold file line that does not follow the gold format (one line, no note text)."""


@dataclass(frozen=True)
class GoldNote:
    """One labelled note."""

    id: str
    text: str
    elements: dict[str, bool]
    chiropractic: bool
    status: str
    would_code: str | None
    setting: str | None = None
    phenomena: tuple[str, ...] = ()


def _gold_from(obj: Any, line_no: int, source: str, id_col: str = "id") -> GoldNote:
    where = f"{source}:{line_no}"
    if not isinstance(obj, dict):
        raise GoldError(f"{where}: not a JSON object")
    for key in (id_col, "text", "gold"):
        if key not in obj:
            hint = " (name the id field with --id-col)" if key == id_col else ""
            raise GoldError(f"{where}: missing required key {key!r}{hint}")
    if not isinstance(obj[id_col], (str, int)) or isinstance(obj[id_col], bool):
        raise GoldError(f"{where}: {id_col!r} must be a string or an integer")
    gold = obj["gold"]
    if not isinstance(gold, dict):
        raise GoldError(f"{where}: 'gold' must be a JSON object")
    elements = gold.get("elements", {})
    if not isinstance(elements, dict):
        raise GoldError(f"{where}: gold.elements must be a JSON object of booleans")
    missing = [e for e in ELEMENTS if not isinstance(elements.get(e), bool)]
    if missing:
        raise GoldError(f"{where}: gold.elements lacks booleans for {', '.join(missing)}")
    if gold.get("status") not in STATUSES:
        raise GoldError(f"{where}: gold.status must be one of {', '.join(STATUSES)}")
    if not isinstance(gold.get("would_code"), (str, type(None))):
        raise GoldError(f"{where}: gold.would_code must be a string or null")
    if not isinstance(gold.get("chiropractic", False), bool):
        raise GoldError(f"{where}: gold.chiropractic must be true or false")
    phenomena = obj.get("phenomena") or ()
    if not isinstance(phenomena, (list, tuple)):
        raise GoldError(f"{where}: 'phenomena' must be a list")
    return GoldNote(
        id=str(obj[id_col]),
        text=obj["text"],
        elements={e: bool(elements[e]) for e in ELEMENTS},
        chiropractic=bool(gold.get("chiropractic", False)),
        status=gold["status"],
        would_code=gold.get("would_code"),
        setting=obj.get("setting"),
        phenomena=tuple(str(p) for p in phenomena),
    )


def load_gold(path: Path, id_col: str = "id") -> Iterator[GoldNote]:
    """Read a gold file (JSON Lines); a malformed line is a :class:`GoldError`.

    ``id_col`` names the field holding each note's id (``id`` in docgap's corpora; other
    gold sets often use ``note_id``).
    """
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldError(f"{path}:{line_no}: malformed JSON ({exc.msg})") from None
            yield _gold_from(obj, line_no, str(path), id_col)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _interval(bounds: tuple[float, float] | None) -> list[float] | None:
    return [round(bounds[0], 4), round(bounds[1], 4)] if bounds else None


def _element_figures(
    gold: np.ndarray, pred: np.ndarray, rng: np.random.Generator, rounds: int
) -> dict[str, Any]:
    """Precision, recall, F1 of one element; ``None`` (n/a) where the denominator is empty."""
    tp = int(np.sum(gold & pred))
    support, predicted = int(gold.sum()), int(pred.sum())
    f1 = f1_of(gold, pred)
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": None if f1 is None else round(f1, 4),
        "support": support,
        "predicted": predicted,
        "ci95": {
            "precision": _interval(wilson(tp, predicted)),
            "recall": _interval(wilson(tp, support)),
            "f1": _interval(bootstrap_f1(gold, pred, rng, rounds)),
        },
    }


@dataclass
class Scores:
    """Everything ``docgap evaluate`` reports."""

    n: int
    status_accuracy: float
    status_macro_f1: float
    false_pass: int
    false_pass_rate: float | None
    element_micro_f1: float | None
    elements: dict[str, dict[str, Any]]
    confusion: dict[str, dict[str, int]]
    chiropractic_accuracy: float
    would_code_accuracy: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    status_labels: list[str] = field(default_factory=list)
    status_accuracy_ci95: list[float] | None = None
    false_pass_rate_ci95: list[float] | None = None
    ci_method: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable summary (`docgap evaluate --json`)."""
        return {
            "n": self.n,
            "status_accuracy": self.status_accuracy,
            "status_macro_f1": self.status_macro_f1,
            "status_labels": self.status_labels,
            "status_accuracy_ci95": self.status_accuracy_ci95,
            "false_pass": self.false_pass,
            "false_pass_rate_ci95": self.false_pass_rate_ci95,
            "false_pass_rate": self.false_pass_rate,
            "element_micro_f1": self.element_micro_f1,
            "chiropractic_accuracy": self.chiropractic_accuracy,
            "would_code_accuracy": self.would_code_accuracy,
            "failed": self.failed,
            "ci_method": self.ci_method,
            "elements": self.elements,
            "confusion": self.confusion,
            "errors": self.errors,
        }


def score(
    pairs: Iterable[tuple[GoldNote, NoteReport]],
    *,
    bootstrap_rounds: int = _BOOTSTRAP_ROUNDS,
    keep_errors: bool = False,
) -> Scores:
    """Compare predictions with gold labels, note by note."""
    golds: list[GoldNote] = []
    preds: list[NoteReport] = []
    for gold, pred in pairs:
        golds.append(gold)
        preds.append(pred)
    if not golds:
        raise GoldError("the gold file has no notes")
    n = len(golds)
    gold_status = [g.status for g in golds]
    pred_status = [p.status or "error" for p in preds]
    labels = [*STATUSES, *(["error"] if "error" in pred_status else [])]
    matrix = confusion_matrix(gold_status, pred_status, labels=labels)
    confusion = {
        g: {p: int(matrix[i][j]) for j, p in enumerate(labels)} for i, g in enumerate(labels)
    }
    not_supported = [i for i, g in enumerate(gold_status) if g != "supported"]
    false_pass = sum(1 for i in not_supported if pred_status[i] == "supported")

    rng = np.random.default_rng(_SEED)
    elements: dict[str, dict[str, Any]] = {}
    all_gold: list[bool] = []
    all_pred: list[bool] = []
    for element in ELEMENTS:
        g = np.array([x.elements[element] for x in golds], dtype=bool)
        p = np.array([bool(x.elements.get(element, False)) for x in preds], dtype=bool)
        all_gold.extend(g.tolist())
        all_pred.extend(p.tolist())
        elements[element] = _element_figures(g, p, rng, bootstrap_rounds)
    micro = f1_of(np.array(all_gold, dtype=bool), np.array(all_pred, dtype=bool))
    # Macro-F1 over the statuses that occur: a status absent from gold and prediction has no
    # F1, and counting it as 0 would sink a small set's score for nothing it got wrong.
    present = [s for s in STATUSES if s in gold_status or s in pred_status]
    right = sum(1 for g, p in zip(gold_status, pred_status, strict=True) if g == p)

    errors = []
    if keep_errors:
        for gold, pred in zip(golds, preds, strict=True):
            wrong = [e for e in ELEMENTS if gold.elements[e] != pred.elements.get(e, False)]
            if gold.status != pred.status or wrong:
                errors.append(
                    {
                        "id": gold.id,
                        "gold_status": gold.status,
                        "predicted_status": pred.status,
                        "gold_would_code": gold.would_code,
                        "predicted_would_code": pred.would_code,
                        "wrong_elements": {
                            e: {"gold": gold.elements[e], "predicted": pred.elements.get(e)}
                            for e in wrong
                        },
                        "error": pred.error,
                        "evidence": [
                            {
                                "element": ev.element,
                                "text": ev.text,
                                "start": ev.start,
                                "assertion": ev.assertion,
                                "counted": ev.counted,
                                "reason": ev.reason,
                                "section": ev.section,
                            }
                            for ev in pred.evidence
                            if ev.element in wrong or ev.element == "named_syndrome"
                        ],
                    }
                )
    return Scores(
        n=n,
        status_accuracy=round(float(accuracy_score(gold_status, pred_status)), 4),
        status_macro_f1=round(
            float(
                f1_score(
                    gold_status, pred_status, labels=present, average="macro", zero_division=0.0
                )
            ),
            4,
        ),
        status_labels=present,
        status_accuracy_ci95=_interval(wilson(right, n)),
        false_pass=false_pass,
        false_pass_rate=_ratio(false_pass, len(not_supported)),
        false_pass_rate_ci95=_interval(wilson(false_pass, len(not_supported))),
        element_micro_f1=None if micro is None else round(micro, 4),
        ci_method={
            "precision": WILSON,
            "recall": WILSON,
            "status_accuracy": WILSON,
            "false_pass_rate": WILSON,
            "f1": f"{BOOTSTRAP} ({bootstrap_rounds} rounds; none under "
            f"{F1_MIN_POSITIVES} positive notes)"
            if bootstrap_rounds
            else "none (--bootstrap 0)",
        },
        elements=elements,
        confusion=confusion,
        chiropractic_accuracy=round(
            float(
                np.mean(
                    [g.chiropractic == p.chiropractic for g, p in zip(golds, preds, strict=True)]
                )
            ),
            4,
        ),
        would_code_accuracy=round(
            float(
                np.mean([g.would_code == p.would_code for g, p in zip(golds, preds, strict=True)])
            ),
            4,
        ),
        errors=errors,
        failed=sum(1 for p in preds if p.error),
    )
