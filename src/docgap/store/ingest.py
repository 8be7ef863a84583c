"""Writing a scan's reports into the store, revision-safe.

Re-ingesting the same text under the same rules adds nothing (not even a scan row). A new
text, or the same text under new rules (another lexicon hash or pack), adds a report and
keeps the old ones. The note's review item moves to the newest report: its state carries
over when the status is the same; when the status changed the item goes back to ``new``
with ``previous_status`` set and an audit entry saying so, so the change is visible. A
cancelled item (the document was withdrawn upstream) stays cancelled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgap.store.audit import record_entry
from docgap.store.db import session
from docgap.store.models import Note, Report, ReviewItem, Scan, utcnow

__all__ = ["SYSTEM_USER", "IngestResult", "StatusChange", "ingest"]

SYSTEM_USER = "docgap"


@dataclass(frozen=True)
class StatusChange:
    """A note whose status differs from its previous report's."""

    note_id: str
    before: str | None
    after: str | None


@dataclass
class IngestResult:
    """What one ingest added (all zero and ``scan_id`` None when nothing was new)."""

    scan_id: int | None = None
    notes_added: int = 0
    reports_added: int = 0
    unchanged: int = 0
    changed: list[StatusChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for ``docgap db ingest --format json``)."""
        return {
            "scan_id": self.scan_id,
            "notes_added": self.notes_added,
            "reports_added": self.reports_added,
            "unchanged": self.unchanged,
            "changed": [vars(c) for c in self.changed],
        }


def _text_key(text: str | None, record: Mapping[str, Any]) -> str:
    """The revision key: the text's sha256, or (no text known) the report's own hash."""
    if text is not None:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return "r" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[1:]


def _default_lexicon_hash() -> str:
    from docgap.rules.lexicon import load_lexicon

    return load_lexicon().sha256


def _default_version() -> str:
    from docgap import __version__

    return __version__


def ingest(
    db_url: str,
    reports: Iterable[Mapping[str, Any]],
    texts: Mapping[str, str] | None = None,
    *,
    docgap_version: str | None = None,
    pack: str = "m53.0",
    lexicon_hash: str | None = None,
) -> IngestResult:
    """Store a scan's reports (spec section 5 records) and their notes' texts.

    ``texts`` maps note ids to texts (a record's own ``text`` key is used otherwise);
    ``docgap_version`` and ``lexicon_hash`` default to this docgap and its shipped rules.
    One transaction: on any error nothing is stored.
    """
    version = docgap_version or _default_version()
    rules = lexicon_hash or _default_lexicon_hash()
    result = IngestResult()
    with session(db_url) as db:
        scan: Scan | None = None
        for record in reports:
            note_id = str(record["note_id"])
            text = (texts or {}).get(note_id, record.get("text"))
            note = _note(db, note_id, text, record, result)
            if _already_reported(db, note, pack, rules):
                result.unchanged += 1
                continue
            if scan is None:
                scan = Scan(docgap_version=version, pack=pack, lexicon_hash=rules)
                db.add(scan)
                db.flush()
                result.scan_id = scan.id
            stored = {k: v for k, v in record.items() if k != "text"}
            report = Report(note=note, scan=scan, status=record.get("status"), record=stored)
            db.add(report)
            db.flush()
            result.reports_added += 1
            change = _attach(db, note_id, report)
            if change is not None:
                result.changed.append(change)
    return result


def _note(
    db: Session, note_id: str, text: str | None, record: Mapping[str, Any], result: IngestResult
) -> Note:
    key = _text_key(text, record)
    note = db.scalar(select(Note).where(Note.note_id == note_id, Note.text_sha256 == key))
    if note is None:
        source = (record.get("meta") or {}).get("source")
        note = Note(note_id=note_id, text=text, text_sha256=key, source=source)
        db.add(note)
        db.flush()
        result.notes_added += 1
    return note


def _already_reported(db: Session, note: Note, pack: str, rules: str) -> bool:
    found = db.scalar(
        select(Report.id)
        .join(Scan)
        .where(Report.note_row_id == note.id, Scan.pack == pack, Scan.lexicon_hash == rules)
        .limit(1)
    )
    return found is not None


def _attach(db: Session, note_id: str, report: Report) -> StatusChange | None:
    """Point the note's review item at ``report``; the status change, if any."""
    item = db.scalar(select(ReviewItem).where(ReviewItem.note_id == note_id))
    now = utcnow()
    if item is None:
        item = ReviewItem(note_id=note_id, report=report, state="new", updated_at=now)
        db.add(item)
        record_entry(db, item, SYSTEM_USER, "ingest", None, {"status": report.status})
        return None
    before_status = item.report.status
    before_state = item.state
    item.report = report
    item.updated_at = now
    if before_status == report.status:
        record_entry(
            db,
            item,
            SYSTEM_USER,
            "rescan",
            before_state,
            {"status": report.status},
        )
        return None
    item.previous_status = before_status
    item.status_changed_at = now
    if before_state != "cancelled":  # withdrawn upstream: a rescan does not bring it back
        item.state = "new"
        item.assignee = None
        for name in (
            "override_status",
            "override_elements",
            "override_reason",
            "query_text",
            "response",
            "final_code",
        ):
            setattr(item, name, None)
    record_entry(
        db,
        item,
        SYSTEM_USER,
        "rescan",
        before_state,
        {"status_changed": True, "before_status": before_status, "status": report.status},
    )
    return StatusChange(note_id, before_status, report.status)
