"""Reviewed notes as gold labels (spec section 6): the feedback loop to evaluate and train.

A note is exported once a reviewer decided on it (accepted, overridden, answered or
closed). Its label is docgap's report as the reviewer confirmed it, with an override's
corrected status and elements in place of docgap's. Notes whose text the store does not
hold cannot be gold and are counted as skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docgap.store.db import session
from docgap.store.models import ReviewItem
from docgap.store.review import list_items

__all__ = ["DECIDED_STATES", "export_gold", "gold_record"]

DECIDED_STATES = frozenset({"accepted", "overridden", "answered", "closed"})


def gold_record(item: ReviewItem) -> dict[str, Any] | None:
    """The gold line of a decided item with its text (None otherwise)."""
    text = item.report.note.text
    if item.state not in DECIDED_STATES or text is None or item.report.status is None:
        return None
    record = item.report.record
    elements = {k: bool(v) for k, v in (record.get("elements") or {}).items()}
    status = record.get("status")
    would_code = record.get("would_code")
    if item.override_status is not None:
        elements.update({k: bool(v) for k, v in (item.override_elements or {}).items()})
        if item.override_status != status:
            status, would_code = item.override_status, item.final_code
    return {
        "id": item.note_id,
        "text": text,
        "gold": {
            "elements": elements,
            "chiropractic": bool(record.get("chiropractic")),
            "status": status,
            "would_code": would_code,
        },
        "rationale": item.override_reason or f"reviewer: {item.state}",
    }


def export_gold(db_url: str, out: Path) -> tuple[int, int]:
    """Write the gold file; returns (notes written, decided notes skipped for lack of text)."""
    written = skipped = 0
    with session(db_url) as db, out.open("w", encoding="utf-8") as handle:
        for item in list_items(db):
            if item.state not in DECIDED_STATES:
                continue
            line = gold_record(item)
            if line is None:
                skipped += 1
                continue
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    return written, skipped
