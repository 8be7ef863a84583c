"""Pair a scan's reports with their notes' texts, read again from the scan's inputs.

``docgap report --texts`` shows each note's text beside its report. Reports carry the
note id but not the input it came from, and two inputs (or two rows of one) may share an
id: pairing by id alone would put one patient's note on another patient's report. So:

1. when the report lists exactly the inputs' ids in the inputs' order (what ``docgap scan``
   writes without ``--sort``/``--review-only``), texts pair by position, and a shared id
   is no problem;
2. otherwise texts pair by id, and an id that the report lists and that more than one input
   record carries with different texts is refused (:class:`AmbiguousTextsError`), never
   guessed. Messages name inputs and record numbers, never ids or text (they may be PHI).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docgap.inputs.reading import open_sources

__all__ = ["AmbiguousTextsError", "TextRecord", "match_texts", "read_texts"]


class AmbiguousTextsError(ValueError):
    """Texts that cannot be paired with the reports without guessing."""


@dataclass(frozen=True)
class TextRecord:
    """One input record's id and text, with the input it was read from."""

    source: str
    note_id: str
    text: str | None


def read_texts(
    inputs: Iterable[str], *, fmt: str = "auto", id_col: str = "note_id", text_col: str = "text"
) -> list[TextRecord]:
    """Every record of ``inputs`` in order, as a scan reads them (raises ``InputError``)."""
    return [
        TextRecord(source.name, note.note_id, note.text)
        for source in open_sources(inputs, fmt=fmt, id_col=id_col, text_col=text_col)
        for note in source.records()
    ]


def _by_id(texts: Sequence[TextRecord]) -> tuple[dict[str, str | None], dict[str, set[str]]]:
    """Texts by id, and for each id carried with different texts, the inputs that carry it."""
    found: dict[str, str | None] = {}
    clashes: dict[str, set[str]] = {}
    first_source: dict[str, str] = {}
    for record in texts:
        if record.note_id not in found:
            found[record.note_id] = record.text
            first_source[record.note_id] = record.source
        elif found[record.note_id] != record.text:
            clashes.setdefault(record.note_id, {first_source[record.note_id]}).add(record.source)
    return found, clashes


def match_texts(
    records: Sequence[Mapping[str, Any]], texts: Sequence[TextRecord]
) -> list[str | None]:
    """The text of each report record (``None`` where the inputs have none), in order."""
    ids = [str(record.get("note_id")) for record in records]
    if ids == [t.note_id for t in texts]:
        return [t.text for t in texts]
    found, clashes = _by_id(texts)
    ambiguous = [n for n, note_id in enumerate(ids, start=1) if note_id in clashes]
    if ambiguous:
        sources = sorted({s for note_id in ids if note_id in clashes for s in clashes[note_id]})
        raise AmbiguousTextsError(
            f"{len(ambiguous)} report record(s) (first: record {ambiguous[0]}) have a note id "
            f"that --texts inputs give to different notes ({', '.join(sources)}), and the "
            "report is not in the inputs' order: cannot tell which text is whose. Give --texts "
            "only the inputs the report was scanned from, in the scan's order, or make ids unique"
        )
    return [found.get(note_id) for note_id in ids]
