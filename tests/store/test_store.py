"""The store on SQLite and PostgreSQL: ingest, rescans, the lifecycle, locking, the audit log."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from docgap.store import (
    ConflictError,
    ReviewRequest,
    TransitionError,
    UnknownNoteError,
    act,
    ingest,
    session,
)
from docgap.store.audit import audit_entries
from docgap.store.models import Note, Report, ReviewItem, Scan
from docgap.store.review import get_item

RULES = "a" * 64
NEW_RULES = "b" * 64
QUERY_NOTE = "05-downcode-query-opportunity"
AT_RISK = "02-at-risk-chiro-no-level"
SUPPORTED = "01-supported-neurology"


def _ingest(url: str, reports: list[dict[str, Any]], texts: dict[str, str], rules: str = RULES):
    return ingest(url, reports, texts, docgap_version="test", lexicon_hash=rules)


def _count(url: str, model: type) -> int:
    with session(url) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@pytest.fixture
def loaded(db_url: str, example_reports, example_texts) -> str:
    _ingest(db_url, example_reports, example_texts)
    return db_url


def test_ingest_stores_notes_scan_reports_and_items(db_url, example_reports, example_texts):
    result = _ingest(db_url, example_reports, example_texts)
    n = len(example_reports)
    assert (result.notes_added, result.reports_added, result.unchanged) == (n, n, 0)
    assert [_count(db_url, m) for m in (Note, Scan, Report, ReviewItem)] == [n, 1, n, n]
    with session(db_url) as db:
        note = db.scalar(sa.select(Note).where(Note.note_id == SUPPORTED))
        assert note is not None and note.text == example_texts[SUPPORTED]
        assert len(note.text_sha256) == 64
        scan = db.scalar(sa.select(Scan))
        assert scan is not None and (scan.docgap_version, scan.lexicon_hash) == ("test", RULES)
        assert get_item(db, SUPPORTED).state == "new"


def test_same_text_same_rules_adds_nothing(loaded, example_reports, example_texts):
    before = [_count(loaded, m) for m in (Note, Scan, Report, ReviewItem)]
    result = _ingest(loaded, example_reports, example_texts)
    assert result.scan_id is None and result.reports_added == 0
    assert result.unchanged == len(example_reports)
    assert [_count(loaded, m) for m in (Note, Scan, Report, ReviewItem)] == before


def test_new_text_adds_a_revision_and_keeps_the_old(loaded, example_reports, example_texts):
    texts = dict(example_texts)
    texts[SUPPORTED] += "\nAddendum: reviewed.\n"
    result = _ingest(loaded, example_reports, texts)
    assert (result.notes_added, result.reports_added) == (1, 1)
    with session(loaded) as db:
        revisions = db.scalars(sa.select(Note).where(Note.note_id == SUPPORTED)).all()
        assert sorted(n.text == example_texts[SUPPORTED] for n in revisions) == [False, True]
        assert get_item(db, SUPPORTED).report.note.text == texts[SUPPORTED]


def test_rescan_under_new_rules_carries_state_unless_status_changed(
    loaded, example_reports, example_texts
):
    act(loaded, SUPPORTED, "ann", ReviewRequest("accept"))
    act(loaded, AT_RISK, "ann", ReviewRequest("accept"))
    rescanned = copy.deepcopy(example_reports)
    for record in rescanned:
        if record["note_id"] == AT_RISK:
            record["status"] = "downcode"
    result = _ingest(loaded, rescanned, example_texts, rules=NEW_RULES)
    assert result.reports_added == len(example_reports)
    assert [(c.note_id, c.before, c.after) for c in result.changed] == [
        (AT_RISK, "at_risk", "downcode")
    ]
    with session(loaded) as db:
        kept = get_item(db, SUPPORTED)
        assert (kept.state, kept.previous_status) == ("accepted", None)
        changed = get_item(db, AT_RISK)
        assert (changed.state, changed.previous_status) == ("new", "at_risk")
        assert changed.report.status == "downcode"
        old = db.scalars(
            sa.select(Report).join(Note).where(Note.note_id == AT_RISK).order_by(Report.id)
        ).all()
        assert [r.status for r in old] == ["at_risk", "downcode"]  # the old verdict is kept
        last = audit_entries(db, note_id=AT_RISK)[-1]
        assert last.action == "rescan"
        assert last.details["before_status"] == "at_risk" and last.before_state == "accepted"


def test_query_path_to_closed_with_audit(loaded):
    act(loaded, QUERY_NOTE, "ann", ReviewRequest("draft-query"))
    act(loaded, QUERY_NOTE, "ann", ReviewRequest("send-query"))
    act(loaded, QUERY_NOTE, "bob", ReviewRequest("answer", response="agree"))
    item = act(loaded, QUERY_NOTE, "bob", ReviewRequest("close", final_code="M53.0"))
    assert (item["state"], item["final_code"], item["response"]) == ("closed", "M53.0", "agree")
    with session(loaded) as db:
        entries = audit_entries(db, note_id=QUERY_NOTE)
        trail = [(e.user, e.action, e.before_state, e.after_state) for e in entries]
        assert trail == [
            ("docgap", "ingest", None, "new"),
            ("ann", "claim", "new", "in_review"),
            ("ann", "draft-query", "in_review", "query_drafted"),
            ("ann", "send-query", "query_drafted", "query_sent"),
            ("bob", "answer", "query_sent", "answered"),
            ("bob", "close", "answered", "closed"),
        ]
        assert entries[2].details["origin"].startswith("queries.yml:")
        assert entries[2].evidence["status"] == "downcode" and entries[2].evidence["evidence"]
        assert get_item(db, QUERY_NOTE).query_text


def test_a_leading_edited_query_cannot_be_sent(loaded):
    act(loaded, QUERY_NOTE, "ann", ReviewRequest("draft-query"))
    with session(loaded) as db:
        draft = get_item(db, QUERY_NOTE).query_text or ""
    leading = draft + "\nPlease document cervicocranial syndrome to support M53.0.\n"
    edited = act(loaded, QUERY_NOTE, "ann", ReviewRequest("draft-query", query_text=leading))
    assert edited["state"] == "query_drafted"
    with pytest.raises(TransitionError, match="not compliant"):
        act(loaded, QUERY_NOTE, "ann", ReviewRequest("send-query"))
    with session(loaded) as db:
        assert get_item(db, QUERY_NOTE).state == "query_drafted"
        assert audit_entries(db, note_id=QUERY_NOTE)[-1].details["problems"]


def test_override_needs_reason_and_correction(loaded):
    with pytest.raises(TransitionError, match="reason"):
        act(loaded, AT_RISK, "ann", ReviewRequest("override", status="downcode"))
    with pytest.raises(TransitionError, match="unknown status"):
        act(loaded, AT_RISK, "ann", ReviewRequest("override", status="maybe", reason="x"))
    item = act(
        loaded,
        AT_RISK,
        "ann",
        ReviewRequest(
            "override", status="downcode", elements={"named_syndrome": False}, reason="not named"
        ),
    )
    assert (item["state"], item["override_status"]) == ("overridden", "downcode")
    assert item["override_elements"] == {"named_syndrome": False}


def test_impossible_transition_changes_nothing(loaded):
    with pytest.raises(TransitionError, match="cannot answer"):
        act(loaded, SUPPORTED, "ann", ReviewRequest("answer", response="agree"))
    with session(loaded) as db:
        assert get_item(db, SUPPORTED).state == "new"
        assert len(audit_entries(db, note_id=SUPPORTED)) == 1
    with pytest.raises(UnknownNoteError):
        act(loaded, "no-such-note", "ann", ReviewRequest("accept"))


def test_second_reviewer_on_a_stale_version_gets_a_conflict(loaded):
    with session(loaded) as db:
        seen = get_item(db, AT_RISK).version
    act(loaded, AT_RISK, "ann", ReviewRequest("accept", expected_version=seen))
    with pytest.raises(ConflictError, match="changed by someone else"):
        act(loaded, AT_RISK, "bob", ReviewRequest("claim", expected_version=seen))
    with session(loaded) as db:
        item = get_item(db, AT_RISK)
        assert (item.state, item.assignee) == ("accepted", "ann")


def test_stale_write_through_the_version_column(loaded):
    """Two sessions read the same row; the second commit fails instead of overwriting."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from docgap.store.db import engine_for

    engine = engine_for(loaded)
    with Session(engine) as first, Session(engine) as second:
        a = get_item(first, AT_RISK)
        b = get_item(second, AT_RISK)
        a.assignee = "ann"
        first.commit()
        b.assignee = "bob"
        with pytest.raises(StaleDataError):
            second.commit()
    with session(loaded) as db:
        assert get_item(db, AT_RISK).assignee == "ann"


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET user = 'x'", "DELETE FROM audit_log"])
def test_the_audit_log_refuses_update_and_delete(loaded, statement):
    from docgap.store.db import engine_for

    quoted = statement.replace("user =", '"user" =')
    with pytest.raises(DBAPIError, match="append-only"), engine_for(loaded).begin() as conn:
        conn.execute(sa.text(quoted))
    assert _count(loaded, __import__("docgap.store.models", fromlist=["x"]).AuditEntry) == 12
