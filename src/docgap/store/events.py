"""Events from outside the worklist: documents withdrawn (HL7 MDM^T11) and CDS card feedback.

Neither is a reviewer's decision, so both come with a user naming their origin
(``hl7:<sending facility>``, ``cds:<client>``) and neither can fail on a note the worklist
does not know: an interface engine may cancel a document docgap never received, and a CDS
client may report on a card whose note was never stored. Such events are still appended to
the audit log (``before`` empty, no evidence), so nothing an upstream system said is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgap.store.audit import record_entry
from docgap.store.db import session
from docgap.store.lifecycle import OPEN_STATES
from docgap.store.models import AuditEntry, ReviewItem, utcnow

__all__ = ["FEEDBACK_OUTCOMES", "UNKNOWN_NOTE", "cancel", "record_feedback"]

FEEDBACK_OUTCOMES = ("accepted", "overridden")
#: the audit log's note id for feedback on a card no stored note is known for
UNKNOWN_NOTE = "(unknown)"
# Keys of an HL7 cancellation's meta kept in the audit (ids, never text).
_META_KEYS = (
    "hl7_event",
    "message_control_id",
    "patient_id",
    "encounter_id",
    "sending_application",
    "sending_facility",
)


def _orphan_entry(
    db: Session, note_id: str, user: str, action: str, details: dict[str, Any]
) -> None:
    """An audit entry for a note without a review item (nothing to snapshot)."""
    db.add(
        AuditEntry(
            note_id=note_id,
            user=user,
            at=utcnow(),
            action=action,
            before_state=None,
            after_state="unknown",
            details={**details, "known_note": False},
            evidence={},
        )
    )


def _item(db: Session, note_id: str) -> ReviewItem | None:
    return db.scalar(select(ReviewItem).where(ReviewItem.note_id == note_id))


def cancel(
    db_url: str,
    note_id: str,
    *,
    user: str,
    reason: str,
    meta: Mapping[str, Any] | None = None,
) -> str:
    """Take ``note_id`` off the open worklist (state ``cancelled``); returns what was done.

    ``"cancelled"`` when an open item was cancelled, ``"already-final"`` when it was closed or
    cancelled before (recorded, state kept), ``"unknown"`` when no item has that id
    (recorded). Only the id fields of ``meta`` are kept.
    """
    details: dict[str, Any] = {"reason": reason}
    details.update({k: meta[k] for k in _META_KEYS if meta and meta.get(k)})
    with session(db_url) as db:
        item = _item(db, note_id)
        if item is None:
            _orphan_entry(db, note_id, user, "cancel", details)
            return "unknown"
        before = item.state
        if before not in OPEN_STATES:
            record_entry(db, item, user, "cancel", before, {**details, "refused": "final state"})
            return "already-final"
        item.state = "cancelled"
        item.updated_at = utcnow()
        db.flush()
        record_entry(db, item, user, "cancel", before, details)
        return "cancelled"


def record_feedback(
    db_url: str,
    note_id: str | None,
    outcome: str,
    override_reason: str | None,
    card_uuid: str,
    user: str,
) -> None:
    """Append a CDS card's outcome (``accepted`` or ``overridden``) to the audit log.

    The item's state does not change: a physician's answer to a card is information for the
    CDI specialist, not a review decision. ``note_id`` None (a card the service no longer
    remembers) is recorded under :data:`UNKNOWN_NOTE`.
    """
    if outcome not in FEEDBACK_OUTCOMES:
        raise ValueError(f"unknown feedback outcome; choose from {', '.join(FEEDBACK_OUTCOMES)}")
    details: dict[str, Any] = {"outcome": outcome, "card": card_uuid}
    if override_reason:
        details["override_reason"] = override_reason
    with session(db_url) as db:
        item = _item(db, note_id) if note_id is not None else None
        if item is None:
            _orphan_entry(db, note_id or UNKNOWN_NOTE, user, "cds-feedback", details)
            return
        record_entry(db, item, user, "cds-feedback", item.state, details)
