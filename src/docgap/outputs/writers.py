"""Write reports as they are produced: JSON Lines, CSV or Parquet, to a file or stdout.

A scan over a large corpus must neither hold every report in memory nor lose what it has
written when it is interrupted, so every writer writes (and flushes) record by record, or
in small batches for Parquet, and is a context manager that closes cleanly on any exit.

The JSON Lines record is :meth:`NoteReport.to_dict` unchanged (spec section 5). CSV and
Parquet flatten it to one row per note; their columns come from the field table
(:mod:`docgap.schema`): :func:`flat_columns` for CSV, :meth:`ParquetWriter.schema` for Parquet.
Every value passes :func:`docgap.outputs.sanitize.clean_value` first: NaN and Infinity from
input fields are written as ``null`` (an empty CSV cell), lone surrogates as U+FFFD.

Failures and signals:

* an output that cannot be opened or written (``/dev/full``, a parent that is a file, a
  read-only folder) raises :class:`OutputError`, an ``OSError`` whose message is one line
  naming the path and the reason (never a note's text);
* while a writer is open as a context manager in the main thread, SIGTERM raises
  ``KeyboardInterrupt`` as SIGINT does (:func:`sigterm_as_interrupt`), so a terminated scan
  closes its writer the same way an interrupted one does;
* JSON Lines and CSV reach the file line by line: a killed run leaves every complete line
  (``scan --resume`` drops a cut last line);
* Parquet is written to a hidden temporary file beside the target and renamed over it when
  the writer closes, also on SIGINT/SIGTERM (the row groups written so far and the footer:
  a readable partial report). After ``kill -9`` (nothing can run) the previous file at the
  target, if any, is intact, and the partial ``.<name>.partial-<pid>`` file is left beside it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import os
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from docgap.outputs.sanitize import clean_value
from docgap.report import NoteReport
from docgap.schema import REPORT_FIELDS, arrow_row, arrow_schema, csv_columns, csv_row

__all__ = [
    "OUTPUT_FORMATS",
    "CsvWriter",
    "JsonlWriter",
    "OutputError",
    "ParquetWriter",
    "ReportFileError",
    "ReportWriter",
    "flat_columns",
    "flat_row",
    "is_report_file",
    "open_writer",
    "output_errors",
    "read_note_reports",
    "read_reports",
    "sigterm_as_interrupt",
]

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")


class OutputError(OSError):
    """An output that cannot be written as asked (Parquet to stdout, a full disk, ...).

    ``str(exc)`` is one line naming the output and the reason; ``exc.strerror`` is the
    reason alone (what ``cannot write PATH: <reason>`` messages append).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.strerror = reason or message

    def __str__(self) -> str:
        return self.message


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def _output_error(path: Path, exc: OSError) -> OutputError:
    """``exc`` as one clear line about ``path`` (a parent that is a file says so)."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                reason = f"{parent} is a file, not a folder"
                return OutputError(f"cannot write {path}: {reason}", reason)
    reason = _REASONS.get(exc.errno or -1) or (exc.strerror or type(exc).__name__).lower()
    return OutputError(f"cannot write {path}: {reason}", reason)


@contextlib.contextmanager
def output_errors(path: Path | None) -> Iterator[None]:
    """Turn an ``OSError`` on the file ``path`` into :class:`OutputError` (stdout: as is).

    For every writer of an output (the HTML report too): one clear line, never
    ``internal error (OSError)``.
    """
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        if path is None:
            raise  # stdout: BrokenPipeError is how `docgap scan | head` ends
        raise _output_error(path, exc) from None


def _make_parent(path: Path) -> None:
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While open, SIGTERM raises ``KeyboardInterrupt`` as SIGINT does (main thread only).

    A handler someone else installed is kept. Every writer's ``with`` block opens this, so
    a command that writes through a writer needs nothing else to handle SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, AttributeError):  # no SIGTERM here
        yield
        return
    if previous not in (signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _clean_report(report: NoteReport) -> NoteReport:
    """``report`` with its input-derived meta made writable (see the module docstring)."""
    if not report.meta:
        return report
    return dataclasses.replace(report, meta=clean_value(report.meta))


class ReportFileError(ValueError):
    """A file that is not a JSON Lines report written by ``docgap scan``."""


def _is_stdout(out: str | Path | None) -> bool:
    return out is None or str(out) == "-"


def flat_columns(elements: Sequence[str], meta_keys: Sequence[str] = ()) -> list[str]:
    """The CSV header: the field table's columns, one boolean per element, then meta columns."""
    return csv_columns(elements, meta_keys)


def flat_row(
    report: NoteReport, elements: Sequence[str], meta_keys: Sequence[str] = ()
) -> dict[str, Any]:
    """One report as a flat row keyed by :func:`flat_columns` (values not yet stringified)."""
    return csv_row(report, elements, meta_keys)


class ReportWriter(ABC):
    """Writes reports one at a time; ``count`` says how many are safely written."""

    def __init__(self) -> None:
        self.count = 0
        self._signals: contextlib.ExitStack | None = None

    def write(self, report: NoteReport) -> None:
        """Write one report (a JSON Lines or CSV line reaches the file at once)."""
        self._write(report)
        self.count += 1

    @abstractmethod
    def _write(self, report: NoteReport) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Flush what is buffered and release the output (idempotent)."""

    def __enter__(self) -> ReportWriter:
        self._signals = contextlib.ExitStack()
        self._signals.enter_context(sigterm_as_interrupt())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        finally:
            if self._signals is not None:
                self._signals.close()
                self._signals = None


class _TextWriter(ReportWriter):
    """Shared plumbing: a UTF-8 text stream on a file or on stdout."""

    def __init__(self, out: str | Path | None, *, append: bool = False) -> None:
        super().__init__()
        self._to_stdout = _is_stdout(out)
        self._path: Path | None = None
        self._handle: IO[str] | None
        if self._to_stdout:
            # Our own UTF-8 wrapper over the byte stream: the console encoding must not
            # decide how a report is encoded. Detached (not closed) at the end.
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:
                self._handle = sys.stdout
                self._wrapper = False
            else:
                sys.stdout.flush()
                self._handle = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
                self._wrapper = True
        else:
            self._path = Path(str(out))
            _make_parent(self._path)
            with output_errors(self._path):
                self._handle = self._path.open("a" if append else "w", encoding="utf-8", newline="")
            self._wrapper = False

    @property
    def handle(self) -> IO[str]:
        if self._handle is None:
            raise ValueError("writer is closed")
        return self._handle

    def write(self, report: NoteReport) -> None:
        """Write one report; a failing file is an :class:`OutputError`."""
        with output_errors(self._path):
            super().write(_clean_report(report))

    def close(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        with output_errors(self._path):
            try:
                handle.flush()
            finally:
                if self._to_stdout:
                    if self._wrapper and isinstance(handle, io.TextIOWrapper):
                        handle.detach()
                else:
                    handle.close()


class JsonlWriter(_TextWriter):
    """One ``NoteReport.to_dict()`` per line, flushed line by line."""

    def _write(self, report: NoteReport) -> None:
        handle = self.handle
        # default=str: a meta value read from Parquet may be a date or a decimal;
        # allow_nan=False: clean_value has made every float finite (strict JSON).
        record = clean_value(report.to_dict())
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)
        handle.write(line + "\n")
        handle.flush()


class CsvWriter(_TextWriter):
    """One row per note (see :func:`flat_columns`).

    The header is written with the first row. Meta columns are ``meta_keys`` when given,
    else the meta keys of the first report; meta keys that later reports add are not in
    the CSV (the JSON Lines and Parquet outputs keep all of them).
    """

    def __init__(
        self,
        out: str | Path | None,
        elements: Sequence[str],
        meta_keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(out)
        self.elements = tuple(elements)
        self.meta_keys: tuple[str, ...] | None = tuple(meta_keys) if meta_keys is not None else None
        self._csv: Any = None

    def _start(self, report: NoteReport) -> None:
        if self.meta_keys is None:
            self.meta_keys = tuple(report.meta)
        self._csv = csv.DictWriter(
            self.handle,
            fieldnames=flat_columns(self.elements, self.meta_keys),
            extrasaction="ignore",
            lineterminator="\n",
        )
        self._csv.writeheader()

    def _write(self, report: NoteReport) -> None:
        if self._csv is None:
            self._start(report)
        assert self.meta_keys is not None
        row = flat_row(report, self.elements, self.meta_keys)
        self._csv.writerow({k: _csv_cell(clean_value(v)) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        """Write the header if no report came (a valid empty table), then close."""
        if self._handle is not None and self._csv is None:
            header = flat_columns(self.elements, self.meta_keys or ())
            csv.DictWriter(self.handle, fieldnames=header, lineterminator="\n").writeheader()
        super().close()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return value


class ParquetWriter(ReportWriter):
    """Row groups of ``batch_size`` notes with a declared schema (see :meth:`schema`).

    Gaps, evidence and meta are JSON strings, so the schema does not depend on the notes.
    Parquet needs a seekable file: it cannot go to stdout. The file is written beside the
    target under a temporary name and renamed over it by :meth:`close` (see the module
    docstring: a killed run leaves the previous file intact, an interrupted one a readable
    partial file).
    """

    def __init__(
        self, out: str | Path | None, elements: Sequence[str], batch_size: int = 512
    ) -> None:
        super().__init__()
        if _is_stdout(out):
            raise OutputError("Parquet output needs a file: use --out FILE.parquet")
        import pyarrow.parquet as pq

        self.elements = tuple(elements)
        self.batch_size = batch_size
        self._schema = self.schema(self.elements)
        self.path = Path(str(out))
        _make_parent(self.path)
        # A device or a FIFO (/dev/full, /dev/stdout) cannot be renamed over: written as is.
        special = self.path.exists() and not self.path.is_file()
        self._partial = (
            self.path
            if special
            else self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        )
        with output_errors(self.path):
            self._writer: Any = pq.ParquetWriter(self._partial, self._schema)
        self._rows: list[dict[str, Any]] = []

    @staticmethod
    def schema(elements: Sequence[str]) -> Any:
        """The declared Arrow schema of a Parquet report (from the field table)."""
        return arrow_schema(elements)

    def _write(self, report: NoteReport) -> None:
        if self._writer is None:
            raise ValueError("writer is closed")
        row = arrow_row(_clean_report(report), self.elements)
        self._rows.append({k: clean_value(v) for k, v in row.items()})
        if len(self._rows) >= self.batch_size:
            with output_errors(self.path):
                self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        import pyarrow as pa

        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
        self._rows = []

    def close(self) -> None:
        """Write the last, partial row group and the Parquet footer; move the file in place."""
        if self._writer is None:
            return
        with output_errors(self.path):
            try:
                self._flush()
            finally:
                writer, self._writer = self._writer, None
                writer.close()
            if self._partial != self.path:
                self._partial.replace(self.path)


def open_writer(
    fmt: str,
    out: str | Path | None,
    elements: Sequence[str],
    *,
    meta_keys: Sequence[str] | None = None,
    append: bool = False,
) -> ReportWriter:
    """A writer for ``fmt`` on ``out`` (``None`` or ``-`` is stdout, except for Parquet)."""
    if fmt == "jsonl":
        return JsonlWriter(out, append=append)
    if fmt == "csv":
        return CsvWriter(out, elements, meta_keys)
    if fmt == "parquet":
        return ParquetWriter(out, elements)
    raise OutputError(f"unknown output format {fmt!r}; choose from {', '.join(OUTPUT_FORMATS)}")


def complete_records(path: Path) -> int:
    """How many complete records an interrupted JSON Lines report holds (``scan --resume``).

    A last line cut off mid-write is removed, so appending continues a valid file. Reports
    are written in input order, so the count is also how many input records are done.
    """
    if not path.exists():
        return 0
    done = 0
    keep = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                json.loads(line)
            except json.JSONDecodeError:
                break
            done += 1
            keep += len(line)
    if keep != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(keep)
    return done


# -- reading a JSON Lines report back (worklist, stats) ---------------------------------
_REPORT_KEYS = tuple(f.name for f in REPORT_FIELDS if f.required)


def _report_line(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{where}: malformed JSON ({exc.msg})") from None
    if not isinstance(record, dict) or any(k not in record for k in _REPORT_KEYS):
        raise ReportFileError(
            f"{where}: not a docgap report record (needs {', '.join(_REPORT_KEYS)})"
        )
    return record


def read_reports(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines report, lazily; a bad line is a :class:`ReportFileError`.

    The report is read as written: nothing is re-analysed or recomputed.
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    yield _report_line(line, f"{path}:{line_no}")
        except UnicodeDecodeError:
            raise ReportFileError(f"{path}: not UTF-8 text") from None


def read_note_reports(path: Path) -> Iterator[NoteReport]:
    """The records of a JSON Lines report parsed through the field table (``from_dict``).

    For readers that want typed reports (gaps and evidence as objects, keys the table does
    not know in ``extra``); :func:`read_reports` gives the records as they are.
    """
    for record in read_reports(path):
        yield NoteReport.from_dict(record)


def is_report_file(path: Path) -> bool:
    """Whether ``path`` looks like a ``docgap scan`` JSON Lines report (its first record)."""
    if not path.is_file() or path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    return (
                        isinstance(record, dict)
                        and all(k in record for k in (*_REPORT_KEYS, "evidence"))
                        and "text" not in record
                    )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return False
