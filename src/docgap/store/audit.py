"""The append-only audit log: one entry per transition, with the evidence it was based on.

Entries are only ever added (the database refuses UPDATE and DELETE by trigger). Each keeps
a snapshot of what the reviewer saw (status, code, elements, gaps and evidence of the
report), so a later rescan cannot rewrite why a decision was taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgap.store.models import AuditEntry, ReviewItem, utcnow

__all__ = ["audit_entries", "entry_dict", "evidence_snapshot", "record_entry"]

_EVIDENCE_KEYS = ("element", "text", "start", "end", "section", "assertion", "counted", "rule")


def evidence_snapshot(record: dict[str, Any]) -> dict[str, Any]:
    """What of a report a decision rests on (the report id is kept beside it)."""
    return {
        "status": record.get("status"),
        "would_code": record.get("would_code"),
        "elements": record.get("elements") or {},
        "gaps": [g.get("key") for g in record.get("gaps") or ()],
        "evidence": [{k: ev.get(k) for k in _EVIDENCE_KEYS} for ev in record.get("evidence") or ()],
    }


def record_entry(
    db: Session,
    item: ReviewItem,
    user: str,
    action: str,
    before: str | None,
    details: dict[str, Any],
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry for ``item`` (after its state changed)."""
    entry = AuditEntry(
        note_id=item.note_id,
        user=user,
        at=at or utcnow(),
        action=action,
        before_state=before,
        after_state=item.state,
        details=details,
        evidence={"report_id": item.report.id, **evidence_snapshot(item.report.record)},
    )
    db.add(entry)
    return entry


def audit_entries(
    db: Session, note_id: str | None = None, since: dt.datetime | None = None
) -> Sequence[AuditEntry]:
    """Entries in the order they were written (of one note, and from ``since``, if given)."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if note_id is not None:
        query = query.where(AuditEntry.note_id == note_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return db.scalars(query).all()


def entry_dict(entry: AuditEntry, with_evidence: bool = False) -> dict[str, Any]:
    """An entry as JSON-ready data (the evidence snapshot only when asked: it quotes notes)."""
    data: dict[str, Any] = {
        "id": entry.id,
        "note_id": entry.note_id,
        "user": entry.user,
        "at": entry.at.isoformat(),
        "action": entry.action,
        "before": entry.before_state,
        "after": entry.after_state,
        "details": entry.details,
    }
    if with_evidence:
        data["evidence"] = entry.evidence
    return data
