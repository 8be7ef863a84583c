"""Fitting the review model: cross-validation, model choice, calibration and threshold.

It also writes the files a trained model is made of and the model card's figures.

Reproducible by construction: fixed seeds, one BLAS thread, and JSON written with
shortest-form floats, so the same gold file and the same rules give the same ``model.json``
and ``metadata.json`` byte for byte. :mod:`docgap.scoring.model` loads and applies what this writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from docgap.report import STATUSES
from docgap.scoring.features import FeatureSpace, build_features, feature_frame
from docgap.scoring.model import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_FILE,
    PLOT_FILE,
    ReviewModel,
    library_versions,
)
from docgap.scoring.model_metrics import (
    BOOTSTRAP_ROUNDS,
    choose_threshold,
    log_losses,
    metrics_markdown,
    plot_calibration,
    review_flags,
    summarize,
)

__all__ = [
    "CANDIDATES",
    "Candidate",
    "TrainingError",
    "evaluate",
    "train",
    "update_card",
]

log = logging.getLogger(__name__)

SEED = 20261126
N_SPLITS = 5  # outer cross-validation folds
INNER_SPLITS = 3  # folds inside a training fold that fit a temperature
REPEATS = 2  # the outer cross-validation is repeated with these many shuffles
REVIEW_BUDGET = 0.25  # review flags at most this share of the notes (out of fold)
MIN_STATUSES = 3
_GB_PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 2,
    "subsample": 0.8,
    "max_features": 0.1,
}


class TrainingError(ValueError):
    """The gold file cannot train a model (too few notes of a status, too few statuses)."""


# -- the candidates --------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One model the cross-validation compares: a family, its strength, its calibration."""

    family: Literal["logistic_regression", "gradient_boosting"]
    calibration: Literal["own", "temperature"]
    C: float | None = None  # scikit-learn's name: the inverse of the L2 strength

    @property
    def name(self) -> str:
        """How tables and the metadata name the candidate."""
        strength = f"(C={self.C:g})" if self.C is not None else ""
        how = "" if self.calibration == "own" else " + temperature scaling"
        return f"{self.family}{strength}{how}"

    def estimator(self, inner: Sequence[tuple[np.ndarray, np.ndarray]]) -> Any:
        """The unfitted scikit-learn classifier (``inner``: the calibration folds)."""
        base: Any
        if self.family == "logistic_regression":
            base = LogisticRegression(C=self.C, max_iter=5000, tol=1e-6)
        else:
            base = GradientBoostingClassifier(**_GB_PARAMS, random_state=SEED)
        if self.calibration == "temperature":
            # ensemble=False: one classifier fitted on all the notes it is given, its
            # temperature fitted on the inner folds' out-of-fold scores.
            return CalibratedClassifierCV(
                base, method="temperature", cv=list(inner), ensemble=False
            )
        return base


# Simplest first: the one-standard-error rule picks the first candidate whose log loss is
# not worse than the best by more than the standard error of the paired difference.
CANDIDATES: tuple[Candidate, ...] = (
    *(Candidate("logistic_regression", "own", c) for c in (0.1, 0.3, 1.0, 3.0, 10.0)),
    *(Candidate("logistic_regression", "temperature", c) for c in (1.0, 3.0, 10.0, 30.0)),
    Candidate("gradient_boosting", "own"),
    Candidate("gradient_boosting", "temperature"),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dumps(obj: Any, *, compact: bool = False) -> bytes:
    """Deterministic JSON: the same model gives the same bytes (floats in shortest form)."""
    if compact:  # model.json: tens of thousands of numbers, one line
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(obj, indent=1, ensure_ascii=False)
    return (text + "\n").encode()


# -- training --------------------------------------------------------------------------------
@dataclass
class _Corpus:
    """Labelled notes with the rules' reports: what the model learns from."""

    ids: list[str]
    texts: list[str]
    reports: list[dict[str, Any]]
    gold: np.ndarray  # status indexes
    rules: np.ndarray  # status indexes (the rules' verdicts)
    groups: np.ndarray  # notes with the same text share a group
    parts: list[str | None]
    lexicon_sha256: str


def _read_corpus(gold_path: Path, analyzer: Any) -> _Corpus:
    from docgap.evaluation.scores import load_gold

    notes = list(load_gold(gold_path))
    parts: list[str | None] = []
    with gold_path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                part = json.loads(line).get("part")
                parts.append(str(part) if part is not None else None)
    from docgap.engines.loop import analyze_all
    from docgap.inputs.reading import NoteInput

    reports = []
    for note, report in zip(
        notes, analyze_all(analyzer, (NoteInput(n.id, n.text) for n in notes)), strict=True
    ):
        if report.error is not None:
            raise TrainingError(f"{gold_path}: note {note.id} could not be analysed")
        reports.append(report.to_dict())
    first_of: dict[str, int] = {}
    groups = [first_of.setdefault(" ".join(n.text.lower().split()), i)
              for i, n in enumerate(notes)]
    return _Corpus(
        ids=[n.id for n in notes],
        texts=[n.text for n in notes],
        reports=reports,
        gold=np.asarray([STATUSES.index(n.status) for n in notes]),
        rules=np.asarray([STATUSES.index(r["status"]) for r in reports]),
        groups=np.asarray(groups),
        parts=parts,
        lexicon_sha256=analyzer.lexicon_hash,
    )


def _check_trainable(corpus: _Corpus, source: Path) -> None:
    counts = Counter(STATUSES[g] for g in corpus.gold)
    few = {s: n for s, n in counts.items() if n < N_SPLITS}
    if few:
        raise TrainingError(
            f"{source}: every status in a gold file needs at least {N_SPLITS} notes to be "
            f"cross-validated; too few: {', '.join(f'{s} ({n})' for s, n in sorted(few.items()))}"
        )
    if len(counts) < MIN_STATUSES:
        raise TrainingError(f"{source}: needs notes of at least {MIN_STATUSES} statuses")


def _proba(estimator: Any, x: sp.csr_matrix) -> np.ndarray:
    """Probabilities in ``STATUSES`` columns (a status unseen in training gets zero)."""
    full = np.zeros((x.shape[0], len(STATUSES)))
    full[:, estimator.classes_] = estimator.predict_proba(x)
    return full


def _inner(gold: np.ndarray, groups: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folds = StratifiedGroupKFold(INNER_SPLITS, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(gold)), gold, groups))


def _fit(
    candidate: Candidate, corpus: _Corpus, train: np.ndarray, seed: int
) -> tuple[Any, Any]:
    """Features and classifier fitted on the notes ``train``."""
    features = build_features()
    x = features.fit_transform(
        feature_frame([corpus.reports[i] for i in train], [corpus.texts[i] for i in train])
    )
    clf = candidate.estimator(_inner(corpus.gold[train], corpus.groups[train], seed))
    clf.fit(x, corpus.gold[train])
    return features, clf


def _transform(features: Any, corpus: _Corpus, rows: np.ndarray) -> sp.csr_matrix:
    return features.transform(
        feature_frame([corpus.reports[i] for i in rows], [corpus.texts[i] for i in rows])
    )


def _out_of_fold(
    corpus: _Corpus, candidates: Sequence[Candidate], splits: Sequence[tuple[Any, Any]],
    seed: int,
) -> dict[str, np.ndarray]:
    """Each candidate's predictions for every note from the fold that left it out."""
    n = len(corpus.gold)
    out = {c.name: np.zeros((n, len(STATUSES))) for c in candidates}
    for train, test in splits:
        features = build_features()
        x_train = features.fit_transform(feature_frame(
            [corpus.reports[i] for i in train], [corpus.texts[i] for i in train]))
        x_test = _transform(features, corpus, test)
        inner = _inner(corpus.gold[train], corpus.groups[train], seed)
        for candidate in candidates:
            clf = candidate.estimator(inner).fit(x_train, corpus.gold[train])
            out[candidate.name][test] = _proba(clf, x_test)
    return out


def _select(
    candidates: Sequence[Candidate], losses: Mapping[str, np.ndarray]
) -> tuple[Candidate, list[dict[str, Any]]]:
    """The one-standard-error rule over per-note log losses (paired differences)."""
    best = min(candidates, key=lambda c: float(losses[c.name].mean()))
    table = []
    chosen: Candidate | None = None
    for candidate in candidates:
        diff = losses[candidate.name] - losses[best.name]
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        within = float(diff.mean()) <= se
        if within and chosen is None:
            chosen = candidate
        table.append({
            "candidate": candidate.name,
            "log_loss": round(float(losses[candidate.name].mean()), 4),
            "minus_best": round(float(diff.mean()), 4),
            "se_of_difference": round(se, 4),
            "within_one_se": within,
        })
    assert chosen is not None  # the best is always within one SE of itself
    return chosen, table


def _export_classifier(clf: Any, n_features: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fitted classifier and its calibration as JSON data."""
    beta, method = 1.0, "own"
    if isinstance(clf, CalibratedClassifierCV):
        if len(clf.calibrated_classifiers_) != 1:
            raise ValueError("only a calibration with ensemble=False has one classifier")
        calibrated = clf.calibrated_classifiers_[0]
        beta, method = float(calibrated.calibrators[0].beta_), "temperature"
        clf = calibrated.estimator
    calibration = {"method": method, "beta": beta}
    if isinstance(clf, LogisticRegression):
        return {
            "kind": "logistic_regression",
            "coef": clf.coef_.tolist(),
            "intercept": clf.intercept_.tolist(),
        }, calibration
    stages = []
    for stage in clf.estimators_:
        trees = []
        for regressor in stage:
            tree = regressor.tree_
            value = tree.value[:, 0, 0].astype(np.float64).copy()
            weight = tree.weighted_n_node_samples
            # Inner nodes: the weighted mean of their leaves, so that the values along a
            # path add up to the leaf (per-feature contributions to the score).
            for node in range(tree.node_count - 1, -1, -1):
                left, right = tree.children_left[node], tree.children_right[node]
                if left != -1:
                    value[node] = (weight[left] * value[left] + weight[right] * value[right]) / (
                        weight[left] + weight[right]
                    )
            trees.append({
                "left": tree.children_left.tolist(),
                "right": tree.children_right.tolist(),
                "feature": [int(f) if left != -1 else -1 for f, left in
                            zip(tree.feature, tree.children_left, strict=True)],
                "threshold": tree.threshold.tolist(),
                "value": value.tolist(),
            })
        stages.append(trees)
    # The class priors as raw scores (the same for every note).
    init = clf._raw_predict_init(sp.csr_matrix((1, n_features)))[0]
    return {
        "kind": "gradient_boosting",
        "init": init.tolist(),
        "learning_rate": float(clf.learning_rate),
        "stages": stages,
    }, calibration


def _as_json(features: Any, clf: Any, lexicon_sha256: str, threshold: float) -> dict[str, Any]:
    """A fitted feature transformer and classifier as the ``model.json`` data."""
    space = FeatureSpace.from_fitted(features)
    classifier, calibration = _export_classifier(clf, space.size)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lexicon_sha256": lexicon_sha256,
        "classes": [STATUSES[int(k)] for k in clf.classes_],
        "features": space.to_json(),
        "classifier": classifier,
        "calibration": calibration,
        "review_threshold": threshold,
    }


def _pooled(
    oof: Sequence[np.ndarray], corpus: _Corpus
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The repeats' out-of-fold predictions stacked, with gold, rules and note of each row."""
    n = len(corpus.gold)
    return (
        np.vstack(oof),
        np.tile(corpus.gold, len(oof)),
        np.tile(corpus.rules, len(oof)),
        np.tile(np.arange(n), len(oof)),
    )


def _by_part(
    candidate: Candidate, corpus: _Corpus, threshold: float
) -> dict[str, Any] | None:
    """Leave one source part out: how the model does on notes of a kind it never saw."""
    parts = corpus.parts
    if any(p is None for p in parts) or len(set(parts)) < 2:
        return None
    splits = LeaveOneGroupOut().split(np.zeros(len(parts)), corpus.gold, parts)
    proba = _out_of_fold(corpus, [candidate], list(splits), SEED)[candidate.name]
    summary = summarize(proba, corpus.gold, corpus.rules, threshold, rounds=0)
    per_part = {}
    for part in sorted(set(parts), key=str):
        rows = np.asarray([p == part for p in parts])
        flags = review_flags(proba[rows], corpus.rules[rows], threshold)
        wrong = corpus.gold[rows] != corpus.rules[rows]
        per_part[str(part)] = {
            "notes": int(rows.sum()),
            "log_loss": round(float(log_losses(proba[rows], corpus.gold[rows]).mean()), 4),
            "review_share": round(float(flags.mean()), 4),
            "rule_errors": int(wrong.sum()),
            "rule_errors_flagged": int((flags & wrong).sum()),
        }
    return {
        "scheme": "each part's notes predicted by a model trained on the other parts",
        "figures": {k: v["value"] for k, v in summary["figures"].items()},
        "rule_errors": summary["rule_errors"],
        "flagged_rule_errors": summary["flagged_rule_errors"],
        "parts": per_part,
    }


def train(
    gold_path: Path | str,
    out_dir: Path | str,
    *,
    analyzer: Any = None,
    repeats: int = REPEATS,
    budget: float = REVIEW_BUDGET,
    rounds: int = BOOTSTRAP_ROUNDS,
    plot: bool = True,
) -> dict[str, Any]:
    """Train on a gold file (spec section 6) and write the model, metadata and plot.

    Deterministic: fixed seeds and one BLAS thread, so the same gold file and rules give
    the same ``model.json`` byte for byte. Returns the metadata (cross-validated metrics).
    """
    gold_path, out_dir = Path(gold_path), Path(out_dir)
    if analyzer is None:
        from docgap import default_analyzer

        analyzer = default_analyzer()
    corpus = _read_corpus(gold_path, analyzer)
    _check_trainable(corpus, gold_path)
    n = len(corpus.gold)
    log.info("training on %d notes (%d rule errors)", n, int((corpus.gold != corpus.rules).sum()))
    with threadpool_limits(limits=1):
        oof: dict[str, list[np.ndarray]] = {c.name: [] for c in CANDIDATES}
        for r in range(repeats):
            folds = StratifiedGroupKFold(N_SPLITS, shuffle=True, random_state=SEED + r)
            splits = list(folds.split(np.zeros(n), corpus.gold, corpus.groups))
            for name, proba in _out_of_fold(corpus, CANDIDATES, splits, SEED + r).items():
                oof[name].append(proba)
            log.info("cross-validation repeat %d of %d done", r + 1, repeats)
        losses = {
            name: np.mean([log_losses(p, corpus.gold) for p in runs], axis=0)
            for name, runs in oof.items()
        }
        chosen, table = _select(CANDIDATES, losses)
        proba, gold, rules, notes = _pooled(oof[chosen.name], corpus)
        threshold = choose_threshold(proba, gold, rules, budget)
        summary = summarize(proba, gold, rules, threshold, note_index=notes, rounds=rounds,
                            seed=SEED)
        by_part = _by_part(chosen, corpus, threshold)
        features, clf = _fit(chosen, corpus, np.arange(n), SEED)
        model = _as_json(features, clf, corpus.lexicon_sha256, threshold)
    space = FeatureSpace.from_fitted(features)
    model_bytes = _dumps(model, compact=True)
    metadata = _metadata(
        gold_path, corpus, space, chosen, table, summary, by_part, threshold, budget, repeats,
        model_bytes,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    (out_dir / METADATA_FILE).write_bytes(_dumps(metadata))
    if plot:
        try:
            plot_calibration(summary, out_dir / PLOT_FILE,
                             f"Review model, out-of-fold ({n} notes x {repeats} repeats)")
        except ImportError:
            log.warning("matplotlib is not installed: %s not drawn", PLOT_FILE)
    log.info("chose %s; wrote %s", chosen.name, out_dir)
    return metadata


def _metadata(
    gold_path: Path, corpus: _Corpus, space: FeatureSpace, chosen: Candidate,
    table: list[dict[str, Any]], summary: dict[str, Any], by_part: dict[str, Any] | None,
    threshold: float, budget: float, repeats: int, model_bytes: bytes,
) -> dict[str, Any]:
    figures = summary["figures"]
    return {
        "format": f"{FORMAT}-metadata",
        "format_version": FORMAT_VERSION,
        "model_file": MODEL_FILE,
        "model_sha256": _sha256(model_bytes),
        "lexicon_sha256": corpus.lexicon_sha256,
        "versions": library_versions(),
        "predicts": "calibrated probability of each status (spec section 3) given the rules' "
                    "report and the note's words; score = P(supported)",
        "training_data": {
            "file": gold_path.name,
            "sha256": _sha256(gold_path.read_bytes()),
            "notes": len(corpus.gold),
            "statuses": {s: int((corpus.gold == k).sum()) for k, s in enumerate(STATUSES)},
            "parts": dict(sorted(Counter(str(p) for p in corpus.parts).items())),
            "rules_accuracy": summary["rules_accuracy"],
            "rule_errors": int((corpus.gold != corpus.rules).sum()),
        },
        "features": {
            "findings": len(space.findings),
            "words": len(space.vocabulary),
            "names": space.names,
        },
        "cross_validation": {
            "scheme": f"{N_SPLITS}-fold stratified group k-fold (groups: notes, identical texts "
                      f"together), repeated {repeats} times (seeds {SEED}..{SEED + repeats - 1}); "
                      f"temperature fitted on {INNER_SPLITS} inner folds of each training fold",
            "seed": SEED,
            "selection_rule": "lowest mean out-of-fold log loss, then the one-standard-error "
                              "rule: the first (simplest) candidate whose paired log-loss "
                              "difference to the best is at most its standard error",
            "candidates": table,
            "chosen": chosen.name,
            "metrics": figures,
            "calibration": summary["calibration"],
            "predictions": summary["predictions"],
        },
        "review": {
            "rule": "review = the likeliest status is not the rules' status, or the rules' "
                    "status has probability below the threshold",
            "threshold": threshold,
            "budget": budget,
            "share_flagged": figures["review_share"],
            "rule_errors_caught": figures["rule_errors_caught"],
            "rule_errors": summary["rule_errors"],
            "flagged_rule_errors": summary["flagged_rule_errors"],
            "flagged": summary["flagged"],
        },
        "leave_one_part_out": by_part,
    }


def evaluate(
    model: ReviewModel, gold_path: Path | str, *, analyzer: Any = None,
    rounds: int = BOOTSTRAP_ROUNDS,
) -> dict[str, Any]:
    """The model's figures on a labelled file it was not trained on (e.g. a held-out set)."""
    if analyzer is None:
        from docgap import default_analyzer

        analyzer = default_analyzer()
    corpus = _read_corpus(Path(gold_path), analyzer)
    proba = model.probabilities(corpus.reports, corpus.texts)
    return summarize(proba, corpus.gold, corpus.rules, model.threshold, rounds=rounds, seed=SEED)


CARD_START = "<!-- metrics: generated by `python -m docgap.scoring.model card`; do not edit -->"
CARD_END = "<!-- end of generated metrics -->"


def update_card(model_folder: Path | str, card: Path | str) -> bool:
    """Rewrite the model card's generated metrics from a model's metadata; True if changed."""
    metadata = json.loads((Path(model_folder) / METADATA_FILE).read_text(encoding="utf-8"))
    card = Path(card)
    text = card.read_text(encoding="utf-8")
    head, start, rest = text.partition(CARD_START)
    _, end, tail = rest.partition(CARD_END)
    if not start or not end:
        raise ValueError(f"{card}: the generated-metrics markers are missing")
    new = f"{head}{CARD_START}\n{metrics_markdown(metadata)}{CARD_END}{tail}"
    if new != text:
        card.write_text(new, encoding="utf-8")
    return new != text


