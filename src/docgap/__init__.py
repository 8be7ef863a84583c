"""docgap: does a clinical note support ICD-10-CM M53.0? If not, why not, and what instead.

>>> import docgap
>>> report = docgap.analyze("Assessment: cervicocranial syndrome ...")  # doctest: +SKIP
>>> report.status, report.gap_keys()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from docgap.analyzer import Analyzer
from docgap.inputs.reading import NoteInput
from docgap.report import STATUSES, Evidence, Gap, NoteReport

try:
    __version__ = version("docgap")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "STATUSES",
    "Analyzer",
    "Evidence",
    "Gap",
    "NoteInput",
    "NoteReport",
    "__version__",
    "analyze",
    "default_analyzer",
]


@lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    """The process-wide analyzer with the shipped rules (built on first use)."""
    return Analyzer()


def analyze(text: str, note_id: str = "note") -> NoteReport:
    """Analyse one note with the shipped rules."""
    return default_analyzer().analyze(text, note_id)
