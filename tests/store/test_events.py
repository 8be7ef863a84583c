"""Cancellations (HL7 MDM^T11) and CDS card feedback in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from docgap.engines.mllp import MdmProcessor
from docgap.report import NoteReport
from docgap.service.cds_hooks import FeedbackEvent
from docgap.store import (
    ReviewRequest,
    TransitionError,
    act,
    cancel,
    ingest,
    metrics,
    next_state,
    record_feedback,
    session,
)
from docgap.store.audit import audit_entries, entry_dict
from docgap.store.events import UNKNOWN_NOTE
from docgap.store.review import get_item, item_dict, list_items
from docgap.store.sinks import StoreCancellationSink, StoreFeedbackSink, StoreReportSink

NOTE = "05-downcode-query-opportunity"


@pytest.fixture
def loaded(db_url: str, example_reports, example_texts) -> str:
    ingest(db_url, example_reports, example_texts, docgap_version="t", lexicon_hash="a" * 64)
    return db_url


def _entries(url: str, note_id: str) -> list[dict[str, Any]]:
    with session(url) as db:
        return [entry_dict(e, with_evidence=True) for e in audit_entries(db, note_id=note_id)]


def _open_ids(url: str) -> list[str]:
    with session(url) as db:
        return [i.note_id for i in list_items(db)]


@pytest.mark.parametrize(
    "state", ["new", "in_review", "accepted", "overridden", "query_drafted", "answered"]
)
def test_cancel_is_reachable_from_every_open_state(state: str) -> None:
    assert next_state(state, "cancel") == "cancelled"


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_a_final_state_cannot_be_cancelled(state: str) -> None:
    with pytest.raises(TransitionError, match="cannot cancel"):
        next_state(state, "cancel")


def test_cancel_takes_the_note_off_the_open_worklist_with_its_audit(loaded: str) -> None:
    act(loaded, NOTE, "ann", ReviewRequest("draft-query"))
    done = cancel(
        loaded,
        NOTE,
        user="hl7:CLINIC",
        reason="HL7 T11 document cancelled",
        meta={"hl7_event": "T11", "patient_id": "P1", "free_text": "not kept"},
    )
    assert done == "cancelled"
    assert NOTE not in _open_ids(loaded)
    with session(loaded) as db:
        assert [i.note_id for i in list_items(db, state="cancelled")] == [NOTE]
        assert get_item(db, NOTE).state == "cancelled"
    last = _entries(loaded, NOTE)[-1]
    assert (last["user"], last["action"], last["before"], last["after"]) == (
        "hl7:CLINIC",
        "cancel",
        "query_drafted",
        "cancelled",
    )
    assert last["details"] == {
        "reason": "HL7 T11 document cancelled",
        "hl7_event": "T11",
        "patient_id": "P1",
    }
    assert last["evidence"]["status"] is not None  # what the item looked like when withdrawn
    with pytest.raises(TransitionError, match="cannot accept"):
        act(loaded, NOTE, "ann", ReviewRequest("accept"))
    assert metrics(loaded)["reviewed"] == 1  # the cancellation is not a review


def test_cancelling_an_unknown_or_final_note_is_recorded_not_an_error(loaded: str) -> None:
    assert cancel(loaded, "NEVER-SEEN", user="hl7:X", reason="T11") == "unknown"
    (entry,) = _entries(loaded, "NEVER-SEEN")
    assert (entry["action"], entry["before"], entry["after"]) == ("cancel", None, "unknown")
    assert entry["details"]["known_note"] is False
    assert cancel(loaded, NOTE, user="hl7:X", reason="T11") == "cancelled"
    assert cancel(loaded, NOTE, user="hl7:X", reason="T11") == "already-final"
    last = _entries(loaded, NOTE)[-1]
    assert (last["before"], last["after"], last["details"]["refused"]) == (
        "cancelled",
        "cancelled",
        "final state",
    )


def test_the_review_cli_action_cancel_needs_a_reason(loaded: str) -> None:
    with pytest.raises(TransitionError, match="reason"):
        act(loaded, NOTE, "admin", ReviewRequest("cancel"))
    item = act(loaded, NOTE, "admin", ReviewRequest("cancel", reason="duplicate document"))
    assert item["state"] == "cancelled"


def test_feedback_lands_in_the_audit_without_changing_the_state(loaded: str) -> None:
    reason = "not-applicable - Not applicable"
    record_feedback(loaded, NOTE, "overridden", reason, "card-1", "cds:x")
    record_feedback(loaded, None, "accepted", None, "card-2", "cds:x")
    last = _entries(loaded, NOTE)[-1]
    assert (last["user"], last["action"], last["before"], last["after"]) == (
        "cds:x",
        "cds-feedback",
        "new",
        "new",
    )
    assert last["details"] == {
        "outcome": "overridden",
        "card": "card-1",
        "override_reason": reason,
    }
    (orphan,) = _entries(loaded, UNKNOWN_NOTE)
    assert orphan["details"] == {"outcome": "accepted", "card": "card-2", "known_note": False}
    with pytest.raises(ValueError, match="outcome"):
        record_feedback(loaded, NOTE, "ignored", None, "card-3", "cds:x")
    assert metrics(loaded)["reviewed"] == 0


def test_feedback_sink_records_a_cds_event(loaded: str) -> None:
    StoreFeedbackSink(loaded, user="cds:ehr").record(
        FeedbackEvent(
            card="c-9",
            outcome="overridden",
            outcome_timestamp="2026-01-01T00:00:00Z",
            note_id=NOTE,
            override_code="disagree",
            override_display="Physician disagrees",
            user_comment="seen already",
        )
    )
    last = _entries(loaded, NOTE)[-1]
    assert last["user"] == "cds:ehr"
    assert last["details"]["override_reason"] == "disagree - Physician disagrees (seen already)"


class _NoAnalyzer:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("a cancellation needs no analysis")


def test_processor_cancellation_reaches_the_store_as_the_sending_facility(loaded: str) -> None:
    t11 = "\r".join(
        [
            "MSH|^~\\&|SCRIBE|NORTHCLINIC|DOCGAP|CDI|20240101120000||MDM^T11|C-3|P|2.5",
            "EVN|T11|20240101120000",
            "PID|1||PAT123^^^HOSP^MR||DOE^JANE",
            f"TXA|1|CN|TX|20240101120000||||||||{NOTE}||||||AU",
        ]
    ).encode()
    processor = MdmProcessor(_NoAnalyzer, None, StoreCancellationSink(loaded))  # type: ignore[arg-type]
    ack = processor.process(t11)
    assert b"MSA|AA|C-3|cancellation recorded" in ack
    last = _entries(loaded, NOTE)[-1]
    assert (last["user"], last["after"]) == ("hl7:NORTHCLINIC", "cancelled")
    assert last["details"]["message_control_id"] == "C-3"


def test_report_sink_ingests_with_text_and_adds_nothing_twice(
    db_url: str, example_reports, example_texts
) -> None:
    sink = StoreReportSink(db_url, lexicon_hash="c" * 64)
    report = NoteReport.from_dict(next(r for r in example_reports if r["note_id"] == NOTE))
    sink.write_with_text(report, example_texts[NOTE])
    sink.write_with_text(report, example_texts[NOTE])
    with session(db_url) as db:
        item = get_item(db, NOTE)
        assert item.report.note.text == example_texts[NOTE]
        assert item_dict(item)["status"] == report.status
    assert [e["action"] for e in _entries(db_url, NOTE)] == ["ingest"]


def test_a_store_that_cannot_take_the_message_gets_an_ae_and_the_processor_goes_on(
    tmp_path,
) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    processor = MdmProcessor(_NoAnalyzer, None, StoreCancellationSink(unmigrated))  # type: ignore[arg-type]
    t11 = (
        b"MSH|^~\\&|SCRIBE|NORTHCLINIC|DOCGAP|CDI|20240101120000||MDM^T11|C-9|P|2.5\r"
        b"EVN|T11|20240101120000\rTXA|1|CN|TX|20240101120000||||||||DOC-9||||||AU"
    )
    ack = processor.process(t11)
    assert b"MSA|AE|C-9|internal error (StoreError)" in ack
    assert processor.counts == {"AA": 0, "AE": 1, "AR": 0}


def test_a_rescan_does_not_bring_a_cancelled_note_back(loaded: str, example_reports) -> None:
    cancel(loaded, NOTE, user="hl7:X", reason="T11")
    changed = [dict(r, status="supported") for r in example_reports if r["note_id"] == NOTE]
    result = ingest(loaded, changed, {NOTE: "another text"}, docgap_version="t",
                    lexicon_hash="b" * 64)  # fmt: skip
    assert [(c.before, c.after) for c in result.changed] == [("downcode", "supported")]
    with session(loaded) as db:
        item = get_item(db, NOTE)
        assert (item.state, item.previous_status, item.report.status) == (
            "cancelled",
            "downcode",
            "supported",
        )
    last = _entries(loaded, NOTE)[-1]
    assert (last["action"], last["before"], last["after"]) == ("rescan", "cancelled", "cancelled")
