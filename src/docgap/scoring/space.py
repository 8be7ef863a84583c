"""The review model's feature space as plain data, applied to a note with numpy alone.

Training fits scikit-learn vectorizers (:mod:`docgap.scoring.features`); scanning must not
pay for importing scikit-learn (about 2 s) nor for its per-call overhead, so this module
holds what applying a fitted space needs and nothing more:

- :func:`report_findings` / :func:`findings_of`: what the rules found, as named numbers,
  read from the JSON record or straight from a :class:`~docgap.report.NoteReport` (one
  function behind both, so the two can never disagree);
- :class:`FeatureSpace`: the fitted findings names, n-gram vocabulary and IDF (JSON data);
- :class:`SparseFeatures`: one note's feature vector as sorted column indices and values,
  computed exactly as scikit-learn's ``DictVectorizer`` + ``TfidfVectorizer`` compute it
  (same tokens, sublinear TF, IDF, L2 norm), with a precomputed vocabulary index.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from docgap.report import NoteReport

__all__ = [
    "FINDINGS",
    "TEXT_PARAMS",
    "WORDS",
    "FeatureSpace",
    "SparseFeatures",
    "findings_of",
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
# scikit-learn's default token_pattern, r"(?u)\b\w\w+\b" (TEXT_PARAMS keeps it), without
# the \b: scanning left to right, a match of \w\w+ starts where a run of word characters
# starts and takes all of it, so the boundaries always hold; they only cost time.
_TOKEN = re.compile(r"\w\w+")
# For ASCII text (nearly every note) \w is [A-Za-z0-9_]: mapping every other ASCII
# character to a space and splitting gives the same tokens, in a third less time.
_ASCII_BREAKS = str.maketrans(
    {chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
)


def _tokens(text: str) -> list[str]:
    """scikit-learn's tokens for ``text``: lowercased, accents stripped, 2+ word chars."""
    lowered = text.lower()
    if lowered.isascii():
        return [w for w in lowered.translate(_ASCII_BREAKS).split() if len(w) > 1]
    return _TOKEN.findall(_strip_accents(lowered))


def _count(value: int) -> float:
    """Counts enter on a log scale: the fifth mention of vertigo says less than the first."""
    return math.log1p(value)


class _Item(NamedTuple):
    element: str
    assertion: str
    counted: bool
    section: str | None
    concept: str
    levels: Iterable[str]


def _findings(
    status: str | None,
    elements: Mapping[str, Any],
    chiropractic: bool,
    query_opportunity: bool,
    gap_keys: Iterable[str],
    evidence: Iterable[_Item],
) -> dict[str, float]:
    features: dict[str, float] = {}
    if status:
        features[f"status={status}"] = 1.0
    for element, present in elements.items():
        features[f"element={element}"] = float(bool(present))
    features["chiropractic"] = float(bool(chiropractic))
    features["query_opportunity"] = float(bool(query_opportunity))
    for key in gap_keys:
        features[f"gap={key}"] = 1.0
    counts: Counter[str] = Counter()
    concepts: dict[str, set[str]] = {}
    levels: set[str] = set()
    for item in evidence:
        element = item.element
        fate = "counted" if item.counted else "rejected"
        counts[f"evidence:{element}:{item.assertion}"] += 1
        counts[f"evidence:{element}:{fate}"] += 1
        if element == "named_syndrome":
            counts[f"syndrome_section:{item.section or 'none'}:{fate}"] += 1
        if item.counted:
            concepts.setdefault(element, set()).add(item.concept)
        levels.update(item.levels)
    for name, value in counts.items():
        features[name] = _count(value)
    for element, found in concepts.items():
        features[f"distinct_concepts:{element}"] = _count(len(found))
    features["levels"] = _count(len(levels))
    return features


def report_findings(report: Mapping[str, Any]) -> dict[str, float]:
    """What the rules found in one note, as named numeric features.

    ``report`` is the JSON record (``NoteReport.to_dict()``). Names come from the record
    itself (elements, assertions, sections, gap keys), so the lexicon decides the space;
    a name never seen in training is ignored when the model is applied.
    """
    return _findings(
        report.get("status"),
        report.get("elements") or {},
        bool(report.get("chiropractic")),
        bool(report.get("query_opportunity")),
        (gap["key"] for gap in report.get("gaps") or ()),
        (
            _Item(e["element"], e["assertion"], e["counted"], e["section"], e["concept"],
                  e.get("levels") or ())
            for e in report.get("evidence") or ()
        ),
    )


def findings_of(report: NoteReport) -> dict[str, float]:
    """:func:`report_findings` read straight off a report, without building its record."""
    return _findings(
        report.status,
        report.elements,
        report.chiropractic,
        report.query_opportunity,
        (gap.key for gap in report.gaps),
        (
            _Item(e.element, e.assertion, e.counted, e.section, e.concept, e.levels)
            for e in report.evidence
        ),
    )


def _strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode``: NFKD, then drop combining marks."""
    normalized = unicodedata.normalize("NFKD", text)
    return "".join(c for c in normalized if not unicodedata.combining(c))


@dataclass(frozen=True)
class SparseFeatures:
    """One note's feature vector: sorted column indices, their values (float64)."""

    indices: np.ndarray
    values: np.ndarray

    def dense(self, size: int) -> np.ndarray:
        """The full vector (for the tree models, which read features by position)."""
        out = np.zeros(size, dtype=np.float64)
        out[self.indices] = self.values
        return out


@dataclass(frozen=True)
class FeatureSpace:
    """A fitted feature transformer as plain data: findings names, n-grams and their IDF."""

    findings: tuple[str, ...]
    vocabulary: tuple[str, ...]
    idf: tuple[float, ...]

    @classmethod
    def from_fitted(cls, transformer: Any) -> FeatureSpace:
        """Read the fitted state of ``features.build_features()``'s ``ColumnTransformer``."""
        vector = transformer.named_transformers_[FINDINGS].named_steps["vector"]
        words = transformer.named_transformers_[WORDS]
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

    def transformer(self) -> Vectorizer:
        """The numpy vectorizer for this space (built once per model, reused per note)."""
        return Vectorizer(self)


class Vectorizer:
    """:class:`FeatureSpace` applied with numpy: the fitted vectorizers' arithmetic, no fit.

    The vocabulary is indexed once: unigrams by a dict, bigrams as integer keys
    ``first * n + second`` over the unigram columns, sorted, so a note's bigrams are found
    with one vectorised ``searchsorted`` instead of one joined string per word pair.
    """

    def __init__(self, space: FeatureSpace) -> None:
        self.size = space.size
        self._findings = {name: i for i, name in enumerate(space.findings)}
        self._offset = offset = len(space.findings)
        self._idf = np.asarray(space.idf, dtype=np.float64)
        self._terms = {term: offset + i for i, term in enumerate(space.vocabulary)}
        self._unigrams = {t: j for t, j in self._terms.items() if " " not in t}
        keys: list[int] = []
        columns: list[int] = []
        self._exact = True
        n = self.size
        for term, j in self._terms.items():
            if " " not in term:
                continue
            first, _, second = term.partition(" ")
            if first not in self._unigrams or second not in self._unigrams:
                # min_df alone cannot make this (a bigram's words occur in at least as
                # many notes as the bigram); another space is applied the slow, sure way.
                self._exact = False
                break
            keys.append(self._unigrams[first] * n + self._unigrams[second])
            columns.append(j)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self._bigram_keys = np.asarray(keys, dtype=np.int64)[order]
        self._bigram_columns = np.asarray(columns, dtype=np.int64)[order]

    def _term_columns(self, text: str) -> np.ndarray:
        """The vocabulary columns of every uni- and bigram occurrence in ``text``."""
        tokens = _tokens(text)
        if not self._exact:
            terms = self._terms
            grams = [*tokens, *(f"{a} {b}" for a, b in pairwise(tokens))]
            return np.fromiter((terms[g] for g in grams if g in terms), dtype=np.int64)
        ids = np.fromiter(map(self._unigrams.get, tokens, repeat(-1)), dtype=np.int64,
                          count=len(tokens))
        first, second = ids[:-1], ids[1:]
        both = (first >= 0) & (second >= 0)
        keys = first[both] * self.size + second[both]
        unigrams = ids[ids >= 0]
        if not len(self._bigram_keys):
            return unigrams
        found = np.minimum(np.searchsorted(self._bigram_keys, keys), len(self._bigram_keys) - 1)
        hit = found[self._bigram_keys[found] == keys]
        return np.concatenate([unigrams, self._bigram_columns[hit]])

    def vector(self, findings: Mapping[str, float], text: str) -> SparseFeatures:
        """One note's features from its findings and its text."""
        known = sorted(
            (self._findings[name], value) for name, value in findings.items()
            if name in self._findings
        )
        columns, counts = np.unique(self._term_columns(text), return_counts=True)
        tf = counts.astype(np.float64)
        np.log(tf, tf)  # sublinear TF, in the same float operations as scikit-learn
        tf += 1.0
        tf *= self._idf[columns - self._offset]
        norm = 0.0
        for value in tf.tolist():  # sequential, as scikit-learn's row normalisation adds
            norm += value * value
        if norm > 0.0:
            tf /= math.sqrt(norm)
        found = np.asarray(known, dtype=np.float64).reshape(-1, 2)
        indices = np.concatenate([found[:, 0].astype(np.int64), columns])
        values = np.concatenate([found[:, 1], tf])
        return SparseFeatures(indices, values)

    def transform(self, reports: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> np.ndarray:
        """Dense rows for a batch of JSON records (training and tests; a scan uses ``vector``)."""
        if len(reports) != len(texts):
            raise ValueError(f"{len(reports)} reports but {len(texts)} texts")
        out = np.zeros((len(texts), self.size), dtype=np.float64)
        for row, (report, text) in enumerate(zip(reports, texts, strict=True)):
            x = self.vector(report_findings(report), text)
            out[row, x.indices] = x.values
        return out
