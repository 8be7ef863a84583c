"""docgap: does a clinical note support ICD-10-CM M53.0? If not, why not, and what instead.

>>> import docgap
>>> report = docgap.analyze("Assessment: cervicocranial syndrome ...")  # doctest: +SKIP
>>> report.status, report.gap_keys()  # doctest: +SKIP

``import docgap`` is cheap: the pipeline (spaCy, medspaCy, the ICD-10-CM tables) is imported
the first time an :class:`Analyzer` is built or asked for, so command-line help and report
readers start at once.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from docgap.report import STATUSES, Evidence, Gap, NoteReport

if TYPE_CHECKING:
    from docgap.analyzer import Analyzer
    from docgap.inputs.reading import NoteInput

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
    "drafts",
    "to_frame",
]

# Names resolved on first use (PEP 562): module -> attribute.
_LAZY = {
    "Analyzer": "docgap.analyzer",
    "NoteInput": "docgap.inputs.reading",
    "to_frame": "docgap.frames",
}


def __getattr__(name: str) -> Any:
    """Import the heavy public names only when they are first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'docgap' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


@lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    """The process-wide analyzer with the shipped rules (built on first use)."""
    from docgap.analyzer import Analyzer

    return Analyzer()


def analyze(text: str, note_id: str = "note") -> NoteReport:
    """Analyse one note with the shipped rules."""
    return default_analyzer().analyze(text, note_id)


def drafts(report: NoteReport | dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The compliant query drafts a report calls for and a documentation fix per gap.

    The same ``queries`` and ``fixes`` the service's responses carry (wording from the pack's
    ``queries.yml``; drafts never lead: they never offer back a diagnosis already written).
    """
    from docgap.outputs.queries import documentation_help

    record = report.to_dict() if isinstance(report, NoteReport) else report
    return documentation_help(record)
