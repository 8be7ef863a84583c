"""Input and output plumbing shared by ``scan`` and ``check``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

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


