"""FHIR R4 notes in: ``DocumentReference`` resources, alone or in a ``Bundle``, to NoteInput.

EHR integrations exchange notes as FHIR. A note's text is the first ``content[].attachment``
whose ``contentType`` is ``text/plain`` and that carries its bytes inline (base64 ``data``;
the charset from the content type, else the same detection as for text files). Attachments
that only point to a ``url`` are not fetched: docgap runs offline.

Resources are validated with the ``fhir.resources`` models of FHIR R4B (4.3.0), whose
``DocumentReference``, ``Attachment`` and ``Bundle`` are the same on the wire as R4 (4.0.1);
the package's default models are R5, where ``DocumentReference`` changed. The Bundle envelope
is validated without its entries' resources, and each ``DocumentReference`` entry on its own,
so one bad entry becomes one error record and the others are still read.

Identifiers: ``note_id`` is the resource id; an entry without one falls back to its
``fullUrl``, then to ``<name>#entry-<n>``. A repeated id in one Bundle gets ``#<n>`` appended
(and a warning), so every entry is reported exactly once under its own key.

Who and when (:func:`context_meta`): the DocumentReference's ``subject``, ``context``
(encounter, period) and first ``author`` go into the record's ``meta`` as ``patient``,
``encounter``, ``date_of_service`` and ``author``, so every report, the worklist and the
HTML page can say whose note it is and when it was written: what a CDI specialist assigns
and sorts work by.

Messages name fields, positions, sizes and counts, never the content or any value of the
input (notes and their resources are PHI): not the charset, not the resourceType.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from docgap.inputs.decoding import DEFAULT_MAX_CHARS, decode_bytes, prepare_text
from docgap.inputs.record import NoteInput

__all__ = [
    "FHIR_SUFFIXES",
    "FhirError",
    "FhirNotes",
    "MalformedJsonError",
    "context_meta",
    "document_reference",
    "fhir_models",
    "looks_like_fhir",
    "parse_fhir_json",
    "parse_resource",
    "read_fhir_bytes",
    "read_fhir_path",
]

FHIR_SUFFIXES = (".json", ".ndjson")  # .ndjson: one resource per line (FHIR bulk export)
_SNIFF_BYTES = 65_536
_SNIFF = re.compile(rb'"resourceType"\s*:\s*"(?:DocumentReference|Bundle)"')
_CHARSET = re.compile(r'charset\s*=\s*"?([^";\s]+)', re.IGNORECASE)
_MAX_PROBLEMS = 5
_MAX_MESSAGE = 200


class FhirError(ValueError):
    """A resource that is not a usable DocumentReference or Bundle as a whole.

    ``note_id`` is the resource's id when it has one, so a reader can still key the error
    record; ``problems`` lists the validation failures (field path and message, no values).
    """

    def __init__(
        self, message: str, *, note_id: str | None = None, problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.note_id = note_id
        self.problems = problems or []


class MalformedJsonError(FhirError):
    """The input is not JSON at all (an HTTP 400 rather than a 422)."""


@dataclass
class FhirNotes:
    """The notes one resource holds, in order, and the Bundle entries that are not notes."""

    resource_type: str
    records: list[NoteInput]
    skipped: Counter[str] = field(default_factory=Counter)


@lru_cache(maxsize=1)
def fhir_models() -> tuple[Any, Any]:
    """The R4B ``DocumentReference`` and ``Bundle`` models, imported on first use (slow)."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.documentreference import DocumentReference

    return DocumentReference, Bundle


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(resource)"


def _problems(exc: Exception) -> list[str]:
    """Field paths and messages of a validation error, without the offending values."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [type(exc).__name__]
    found = [
        f"{_loc(tuple(err.get('loc', ())))}: {str(err.get('msg', ''))[:_MAX_MESSAGE]}"
        for err in errors(include_input=False, include_url=False)
    ]
    if len(found) > _MAX_PROBLEMS:
        found = [*found[:_MAX_PROBLEMS], f"... and {len(found) - _MAX_PROBLEMS} more"]
    return found


def _validate(model: Any, obj: dict[str, Any], what: str, note_id: str | None) -> Any:
    try:
        return model.model_validate(obj)
    except Exception as exc:  # pydantic and fhir-core raise several types
        problems = _problems(exc)
        raise FhirError(
            f"invalid {what}: {'; '.join(problems)}", note_id=note_id, problems=problems
        ) from None


def _content_type(value: str) -> tuple[str, str | None]:
    mime, _, params = value.partition(";")
    match = _CHARSET.search(params)
    return mime.strip().lower(), (match.group(1) if match else None)


def _decode(
    data: bytes, charset: str | None, max_chars: int
) -> tuple[str | None, str | None, list[str]]:
    """Attachment bytes to text: the declared charset, else text-file detection."""
    if charset is None:
        decoded = decode_bytes(data, max_chars)
        return decoded.text, decoded.error, decoded.warnings
    try:
        name = codecs.lookup(charset).name  # Python's name for it, not the input's spelling
    except LookupError:
        return None, "unknown charset in the attachment's contentType", []
    codec = "utf-8-sig" if name == "utf-8" else name  # a BOM is not part of the note
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        return None, f"attachment is not valid {name} (bad byte at offset {exc.start})", []
    prepared = prepare_text(text, max_chars)
    return prepared.text, prepared.error, prepared.warnings


def _document(obj: dict[str, Any], note_id: str, max_chars: int, meta: dict[str, Any]) -> NoteInput:
    """One DocumentReference entry to one record; a problem becomes the record's error."""
    document_model, _ = fhir_models()
    meta = context_meta(obj) | meta
    try:
        doc = _validate(document_model, obj, "DocumentReference", note_id)
    except FhirError as exc:
        return NoteInput(note_id, None, str(exc), meta=dict(meta))
    return _note(doc, note_id, max_chars, meta)


def _note(doc: Any, note_id: str, max_chars: int, meta: dict[str, Any]) -> NoteInput:
    """A validated DocumentReference's note: its first inline text/plain attachment."""
    warnings: list[str] = []
    if doc.status == "entered-in-error":
        warnings.append("DocumentReference status is entered-in-error")
    inline: list[tuple[bytes, str | None]] = []
    seen: list[str] = []
    by_url = False
    for content in doc.content or []:
        attachment = content.attachment
        mime, charset = _content_type(attachment.contentType or "")
        seen.append(mime or "no contentType")
        if mime != "text/plain":
            continue
        if attachment.data is not None:
            inline.append((attachment.data, charset))
        elif attachment.url:
            by_url = True
    if not inline:
        kinds = ", ".join(sorted(set(seen))) or "no content"
        why = "; text given only by url is not fetched (docgap runs offline)" if by_url else ""
        missing = f"no text/plain attachment with inline data (found: {kinds}){why}"
        return NoteInput(note_id, None, missing, warnings, dict(meta))
    if len(inline) > 1:
        warnings.append(f"{len(inline)} inline text/plain attachments; analysed the first")
    data, charset = inline[0]
    text, error, decode_warnings = _decode(data, charset, max_chars)
    return NoteInput(note_id, text, error, warnings + decode_warnings, dict(meta))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _reference(value: Any) -> str | None:
    """A Reference as one string: its ``reference``, else its identifier, else its display."""
    if isinstance(value, list):  # R4 context.encounter is a list: the first one
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    identifier = value.get("identifier")
    ident = _text(identifier.get("value")) if isinstance(identifier, dict) else None
    return _text(value.get("reference")) or ident or _text(value.get("display"))


def context_meta(obj: dict[str, Any]) -> dict[str, str]:
    """Who and when a DocumentReference is about, as ``meta`` keys (absent ones left out).

    ``patient`` from ``subject``; ``encounter`` from ``context.encounter`` (the first);
    ``date_of_service`` from ``context.period.start`` (else its ``end``, else the
    document's ``date``); ``author`` from ``author[0]``. Values are kept as written (a
    reference such as ``Patient/123``, an ISO date), read from the JSON, not reformatted.
    """
    context = obj.get("context")
    context = context if isinstance(context, dict) else {}
    period = context.get("period")
    period = period if isinstance(period, dict) else {}
    authors = obj.get("author")
    found = {
        "patient": _reference(obj.get("subject")),
        "encounter": _reference(context.get("encounter")),
        "date_of_service": (
            _text(period.get("start")) or _text(period.get("end")) or _text(obj.get("date"))
        ),
        "author": _reference(authors[0]) if isinstance(authors, list) and authors else None,
    }
    return {key: value for key, value in found.items() if value is not None}


def _string_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("id")
    return value if isinstance(value, str) and value.strip() else None


def _unique(note_id: str, position: int, seen: set[str]) -> str:
    """``note_id``, or ``note_id#<position>`` (then ``#<position>-<n>``) until unused.

    A renamed id must not collide with an id that is already taken, real or renamed.
    """
    candidate, extra = note_id, 1
    while candidate in seen:
        candidate = f"{note_id}#{position}" if extra == 1 else f"{note_id}#{position}-{extra}"
        extra += 1
    seen.add(candidate)
    return candidate


def _bundle(obj: dict[str, Any], name: str, max_chars: int, meta: dict[str, Any]) -> FhirNotes:
    _, bundle_model = fhir_models()
    bundle_id = _string_id(obj)
    entries = obj.get("entry")
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise FhirError("invalid Bundle: entry: Input should be a valid list", note_id=bundle_id)
    shell = dict(obj)
    # A non-object entry is one error record below, not a reason to reject the Bundle.
    shell["entry"] = [
        {k: v for k, v in e.items() if k != "resource"} for e in entries if isinstance(e, dict)
    ]
    _validate(bundle_model, shell, "Bundle", bundle_id)
    notes = FhirNotes("Bundle", [])
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            note_id = _unique(f"{name}#entry-{position}", position, seen)
            why = f"Bundle entry {position} is a JSON {type(entry).__name__}, not an object"
            notes.records.append(NoteInput(note_id, None, why, meta=dict(meta)))
            continue
        resource = entry.get("resource")
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind != "DocumentReference" or not isinstance(resource, dict):
            if resource is None:
                kind = "(no resource)"
            notes.skipped[kind if isinstance(kind, str) else "(no resourceType)"] += 1
            continue
        full_url = entry.get("fullUrl")
        note_id = (
            _string_id(resource)
            or (full_url if isinstance(full_url, str) and full_url else None)
            or f"{name}#entry-{position}"
        )
        warning = None
        if note_id in seen:
            note_id = _unique(note_id, position, seen)
            warning = f"resource id repeated in the Bundle; reported as {note_id}"
        seen.add(note_id)
        record = _document(resource, note_id, max_chars, meta)
        if warning:
            record.warnings.insert(0, warning)
        notes.records.append(record)
    if not notes.records:
        count = sum(notes.skipped.values())
        found = f"{count} other {'entry' if count == 1 else 'entries'}" if count else "no entries"
        raise FhirError(f"Bundle holds no DocumentReference ({found})", note_id=bundle_id)
    return notes


def parse_resource(
    obj: Any,
    *,
    name: str = "resource",
    max_chars: int = DEFAULT_MAX_CHARS,
    meta: dict[str, Any] | None = None,
) -> FhirNotes:
    """The notes in one parsed FHIR resource.

    Raises :class:`FhirError` when the resource as a whole is unusable (not a
    DocumentReference or Bundle, an invalid lone DocumentReference, an invalid Bundle
    envelope, a Bundle without DocumentReferences). ``name`` stands in for missing ids.
    """
    meta = meta or {}
    if not isinstance(obj, dict):
        raise FhirError(
            f"expected a FHIR resource (a JSON object), got a JSON {type(obj).__name__}"
        )
    kind = obj.get("resourceType")
    if kind == "Bundle":
        return _bundle(obj, name, max_chars, meta)
    if kind == "DocumentReference":
        note_id = _string_id(obj) or name
        document_model, _ = fhir_models()
        doc = _validate(document_model, obj, "DocumentReference", note_id)
        meta = context_meta(obj) | meta
        return FhirNotes("DocumentReference", [_note(doc, note_id, max_chars, meta)])
    if kind is None:
        shown = "missing"
    elif isinstance(kind, str):
        shown = "another resource type"  # not echoed: the input's value
    else:
        shown = f"a JSON {type(kind).__name__}, not a string"
    raise FhirError(
        f"expected a FHIR DocumentReference or Bundle; resourceType is {shown}",
        note_id=_string_id(obj),
    )


def parse_fhir_json(
    data: bytes | str,
    *,
    name: str = "resource",
    max_chars: int = DEFAULT_MAX_CHARS,
    meta: dict[str, Any] | None = None,
) -> FhirNotes:
    """Parse JSON (UTF-8, a BOM allowed) and return its notes.

    Malformed JSON raises :class:`MalformedJsonError`; a resource that is not usable,
    :class:`FhirError` (its base class).
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        obj = json.loads(text)
    except UnicodeDecodeError as exc:
        raise MalformedJsonError(
            f"malformed JSON: not valid UTF-8 (bad byte at offset {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise MalformedJsonError(
            f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedJsonError("malformed JSON: nested too deeply") from None
    except ValueError:  # an integer longer than Python reads
        raise MalformedJsonError("malformed JSON: a number too long to read") from None
    return parse_resource(obj, name=name, max_chars=max_chars, meta=meta)


def _records(data: bytes, name: str, max_chars: int, meta: dict[str, Any]) -> Iterator[NoteInput]:
    try:
        yield from parse_fhir_json(data, name=name, max_chars=max_chars, meta=meta).records
    except FhirError as exc:
        yield NoteInput(exc.note_id or name, None, str(exc), meta=dict(meta))


def read_fhir_bytes(
    data: bytes,
    name: str = "stdin",
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    lines: bool = False,
    meta: dict[str, Any] | None = None,
) -> Iterator[NoteInput]:
    """Records from one JSON document (or, with ``lines``, one resource per line).

    Never raises: a resource that cannot be read becomes one error record keyed by its id,
    or by ``name`` (``name#line-<n>`` for a line).
    """
    meta = meta or {}
    if not lines:
        yield from _records(data, name, max_chars, meta)
        return
    for line_no, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield from _records(line, f"{name}#line-{line_no}", max_chars, meta)


def _files(folder: Path) -> Iterator[tuple[Path, str | None]]:
    from docgap.inputs.files import walk_files

    for path, error in walk_files(folder):
        if error is not None or path.suffix.lower() in FHIR_SUFFIXES:
            yield path, error


def read_fhir_path(path: Path | str, *, max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[NoteInput]:
    """Records from a FHIR JSON file or a folder of them (recursive; ``.json``, ``.ndjson``).

    Each record's ``meta`` names its ``source`` file, like the text-file reader's.
    """
    path = Path(path)
    files = _files(path) if path.is_dir() else iter([(path, None)])
    for file, error in files:
        meta = {"source": str(file)}
        if error is not None:
            yield NoteInput(str(file), None, error, meta=meta)
            continue
        try:
            if not stat.S_ISREG(file.stat().st_mode):
                yield NoteInput(file.stem, None, "not a regular file", meta=meta)
                continue
            data = file.read_bytes()
        except OSError as exc:
            yield NoteInput(file.stem, None, f"cannot read file: {exc.strerror}", meta=meta)
            continue
        yield from read_fhir_bytes(
            data,
            file.stem,
            max_chars=max_chars,
            lines=file.suffix.lower() == ".ndjson",
            meta=meta,
        )


def looks_like_fhir(path: Path | str) -> bool:
    """Whether a ``.json``/``.ndjson`` file holds a DocumentReference or Bundle (sniffed).

    Reads only the first 64 KiB: enough for the ``resourceType`` a FHIR server writes
    first. Lets ``scan`` tell FHIR files from JSON Lines of notes without parsing either.
    """
    path = Path(path)
    if path.suffix.lower() not in FHIR_SUFFIXES or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    head = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not head.startswith(b"{") or _SNIFF.search(head) is None:
        return False
    # The resourceType must be the top-level one, not a field nested in a record of notes.
    first = head.split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):  # pretty-printed: parse the whole (small) file
        obj = _whole(path)
    return isinstance(obj, dict) and obj.get("resourceType") in ("DocumentReference", "Bundle")


_WHOLE_LIMIT = 256 * 1024 * 1024


def _whole(path: Path) -> Any:
    """The parsed file, or None (unreadable, malformed, or too large to sniff)."""
    try:
        if path.stat().st_size > _WHOLE_LIMIT:
            return {"resourceType": "Bundle"}  # too large to parse twice: trust the sniff
        return json.loads(path.read_bytes().removeprefix(codecs.BOM_UTF8))
    except (OSError, ValueError, RecursionError):
        return None


def document_reference(note_id: str, text: str, *, status: str = "current") -> dict[str, Any]:
    """A minimal R4 DocumentReference carrying ``text`` (for clients, tests and benchmarks)."""
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return {
        "resourceType": "DocumentReference",
        "id": note_id,
        "status": status,
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}}],
    }
