"""FHIR input: DocumentReference and Bundle JSON to the same reports as the same text files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import docgap
from conftest import CliCall
from docgap.inputs.fhir import (
    FhirError,
    context_meta,
    document_reference,
    looks_like_fhir,
    parse_resource,
    read_fhir_bytes,
    read_fhir_path,
)
from docgap.inputs.reading import open_sources

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "notes"
NOTES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))}
SECRET = "SECRET-NOTE-TEXT occipital headache"


def _bundle(resources: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    } | extra


def _attachment(data: bytes | None, content_type: str | None = "text/plain", **more: Any) -> dict:
    attachment: dict[str, Any] = dict(more)
    if content_type is not None:
        attachment["contentType"] = content_type
    if data is not None:
        attachment["data"] = base64.b64encode(data).decode("ascii")
    return {"attachment": attachment}


def _doc(note_id: str | None, *contents: dict, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "DocumentReference", "status": "current"}
    if note_id is not None:
        doc["id"] = note_id
    return doc | {"content": list(contents)} | extra


def _comparable(report: docgap.NoteReport) -> dict[str, Any]:
    record = report.to_dict()
    record.pop("meta", None)  # the source path differs by construction
    return record


# -- the acceptance criterion -----------------------------------------------------------------


def test_bundle_scans_to_the_same_reports_as_text_files(
    analyzer: docgap.Analyzer, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(_bundle([document_reference(n, t) for n, t in NOTES.items()])),
        encoding="utf-8",
    )
    from_text = [
        analyzer.analyze_input(r) for s in open_sources([str(folder)]) for r in s.records()
    ]
    from_fhir = [analyzer.analyze_input(r) for r in read_fhir_path(bundle)]
    assert [r.note_id for r in from_fhir] == list(NOTES)
    assert all(r.ok for r in from_fhir)
    assert [_comparable(r) for r in from_fhir] == [_comparable(r) for r in from_text]


def test_a_folder_of_documents_and_ndjson(tmp_path: Path) -> None:
    names = list(NOTES)[:3]
    for name in names[:2]:
        (tmp_path / f"{name}.json").write_text(json.dumps(document_reference(name, NOTES[name])))
    lines = [json.dumps(document_reference(n, NOTES[n])) for n in names[2:]]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "export.ndjson").write_text("\n".join(lines) + "\n\n")
    (tmp_path / "ignored.txt").write_text("not FHIR")
    records = list(read_fhir_path(tmp_path))
    assert sorted(r.note_id for r in records) == sorted(names)
    assert all(r.text == NOTES[r.note_id] for r in records)
    assert {Path(r.meta["source"]).suffix for r in records} == {".json", ".ndjson"}


# -- text from attachments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ("Neck pain, café au lait, naïve", "text/plain; charset=utf-8"),
        ("Neck pain, café au lait, naïve", "text/plain; charset=ISO-8859-1"),
        ("Neck pain, café au lait, naïve", 'Text/Plain; charset="windows-1252"'),
        ("Neck pain and tinnitus", "text/plain"),
    ],
)
def test_charset_from_content_type(text: str, content_type: str) -> None:
    charset = content_type.rpartition("=")[2].strip('"') if "charset" in content_type else "utf-8"
    doc = _doc("d", _attachment(text.encode(charset), content_type))
    (record,) = parse_resource(doc).records
    assert (record.text, record.error) == (text, None)


def test_undeclared_charset_is_detected_like_a_text_file() -> None:
    doc = _doc("d", _attachment("Neck pain, café".encode("cp1252")))
    (record,) = parse_resource(doc).records
    assert record.text == "Neck pain, café"
    assert any("Windows-1252" in w for w in record.warnings)


def test_utf8_byte_order_mark_is_not_text() -> None:
    doc = _doc("d", _attachment(b"\xef\xbb\xbfNeck pain", "text/plain; charset=utf-8"))
    assert parse_resource(doc).records[0].text == "Neck pain"


def test_first_inline_text_plain_attachment_is_the_note() -> None:
    doc = _doc(
        "d",
        _attachment(b"%PDF-1.4 binary", "application/pdf"),
        _attachment(None, "text/plain", url="https://example.org/note.txt"),
        _attachment(b"first note", "text/plain"),
        _attachment(b"second copy", "text/plain"),
    )
    (record,) = parse_resource(doc).records
    assert record.text == "first note"
    assert any("2 inline text/plain" in w for w in record.warnings)


def test_entered_in_error_is_analysed_with_a_warning() -> None:
    (record,) = parse_resource(
        _doc("d", _attachment(b"neck pain"), status="entered-in-error")
    ).records
    assert record.text == "neck pain"
    assert any("entered-in-error" in w for w in record.warnings)


# -- record-level problems: one error record each, never the text ----------------------------


@pytest.mark.parametrize(
    ("contents", "fragment"),
    [
        ([_attachment(SECRET.encode(), "application/pdf")], "found: application/pdf"),
        ([_attachment(None, "text/plain", url="https://example.org/n")], "not fetched"),
        ([_attachment(SECRET.encode(), None)], "found: no contentType"),
        ([], "no content"),
        ([_attachment(b"   \n ")], "empty note"),
        ([_attachment(bytes(range(1, 9)) * 200)], "binary"),
        ([_attachment(SECRET.encode(), "text/plain; charset=klingon")], "unknown charset"),
        (
            [_attachment(b"\xff\xfe\xfa" + SECRET.encode(), "text/plain; charset=utf-8")],
            "not valid utf-8",
        ),
    ],
)
def test_unusable_document_becomes_an_error_record(contents: list[dict], fragment: str) -> None:
    (record,) = parse_resource(_doc("doc-1", *contents)).records
    assert record.note_id == "doc-1"
    assert record.text is None
    assert record.error is not None and fragment in record.error
    assert "SECRET" not in record.error
    assert "klingon" not in record.error  # the charset as given is an input value


def test_bundle_entries_each_reported_once() -> None:
    good = document_reference("a", "Neck pain.")
    entries = [
        {"resource": good},
        {"fullUrl": "urn:uuid:0b1", "resource": _doc(None, _attachment(b"no id"))},
        {"resource": _doc(None, _attachment(b"no id, no fullUrl"))},
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": good},  # the same id again
        {"resource": _doc("bad", _attachment(SECRET.encode()), date="SECRET", description=7)},
        {"fullUrl": "urn:uuid:deleted"},
    ]
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    notes = parse_resource(bundle, name="export")
    assert notes.resource_type == "Bundle"
    assert [r.note_id for r in notes.records] == [
        "a",
        "urn:uuid:0b1",
        "export#entry-3",
        "a#5",
        "bad",
    ]
    assert notes.skipped == {"Patient": 1, "(no resource)": 1}
    assert any("repeated" in w for w in notes.records[3].warnings)
    bad = notes.records[-1]
    assert bad.text is None and bad.error is not None
    assert "date" in bad.error and "description" in bad.error
    assert "SECRET" not in bad.error


# -- resource-level problems: FhirError in the API, one error record when reading files -------


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe{}", "malformed JSON: not valid UTF-8"),
        (b"\xef\xbb\xbf[]", "JSON list"),  # a UTF-8 BOM is allowed
        (b"[1, 2]", "JSON list"),
        (
            json.dumps({"resourceType": "Patient", "id": "p", "text": SECRET}).encode(),
            "resourceType is another resource type",
        ),
        (json.dumps({"resourceType": 7}).encode(), "resourceType is a JSON int"),
        (json.dumps({"text": SECRET}).encode(), "resourceType is missing"),
        (json.dumps(_doc("d", _attachment(SECRET.encode()), status=None)).encode(), "status"),
        (json.dumps(_doc("d", _attachment(b"x"), note=SECRET)).encode(), "note: Extra inputs"),
        (json.dumps(_bundle([document_reference("d", SECRET)], type=None)).encode(), "type"),
        (
            json.dumps(_bundle([{"resourceType": "Patient", "id": "p"}])).encode(),
            "Bundle holds no DocumentReference (1 other entry)",
        ),
        (json.dumps(_bundle([])).encode(), "no entries"),
        (
            json.dumps({"resourceType": "Bundle", "type": "collection", "entry": {}}).encode(),
            "list",
        ),
    ],
)
def test_unusable_resource(payload: bytes, fragment: str, tmp_path: Path) -> None:
    (record,) = read_fhir_bytes(payload, "upload")
    assert record.text is None and record.error is not None
    assert fragment in record.error
    assert "SECRET" not in record.error
    assert "Patient" not in record.error  # no input value, not even the resourceType
    path = tmp_path / "upload.json"
    path.write_bytes(payload)
    (from_file,) = read_fhir_path(path)
    assert (from_file.note_id, from_file.error) == (record.note_id, record.error)
    assert from_file.meta == {"source": str(path)}


def test_invalid_lone_document_raises_with_its_id_and_problems() -> None:
    with pytest.raises(FhirError) as caught:
        parse_resource(_doc("d-9", _attachment(b"x"), date="SECRET", description=7))
    assert caught.value.note_id == "d-9"
    assert len(caught.value.problems) == 2
    assert "SECRET" not in str(caught.value)


def test_unreadable_file_is_an_error_record(tmp_path: Path) -> None:
    (record,) = read_fhir_path(tmp_path / "missing.json")
    assert record.note_id == "missing"
    assert record.error is not None and record.error.startswith("cannot read file")


# -- sniffing, for `scan`'s format detection ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.json", json.dumps(document_reference("d", "x")), True),
        ("a.json", "\ufeff  " + json.dumps(_bundle([document_reference("d", "x")])), True),
        ("a.ndjson", json.dumps(document_reference("d", "x")) + "\n", True),
        ("a.json", json.dumps({"resourceType": "Patient"}), False),
        ("a.json", json.dumps({"note_id": "n", "text": "neck pain"}) + "\n", False),
        ("a.json", "[" + json.dumps(document_reference("d", "x")) + "]", False),
        ("a.txt", json.dumps(document_reference("d", "x")), False),
    ],
)
def test_looks_like_fhir(tmp_path: Path, name: str, content: str, expected: bool) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert looks_like_fhir(path) is expected


def test_looks_like_fhir_on_a_folder_is_false(tmp_path: Path) -> None:
    assert looks_like_fhir(tmp_path) is False


# -- who and when: subject, context and author into meta --------------------------------------

_CONTEXT: dict[str, Any] = {
    "subject": {"reference": "Patient/p-17", "display": "SECRET Name"},
    "author": [{"reference": "Practitioner/dr-4"}, {"reference": "Practitioner/other"}],
    "date": "2024-03-09T16:00:00Z",
    "context": {
        "encounter": [{"reference": "Encounter/e-88"}],
        "period": {"start": "2024-03-08", "end": "2024-03-08"},
    },
}
_WHO = {
    "patient": "Patient/p-17",
    "encounter": "Encounter/e-88",
    "date_of_service": "2024-03-08",
    "author": "Practitioner/dr-4",
}


def test_subject_context_and_author_become_meta() -> None:
    doc = document_reference("d", "Neck pain.") | _CONTEXT
    (record,) = parse_resource(doc).records
    assert record.meta == _WHO
    (entry,) = parse_resource(_bundle([doc]), meta={"source": "x.json"}).records
    assert entry.meta == _WHO | {"source": "x.json"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),
        (
            {"subject": {"identifier": {"system": "urn:mrn", "value": "MRN-5"}}},
            {"patient": "MRN-5"},
        ),
        ({"subject": {"display": "Pat"}}, {"patient": "Pat"}),
        ({"date": "2024-01-02T09:00:00Z"}, {"date_of_service": "2024-01-02T09:00:00Z"}),
        ({"context": {"period": {"end": "2024-01-03"}}}, {"date_of_service": "2024-01-03"}),
        ({"context": {"encounter": []}}, {}),
    ],
)
def test_context_meta_reads_what_is_there(fields: dict[str, Any], expected: dict) -> None:
    doc = document_reference("d", "Neck pain.") | fields
    assert context_meta(doc) == expected
    assert parse_resource(doc).records[0].meta == expected


def test_context_meta_reaches_the_jsonl_report(cli: CliCall, tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(
        json.dumps(document_reference("d-1", NOTES["01-supported-neurology"]) | _CONTEXT)
    )
    out = tmp_path / "r.jsonl"
    assert cli(["scan", str(path), "-q", "-o", str(out)]).exit_code == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["meta"] == _WHO | {"source": str(path)}


def test_an_invalid_document_keeps_its_context_meta() -> None:
    bad = _doc("bad", _attachment(b"x"), description=7) | {"subject": {"reference": "Patient/9"}}
    (record,) = parse_resource(_bundle([bad])).records
    assert record.error is not None and record.meta == {"patient": "Patient/9"}
