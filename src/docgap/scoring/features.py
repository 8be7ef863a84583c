"""The review model's features, built in one place from a note's report and its text.

Two blocks, side by side: what the rules found (:func:`report_findings`: the status, each
element's mentions by assertion and whether they counted, where the named syndrome stands,
the gaps) and TF-IDF word n-grams over the note, which can catch what the lexicons miss.
Training fits :func:`build_features`, a scikit-learn ``ColumnTransformer`` over a frame of
``report`` (the ``NoteReport.to_dict()`` record) and ``text`` columns.
:class:`FeatureSpace` is the fitted transformer as plain JSON data, so a shipped model is
read without unpickling anything and transforms a note exactly as the fitted one does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

__all__ = [
    "FINDINGS",
    "TEXT_PARAMS",
    "WORDS",
    "FeatureSpace",
    "ReportFindings",
    "build_features",
    "feature_frame",
    "report_findings",
]

FINDINGS = "findings"
WORDS = "words"
# The word n-gram block. An n-gram must occur in two training notes (min_df) so that a
# phrase unique to one note (a name, a date) does not become a feature of the model.
TEXT_PARAMS: dict[str, Any] = {
    "lowercase": True,
    "strip_accents": "unicode",
    "ngram_range": (1, 2),
    "min_df": 2,
    "sublinear_tf": True,
    "norm": "l2",
    "use_idf": True,
    "smooth_idf": True,
}


def _count(value: int) -> float:
    """Counts enter on a log scale: the fifth mention of vertigo says less than the first."""
    return math.log1p(value)


def report_findings(report: Mapping[str, Any]) -> dict[str, float]:
    """What the rules found in one note, as named numeric features.

    ``report`` is the JSON record (``NoteReport.to_dict()``). Names come from the record
    itself (elements, assertions, sections, gap keys), so the lexicon decides the space;
    a name never seen in training is ignored when the model is applied.
    """
    features: dict[str, float] = {}
    status = report.get("status")
    if status:
        features[f"status={status}"] = 1.0
    for element, present in (report.get("elements") or {}).items():
        features[f"element={element}"] = float(bool(present))
    features["chiropractic"] = float(bool(report.get("chiropractic")))
    features["query_opportunity"] = float(bool(report.get("query_opportunity")))
    for gap in report.get("gaps") or ():
        features[f"gap={gap['key']}"] = 1.0
    counts: Counter[str] = Counter()
    concepts: dict[str, set[str]] = {}
    levels: set[str] = set()
    for item in report.get("evidence") or ():
        element = item["element"]
        fate = "counted" if item["counted"] else "rejected"
        counts[f"evidence:{element}:{item['assertion']}"] += 1
        counts[f"evidence:{element}:{fate}"] += 1
        if element == "named_syndrome":
            counts[f"syndrome_section:{item['section'] or 'none'}:{fate}"] += 1
        if item["counted"]:
            concepts.setdefault(element, set()).add(item["concept"])
        levels.update(item.get("levels") or ())
    for name, value in counts.items():
        features[name] = _count(value)
    for element, found in concepts.items():
        features[f"distinct_concepts:{element}"] = _count(len(found))
    features["levels"] = _count(len(levels))
    return features


class ReportFindings(TransformerMixin, BaseEstimator):
    """Report records -> feature dicts (stateless; a ``DictVectorizer`` names the columns)."""

    def fit(self, X: Iterable[Mapping[str, Any]], y: Any = None) -> ReportFindings:  # noqa: N803
        """Nothing to learn: the features are read off each report."""
        return self

    def transform(self, X: Iterable[Mapping[str, Any]]) -> list[dict[str, float]]:  # noqa: N803
        """One feature dict per report."""
        return [report_findings(report) for report in X]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The dicts' keys are named by the ``DictVectorizer`` that follows."""
        return np.asarray(["report"], dtype=object)


def build_features() -> ColumnTransformer:
    """The unfitted feature transformer over a :func:`feature_frame` (always sparse)."""
    findings = Pipeline(
        [("findings", ReportFindings()), ("vector", DictVectorizer(sort=True))]
    )
    return ColumnTransformer(
        [(FINDINGS, findings, "report"), (WORDS, TfidfVectorizer(**TEXT_PARAMS), "text")],
        sparse_threshold=1.0,
    )


def feature_frame(reports: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> pd.DataFrame:
    """The two input columns the feature transformer reads."""
    if len(reports) != len(texts):
        raise ValueError(f"{len(reports)} reports but {len(texts)} texts")
    return pd.DataFrame({"report": list(reports), "text": list(texts)})


@dataclass(frozen=True)
class FeatureSpace:
    """A fitted feature transformer as plain data: findings names, n-grams and their IDF."""

    findings: tuple[str, ...]
    vocabulary: tuple[str, ...]
    idf: tuple[float, ...]

    @classmethod
    def from_fitted(cls, transformer: ColumnTransformer) -> FeatureSpace:
        """Read the fitted state of :func:`build_features`'s transformer."""
        vector: DictVectorizer = transformer.named_transformers_[FINDINGS].named_steps["vector"]
        words: TfidfVectorizer = transformer.named_transformers_[WORDS]
        order = sorted(words.vocabulary_.items(), key=lambda item: item[1])
        return cls(
            findings=tuple(str(name) for name in vector.feature_names_),
            vocabulary=tuple(term for term, _ in order),
            idf=tuple(float(v) for v in words.idf_),
        )

    @property
    def names(self) -> list[str]:
        """Column names, in the fitted transformer's own order and spelling."""
        return [f"{FINDINGS}__{n}" for n in self.findings] + [
            f"{WORDS}__{t}" for t in self.vocabulary
        ]

    @property
    def size(self) -> int:
        """How many columns a note's feature vector has."""
        return len(self.findings) + len(self.vocabulary)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (parameters are recorded so a loader can check they still hold)."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in TEXT_PARAMS.items()}
        return {
            "findings": list(self.findings),
            "text_params": params,
            "vocabulary": list(self.vocabulary),
            "idf": list(self.idf),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpace:
        """Rebuild from :meth:`to_json`; a mismatch is a ``ValueError``, never a guess."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in TEXT_PARAMS.items()}
        if data.get("text_params") != params:
            raise ValueError("the model's text features were built with other parameters")
        vocabulary = tuple(str(t) for t in data["vocabulary"])
        idf = tuple(float(v) for v in data["idf"])
        if len(vocabulary) != len(idf) or len(set(vocabulary)) != len(vocabulary):
            raise ValueError("the model's vocabulary and IDF do not match")
        return cls(tuple(str(n) for n in data["findings"]), vocabulary, idf)

    def transformer(self) -> _Applied:
        """A transformer for notes, built from this data (no fitting, no unpickling)."""
        return _Applied(self)


class _Applied:
    """:class:`FeatureSpace` applied with scikit-learn's own vectorizers, fitted by assignment."""

    def __init__(self, space: FeatureSpace) -> None:
        self._vector = DictVectorizer(sort=True)
        self._vector.feature_names_ = list(space.findings)
        self._vector.vocabulary_ = {name: i for i, name in enumerate(space.findings)}
        self._words = TfidfVectorizer(
            **TEXT_PARAMS, vocabulary={term: i for i, term in enumerate(space.vocabulary)}
        )
        self._words.idf_ = np.asarray(space.idf, dtype=np.float64)

    def transform(
        self, reports: Sequence[Mapping[str, Any]], texts: Sequence[str]
    ) -> sp.csr_matrix:
        """The same matrix the fitted ``ColumnTransformer`` gives for these notes."""
        findings = self._vector.transform([report_findings(r) for r in reports])
        words = self._words.transform(list(texts))
        return sp.hstack([findings, words], format="csr", dtype=np.float64)
