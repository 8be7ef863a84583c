"""Read notes lazily from folders, text files, CSV/TSV, JSON Lines, Parquet, FHIR or stdin.

Every input record becomes exactly one :class:`NoteInput`; a record that cannot be read
carries an ``error`` instead of text, so the run goes on and the record still appears in
the output. Problems that make a whole input unusable (a missing file, an unknown format,
a table without the text column) raise :class:`InputError` before any record is read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import stat
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from docgap.inputs.decoding import DEFAULT_MAX_CHARS, decode_bytes, prepare_text
from docgap.inputs.files import walk_files
from docgap.inputs.record import NoteInput

__all__ = [
    "FORMATS",
    "SUFFIX_FORMATS",
    "InputError",
    "NoteInput",
    "Source",
    "clean_value",
    "missing_column_message",
    "note_input",
    "open_sources",
]

FORMATS = ("auto", "txt", "csv", "tsv", "jsonl", "parquet", "fhir", "hl7")
SUFFIX_FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".hl7": "hl7",
}
_META_MAX = 200  # other columns are kept as metadata when their values are short
_TEXT_SUFFIXES = (".txt", ".text")
# Id columns picked when the default ``note_id`` is absent (in this order).
_ID_FALLBACKS = ("id", "noteid", "note id", "document_id", "doc_id", "encounter_id")
_DEFAULT_ID = "note_id"
# Surrogates that surrogateescape cannot turn back into a byte (lone JSON escapes).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")

log = logging.getLogger(__name__)


class InputError(Exception):
    """An input that cannot be read at all (the caller should stop with a clear message)."""


def clean_value(value: str, what: str, warnings: list[str]) -> str:
    r"""A string safe to write: undecoded bytes re-decoded, lone surrogates replaced.

    Files are read with ``surrogateescape``, so bytes that are not UTF-8 survive as
    surrogates; JSON may also hold a lone ``\ud83d`` escape. Either would make every
    writer fail (``UnicodeEncodeError``), so each value is fixed on its own, with a warning
    that names the field (``what``), never the value.
    """
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    fixed = _LONE_SURROGATE.sub("\ufffd", value)
    if fixed != value:
        warnings.append(f"{what}: lone surrogate escapes replaced by U+FFFD")
    try:
        fixed.encode("utf-8")
        return fixed
    except UnicodeEncodeError:
        raw = fixed.encode("utf-8", "surrogateescape")
        warnings.append(f"{what}: not valid UTF-8; decoded as Windows-1252")
        return raw.decode("cp1252", errors="replace")


def missing_column_message(name: str, column: str, count: int) -> str:
    """The message for a table without its text column.

    It names the expected column and the column count only, never the header's cells (a
    file without a header row has note text there). The Spark engine calls it too.
    """
    return (
        f"{name}: no column {column!r} among its {count} column{'' if count == 1 else 's'} "
        "(does the first row hold column names?); use --text-col"
    )


def note_input(
    note_id: str, text: Any, max_chars: int, meta: dict[str, Any] | None = None
) -> NoteInput:
    """One table or JSON record as a NoteInput: its text checked, or the reason it has none."""
    warnings: list[str] = []
    note_id = clean_value(note_id, "id", warnings)
    meta = _clean_meta(meta or {}, warnings)
    if text is None:
        return NoteInput(note_id, None, "record has no text", warnings, meta)
    if not isinstance(text, str):
        return NoteInput(
            note_id, None, f"text is a {type(text).__name__}, not a string", warnings, meta
        )
    text = clean_value(text, "text", warnings)
    prepared = prepare_text(text, max_chars)
    return NoteInput(note_id, prepared.text, prepared.error, warnings + prepared.warnings, meta)


def _clean_meta(meta: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        key = clean_value(str(key), "a column name", warnings)
        if isinstance(value, str):
            value = clean_value(value, f"column {key!r}", warnings)
        elif isinstance(value, (dict, list)):
            value = _clean_nested(value, key, warnings)
        out[key] = value
    return out


def _clean_nested(value: Any, key: str, warnings: list[str]) -> Any:
    if isinstance(value, str):
        return clean_value(value, f"column {key!r}", warnings)
    if isinstance(value, list):
        return [_clean_nested(v, key, warnings) for v in value]
    if isinstance(value, dict):
        return {
            clean_value(str(k), "a column name", warnings): _clean_nested(v, key, warnings)
            for k, v in value.items()
        }
    return value


def _short(value: Any) -> bool:
    try:
        return value is None or len(str(value)) <= _META_MAX
    except ValueError:  # an int too long to print
        return False


def _meta(row: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in skip and k is not None and _short(v)}


def _id_column(name: str, wanted: str, columns: list[str]) -> str | None:
    """The id column: ``wanted``, or, for the default, an obvious one (said on stderr)."""
    if wanted in columns:
        return wanted
    if wanted == _DEFAULT_ID:
        lowered = {c.strip().lower(): c for c in columns}
        for candidate in _ID_FALLBACKS:
            if candidate in lowered:
                log.warning(
                    "%s: no column %r; using column %r as the note id (set --id-col)",
                    name,
                    wanted,
                    candidate,
                )
                return lowered[candidate]
    log.warning("%s: no column %r; notes are numbered by row (set --id-col)", name, wanted)
    return None


def _open_error(name: str, exc: OSError) -> NoteInput:
    return NoteInput(Path(name).stem or name, None, f"cannot read file: {exc.strerror or exc}")


class _Rewound(io.RawIOBase):
    """A stream whose first bytes were already read (a pipe's header): serves them again."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


@dataclass
class Source:
    """One input (a file, a folder or stdin), validated, readable once.

    ``skipped`` counts, by suffix, the files of a folder that are not notes; ``problem``
    is why the whole input cannot be read (it then yields one error record).
    """

    name: str
    fmt: str
    path: Path | None
    id_col: str
    text_col: str
    max_chars: int = DEFAULT_MAX_CHARS
    stream: BinaryIO | None = None
    problem: str | None = None
    skipped: Counter[str] = field(default_factory=Counter)

    def records(self) -> Iterator[NoteInput]:
        """Every record of this input, lazily, in order."""
        if self.problem is not None:
            yield NoteInput(Path(self.name).name or self.name, None, self.problem)
            return
        reader = getattr(self, f"_read_{self.fmt}")
        yield from reader()

    # -- formats ---------------------------------------------------------------
    def _read_folder(self) -> Iterator[NoteInput]:
        assert self.path is not None
        for path, error in walk_files(self.path):
            if error is not None:
                yield NoteInput(str(path), None, error, meta={"source": str(path)})
            elif path.suffix.lower() in _TEXT_SUFFIXES:
                yield self._text_file(path)
            else:
                self.skipped[path.suffix.lower() or "(no suffix)"] += 1

    def _text_file(self, path: Path) -> NoteInput:
        meta = {"source": str(path)}
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                why = "not a regular file (a pipe or device)"
                return NoteInput(path.stem, None, why, meta=meta)
            data = path.read_bytes()
        except OSError as exc:
            return NoteInput(path.stem, None, f"cannot read file: {exc.strerror or exc}", meta=meta)
        decoded = decode_bytes(data, self.max_chars)
        return NoteInput(path.stem, decoded.text, decoded.error, decoded.warnings, meta)

    def _read_txt(self) -> Iterator[NoteInput]:
        if self.path is not None and self.stream is None:
            yield self._text_file(self.path)
            return
        assert self.stream is not None
        decoded = decode_bytes(self.stream.read(), self.max_chars)
        name = "stdin" if self.path is None else self.path.stem
        yield NoteInput(name, decoded.text, decoded.error, decoded.warnings)

    def _binary(self) -> BinaryIO:
        if self.stream is not None:
            return self.stream
        assert self.path is not None
        return self.path.open("rb")

    def _read_csv(self, delimiter: str = ",") -> Iterator[NoteInput]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            binary = self._binary()
        except OSError as exc:
            yield _open_error(self.name, exc)
            return
        with io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        ) as handle:
            yield from _csv_records(self, handle, delimiter)

    def _read_tsv(self) -> Iterator[NoteInput]:
        yield from self._read_csv("\t")

    def _read_jsonl(self) -> Iterator[NoteInput]:
        try:
            handle = self._binary()
        except OSError as exc:
            yield _open_error(self.name, exc)
            return
        with handle:
            first = handle.readline()
            start = first.lstrip().lstrip(b"\xef\xbb\xbf").lstrip()[:1]
            if start == b"[" or (start == b"{" and not _complete_json(first)):
                yield from self._json_document(first + handle.read())
                return
            lines = _chain_first(first, handle)
            for line_no, raw in enumerate(lines, start=1):
                if line_no == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM is not part of the record
                line = raw.decode("utf-8", errors="surrogateescape").strip()
                if line:
                    yield self._json_record(line, line_no)

    def _json_document(self, data: bytes) -> Iterator[NoteInput]:
        """A ``.json`` file holding one pretty-printed object or an array of records."""
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
        obj, problem = _parse_json(text)
        if problem is not None:
            yield NoteInput(Path(self.name).stem, None, f"malformed JSON document: {problem}")
            return
        items = obj if isinstance(obj, list) else [obj]
        for item_no, item in enumerate(items, start=1):
            yield self._json_object(item, f"item-{item_no}", f"item {item_no}")

    def _json_record(self, line: str, line_no: int) -> NoteInput:
        obj, problem = _parse_json(line)
        if problem is not None:
            why = f"malformed JSON at line {line_no}: {problem}"
            return NoteInput(f"line-{line_no}", None, why)
        return self._json_object(obj, f"line-{line_no}", f"line {line_no}")

    def _json_object(self, obj: Any, fallback: str, where: str) -> NoteInput:
        if not isinstance(obj, dict):
            return NoteInput(fallback, None, f"{where} is not a JSON object")
        raw_id = obj.get(self.id_col, obj.get("id"))
        note_id = str(raw_id) if raw_id not in (None, "") else fallback
        if self.text_col not in obj:
            warnings: list[str] = []
            return NoteInput(
                clean_value(note_id, "id", warnings),
                None,
                f"{where} has no {self.text_col!r} field",
                warnings,
            )
        meta = _meta(obj, {self.id_col, "id", self.text_col, "gold"})
        return note_input(note_id, obj[self.text_col], self.max_chars, meta)

    def _read_fhir(self) -> Iterator[NoteInput]:
        from docgap.inputs.fhir import read_fhir_bytes, read_fhir_path

        if self.path is not None and self.stream is None:
            yield from read_fhir_path(self.path, max_chars=self.max_chars)
        else:
            assert self.stream is not None
            yield from read_fhir_bytes(self.stream.read(), "stdin", max_chars=self.max_chars)

    def _read_hl7(self) -> Iterator[NoteInput]:
        from docgap.inputs.hl7 import read_hl7_notes, read_hl7_path

        if self.path is not None:
            yield from read_hl7_path(self.path, max_chars=self.max_chars)
        else:
            assert self.stream is not None
            yield from read_hl7_notes(self.stream.read(), "stdin", max_chars=self.max_chars)

    def _read_parquet(self) -> Iterator[NoteInput]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert self.path is not None
        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:  # vanished or unreadable since it was checked
            yield NoteInput(self.path.stem, None, f"cannot read Parquet ({type(exc).__name__})")
            return
        names = parquet.schema_arrow.names
        if self.text_col not in names:
            raise InputError(missing_column_message(self.name, self.text_col, len(names)))
        id_col = _id_column(self.name, self.id_col, names) or self.id_col
        row_no = 0
        for batch in parquet.iter_batches(batch_size=1024):
            # Strings as bytes: a value that is not UTF-8 is decoded on its own (warned),
            # instead of failing the whole batch.
            # A binary column stays bytes (its text is "not a string", as in every engine).
            strings = {
                name
                for name, column in zip(batch.schema.names, batch.columns, strict=True)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            }
            columns = {
                name: (column.cast(pa.binary()) if name in strings else column).to_pylist()
                for name, column in zip(batch.schema.names, batch.columns, strict=True)
            }
            for index in range(batch.num_rows):
                row_no += 1
                row = {
                    name: _text_of(values[index]) if name in strings else values[index]
                    for name, values in columns.items()
                }
                raw_id = row.get(id_col)
                note_id = str(raw_id) if raw_id not in (None, "") else f"row-{row_no}"
                meta = _meta(row, {id_col, self.text_col})
                yield note_input(note_id, row.get(self.text_col), self.max_chars, meta)


def _text_of(value: Any) -> Any:
    """Parquet string bytes to str (undecodable bytes kept as surrogates, then cleaned)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


def _parse_json(text: str) -> tuple[Any, str | None]:
    """A JSON value, or why not: malformed, a number too long, nesting too deep."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "nested too deeply"
    except ValueError:  # int too long to convert (Python's int_max_str_digits)
        return None, "a number too long to read"


def _complete_json(line: bytes) -> bool:
    _, problem = _parse_json(line.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"))
    return problem is None


def _chain_first(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


class _LineBuffer:
    """Lines to the csv module, remembering those of the current row (for recovery)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.source = iter(lines)
        self.row: list[str] = []

    def __iter__(self) -> _LineBuffer:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.row.append(line)
        return line


def _unclosed_quote(lines: list[str]) -> bool:
    """Whether a quote that was never closed swallowed the rows after it.

    The row then spans lines with an odd number of quotes: in valid CSV, quotes pair up
    (a quoted field's two, and doubled quotes inside it).
    """
    return len(lines) > 1 and sum(line.count('"') for line in lines) % 2 == 1


def _csv_records(source: Source, handle: Iterable[str], delimiter: str) -> Iterator[NoteInput]:
    buffer = _LineBuffer(handle)
    reader = csv.reader(buffer, delimiter=delimiter)
    header = [clean_value(h, "a column name", []) for h in next(reader, [])]
    if source.text_col not in header:
        raise InputError(missing_column_message(source.name, source.text_col, len(header)))
    text_at = header.index(source.text_col)
    id_col = _id_column(source.name, source.id_col, header)
    id_at = header.index(id_col) if id_col is not None else None
    row_no = 0
    while True:
        buffer.row = []
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_no += 1
            yield NoteInput(f"row-{row_no}", None, f"row {row_no}: malformed CSV ({exc})")
            continue
        row_no += 1
        if not _unclosed_quote(buffer.row):
            yield _csv_row(source, header, cells, row_no, text_at, id_at)
            continue
        raw_id = cells[id_at].strip() if id_at is not None and id_at < len(cells) else ""
        warnings: list[str] = []
        first_line = raw_id.splitlines()[0] if raw_id else ""
        note_id = clean_value(first_line or f"row-{row_no}", "id", warnings)
        yield NoteInput(note_id, None, f"row {row_no} has a quote that is never closed", warnings)
        # Read the lines it swallowed again, as rows of their own.
        buffer = _LineBuffer(chain(buffer.row[1:], buffer.source))
        reader = csv.reader(buffer, delimiter=delimiter)


def _csv_row(
    source: Source,
    header: list[str],
    cells: list[str],
    row_no: int,
    text_at: int,
    id_at: int | None,
) -> NoteInput:
    raw_id = cells[id_at].strip() if id_at is not None and id_at < len(cells) else ""
    note_id = raw_id or f"row-{row_no}"
    if len(cells) > len(header):
        warnings: list[str] = []
        return NoteInput(
            clean_value(note_id, "id", warnings),
            None,
            f"row {row_no} has more cells than the header",
            warnings,
        )
    row = dict(zip(header, cells, strict=False))
    skip = {header[text_at]} | ({header[id_at]} if id_at is not None else set())
    text = cells[text_at] if text_at < len(cells) else None
    return note_input(note_id, text, source.max_chars, _meta(row, skip))


def _format_of(path: Path, fmt: str) -> str:
    if path.is_dir():
        return "fhir" if fmt == "fhir" else "folder"
    if fmt != "auto":
        return fmt
    found = SUFFIX_FORMATS.get(path.suffix.lower())
    if found == "jsonl":
        from docgap.inputs.fhir import looks_like_fhir

        if looks_like_fhir(path):
            return "fhir"
    if found is None:
        raise InputError(
            f"{path}: unknown input format {path.suffix or '(no suffix)'!r}; "
            f"use --input-format ({', '.join(FORMATS[1:])})"
        )
    return found


def _check_header(source: Source) -> None:
    """Fail early (before any output) when a table lacks the text column.

    A pipe (``<(cat notes.csv)``) is read once: its header line is kept and served again.
    """
    if source.fmt in ("csv", "tsv") and source.path is not None:
        delimiter = "\t" if source.fmt == "tsv" else ","
        if source.stream is not None:
            head = source.stream.readline()
            source.stream = io.BufferedReader(_Rewound(head, source.stream))
            lines = [head.decode("utf-8-sig", errors="replace")]
        else:
            with source.path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                lines = [handle.readline()]
        header = next(csv.reader(lines, delimiter=delimiter), [])
        if source.text_col not in header:
            raise InputError(missing_column_message(source.name, source.text_col, len(header)))
    elif source.fmt == "parquet" and source.path is not None:
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(source.path).schema_arrow.names
        except Exception as exc:
            raise InputError(
                f"{source.name}: not a readable Parquet file ({type(exc).__name__})"
            ) from None
        if source.text_col not in names:
            raise InputError(missing_column_message(source.name, source.text_col, len(names)))


def _file_source(item: str, fmt: str, id_col: str, text_col: str, max_chars: int) -> Source:
    """A file or folder input.

    One that cannot be opened reads as one error record, so the inputs after it are read.
    """
    path = Path(item)
    source = Source(item, _format_of(path, fmt), path, id_col, text_col, max_chars)
    if source.fmt in ("folder", "fhir") and path.is_dir():
        return source
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # a pipe such as <(cat notes.csv): read it once
            source.stream = path.open("rb")
        else:
            with path.open("rb"):
                pass
    except OSError as exc:
        source.problem = f"cannot read file: {exc.strerror or exc}"
        return source
    _check_header(source)
    return source


def open_sources(
    inputs: Iterable[str],
    *,
    fmt: str = "auto",
    id_col: str = "note_id",
    text_col: str = "text",
    max_chars: int = DEFAULT_MAX_CHARS,
    stdin: BinaryIO | None = None,
) -> list[Source]:
    """Validate every input up front and return readers for them."""
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; choose from {', '.join(FORMATS)}")
    sources = []
    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            source = Source(
                "stdin", "txt" if fmt == "auto" else fmt, None, id_col, text_col, max_chars, stream
            )
            if source.fmt in ("csv", "tsv"):
                source.path = Path("-")
                _check_header(source)
                source.path = None
            sources.append(source)
            continue
        path = Path(item)
        try:
            exists = path.exists() or path.is_symlink()
        except OSError as exc:  # a name too long
            raise InputError(f"{item[:200]}: {exc.strerror or exc}") from None
        if not exists:
            raise InputError(f"{item}: no such file or folder")
        sources.append(_file_source(item, fmt, id_col, text_col, max_chars))
    if not sources:
        raise InputError("no input given")
    return sources
