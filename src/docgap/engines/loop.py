"""The one analysis loop: analyse each record, or make its failure record, and go on.

Every engine (the CLI's local scan, the parallel workers, Spark's partitions, the service,
evaluation and training) runs notes through :func:`analyze_one` / :func:`analyze_all`, so a
record that cannot be analysed becomes the same error record everywhere, with its warnings
and metadata kept, and nothing else about the run changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from docgap.inputs.reading import NoteInput
from docgap.report import NoteReport

if TYPE_CHECKING:
    from docgap.analyzer import Analyzer

__all__ = ["NoteHook", "analyze_all", "analyze_one", "failure_report"]

log = logging.getLogger(__name__)

#: Called with each record before it is analysed (tests use it to inject faults).
NoteHook = Callable[[NoteInput], None]


def failure_report(
    note: NoteInput, error: str, elements: Iterable[str] = ()
) -> NoteReport:
    """The error record of a note that could not be analysed (its warnings and meta kept)."""
    return NoteReport.failed(
        note.note_id,
        error,
        elements=tuple(elements),
        text_length=len(note.text or ""),
        warnings=note.warnings,
        meta=note.meta,
    )


def analyze_one(analyzer: Analyzer, note: NoteInput, hook: NoteHook | None = None) -> NoteReport:
    """One record's report; an unexpected failure becomes its error record, never an exception.

    ``KeyboardInterrupt`` and ``SystemExit`` pass through: they stop the run, not the note.
    """
    try:
        if hook is not None:
            hook(note)
        return analyzer.analyze_input(note)
    except Exception as exc:
        # The exception text may quote the note: only its type is kept (PHI).
        log.error("note analysis failed (%s)", type(exc).__name__)
        report = failure_report(
            note, f"analysis failed ({type(exc).__name__})", analyzer.pack.elements
        )
        # Made by these rules even though it failed (an analyzer stand-in may have none).
        report.provenance = getattr(analyzer, "provenance", None)
        return report


def analyze_all(
    analyzer: Analyzer, records: Iterable[NoteInput], hook: NoteHook | None = None
) -> Iterator[NoteReport]:
    """Each record's report, lazily and in input order: every record appears exactly once."""
    for note in records:
        yield analyze_one(analyzer, note, hook)
