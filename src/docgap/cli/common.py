"""Input and output plumbing shared by ``scan`` and ``check``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from docgap.inputs.reading import NoteInput, Source
from docgap.outputs.writers import (
    ReportWriter,
    open_writer,
)
from docgap.report import STATUSES, NoteReport

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    from docgap.analyzer import Analyzer

from docgap.cli.base import (
    _fail,
    _notes,
    _say,
)


def _records(sources: list[Source], peek_meta: bool) -> tuple[Iterator[NoteInput], list[str]]:
    """All records in order; with ``peek_meta``, also the meta keys of each source's first.

    The CSV header must be known before the first row, and meta keys differ between inputs
    (a folder's ``source``, a table's extra columns).
    """
    if not peek_meta:
        return chain.from_iterable(s.records() for s in sources), []
    streams: list[Iterable[NoteInput]] = []
    keys: dict[str, None] = {}
    for source in sources:
        records = source.records()
        first = next(records, None)
        if first is not None:
            keys.update(dict.fromkeys(first.meta))
            streams.append(chain([first], records))
    return chain.from_iterable(streams), list(keys)


class _Tally:
    """Counts for the closing summary line."""

    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.failed = 0
        self.warned = 0

    def add(self, report: NoteReport) -> None:
        if report.error is not None:
            self.failed += 1
        else:
            self.status[str(report.status)] += 1
        if report.warnings:
            self.warned += 1

    def line(self, written: int, out: Path | None) -> str:
        statuses = ", ".join(f"{self.status[s]} {s}" for s in STATUSES if self.status[s])
        where = f" to {out}" if out is not None else ""
        return (
            f"{_notes(written)} written{where}: {statuses or 'none analysed'}; "
            f"{self.failed} failed; {self.warned} with warnings"
        )


def _reports(
    records: Iterator[NoteInput], analyzer: Analyzer, workers: int
) -> Iterator[NoteReport]:
    if workers > 1:  # each worker process builds its own analyzer
        from docgap.engines.parallel import analyze_parallel

        options = {"pack": analyzer.pack.name}
        return analyze_parallel(records, workers, analyzer_options=options, analyzer=analyzer)
    from docgap.engines.loop import analyze_all

    return analyze_all(analyzer, records)


def _open_output(
    fmt: str,
    out: Path | None,
    elements: tuple[str, ...],
    meta_keys: list[str],
    append: bool = False,
) -> ReportWriter:
    try:
        return open_writer(fmt, out, elements, meta_keys=meta_keys, append=append)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")


def _detach_stdout() -> None:
    """After a closed pipe (``docgap scan | head``): no more writes, no noise at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _check_out_path(out: Path | None, inputs: Iterable[str]) -> None:
    """Refuse an output that would destroy an input or cannot be created (before any work)."""
    if out is None:
        return
    for item in inputs:
        if item == "-":
            continue
        with contextlib.suppress(OSError):
            if out.exists() and Path(item).samefile(out):
                _fail(f"--out {out} is also an input: writing it would destroy the notes")
    parent = out.parent
    with contextlib.suppress(OSError):
        if parent.exists() and not parent.is_dir():
            _fail(f"cannot write {out}: {parent} is a file, not a folder")


_NOT_NOTES_HINT = {
    ".json": "FHIR JSON? use --input-format fhir",
    ".ndjson": "FHIR NDJSON? use --input-format fhir",
    ".pdf": "convert to text first",
    ".docx": "convert to text first",
    ".doc": "convert to text first",
    ".rtf": "convert to text first",
}


def _say_skipped(sources: list[Source]) -> None:
    """Name, by suffix, the files of a folder that were not read as notes, and why."""
    for source in sources:
        if not source.skipped:
            continue
        total = sum(source.skipped.values())
        kinds = ", ".join(
            f"{n} {suffix}" + (f" ({_NOT_NOTES_HINT[suffix]})" if suffix in _NOT_NOTES_HINT else "")
            for suffix, n in sorted(source.skipped.items())
        )
        _say(
            f"{source.name}: skipped {total:,} file{'' if total == 1 else 's'} that are not "
            f".txt notes: {kinds}"
        )


def _no_notes(sources: list[Source]) -> NoReturn:
    """Nothing in the inputs was a note: an unusable input (exit 2), in scan and check."""
    _say_skipped(sources)
    _fail("no notes found in the inputs")
