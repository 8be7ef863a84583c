"""The HTML report and the query drafts, without a browser (tests/test_html_browser.py has one)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import markupsafe
import pytest

from docgap.inputs.reading import NoteInput
from docgap.outputs.html_pages import DEFAULT_PER_PART, INDEX_NAME, part_name, write_html_pages
from docgap.outputs.html_report import (
    attach_texts,
    highlight_segments,
    load_texts,
    pair_texts,
    render_html,
    report_data,
    write_html,
)
from docgap.outputs.queries import (
    QueryFileError,
    check_query,
    draft_queries,
    load_queries,
    queries_path,
)
from docgap.outputs.texts import AmbiguousTextsError, TextRecord, match_texts
from docgap.outputs.worklist import build_worklist
from docgap.outputs.writers import read_reports

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "notes"
HOSTILE_TEXT = (
    "HPI: occipital headaches and dizziness </script><script>alert(1)</script> since the MVA.\n"
    'Exam: <img src=x onerror="alert(2)"> <b>cervical tenderness</b> & neck pain <!-- x -->.\n'
    "Assessment: Cervicocranial syndrome.\n"
)
HOSTILE_ID = "</script><script>alert('id')</script><b>n&1</b>"
REQUIRED_OPTIONS = ("Other (please specify)", "Clinically undetermined")


@pytest.fixture(scope="module")
def example_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))}


@pytest.fixture(scope="module")
def example_records(analyzer, example_texts) -> list[dict[str, Any]]:
    return [analyzer.analyze(text, note_id).to_dict() for note_id, text in example_texts.items()]


@pytest.fixture(scope="module")
def hostile_record(analyzer) -> dict[str, Any]:
    return analyzer.analyze(HOSTILE_TEXT, HOSTILE_ID).to_dict()


def evidence_of(note: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """A note's evidence rows read back through the page's string table."""
    strings = config["strings"]
    return [
        {
            key: value if key in ("text", "counted") or value is None else strings[value]
            for key, value in zip(config["evidenceKeys"], row, strict=True)
        }
        for row in note["evidence"]
    ]


def blob(page: str, name: str) -> Any:
    """The JSON a ``<script type="application/json" id=...>`` tag of the page holds."""
    match = re.search(
        rf'<script type="application/json" id="{name}">(.*?)</script>', page, re.DOTALL
    )
    assert match, name
    return json.loads(match.group(1))


# ------------------------------------------------------------------ highlighting
@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("no mentions here", []),
        ("neck pain and vertigo", [(0, 9), (14, 21)]),
        ("suboccipital headache", [(0, 21), (0, 12)]),  # nested: the narrower is drawn first
        ("a b c d e", [(0, 5), (2, 9)]),  # overlapping
        ("ab", [(0, 1), (1, 2)]),  # adjacent
        ("\U0001f600 emoji then vertigo \u00e9", [(13, 20)]),  # non-BMP text before a span
        ("whole", [(0, 5)]),
    ],
)
def test_segments_rebuild_the_text_and_every_span(text, spans) -> None:
    evidence = [{"text": text[s:e], "start": s, "end": e, "counted": True} for s, e in spans]
    segments, mismatched = highlight_segments(text, evidence)
    assert mismatched == []
    assert "".join(piece for piece, _ in segments) == text
    for i, (start, end) in enumerate(spans):
        assert "".join(piece for piece, ids in segments if i in ids) == text[start:end]
    for piece, ids in segments:
        widths = [spans[i][1] - spans[i][0] for i in ids]
        assert widths == sorted(widths)
        assert piece


def test_counted_evidence_is_drawn_over_uncounted() -> None:
    text = "occipital headache"
    evidence = [
        {"text": "headache", "start": 10, "end": 18, "counted": False},
        {"text": text, "start": 0, "end": 18, "counted": True},
    ]
    segments, _ = highlight_segments(text, evidence)
    assert segments[-1] == ["headache", [1, 0]]


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "other words", "start": 0, "end": 11},  # the text changed since the scan
        {"text": "neck", "start": 40, "end": 44},  # beyond the end
        {"text": "neck", "start": None, "end": 4},
    ],
)
def test_evidence_that_does_not_fit_the_text_is_set_aside(bad) -> None:
    text = "neck pain"
    good = {"text": "pain", "start": 5, "end": 9, "counted": True}
    segments, mismatched = highlight_segments(text, [bad, good])
    assert mismatched == [0]
    assert segments == [["neck ", []], ["pain", [1]]]


def test_rendered_data_highlights_the_right_offsets(example_records, example_texts) -> None:
    page = render_html(example_records, source="examples", texts=example_texts)
    notes = blob(page, "docgap-notes")
    config = blob(page, "docgap-config")
    assert [n["id"] for n in notes] == [r["note_id"] for r in example_records]
    for note, record in zip(notes, example_records, strict=True):
        text = example_texts[record["note_id"]]
        assert "".join(piece for piece, _ in note["segments"]) == text
        assert note["mismatched"] == []
        for i, ev in enumerate(record["evidence"]):
            covered = "".join(piece for piece, ids in note["segments"] if i in ids)
            assert covered == text[ev["start"] : ev["end"]] == ev["text"]
            shown = evidence_of(note, config)[i]
            assert shown == {key: ev[key] for key in config["evidenceKeys"]}


# ------------------------------------------------------------------ escaping
def test_markup_in_note_text_and_ids_never_becomes_markup(hostile_record) -> None:
    # Not flagged for review, whatever the shipped model says of it: a flagged note's id is
    # shown (escaped) in the summary above the data, the next test's case.
    record = hostile_record | {"review": False}
    page = render_html([record], source="<b>scan</b> & co", texts={HOSTILE_ID: HOSTILE_TEXT})
    # Only the page's own four script tags: three JSON blobs and its script.
    assert len(re.findall(r"<script", page, re.IGNORECASE)) == 4
    assert "alert(" not in page.split('<script type="application/json" id="docgap-config">')[0]
    for bad in ("<img", "<b>cervical", "</script><script>alert", "<!-- x"):
        assert bad not in page
    assert str(markupsafe.escape("<b>scan</b> & co")) in page
    notes = blob(page, "docgap-notes")
    rows = blob(page, "docgap-rows")
    assert rows[0]["id"] == notes[0]["id"] == HOSTILE_ID
    assert "".join(piece for piece, _ in notes[0]["segments"]) == HOSTILE_TEXT


def test_flagged_note_ids_in_the_summary_are_escaped(hostile_record) -> None:
    record = hostile_record | {"review": True, "score": 0.42}
    page = render_html([record], source="x")
    assert str(markupsafe.escape(HOSTILE_ID)) in page
    assert HOSTILE_ID not in page


def test_only_the_page_script_may_run(example_records) -> None:
    page = render_html(example_records, source="examples")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)


# ------------------------------------------------------------------ report content
def test_summary_counts_every_record(example_records) -> None:
    data = report_data(example_records, source="examples")
    counts = {bar["key"]: bar["count"] for bar in data["bars"]}
    statuses = [r["status"] for r in example_records]
    for status in set(statuses):
        assert counts[status] == statuses.count(status)
    assert counts["query_opportunity"] == sum(r["query_opportunity"] for r in example_records)
    assert data["total"] == len(example_records) == len(data["rows"]) == len(data["notes"])
    gap_keys = {g["key"] for r in example_records for g in r["gaps"]}
    assert {g["key"] for g in data["top_gaps"]} <= gap_keys


def test_default_order_puts_at_risk_and_query_opportunities_first(example_records) -> None:
    data = report_data(example_records, source="examples")
    ranked = sorted(data["rows"], key=lambda r: (r["rank"], r["i"]))
    first = [r["group"] in ("at_risk", "query_opportunity") for r in ranked]
    assert first == sorted(first, reverse=True)


def test_provenance_is_shown(example_records, analyzer) -> None:
    when = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    page = render_html(
        example_records,
        source="examples/notes",
        generated_at=when,
        lexicon_hash=analyzer.lexicon_hash,
    )
    assert "2025-03-01T12:00:00+00:00" in page
    assert analyzer.lexicon_hash in page
    assert "examples/notes" in page


def test_review_score_and_setting_become_filters(example_records) -> None:
    records = [
        r | {"score": i / 20, "review": i % 3 == 0, "meta": {"setting": ["ed", "pcp"][i % 2]}}
        for i, r in enumerate(example_records)
    ]
    data = report_data(records, source="x")
    assert data["has_review"] and data["has_score"]
    assert data["flagged_total"] == sum(r["review"] for r in records)
    assert data["filters"]["meta"] == {"setting": ["ed", "pcp"]}
    assert [row["meta"]["setting"] for row in data["rows"]] == [
        r["meta"]["setting"] for r in records
    ]
    page = render_html(records, source="x")
    assert 'id="f-review"' in page and 'id="f-score-min"' in page


def test_without_texts_the_evidence_is_still_reported(example_records) -> None:
    data = report_data(example_records, source="examples")
    for note, record in zip(data["notes"], example_records, strict=True):
        assert note["segments"] is None
        shown = evidence_of(note, data["config"])
        assert [e["text"] for e in shown] == [e["text"] for e in record["evidence"]]


def test_failed_notes_are_listed_as_errors(example_records) -> None:
    failed = [
        {"note_id": "empty", "status": None, "error": "empty note"},
        {"note_id": "binary", "status": None, "error": "binary file", "elements": {}},
    ]
    data = report_data([*example_records, *failed], source="x")
    errors = [r for r in data["rows"] if r["group"] == "error"]
    assert [r["id"] for r in errors] == ["empty", "binary"]
    assert next(b for b in data["bars"] if b["key"] == "error")["count"] == 2
    assert [n["error"] for n in data["notes"][-2:]] == ["empty note", "binary file"]


def test_a_scan_report_file_renders(tmp_path: Path, analyzer, example_texts) -> None:
    path = tmp_path / "scan.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for note_id, text in example_texts.items():
            out.write(json.dumps(analyzer.analyze(text, note_id).to_dict()) + "\n")
    page = render_html(read_reports(path), source=str(path), texts=example_texts)
    assert len(blob(page, "docgap-rows")) == len(example_texts)


def test_texts_pair_with_reports_by_position(analyzer) -> None:
    notes = [
        NoteInput("same", "Neck pain and occipital headaches."),
        NoteInput("same", "Low back pain."),
        NoteInput("gone", None, "record has no text"),
    ]
    pairs = list(pair_texts(notes, analyzer.pipe))
    assert [(r.note_id, t) for r, t in pairs] == [(n.note_id, n.text) for n in notes]
    assert [r.text_length for r, _ in pairs[:2]] == [len(n.text) for n in notes[:2]]


def test_texts_are_joined_by_note_id(example_texts) -> None:
    texts = load_texts([str(EXAMPLES)])
    assert texts == example_texts
    joined = list(attach_texts([{"note_id": "x"}, {"note_id": "y", "text": "own"}], {"x": "t"}))
    assert joined == [{"note_id": "x", "text": "t"}, {"note_id": "y", "text": "own"}]


def test_write_html(tmp_path: Path, example_records, example_texts) -> None:
    path = write_html(example_records, tmp_path / "r.html", source="e", texts=example_texts)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert len(blob(page, "docgap-rows")) == len(example_records)


# ------------------------------------------------------------------ query drafts
def test_every_example_query_draft_is_compliant(example_records) -> None:
    drafted = 0
    for record in example_records:
        drafts = draft_queries(record)
        wants = record["status"] == "at_risk" or record["query_opportunity"]
        assert bool(drafts) == wants, record["note_id"]
        for draft in drafts:
            drafted += 1
            assert check_query(draft.text) == [], (record["note_id"], draft.key)
            assert draft.options[-2:] == REQUIRED_OPTIONS
            for option in REQUIRED_OPTIONS:
                assert f"[ ] {option}" in draft.text
            assert draft.indicators
            for indicator in draft.indicators:
                assert f'"{indicator.text}"' in draft.text
    assert drafted


def test_indicators_cite_where_and_when(example_records) -> None:
    record = next(r for r in example_records if r["query_opportunity"])
    dated = record | {"meta": {"encounter_date": "2025-03-11"}}
    (draft,) = draft_queries(dated)
    for indicator in draft.indicators:
        assert indicator.when == "2025-03-11"
        ev = next(
            e
            for e in record["evidence"]
            if e["start"] == indicator.start and e["end"] == indicator.end
        )
        if ev["section"]:
            assert ev["section"].replace("_", " ") in indicator.where
    assert "2025-03-11" in draft.text


@pytest.mark.parametrize(
    "text",
    [
        "Please document cervicocranial syndrome.",
        "Documenting this diagnosis would support M53.0.",
        "Clarification will affect reimbursement for this visit.",
        "This affects the DRG assignment.",
        "Needed for the upcoming audit.",
        "Does the patient have cervicocranial syndrome?",
        "Would you agree that the headaches are cervicogenic?",
        "It appears the patient has cervicocranial syndrome.",
        "The ICD-10-CM code requires a named syndrome.",
        "This would improve our quality scores.",
        "Please clarify:\n[ ] Cervicocranial syndrome\n[ ] Cervicalgia\n"
        "[ ] Other (please specify)\n",
        "Please clarify:\n[ ] Cervicocranial syndrome\n[ ] Other (please specify)\n"
        "[ ] Clinically undetermined\n",
    ],
)
def test_check_query_finds_leading_language(text) -> None:
    assert check_query(text)


@pytest.mark.parametrize(
    "text",
    [
        "Based on your clinical judgment, please clarify the diagnosis for the findings above:\n"
        "[ ] Cervicocranial syndrome\n[ ] Cervicogenic headache\n"
        "[ ] Other (please specify)\n[ ] Clinically undetermined\n",
        "Please describe the neck examination findings at this encounter.",
    ],
)
def test_check_query_passes_compliant_wording(text) -> None:
    assert check_query(text) == []


def _query_file(tmp_path: Path, change) -> Path:
    import yaml

    data = yaml.safe_load(queries_path().read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["queries"][0].update(tone="firm"), "tone"),
        (lambda d: d["queries"][0].update(gap="no_such_gap"), "no_such_gap"),
        (lambda d: d["queries"][0].update(statuses=["maybe"]), "maybe"),
        (lambda d: d["queries"][0]["cite"][0].update(elements=["mood"]), "mood"),
        (
            lambda d: d["queries"][0].update(question="Please document the syndrome to get paid:"),
            "not compliant",
        ),
        (lambda d: d["queries"][0].update(options=[{"text": "Cervicocranial syndrome"}]), "option"),
        (lambda d: d.update(layout="{% for x in %}"), "layout"),
        (lambda d: d["leading_language"].append({"pattern": "(", "reason": "r"}), "compile"),
    ],
)
def test_query_file_is_validated(tmp_path: Path, change, message) -> None:
    with pytest.raises(QueryFileError, match=re.escape(message)):
        load_queries(_query_file(tmp_path, change))


def test_shipped_query_file_loads() -> None:
    queries = load_queries()
    assert queries.queries
    assert list(queries.required_options) == list(REQUIRED_OPTIONS)


def test_the_lexicon_hash_comes_from_the_records_provenance(example_records) -> None:
    # `docgap report` passes no lexicon hash: the page reads it from the records.
    digest = "ef" * 32
    provenance = {"docgap_version": "0.0.1", "pack": "m53_0", "pack_version": "v1"}
    records = [r | {"provenance": provenance | {"lexicon_sha256": digest}} for r in example_records]
    data = report_data(records, source="x")
    assert data["lexicon_hash"] == digest
    assert data["scan_version"] == "0.0.1"
    page = render_html(records, source="x")
    assert digest[:12] in page and "not recorded" not in page
    assert all("provenance" not in note["extra"] for note in data["notes"])


def test_model_fields_are_not_other_fields(example_records) -> None:
    records = [
        r | {"status_probabilities": {"supported": 0.5}, "top_features": [{"name": "x"}]}
        for r in example_records
    ]
    data = report_data(records, source="x")
    assert all(note["extra"] == {} for note in data["notes"])


# ------------------------------------------------------------------ texts by input (issue 14)

ALPHA = "Patient ALPHAMARK: neck pain and occipital headaches after the MVA."
BRAVO = "Patient BRAVOMARK: low back pain, no neck complaints."


def _texts_page(page: str) -> list[str | None]:
    notes = blob(page, "docgap-notes")
    return [
        None if n["segments"] is None else "".join(piece for piece, _ in n["segments"])
        for n in notes
    ]


def test_match_texts_pairs_shared_ids_by_position_when_the_order_is_the_inputs() -> None:
    texts = [TextRecord("a.csv", "n1", ALPHA), TextRecord("b.csv", "n1", BRAVO)]
    assert match_texts([{"note_id": "n1"}, {"note_id": "n1"}], texts) == [ALPHA, BRAVO]


def test_match_texts_refuses_a_shared_id_out_of_order_without_naming_it() -> None:
    texts = [
        TextRecord("a.csv", "mrn-1", ALPHA),
        TextRecord("a.csv", "n2", "x"),
        TextRecord("b.csv", "mrn-1", BRAVO),
    ]
    with pytest.raises(AmbiguousTextsError) as caught:
        match_texts([{"note_id": "n2"}, {"note_id": "mrn-1"}], texts)
    message = str(caught.value)
    assert "a.csv, b.csv" in message
    assert "record 2" in message
    for secret in ("mrn-1", "ALPHAMARK", "BRAVOMARK"):
        assert secret not in message


def test_match_texts_by_id_when_duplicates_agree() -> None:
    texts = [TextRecord("a", "n1", ALPHA), TextRecord("b", "n1", ALPHA), TextRecord("b", "n2", "y")]
    assert match_texts([{"note_id": "n2"}, {"note_id": "n1"}, {"note_id": "n9"}], texts) == [
        "y",
        ALPHA,
        None,
    ]


def _two_inputs(tmp_path: Path, analyzer, order: list[int]) -> tuple[Path, Path, Path]:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(f'note_id,text\nn1,"{ALPHA}"\n', encoding="utf-8")
    b.write_text(f'note_id,text\nn1,"{BRAVO}"\n', encoding="utf-8")
    reports = [analyzer.analyze(t, "n1").to_dict() for t in (ALPHA, BRAVO)]
    scan = tmp_path / "scan.jsonl"
    scan.write_text("".join(json.dumps(reports[i]) + "\n" for i in order), encoding="utf-8")
    return a, b, scan


def test_report_texts_with_an_id_shared_across_inputs_keep_each_patients_text(
    tmp_path: Path, analyzer, cli
) -> None:
    a, b, scan = _two_inputs(tmp_path, analyzer, [0, 1])
    out = tmp_path / "r.html"
    result = cli(["report", scan, "--html", out, "--texts", a, "--texts", b])
    assert result.exit_code == 0, result.stderr
    assert _texts_page(out.read_text(encoding="utf-8")) == [ALPHA, BRAVO]


def test_report_texts_refuses_a_shared_id_it_cannot_place(tmp_path: Path, analyzer, cli) -> None:
    a, b, scan = _two_inputs(tmp_path, analyzer, [1])  # a sorted/filtered report
    out = tmp_path / "r.html"
    result = cli(["report", scan, "--html", out, "--texts", a, "--texts", b])
    assert result.exit_code == 2
    assert "cannot tell which text is whose" in result.stderr
    assert "ALPHAMARK" not in result.stderr and "BRAVOMARK" not in result.stderr
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_report_to_a_full_device_is_a_clear_exit_2(tmp_path: Path, analyzer, cli) -> None:
    _, _, scan = _two_inputs(tmp_path, analyzer, [0])
    result = cli(["report", scan, "--html", "/dev/full"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "docgap: error: cannot write /dev/full: no space left on the device"
    )


def test_report_under_a_file_is_a_clear_exit_2(tmp_path: Path, analyzer, cli) -> None:
    _, _, scan = _two_inputs(tmp_path, analyzer, [0])
    (tmp_path / "f").write_text("x", encoding="utf-8")
    result = cli(["report", scan, "--html", tmp_path / "f" / "r.html"])
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("f is a file, not a folder")


# ------------------------------------------------------------------ meta columns (issue 15)
def test_assignment_meta_becomes_worklist_columns_first(example_records) -> None:
    meta = [
        {
            "specialty": "neuro",
            "payer": f"payer-{i}",
            "patient_id": f"P{i}",
            "encounter_id": f"E{i}",
            "date_of_service": f"2024-05-{i + 1:02d}",
            "provider": "Dr A",
            "nested": {"x": 1},
            "weight": float("nan"),
        }
        for i in range(len(example_records))
    ]
    records = [r | {"meta": m} for r, m in zip(example_records, meta, strict=True)]
    page = render_html(records, source="s")
    config = blob(page, "docgap-config")
    assert config["metaColumns"] == [
        "patient_id",
        "encounter_id",
        "date_of_service",
        "provider",
        "payer",
        "specialty",
    ]
    rows = blob(page, "docgap-rows")
    assert [r["meta"]["patient_id"] for r in rows] == [m["patient_id"] for m in meta]
    assert all("weight" not in r["meta"] for r in rows)
    for name in ("docgap-rows", "docgap-notes", "docgap-config"):  # strict JSON: no bare NaN
        match = re.search(rf'id="{name}">(.*?)</script>', page, re.DOTALL)
        assert match
        json.loads(match.group(1), parse_constant=lambda t: pytest.fail(f"bare {t}"))
    header = re.search(r'<table id="worklist-table".*?</thead>', page, re.DOTALL)
    assert header
    order = re.findall(r'data-sort="([^"]+)"', header.group(0))
    assert order.index("status") < order.index("meta:patient_id")
    assert order.index("meta:payer") > order.index("found")


# ------------------------------------------------------------------ split reports (issue 15)


def _bulk(example_records, example_texts, n: int) -> list[dict[str, Any]]:
    many = []
    for k in range(n):
        record = dict(example_records[k % len(example_records)])
        record["text"] = example_texts[record["note_id"]]
        record["note_id"] = f"bulk-{k:05d}"
        record["meta"] = {"patient_id": f"P{k:05d}", "payer": ["Acme", "Beta"][k % 2]}
        many.append(record)
    return many


def test_a_split_report_has_an_index_and_parts_in_priority_order(
    tmp_path: Path, example_records, example_texts
) -> None:
    records = _bulk(example_records, example_texts, 25)
    index = write_html_pages(records, tmp_path / "out", source="s", per_part=10)
    assert index == tmp_path / "out" / INDEX_NAME
    assert sorted(p.name for p in index.parent.iterdir()) == [
        INDEX_NAME,
        part_name(1),
        part_name(2),
        part_name(3),
    ]
    html = index.read_text(encoding="utf-8")
    assert "<script" not in html
    links = re.findall(
        r'<a class="id-text" href="(part-\d{4}\.html)#n=(\d+)" title="([^"]+)"', html
    )
    assert len(links) == 25
    expected, _ = build_worklist(records, include_all=True)
    assert [note_id for *_, note_id in links] == [records[i.order]["note_id"] for i in expected]
    for file, local, note_id in links:  # each link opens the right note of its part
        rows = blob((index.parent / file).read_text(encoding="utf-8"), "docgap-rows")
        assert rows[int(local)]["id"] == note_id
    assert "P00007" in html and "payer" in html
    part2 = (index.parent / part_name(2)).read_text(encoding="utf-8")
    assert f'href="{INDEX_NAME}"' in part2
    assert f'href="{part_name(1)}" rel="prev"' in part2
    assert f'href="{part_name(3)}" rel="next"' in part2


def test_report_cli_writes_a_folder(tmp_path: Path, cli, example_records) -> None:
    scan = tmp_path / "scan.jsonl"
    scan.write_text("".join(json.dumps(r) + "\n" for r in example_records), encoding="utf-8")
    out = tmp_path / "html"
    result = cli(["report", scan, "--html", f"{out}/", "--notes-per-part", "5"])
    assert result.exit_code == 0, result.stderr
    parts = sorted(p.name for p in out.glob("part-*.html"))
    assert len(parts) == -(-len(example_records) // 5)
    assert (out / INDEX_NAME).is_file()


def test_the_cli_default_part_size_is_the_library_default() -> None:
    import inspect

    from docgap.cli.report import report

    default = inspect.signature(report).parameters["notes_per_part"].default
    assert default == DEFAULT_PER_PART


@pytest.mark.slow
def test_5000_notes_split_into_parts_of_bounded_size(
    tmp_path: Path, example_records, example_texts
) -> None:
    """5,000 notes: one page would be ~10 MB (examples) to ~25 MB (real notes); parts are not."""
    records = _bulk(example_records, example_texts, 5_000)
    single = len(render_html(records, source="s").encode("utf-8"))
    index = write_html_pages(records, tmp_path / "big", source="s")
    sizes = {p.name: p.stat().st_size for p in index.parent.iterdir()}
    parts = [size for name, size in sizes.items() if name != INDEX_NAME]
    assert len(parts) == 5_000 // DEFAULT_PER_PART
    assert max(parts) < single / 10  # each part a twentieth of the single page, give or take
    assert sizes[INDEX_NAME] < single / 3
    print(
        f"5,000 notes: one page {single:,} B; index {sizes[INDEX_NAME]:,} B; "
        f"largest of {len(parts)} parts {max(parts):,} B"
    )
# ------------------------------------------------------------------ what a draft never says
_UNCERTAIN_CERVICOGENIC = (
    "HPI: Neck pain and pressure at the back of the head for two months.\n"
    "EXAM: Suboccipital tenderness; extension reduced.\n"
    "IMAGING: MRI cervical spine shows C2-C3 facet arthropathy.\n"
    "ASSESSMENT: Possible cervicogenic headache versus occipital neuralgia.\n"
)


def test_a_draft_never_offers_back_a_diagnosis_the_provider_wrote(analyzer) -> None:
    record = analyzer.analyze(_UNCERTAIN_CERVICOGENIC, note_id="q1").to_dict()
    (draft,) = draft_queries(record)
    assert "Cervicogenic headache" not in draft.options
    assert check_query(draft.text) == []
    unwritten = record | {
        "evidence": [e for e in record["evidence"] if e["concept"] != "cervicogenic_headache"]
    }
    assert "Cervicogenic headache" in draft_queries(unwritten)[0].options


def test_a_draft_never_cites_a_section_title(analyzer) -> None:
    record = analyzer.analyze(_UNCERTAIN_CERVICOGENIC, note_id="q2").to_dict()
    (draft,) = draft_queries(record)
    quoted = {i.text.lower() for i in draft.indicators}
    assert "imaging" not in quoted and "mri cervical spine" in quoted
    assert any(e["text"] == "IMAGING" and e["counted"] for e in record["evidence"])


def test_conditional_options_alone_cannot_make_a_query(tmp_path: Path) -> None:
    def only_conditional(data: dict[str, Any]) -> None:
        for option in data["queries"][0]["options"]:
            option["unless_written"] = ["cervicogenic_headache"]

    with pytest.raises(QueryFileError, match="on every note"):
        load_queries(_query_file(tmp_path, only_conditional))
