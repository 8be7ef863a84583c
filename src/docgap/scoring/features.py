"""The review model's features, built in one place from a note's report and its text.

Two blocks, side by side: what the rules found (:func:`report_findings`: the status, each
element's mentions by assertion and whether they counted, where the named syndrome stands,
the gaps) and TF-IDF word n-grams over the note, which can catch what the lexicons miss.
Training fits :func:`build_features`, a scikit-learn ``ColumnTransformer`` over a frame of
``report`` (the ``NoteReport.to_dict()`` record) and ``text`` columns. This module is for
training only (it imports scikit-learn and pandas); what applying a model needs
(:func:`report_findings`, :class:`FeatureSpace`, the numpy vectorizer) lives in
:mod:`docgap.scoring.space` and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from docgap.scoring.space import (
    FINDINGS,
    TEXT_PARAMS,
    WORDS,
    FeatureSpace,
    report_findings,
)

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
