"""The review-priority model: calibrated status probabilities that order the CDI worklist.

The rules decide each note's status; this model, trained on gold-labelled notes, says how
likely each status is given what the rules found and the note's words. It gives every
report a ``score`` (the probability that the note supports M53.0 as documented), a
``review`` flag (the model's likeliest status is not the rules', or the rules' status is
unlikely) and the features behind the score.

A model is two JSON files: ``model.json`` (the fitted vocabulary, IDF, coefficients or
trees, calibration and review threshold: plain data, so loading runs no code) and
``metadata.json`` (its provenance: library versions, the lexicon hash, the training data's
hash, the feature names, the cross-validated metrics and the hash of ``model.json``). A
model that is missing, damaged, modified or built for other rules is refused with a
warning, and docgap reports the rules' verdict alone.

This module applies a model with numpy alone (scikit-learn is imported only to train:
:mod:`docgap.scoring.training`); a scan pays neither its import nor its per-call overhead.
Train: ``docgap train corpus/training.jsonl --out models/review`` (:mod:`docgap.scoring.training`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docgap.report import STATUSES, NoteReport
from docgap.scoring.space import FeatureSpace, SparseFeatures, findings_of, report_findings

__all__ = [
    "DEFAULT_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "PLOT_FILE",
    "TOP_FEATURES",
    "ReviewModel",
    "library_versions",
    "load_default_model",
    "load_model",
]

log = logging.getLogger(__name__)

DEFAULT_NAME = "review"  # the shipped model: <model_dir()>/review/
MODEL_FILE = "model.json"
METADATA_FILE = "metadata.json"
PLOT_FILE = "calibration.png"
FORMAT = "docgap-review-model"
FORMAT_VERSION = 1
TOP_FEATURES = 5
_SUPPORTED = "supported"


# -- the JSON form -------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Linear(_Strict):
    kind: Literal["logistic_regression"]
    coef: list[list[float]]
    intercept: list[float]


class _Tree(_Strict):
    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    value: list[float]  # leaves: the fitted value; inner nodes: the mean of their leaves


class _Boosting(_Strict):
    kind: Literal["gradient_boosting"]
    init: list[float]
    learning_rate: float
    stages: list[list[_Tree]]  # stage -> one tree per class


class _Calibration(_Strict):
    method: Literal["own", "temperature"]
    beta: float = Field(gt=0)  # inverse temperature: probabilities = softmax(beta * logits)


class _ModelFile(_Strict):
    format: Literal["docgap-review-model"]
    format_version: Literal[1]
    lexicon_sha256: str
    classes: list[str]
    features: dict[str, Any]
    classifier: Annotated[_Linear | _Boosting, Field(discriminator="kind")]
    calibration: _Calibration
    review_threshold: float = Field(ge=0, le=1.000001)


def _check_shapes(data: _ModelFile, n_features: int) -> None:
    k = len(data.classes)
    if len(set(data.classes)) != k or not set(data.classes) <= set(STATUSES) or k < 2:
        raise ValueError("classes are not distinct statuses")
    clf = data.classifier
    if isinstance(clf, _Linear):
        if len(clf.coef) != k or len(clf.intercept) != k:
            raise ValueError("coefficients do not match the classes")
        if any(len(row) != n_features for row in clf.coef):
            raise ValueError("coefficients do not match the features")
        return
    if len(clf.init) != k or any(len(stage) != k for stage in clf.stages):
        raise ValueError("trees do not match the classes")
    for stage in clf.stages:
        for tree in stage:
            n = len(tree.left)
            if not n or any(len(a) != n for a in (tree.right, tree.feature, tree.threshold,
                                                  tree.value)):
                raise ValueError("a tree's arrays differ in length")
            for i in range(n):
                inner = tree.left[i] != -1
                # Children come after their parent, so walking a tree always ends.
                if inner and not (
                    i < tree.left[i] < n and i < tree.right[i] < n
                    and 0 <= tree.feature[i] < n_features
                ):
                    raise ValueError("a tree has an invalid node")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, in the same operations as scikit-learn's ``extmath.softmax``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


def _display(name: str) -> str:
    """A column name as a reader sees it: rules findings bare, n-grams quoted."""
    block, _, feature = name.partition("__")
    return f'text:"{feature}"' if block == "words" else feature


class ReviewModel:
    """A loaded review model: status probabilities, score, review flag and top features."""

    def __init__(self, data: Mapping[str, Any], metadata: Mapping[str, Any] | None = None):
        parsed = _ModelFile.model_validate(data)
        self.space = FeatureSpace.from_json(parsed.features)
        _check_shapes(parsed, self.space.size)
        self.classes: tuple[str, ...] = tuple(parsed.classes)
        self.threshold = float(parsed.review_threshold)
        self.beta = float(parsed.calibration.beta)
        self.lexicon_sha256 = parsed.lexicon_sha256
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._features = self.space.transformer()
        self._names = [_display(n) for n in self.space.names]
        self._columns = [STATUSES.index(c) for c in self.classes]
        self._clf = parsed.classifier
        self._supported = self.classes.index(_SUPPORTED)
        if isinstance(parsed.classifier, _Linear):
            self._coef = np.asarray(parsed.classifier.coef, dtype=np.float64)
            self._intercept = np.asarray(parsed.classifier.intercept, dtype=np.float64)
            # Each feature's push on the supported logit, centred over classes, once.
            self._push = self.beta * (self._coef[self._supported] - self._coef.mean(axis=0))

    # ------------------------------------------------------------------ the arithmetic
    def _logits(self, x: SparseFeatures) -> np.ndarray:
        """Raw class scores before calibration (one per class of ``self.classes``)."""
        if isinstance(self._clf, _Linear):
            # The one sparse product: only the note's present columns are read.
            return np.asarray(self._coef[:, x.indices] @ x.values) + self._intercept
        raw = np.asarray(self._clf.init, dtype=np.float64).copy()
        dense = x.dense(self.space.size).astype(np.float32)  # the trees compare float32
        for stage in self._clf.stages:
            for k, tree in enumerate(stage):
                raw[k] += self._clf.learning_rate * tree.value[_leaf(tree, dense)]
        return raw

    def _top(self, x: SparseFeatures) -> list[tuple[int, float, float]]:
        """``(column, value, effect)`` of the strongest pushes, largest first (ties: column)."""
        if isinstance(self._clf, _Linear):
            columns, values = x.indices, x.values
            effects = values * self._push[columns]
        else:
            pushes = self._contributions(x)
            columns = np.fromiter(pushes, dtype=np.int64, count=len(pushes))
            effects = np.fromiter(pushes.values(), dtype=np.float64, count=len(pushes))
            values = x.dense(self.space.size)[columns]
        order = np.lexsort((columns, -np.abs(effects)))[:TOP_FEATURES]
        return list(zip(columns[order].tolist(), values[order].tolist(),
                        effects[order].tolist(), strict=True))

    def _contributions(self, x: SparseFeatures) -> dict[int, float]:
        """Each present feature's push on the ``supported`` logit (tree models)."""
        clf = self._clf
        assert isinstance(clf, _Boosting)  # the linear model's pushes are in _top
        k = self._supported
        dense = x.dense(self.space.size).astype(np.float32)
        push_all = np.zeros((len(self.classes), self.space.size))
        for stage in clf.stages:
            for c, tree in enumerate(stage):
                node = 0
                while tree.left[node] != -1:
                    feature = tree.feature[node]
                    child = _step(tree, node, dense)
                    push_all[c, feature] += clf.learning_rate * (
                        tree.value[child] - tree.value[node]
                    )
                    node = child
        centred_push = self.beta * (push_all[k] - push_all.mean(axis=0))
        return {int(j): float(centred_push[j]) for j in np.flatnonzero(centred_push)}

    def probabilities(
        self, reports: Sequence[Mapping[str, Any]], texts: Sequence[str]
    ) -> np.ndarray:
        """Calibrated probabilities, one row per note, columns in ``STATUSES`` order."""
        if len(reports) != len(texts):
            raise ValueError(f"{len(reports)} reports but {len(texts)} texts")
        full = np.zeros((len(texts), len(STATUSES)))
        for row, (report, text) in enumerate(zip(reports, texts, strict=True)):
            x = self._features.vector(report_findings(report), text)
            full[row, self._columns] = _softmax(self.beta * self._logits(x))
        return full

    def predict(self, report: Mapping[str, Any] | NoteReport, text: str) -> dict[str, Any]:
        """``score``, ``review``, ``status_probabilities`` and ``top_features`` for a note.

        A note the rules could not analyse (``error``, no status) gets ``score`` null and
        no flag: it is already reported as an error. A :class:`NoteReport` is read
        directly (as :meth:`predict_report`), a JSON record through its keys.
        """
        if isinstance(report, NoteReport):
            return self.predict_report(report, text)
        status = report.get("status")
        if report.get("error") is not None or status not in STATUSES:
            return _UNSCORED | {"top_features": []}
        return self._view(report_findings(report), str(status), text)

    def predict_report(self, report: NoteReport, text: str) -> dict[str, Any]:
        """:meth:`predict` for a report as the analyzer holds it: no ``to_dict`` record."""
        if report.error is not None or report.status not in STATUSES:
            return _UNSCORED | {"top_features": []}
        return self._view(findings_of(report), report.status, text)

    def _view(self, findings: Mapping[str, float], status: str, text: str) -> dict[str, Any]:
        x = self._features.vector(findings, text)
        proba = _softmax(self.beta * self._logits(x))
        full = dict.fromkeys(STATUSES, 0.0)
        for c, p in zip(self.classes, proba.tolist(), strict=True):
            full[c] = float(p)
        # review_flags (model_metrics) for one note: the likeliest status is not the
        # rules', or the rules' status is unlikely. max() keeps the first of equals, as
        # argmax does.
        likeliest = max(STATUSES, key=full.__getitem__)
        flagged = likeliest != status or full[status] < self.threshold
        return {
            "score": round(full[_SUPPORTED], 4),
            "review": flagged,
            "status_probabilities": {s: round(p, 4) for s, p in full.items()},
            "top_features": [
                {"feature": self._names[j], "value": round(value, 4),
                 "effect": round(effect, 4)}
                for j, value, effect in self._top(x)
            ],
        }


_UNSCORED: dict[str, Any] = {"score": None, "review": False, "status_probabilities": None}


def _step(tree: _Tree, node: int, x: np.ndarray) -> int:
    return tree.left[node] if x[tree.feature[node]] <= tree.threshold[node] else tree.right[node]


def _leaf(tree: _Tree, x: np.ndarray) -> int:
    node = 0
    while tree.left[node] != -1:
        node = _step(tree, node, x)
    return node


# -- loading ---------------------------------------------------------------------------------
def _major(text: str) -> str:
    return text.split(".", 1)[0]


def library_versions() -> dict[str, str]:
    """The versions a model records and is checked against when it is loaded."""
    names = ("docgap", "scikit-learn", "numpy", "scipy")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - a bare source tree
            found[name] = "unknown"
    found["python"] = platform.python_version()
    return found


def _refuse(where: Path, why: str) -> None:
    log.warning(
        "review model at %s not used: %s; reporting the rules' verdict only (score null)",
        where, why,
    )


def load_model(directory: Path | str, *, lexicon_sha256: str | None = None) -> ReviewModel | None:
    """Load a trained model, or warn (``docgap`` logger) and return ``None``.

    Refused: missing or unreadable files, a ``model.json`` whose hash is not the one its
    metadata records (modified or damaged), a model trained with other rules (lexicon hash)
    or another scikit-learn major version, and anything that is not a valid model file.
    ``lexicon_sha256`` is the hash of the rules in use (default: the shipped lexicon's).
    """
    where = Path(directory)
    try:
        raw_meta = (where / METADATA_FILE).read_bytes()
        raw_model = (where / MODEL_FILE).read_bytes()
    except FileNotFoundError as exc:
        _refuse(where, f"{Path(str(exc.filename)).name} is missing")
        return None
    except OSError as exc:
        _refuse(where, f"cannot read it ({exc.strerror or type(exc).__name__})")
        return None
    try:
        metadata = json.loads(raw_meta)
        recorded = metadata["model_sha256"]
        trained_with = metadata["lexicon_sha256"]
        trained_sklearn = metadata["versions"]["scikit-learn"]
    except (ValueError, KeyError, TypeError):
        _refuse(where, f"{METADATA_FILE} is not valid metadata")
        return None
    if _sha256(raw_model) != recorded:
        _refuse(where, f"{MODEL_FILE} does not match the hash in {METADATA_FILE} "
                       "(modified or damaged)")
        return None
    if lexicon_sha256 is None:
        from docgap.rules.lexicon import load_lexicon

        lexicon_sha256 = load_lexicon().sha256
    if trained_with != lexicon_sha256:
        _refuse(where, f"it was trained with other rules (lexicon {str(trained_with)[:12]}, "
                       f"in use {lexicon_sha256[:12]}); retrain it with 'docgap train'")
        return None
    ours = library_versions()["scikit-learn"]
    if _major(str(trained_sklearn)) != _major(ours):
        _refuse(where, f"it was trained with scikit-learn {trained_sklearn}, this is {ours}")
        return None
    try:
        model = ReviewModel(json.loads(raw_model), metadata)
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        _refuse(where, f"{MODEL_FILE} is not a valid model ({type(exc).__name__})")
        return None
    if model.lexicon_sha256 != trained_with:
        _refuse(where, f"{MODEL_FILE} and {METADATA_FILE} name different lexicons")
        return None
    return model


def load_default_model(*, lexicon_sha256: str | None = None) -> ReviewModel | None:
    """The shipped model (``<model_dir()>/review``), or ``None`` with a warning."""
    from docgap.resources import ResourceNotFoundError, model_dir

    try:
        root = model_dir()
    except ResourceNotFoundError as exc:
        log.warning("no review model: %s; reporting the rules' verdict only (score null)", exc)
        return None
    return load_model(root / DEFAULT_NAME, lexicon_sha256=lexicon_sha256)
