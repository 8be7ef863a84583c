"""Applying a reviewer's action to a review item: validated, locked, audited.

Every action goes through :func:`docgap.store.lifecycle.next_state` (an impossible
transition is a :class:`~docgap.store.lifecycle.TransitionError`), is written with the
item's version column (a stale write is a :class:`ConflictError`, nothing is lost), and
appends an audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from docgap.store.audit import record_entry
from docgap.store.db import session
from docgap.store.lifecycle import CLAIMS_FIRST, RESPONSES, TransitionError, next_state
from docgap.store.models import ReviewItem, utcnow

__all__ = [
    "ConflictError",
    "ReviewRequest",
    "UnknownNoteError",
    "act",
    "get_item",
    "item_dict",
    "list_items",
]


class ConflictError(Exception):
    """Another reviewer changed the item since it was read; reload and act again."""


class UnknownNoteError(LookupError):
    """No review item has that note id."""


@dataclass(frozen=True)
class ReviewRequest:
    """One action and what it carries (each action reads the fields it needs)."""

    action: str
    status: str | None = None
    elements: Mapping[str, bool] | None = None
    reason: str | None = None
    query_text: str | None = None
    response: str | None = None
    final_code: str | None = None
    expected_version: int | None = None


def item_dict(item: ReviewItem) -> dict[str, Any]:
    """A review item as JSON-ready data (no note text)."""
    record = item.report.record
    return {
        "note_id": item.note_id,
        "state": item.state,
        "assignee": item.assignee,
        "version": item.version,
        "status": item.report.status,
        "previous_status": item.previous_status,
        "status_changed": item.previous_status is not None,
        "would_code": record.get("would_code"),
        "score": record.get("score"),
        "query_opportunity": bool(record.get("query_opportunity")),
        "gaps": [g.get("key") for g in record.get("gaps") or ()],
        "override_status": item.override_status,
        "override_elements": item.override_elements,
        "override_reason": item.override_reason,
        "response": item.response,
        "final_code": item.final_code,
        "updated_at": item.updated_at.isoformat(),
    }


def list_items(
    db: Session, state: str | None = None, assignee: str | None = None
) -> Sequence[ReviewItem]:
    """Review items, optionally of one state and one assignee, in note-id order.

    Cancelled items (documents withdrawn upstream) are off the worklist: listed only when
    ``state="cancelled"`` is asked for.
    """
    query = select(ReviewItem).order_by(ReviewItem.note_id)
    if state is not None:
        query = query.where(ReviewItem.state == state)
    else:
        query = query.where(ReviewItem.state != "cancelled")
    if assignee is not None:
        query = query.where(ReviewItem.assignee == assignee)
    return db.scalars(query).all()


def get_item(db: Session, note_id: str) -> ReviewItem:
    """The review item of ``note_id`` (:class:`UnknownNoteError` if there is none)."""
    item = db.scalar(select(ReviewItem).where(ReviewItem.note_id == note_id))
    if item is None:
        raise UnknownNoteError(f"no review item for note {note_id!r}")
    return item


def act(db_url: str, note_id: str, user: str, request: ReviewRequest) -> dict[str, Any]:
    """Apply ``request`` as ``user``; the item afterwards (see :func:`item_dict`)."""
    if not user.strip():
        raise TransitionError("an action needs the user who takes it")
    try:
        with session(db_url) as db:
            item = get_item(db, note_id)
            if request.expected_version is not None and request.expected_version != item.version:
                raise ConflictError(_conflict(note_id))
            if item.state == "new" and request.action in CLAIMS_FIRST:
                _apply(db, item, user, ReviewRequest("claim"))
                db.flush()
            _apply(db, item, user, request)
            db.flush()
            return item_dict(item)
    except StaleDataError:
        raise ConflictError(_conflict(note_id)) from None


def _conflict(note_id: str) -> str:
    return f"note {note_id!r} was changed by someone else since you read it; reload it"


def _apply(db: Session, item: ReviewItem, user: str, request: ReviewRequest) -> None:
    before = item.state
    target = next_state(before, request.action)
    details = _ACTIONS[request.action](item, user, request)
    item.state = target
    item.updated_at = utcnow()
    record_entry(db, item, user, request.action, before, details)


def _claim(item: ReviewItem, user: str, _request: ReviewRequest) -> dict[str, Any]:
    item.assignee = user
    return {"assignee": user}


def _accept(item: ReviewItem, _user: str, _request: ReviewRequest) -> dict[str, Any]:
    return {"status": item.report.status}


def _override(item: ReviewItem, _user: str, request: ReviewRequest) -> dict[str, Any]:
    from docgap.report import STATUSES

    if not (request.reason or "").strip():
        raise TransitionError("override needs a reason")
    if request.status is None and not request.elements:
        raise TransitionError("override needs the corrected status or elements")
    if request.status is not None and request.status not in STATUSES:
        raise TransitionError(f"unknown status {request.status!r}; choose from {STATUSES}")
    known = set(item.report.record.get("elements") or {})
    unknown = sorted(set(request.elements or {}) - known)
    if unknown:
        raise TransitionError(f"unknown elements {unknown}")
    item.override_status = request.status or item.report.status
    item.override_elements = dict(request.elements or {})
    item.override_reason = request.reason
    return {
        "from_status": item.report.status,
        "status": item.override_status,
        "elements": item.override_elements,
        "reason": request.reason,
    }


def _draft(item: ReviewItem, _user: str, request: ReviewRequest) -> dict[str, Any]:
    from docgap.outputs.queries import check_query, draft_queries

    if request.query_text is not None:
        text, origin = request.query_text, "edited"
    else:
        drafts = draft_queries(item.report.record)
        if not drafts:
            raise TransitionError(
                f"no query of queries.yml fits note {item.note_id!r} (status and gaps); "
                "write one with --query-file"
            )
        text, origin = drafts[0].text, f"queries.yml:{drafts[0].key}"
    item.query_text = text
    return {"origin": origin, "problems": check_query(text)}


def _send(item: ReviewItem, _user: str, _request: ReviewRequest) -> dict[str, Any]:
    from docgap.outputs.queries import check_query

    if not item.query_text:
        raise TransitionError("no query drafted")
    problems = check_query(item.query_text)
    if problems:
        raise TransitionError("the query is not compliant: " + "; ".join(problems))
    return {"compliant": True}


def _answer(item: ReviewItem, _user: str, request: ReviewRequest) -> dict[str, Any]:
    if request.response not in RESPONSES:
        raise TransitionError(f"answer needs a response: one of {', '.join(RESPONSES)}")
    item.response = request.response
    return {"response": request.response}


def _cancel(item: ReviewItem, _user: str, request: ReviewRequest) -> dict[str, Any]:
    if not (request.reason or "").strip():
        raise TransitionError("cancel needs a reason")
    return {"reason": request.reason}


def _close(item: ReviewItem, _user: str, request: ReviewRequest) -> dict[str, Any]:
    code = request.final_code
    if code is None and item.state == "accepted":
        code = item.report.record.get("would_code")
    if not code:
        raise TransitionError("close needs the final code (--final-code)")
    item.final_code = code
    return {"final_code": code}


_ACTIONS = {
    "claim": _claim,
    "accept": _accept,
    "override": _override,
    "draft-query": _draft,
    "send-query": _send,
    "answer": _answer,
    "close": _close,
    "cancel": _cancel,
}
