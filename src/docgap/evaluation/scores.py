"""Score docgap against gold labels (spec section 6) with scikit-learn's metrics.

The figures a release is judged by: per-element precision/recall/F1 with bootstrap
confidence intervals over notes, status accuracy and macro-F1, the confusion matrix, and
the false "supported" verdicts (the ones that fail audits).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from docgap.packs.registry import pack_info
from docgap.report import STATUSES, NoteReport

__all__ = ["GoldError", "GoldNote", "Scores", "load_gold", "score"]

# The elements a gold label states, as the default pack's pack.yml declares them.
ELEMENTS: tuple[str, ...] = pack_info().elements

_BOOTSTRAP_ROUNDS = 1000
_SEED = 20261126


class GoldError(ValueError):
    """A gold file line that does not follow spec section 6."""


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


def _gold_from(obj: Any, line_no: int, source: str) -> GoldNote:
    where = f"{source}:{line_no}"
    if not isinstance(obj, dict):
        raise GoldError(f"{where}: not a JSON object")
    for key in ("id", "text", "gold"):
        if key not in obj:
            raise GoldError(f"{where}: missing required key {key!r}")
    gold = obj["gold"]
    elements = gold.get("elements", {})
    missing = [e for e in ELEMENTS if not isinstance(elements.get(e), bool)]
    if missing:
        raise GoldError(f"{where}: gold.elements lacks booleans for {', '.join(missing)}")
    if gold.get("status") not in STATUSES:
        raise GoldError(f"{where}: gold.status must be one of {', '.join(STATUSES)}")
    return GoldNote(
        id=str(obj["id"]),
        text=obj["text"],
        elements={e: bool(elements[e]) for e in ELEMENTS},
        chiropractic=bool(gold.get("chiropractic", False)),
        status=gold["status"],
        would_code=gold.get("would_code"),
        setting=obj.get("setting"),
        phenomena=tuple(obj.get("phenomena") or ()),
    )


def load_gold(path: Path) -> Iterator[GoldNote]:
    """Read a gold file (JSON Lines); a malformed line is a :class:`GoldError`."""
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldError(f"{path}:{line_no}: malformed JSON ({exc.msg})") from None
            yield _gold_from(obj, line_no, str(path))


def _prf(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    p, r, f, _ = precision_recall_fscore_support(
        gold, pred, average="binary", pos_label=True, zero_division=0.0
    )
    return float(p), float(r), float(f)


def _bootstrap_ci(
    gold: np.ndarray, pred: np.ndarray, rng: np.random.Generator, rounds: int
) -> dict[str, list[float]]:
    n = len(gold)
    samples: dict[str, list[float]] = {"precision": [], "recall": [], "f1": []}
    for _ in range(rounds):
        idx = rng.integers(0, n, n)
        p, r, f = _prf(gold[idx], pred[idx])
        samples["precision"].append(p)
        samples["recall"].append(r)
        samples["f1"].append(f)
    return {
        k: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
        for k, v in samples.items()
    }


@dataclass
class Scores:
    """Everything ``docgap evaluate`` reports."""

    n: int
    status_accuracy: float
    status_macro_f1: float
    false_pass: int
    false_pass_rate: float
    element_micro_f1: float
    elements: dict[str, dict[str, Any]]
    confusion: dict[str, dict[str, int]]
    chiropractic_accuracy: float
    would_code_accuracy: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable summary (`docgap evaluate --json`)."""
        return {
            "n": self.n,
            "status_accuracy": self.status_accuracy,
            "status_macro_f1": self.status_macro_f1,
            "false_pass": self.false_pass,
            "false_pass_rate": self.false_pass_rate,
            "element_micro_f1": self.element_micro_f1,
            "chiropractic_accuracy": self.chiropractic_accuracy,
            "would_code_accuracy": self.would_code_accuracy,
            "failed": self.failed,
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
        precision, recall, f1 = _prf(g, p)
        elements[element] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(g.sum()),
            "predicted": int(p.sum()),
            "ci95": _bootstrap_ci(g, p, rng, bootstrap_rounds) if bootstrap_rounds else {},
        }
    _, _, micro = _prf(np.array(all_gold), np.array(all_pred))

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
                    gold_status,
                    pred_status,
                    labels=list(STATUSES),
                    average="macro",
                    zero_division=0.0,
                )
            ),
            4,
        ),
        false_pass=false_pass,
        false_pass_rate=round(false_pass / len(not_supported), 4) if not_supported else 0.0,
        element_micro_f1=round(micro, 4),
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
