r"""HL7 v2 MDM messages (transcribed documents) in, notes and cancellations out.

Scribe vendors and EHR interface engines send finished documents as MDM messages, either
MLLP-framed (``\x0b ... \x1c\x0d``) or one segment per line in a file. hl7apy parses each
message (structure, header, TXA, PID, PV1); the document text is the OBX-5 values in order,
taken from the segments as received and unescaped here, because hl7apy re-escapes
sequences it does not know (``\.br\`` would come back as ``\E\.br\E\``).

* MDM^T02/T04/T06/T08/T10 carry a document: one :class:`NoteInput`, id from TXA-12 (the
  unique document number), patient (PID-3) and encounter (PV1-19) ids in ``meta``.
* MDM^T11 cancels a document: one :class:`Cancellation`.
* Anything else parses to an :class:`MdmMessage` whose ``outcome`` says why it is refused.

Messages name segments, fields and exception types, never the content (notes are PHI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from docgap.inputs.decoding import DEFAULT_MAX_CHARS, check_text
from docgap.inputs.record import NoteInput

__all__ = [
    "CANCEL_EVENTS",
    "DOCUMENT_EVENTS",
    "HL7_SUFFIXES",
    "Cancellation",
    "MdmMessage",
    "Outcome",
    "parse_mdm",
    "read_hl7_bytes",
    "read_hl7_notes",
    "read_hl7_path",
    "split_messages",
    "unescape",
]

HL7_SUFFIXES = (".hl7",)
DOCUMENT_EVENTS = frozenset({"T02", "T04", "T06", "T08", "T10"})
CANCEL_EVENTS = frozenset({"T11"})
_TEXT_TYPES = frozenset({"TX", "FT", "ST", ""})
START, END = b"\x0b", b"\x1c"
_LINE = re.compile(r"\r\n|\n|\r")

#: ``document`` and ``cancel`` are usable; ``unsupported`` is a message type or version
#: docgap does not take (an ACK ``AR``); ``invalid`` parses badly or lacks what is needed
#: (an ACK ``AE``).
Outcome = Literal["document", "cancel", "unsupported", "invalid"]


@dataclass
class Cancellation:
    """An MDM^T11: the document ``note_id`` is withdrawn (off the open worklist, audited)."""

    note_id: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class MdmMessage:
    """One received message: what it is, what it carries, and what an ACK needs."""

    outcome: Outcome
    reason: str | None = None
    event: str | None = None
    control_id: str | None = None
    version: str = "2.5"
    sender: tuple[str, str] = ("", "")  # MSH-3, MSH-4 (the ACK's receiver)
    receiver: tuple[str, str] = ("", "")  # MSH-5, MSH-6 (the ACK's sender)
    note: NoteInput | None = None
    cancellation: Cancellation | None = None


# -- framing ----------------------------------------------------------------------------
def split_messages(data: bytes) -> list[bytes]:
    """The messages in ``data``: MLLP frames, or else segment lines grouped at each ``MSH``.

    A frame without its end marker is still returned (and will fail to parse on its own).
    """
    if START in data:
        frames = []
        for chunk in data.split(START)[1:]:
            frame = chunk.split(END, 1)[0]
            if frame.strip():
                frames.append(frame)
        return frames
    messages: list[list[bytes]] = []
    for line in re.split(rb"\r\n|\n|\r", data):
        if not line.strip():
            continue
        if line.lstrip(b"\xef\xbb\xbf").startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(line.lstrip(b"\xef\xbb\xbf"))
    return [b"\r".join(segments) for segments in messages]


def _decode(raw: bytes) -> tuple[str, list[str]]:
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), ["not valid UTF-8; decoded as Windows-1252"]


# -- escapes ----------------------------------------------------------------------------
def _hex(body: str) -> str:
    try:
        return bytes.fromhex(body).decode("utf-8", errors="replace")
    except ValueError:
        return ""


def unescape(value: str, encoding: str = "^~\\&", field_sep: str = "|") -> str:
    r"""Decode HL7 escape sequences (``\F\ \S\ \T\ \R\ \E\ \.br\ \Xhh\``...).

    Formatting commands become line breaks where they mean one (``.br``, ``.sp n``) and
    disappear otherwise (highlighting, indents, character-set switches).
    """
    esc = encoding[2] if len(encoding) > 2 else "\\"
    if esc not in value:
        return value
    comp, rep = encoding[0], encoding[1]
    sub = encoding[3] if len(encoding) > 3 else "&"
    simple = {"F": field_sep, "S": comp, "T": sub, "R": rep, "E": esc, "H": "", "N": ""}
    pattern = re.compile(re.escape(esc) + r"([^" + re.escape(esc) + r"]*)" + re.escape(esc))

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body in simple:
            return simple[body]
        if body == ".br":
            return "\n"
        if body.startswith(".sp"):
            count = body[3:].strip()
            return "\n" * (int(count) if count.isdigit() else 1)
        if body.startswith("X"):
            return _hex(body[1:])
        return ""  # .in/.ti/.sk/.ce/.fi/.nf, \Cxxyy\, \Mxxyyzz\, \Zxx\: formatting only

    return pattern.sub(one, value)


# -- one message ------------------------------------------------------------------------
def _first(value: str, comp: str, rep: str) -> str:
    """The first component of the first repetition (an id out of a CX or EI)."""
    return value.split(rep, 1)[0].split(comp, 1)[0].strip()


def _code(value: str) -> str | None:
    """A message type or event code, or None when it is not one (never free text: PHI)."""
    value = value.strip()
    return value if re.fullmatch(r"[A-Z0-9_]{1,7}", value) else None


def _field(segment: str, index: int, sep: str) -> str:
    parts = segment.split(sep)
    if segment.startswith("MSH"):  # MSH-1 is the separator itself
        index -= 1
    return parts[index] if len(parts) > index else ""


def _obx_text(segments: list[str], sep: str, enc: str) -> tuple[str | None, int]:
    """OBX-5 values of the text OBXs in order (repetitions are lines), and the others' count."""
    comp, rep = enc[0], enc[1]
    parts: list[str] = []
    skipped = 0
    for segment in segments:
        if not segment.startswith("OBX" + sep):
            continue
        value_type = _field(segment, 2, sep).split(comp, 1)[0].strip().upper()
        if value_type not in _TEXT_TYPES:
            skipped += 1
            continue
        raw = _field(segment, 5, sep)
        lines = [unescape(r, enc, sep) for r in raw.split(rep)]
        parts.append("\n".join(lines))
    return ("\n".join(parts) if parts else None), skipped


def _parse(er7: str) -> Any:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    return parse_message(er7, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)


def parse_mdm(
    raw: bytes | str, *, name: str = "message", max_chars: int = DEFAULT_MAX_CHARS
) -> MdmMessage:
    """What one message is and carries; never raises (a bad message says why, without PHI).

    ``name`` keys the error record of a message that has no usable id.
    """
    text, warnings = _decode(raw) if isinstance(raw, bytes) else (raw, [])
    segments = [s.lstrip("\ufeff") for s in _LINE.split(text.strip()) if s.strip()]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        return MdmMessage("invalid", "not an HL7 v2 message (no MSH segment)")
    sep, enc = segments[0][3], segments[0][4:8]
    if enc[0] == sep or len(set(enc[:4])) < 4:
        return MdmMessage("invalid", "not an HL7 v2 message (bad MSH encoding characters)")
    msh = segments[0]
    if msh.count(sep) < 11:
        return MdmMessage("invalid", "not an HL7 v2 message (MSH segment has under 12 fields)")
    comp, rep = enc[0], enc[1]
    header = MdmMessage(
        "invalid",
        control_id=_field(msh, 10, sep) or None,
        version=_first(_field(msh, 12, sep), comp, rep) or "2.5",
        sender=(_field(msh, 3, sep), _field(msh, 4, sep)),
        receiver=(_field(msh, 5, sep), _field(msh, 6, sep)),
    )
    msg_type = _field(msh, 9, sep).split(comp)
    kind = _code(msg_type[0])
    header.event = _code(msg_type[1]) if len(msg_type) > 1 else None
    if kind is None:
        header.reason = "no readable message type (MSH-9)"
        return header
    if kind != "MDM" or header.event not in DOCUMENT_EVENTS | CANCEL_EVENTS:
        header.outcome = "unsupported"
        header.reason = f"message type {kind}^{header.event or '(none)'} is not taken"
        return header
    try:
        message = _parse("\r".join(segments))
    except Exception as exc:  # hl7apy raises many types; their text may quote the message
        name_ = type(exc).__name__
        header.outcome = "unsupported" if name_ == "UnsupportedVersion" else "invalid"
        header.reason = (
            f"HL7 version {header.version[:10]} is not supported"
            if name_ == "UnsupportedVersion"
            else f"not a parseable HL7 v2 message ({name_})"
        )
        return header
    by_name: dict[str, list[str]] = {}
    for segment in segments:
        by_name.setdefault(segment[:3], []).append(segment)
    try:
        doc_id = _first(message.txa.txa_12.to_er7(), comp, rep) if "TXA" in by_name else ""
    except Exception as exc:
        header.reason = f"unreadable TXA segment ({type(exc).__name__})"
        return header
    if not doc_id:
        header.reason = "no unique document number (TXA-12)"
        return header
    meta: dict[str, Any] = {"hl7_event": header.event}
    if header.control_id:
        meta["message_control_id"] = header.control_id
    for key, seg, index in (("patient_id", "PID", 3), ("encounter_id", "PV1", 19)):
        if seg in by_name:
            value = _first(_field(by_name[seg][0], index, sep), comp, rep)
            if value:
                meta[key] = unescape(value, enc, sep)
    doc_id = unescape(doc_id, enc, sep)
    if header.event in CANCEL_EVENTS:
        header.outcome = "cancel"
        header.cancellation = Cancellation(doc_id, meta)
        return header
    body, skipped = _obx_text(by_name.get("OBX", []), sep, enc)
    if skipped:
        warnings.append(f"{skipped} OBX segment(s) not text (TX/FT/ST) were left out")
    if body is None:
        header.reason = "no text OBX segment (OBX-5 with type TX, FT or ST)"
        header.note = NoteInput(doc_id, None, header.reason, warnings, meta)
        return header
    problem = check_text(body, max_chars)
    header.note = NoteInput(doc_id, None if problem else body, problem, warnings, meta)
    header.outcome = "invalid" if problem else "document"
    header.reason = problem
    return header


# -- files ------------------------------------------------------------------------------
def read_hl7_bytes(
    data: bytes, name: str = "stdin", *, max_chars: int = DEFAULT_MAX_CHARS
) -> Iterator[NoteInput | Cancellation]:
    """Each message's document or cancellation, in order; a bad message is one error record."""
    for position, raw in enumerate(split_messages(data), start=1):
        message = parse_mdm(raw, name=name, max_chars=max_chars)
        if message.cancellation is not None:
            yield message.cancellation
        elif message.note is not None:
            yield message.note
        else:
            key = f"{name}#message-{position}"
            yield NoteInput(key, None, message.reason or "unusable HL7 message")


def read_hl7_notes(
    data: bytes, name: str = "stdin", *, max_chars: int = DEFAULT_MAX_CHARS
) -> Iterator[NoteInput]:
    """The notes only (``docgap scan``): cancellations have nothing to analyse."""
    for item in read_hl7_bytes(data, name, max_chars=max_chars):
        if isinstance(item, NoteInput):
            yield item


def read_hl7_path(path: Path | str, *, max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[NoteInput]:
    """The notes of one ``.hl7`` file; each record's ``meta`` names its ``source``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield NoteInput(path.stem, None, f"cannot read file: {exc.strerror}")
        return
    for note in read_hl7_notes(data, path.stem, max_chars=max_chars):
        note.meta.setdefault("source", str(path))
        yield note
