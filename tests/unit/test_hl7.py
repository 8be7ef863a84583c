"""HL7 v2 MDM parsing (framing, escapes, events, ids, PHI-free errors) and the ACK processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from docgap.engines.mllp import MdmProcessor, build_ack
from docgap.inputs.hl7 import (
    Cancellation,
    parse_mdm,
    read_hl7_bytes,
    read_hl7_path,
    split_messages,
    unescape,
)
from docgap.inputs.reading import open_sources
from docgap.inputs.record import NoteInput

SECRET = "Zyxwvut"  # a word that must never appear in an error message


def mdm(
    event: str = "T02",
    doc_id: str = "DOC-1",
    obx: tuple[str, ...] = ("Neck pain \\T\\ headache\\.br\\second line", "Third \\F\\ part"),
    control: str = "MSG0001",
    version: str = "2.5",
) -> str:
    """An MDM message, segments joined by carriage returns."""
    segments = [
        f"MSH|^~\\&|SCRIBE|CLINIC|DOCGAP|CDI|20240101120000||MDM^{event}^MDM_{event}|{control}"
        f"|P|{version}",
        f"EVN|{event}|20240101120000",
        "PID|1||PAT123^^^HOSP^MR~OTHER^^^X||DOE^JANE",
        "PV1|1|O|||||||||||||||||ENC456^^^HOSP",
        f"TXA|1|CN|TX|20240101120000||||||||{doc_id}^SCRIBE||||||AU",
    ]
    segments += [f"OBX|{i}|TX|NOTE^Note||{value}||||||F" for i, value in enumerate(obx, 1)]
    return "\r".join(segments)


def test_t02_gives_a_note_with_text_ids_and_meta() -> None:
    message = parse_mdm(mdm())
    assert message.outcome == "document"
    assert message.note is not None
    assert message.note.note_id == "DOC-1"
    assert message.note.text == "Neck pain & headache\nsecond line\nThird | part"
    assert message.note.meta == {
        "hl7_event": "T02",
        "message_control_id": "MSG0001",
        "patient_id": "PAT123",
        "encounter_id": "ENC456",
    }
    assert message.control_id == "MSG0001"
    assert message.sender == ("SCRIBE", "CLINIC")


@pytest.mark.parametrize("event", ["T04", "T06", "T08", "T10"])
def test_every_document_event_gives_a_note(event: str) -> None:
    message = parse_mdm(mdm(event))
    assert message.outcome == "document"
    assert message.note is not None and message.note.meta["hl7_event"] == event


def test_t11_gives_a_cancellation() -> None:
    message = parse_mdm(mdm("T11", obx=()))
    assert message.outcome == "cancel"
    assert message.cancellation == Cancellation(
        "DOC-1",
        {
            "hl7_event": "T11",
            "message_control_id": "MSG0001",
            "patient_id": "PAT123",
            "encounter_id": "ENC456",
        },
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f"),
        ("line\\.br\\next", "line\nnext"),
        ("one\\.sp2\\two", "one\n\ntwo"),
        ("\\H\\bold\\N\\ plain", "bold plain"),
        ("hex \\X41C3A9\\ end", "hex Aé end"),
        ("no escapes", "no escapes"),
    ],
)
def test_unescape(raw: str, expected: str) -> None:
    assert unescape(raw) == expected


def test_obx_repetitions_are_lines_and_non_text_obx_is_left_out() -> None:
    raw = mdm(obx=("first~second",)) + "\rOBX|2|ED|PDF^Pdf||^application^pdf^Base64^AAAA||||||F"
    message = parse_mdm(raw)
    assert message.note is not None and message.note.text == "first\nsecond"
    assert any("not text" in w for w in message.note.warnings)


def test_other_message_types_and_versions_are_unsupported() -> None:
    adt = mdm().replace("MDM^T02^MDM_T02", "ADT^A01^ADT_A01")
    assert parse_mdm(adt).outcome == "unsupported"
    assert parse_mdm(mdm("T01")).outcome == "unsupported"
    old = parse_mdm(mdm(version="9.9"))
    assert old.outcome == "unsupported" and old.reason is not None and "version" in old.reason


def test_garbage_is_invalid_without_echoing_content() -> None:
    for raw in (f"{SECRET} not hl7", f"MSH|{SECRET}", b"\xff\xfe" + SECRET.encode()):
        message = parse_mdm(raw)
        assert message.outcome == "invalid"
        assert message.reason and SECRET not in message.reason


def test_missing_document_number_or_text_is_invalid() -> None:
    assert parse_mdm(mdm(doc_id="")).reason == "no unique document number (TXA-12)"
    message = parse_mdm(mdm(obx=()))
    assert message.outcome == "invalid"
    assert message.note is not None and message.note.error is not None


def test_split_mllp_frames_and_lines() -> None:
    one, two = mdm(control="A"), mdm(control="B", doc_id="DOC-2")
    framed = f"\x0b{one}\x1c\r\x0b{two}\x1c\r".encode()
    assert [f.decode() for f in split_messages(framed)] == [one, two]
    lines = (one.replace("\r", "\n") + "\n\n" + two.replace("\r", "\r\n") + "\n").encode()
    assert [f.decode() for f in split_messages(lines)] == [one, two]


def test_read_many_messages_in_order_with_error_record() -> None:
    data = "\n".join([mdm(), "MSH|bad", mdm("T11", obx=()), mdm(doc_id="DOC-9")]).encode()
    items = list(read_hl7_bytes(data, "batch"))
    assert [type(i).__name__ for i in items] == [
        "NoteInput",
        "NoteInput",
        "Cancellation",
        "NoteInput",
    ]
    assert isinstance(items[1], NoteInput)
    assert items[1].note_id == "batch#message-2" and items[1].error


def test_scan_reads_hl7_files_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "feed.hl7"
    path.write_bytes(f"\x0b{mdm()}\x1c\r\x0b{mdm('T11', obx=())}\x1c\r".encode())
    (source,) = open_sources([str(path)])
    assert source.fmt == "hl7"
    notes = list(source.records())
    assert [n.note_id for n in notes] == ["DOC-1"]
    assert notes[0].meta["source"] == str(path)
    assert next(iter(read_hl7_path(tmp_path / "missing.hl7"))).error


# -- the MLLP processor without sockets ----------------------------------------------------
class _Pack:
    elements = ("named_syndrome",)


class _FailingAnalyzer:
    """Stands in for an Analyzer whose analysis raises (with note text in the message)."""

    pack = _Pack()

    def analyze_input(self, note: NoteInput) -> object:
        raise RuntimeError(f"boom {note.text}")


class _Reports:
    def __init__(self) -> None:
        self.written: list[Any] = []

    def write(self, report: Any) -> None:
        self.written.append(report)


class _BrokenSink:
    def cancel(self, cancellation: Cancellation) -> None:
        raise OSError("disk full")


def _msa(ack: bytes) -> list[str]:
    assert ack.startswith(b"\x0b") and ack.endswith(b"\x1c\r")
    segments = ack[1:-2].decode().strip("\r").split("\r")
    return segments[1].split("|")


def test_processor_answers_ae_when_analysis_fails_and_keeps_the_error_record() -> None:
    reports = _Reports()
    processor = MdmProcessor(_FailingAnalyzer, reports)  # type: ignore[arg-type]
    msa = _msa(processor.process(mdm(obx=(SECRET,)).encode()))
    assert msa[:3] == ["MSA", "AE", "MSG0001"]
    assert SECRET not in "|".join(msa)
    (report,) = reports.written
    assert report.note_id == "DOC-1" and report.error == "analysis failed (RuntimeError)"
    assert processor.counts == {"AA": 0, "AE": 1, "AR": 0}


def test_processor_answers_ae_when_a_sink_fails_and_ar_for_other_types() -> None:
    processor = MdmProcessor(_FailingAnalyzer, None, _BrokenSink())  # type: ignore[arg-type]
    assert _msa(processor.process(mdm("T11", obx=()).encode()))[1] == "AE"
    adt = mdm().replace("MDM^T02^MDM_T02", "ADT^A01^ADT_A01").encode()
    assert _msa(processor.process(adt))[1:3] == ["AR", "MSG0001"]


def test_ack_escapes_delimiters_in_its_text() -> None:
    message = parse_mdm(mdm())
    ack = build_ack(message, "AE", "a|b^c&d~e\\f")
    assert b"MSA|AE|MSG0001|a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f" in ack
    assert b"ACK^T02^ACK" in ack and b"|SCRIBE|CLINIC|" in ack
