"""Real notes for the benchmarks, with the reserved (held-out) notes left out unread.

``bench.py`` samples the first notes of the corpus; the length sweep and the model
micro-benchmark need many distinct notes, so they must skip the ids listed in
``reserved_ids.txt`` (the evaluation's held-out notes) *before* reading any text: a line
whose id is reserved is dropped on its id alone.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["reserved_ids", "usable_notes"]


def reserved_ids(corpus: Path) -> frozenset[str]:
    """The ids in ``reserved_ids.txt`` beside the corpus (none when the file is absent)."""
    path = corpus.with_name("reserved_ids.txt")
    if not path.is_file():
        return frozenset()
    return frozenset(
        line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    )


def usable_notes(
    corpus: Path, limit: int | None = None, *, distinct: bool = True
) -> list[tuple[str, str]]:
    """``(note_id, text)`` of non-empty, non-reserved notes, in file order.

    ``distinct``: each text once (the length sweep); ``False`` keeps repeated texts (the
    throughput benchmark samples the corpus as it is).
    """
    reserved = reserved_ids(corpus)
    seen: set[str] = set()
    notes: list[tuple[str, str]] = []
    with corpus.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            note_id = str(record.get("note_id") or f"line-{line_no}")
            if note_id in reserved:
                continue  # a held-out note: its text is never looked at
            text = record.get("text") or ""
            if not text.strip() or (distinct and text in seen):
                continue
            seen.add(text)
            notes.append((note_id, text))
            if limit is not None and len(notes) >= limit:
                break
    return notes
