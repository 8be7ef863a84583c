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
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from docgap.inputs.decoding import DEFAULT_MAX_CHARS, check_text, decode_bytes
from docgap.inputs.record import NoteInput

__all__ = [
    "FORMATS",
    "SUFFIX_FORMATS",
    "InputError",
    "NoteInput",
    "Source",
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


class InputError(Exception):
    """An input that cannot be read at all (the caller should stop with a clear message)."""


def _fix_text(value: str, warnings: list[str]) -> str:
    """Re-decode text read with surrogateescape when the bytes were not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        value = raw.decode("cp1252", errors="replace")
        warnings.append("not valid UTF-8; decoded as Windows-1252")
    return value


def note_input(
    note_id: str, text: Any, max_chars: int, meta: dict[str, Any] | None = None
) -> NoteInput:
    """One table or JSON record as a NoteInput: its text checked, or the reason it has none."""
    warnings: list[str] = []
    if text is None:
        return NoteInput(note_id, None, "record has no text", meta=meta or {})
    if not isinstance(text, str):
        return NoteInput(
            note_id, None, f"text is a {type(text).__name__}, not a string", meta=meta or {}
        )
    text = _fix_text(text, warnings)
    problem = check_text(text, max_chars)
    if problem:
        return NoteInput(note_id, None, problem, warnings, meta or {})
    return NoteInput(note_id, text, None, warnings, meta or {})


def _meta(row: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    return {
        k: v
        for k, v in row.items()
        if k not in skip and k is not None and (v is None or len(str(v)) <= _META_MAX)
    }


@dataclass
class Source:
    """One input (a file, a folder or stdin), validated, readable once."""

    name: str
    fmt: str
    path: Path | None
    id_col: str
    text_col: str
    max_chars: int = DEFAULT_MAX_CHARS
    stream: BinaryIO | None = None

    def records(self) -> Iterator[NoteInput]:
        """Every record of this input, lazily, in order."""
        reader = getattr(self, f"_read_{self.fmt}")
        yield from reader()

    # -- formats ---------------------------------------------------------------
    def _read_folder(self) -> Iterator[NoteInput]:
        assert self.path is not None
        for path in sorted(
            p for p in self.path.rglob("*") if p.suffix.lower() in (".txt", ".text")
        ):
            yield self._text_file(path)

    def _text_file(self, path: Path) -> NoteInput:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return NoteInput(path.stem, None, f"cannot read file: {exc.strerror}")
        decoded = decode_bytes(data, self.max_chars)
        return NoteInput(
            path.stem, decoded.text, decoded.error, decoded.warnings, {"source": str(path)}
        )

    def _read_txt(self) -> Iterator[NoteInput]:
        if self.path is not None:
            yield self._text_file(self.path)
            return
        assert self.stream is not None
        decoded = decode_bytes(self.stream.read(), self.max_chars)
        yield NoteInput("stdin", decoded.text, decoded.error, decoded.warnings)

    def _binary(self) -> BinaryIO:
        if self.stream is not None:
            return self.stream
        assert self.path is not None
        return self.path.open("rb")

    def _read_csv(self, delimiter: str = ",") -> Iterator[NoteInput]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with io.TextIOWrapper(
            self._binary(), encoding="utf-8-sig", errors="surrogateescape", newline=""
        ) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            fields = reader.fieldnames or []
            if self.text_col not in fields:
                raise InputError(
                    f"{self.name}: no column {self.text_col!r} (columns: {', '.join(fields)}); "
                    "use --text-col"
                )
            has_id = self.id_col in fields
            for row_no, row in enumerate(reader, start=1):
                note_id = (row.get(self.id_col) or "").strip() if has_id else ""
                note_id = note_id or f"row-{row_no}"
                if None in row:  # more cells than header columns
                    yield NoteInput(note_id, None, f"row {row_no} has more cells than the header")
                    continue
                meta = _meta(row, {self.id_col, self.text_col})
                yield note_input(note_id, row.get(self.text_col), self.max_chars, meta)

    def _read_tsv(self) -> Iterator[NoteInput]:
        yield from self._read_csv("\t")

    def _read_jsonl(self) -> Iterator[NoteInput]:
        with self._binary() as handle:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.decode("utf-8", errors="surrogateescape").strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield NoteInput(
                        f"line-{line_no}",
                        None,
                        f"malformed JSON at line {line_no}: {exc.msg} (column {exc.colno})",
                    )
                    continue
                if not isinstance(obj, dict):
                    yield NoteInput(f"line-{line_no}", None, f"line {line_no} is not a JSON object")
                    continue
                raw_id = obj.get(self.id_col, obj.get("id"))
                note_id = str(raw_id) if raw_id not in (None, "") else f"line-{line_no}"
                if self.text_col not in obj:
                    yield NoteInput(note_id, None, f"line {line_no} has no {self.text_col!r} field")
                    continue
                meta = _meta(obj, {self.id_col, "id", self.text_col, "gold"})
                yield note_input(note_id, obj[self.text_col], self.max_chars, meta)

    def _read_fhir(self) -> Iterator[NoteInput]:
        from docgap.inputs.fhir import read_fhir_bytes, read_fhir_path

        if self.path is not None:
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
        import pyarrow.parquet as pq

        assert self.path is not None
        parquet = pq.ParquetFile(self.path)
        names = parquet.schema_arrow.names
        if self.text_col not in names:
            raise InputError(
                f"{self.name}: no column {self.text_col!r} (columns: {', '.join(names)}); "
                "use --text-col"
            )
        row_no = 0
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                row_no += 1
                raw_id = row.get(self.id_col)
                note_id = str(raw_id) if raw_id not in (None, "") else f"row-{row_no}"
                meta = _meta(row, {self.id_col, self.text_col})
                yield note_input(note_id, row.get(self.text_col), self.max_chars, meta)


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
    """Fail early (before any output) when a table lacks the text column."""
    if source.fmt in ("csv", "tsv") and source.path is not None:
        delimiter = "\t" if source.fmt == "tsv" else ","
        with source.path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
        if source.text_col not in header:
            raise InputError(
                f"{source.name}: no column {source.text_col!r} "
                f"(columns: {', '.join(header) or 'none'}); use --text-col"
            )
    elif source.fmt == "parquet" and source.path is not None:
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(source.path).schema_arrow.names
        except Exception as exc:
            raise InputError(
                f"{source.name}: not a readable Parquet file ({type(exc).__name__})"
            ) from None
        if source.text_col not in names:
            raise InputError(
                f"{source.name}: no column {source.text_col!r} (columns: {', '.join(names)}); "
                "use --text-col"
            )


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
            sources.append(
                Source(
                    "stdin",
                    "txt" if fmt == "auto" else fmt,
                    None,
                    id_col,
                    text_col,
                    max_chars,
                    stream,
                )
            )
            continue
        path = Path(item)
        if not path.exists():
            raise InputError(f"{item}: no such file or folder")
        source = Source(item, _format_of(path, fmt), path, id_col, text_col, max_chars)
        _check_header(source)
        sources.append(source)
    if not sources:
        raise InputError("no input given")
    return sources
