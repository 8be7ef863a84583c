"""Bad input gets a clear error and loses nothing (issue 2, "Bad input").

Every input record appears in the output exactly once; a record that cannot be analysed
carries an ``error`` and the run goes on (exit 3); an input that cannot be read at all is
one line on stderr and exit 2; no note text reaches stderr or the logs.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import docgap
from docgap.cli import EXIT_FAILED, EXIT_UNUSABLE

# A distinctive clinical-looking phrase: it must never appear in stderr, logs or errors.
SECRET = "Zebulon Quarry DOB 1957 occipital headache"
CLINICAL = "HPI: neck pain and occipital headaches. Exam: TTP C2. Dizziness: yes."


def _folder_of_bad_files(root: Path) -> dict[str, str | None]:
    """Write one file per bad case; return note_id -> expected error fragment (None: ok)."""
    root.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[bytes, str | None]] = {
        "good": (CLINICAL.encode(), None),
        "empty": (b"", "empty note"),
        "whitespace": (b"  \n\t \r\n ", "empty note"),
        "binary": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary"),
        "control-chars": (bytes(range(1, 9)) * 200, "binary"),
        "undecodable": (codecs.BOM_UTF16_LE + b"\x00\xd8" + b"a", "undecodable"),
        "latin1": ("Névralgie: neck pain, occipital headaches, vertigo.".encode("latin-1"), None),
        "utf16-bom": (CLINICAL.encode("utf-16"), None),
    }
    for name, (data, _) in cases.items():
        (root / f"{name}.txt").write_bytes(data)
    return {name: error for name, (_, error) in cases.items()}


def _csv_with_bad_rows(path: Path) -> dict[str, str | None]:
    path.write_text(
        "note_id,text\n"
        f'c-good,"{CLINICAL}"\n'
        "c-empty,\n"
        'c-blank,"   "\n'
        "c-short\n"  # a row without the text cell
        "c-long,neck pain,extra cell\n",
        encoding="utf-8",
    )
    return {
        "c-good": None,
        "c-empty": "empty note",
        "c-blank": "empty note",
        "c-short": "no text",
        "c-long": "more cells",
    }


def _jsonl_with_bad_lines(path: Path) -> dict[str, str | None]:
    lines = [
        json.dumps({"note_id": "j-good", "text": CLINICAL}),
        '{"note_id": "j-broken", "text": "neck pain',  # line 2: malformed
        json.dumps({"note_id": "j-no-text", "body": "neck pain"}),
        "[1, 2, 3]",
        json.dumps({"note_id": "j-number", "text": 42}),
        "",  # a blank line is not a record
        json.dumps({"note_id": "j-empty", "text": ""}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "j-good": None,
        "line-2": "malformed JSON at line 2",
        "j-no-text": "no 'text' field",
        "line-4": "line 4 is not a JSON object",
        "j-number": "not a string",
        "j-empty": "empty note",
    }


@pytest.fixture
def bad_inputs(tmp_path: Path) -> tuple[list[str], dict[str, str | None]]:
    expected: dict[str, str | None] = {}
    expected |= _folder_of_bad_files(tmp_path / "notes")
    expected |= _csv_with_bad_rows(tmp_path / "rows.csv")
    expected |= _jsonl_with_bad_lines(tmp_path / "lines.jsonl")
    args = [str(tmp_path / "notes"), str(tmp_path / "rows.csv"), str(tmp_path / "lines.jsonl")]
    return args, expected


def _check_every_record_once(
    records: list[dict[str, Any]], expected: dict[str, str | None]
) -> None:
    counts = Counter(r["note_id"] for r in records)
    assert counts == Counter(list(expected)), "every input record appears exactly once"
    for record in records:
        fragment = expected[record["note_id"]]
        if fragment is None:
            assert "error" not in record, record.get("error")
            assert record["status"] in docgap.STATUSES
        else:
            assert fragment in record["error"]
            assert record["status"] is None


def test_bad_records_are_reported_and_the_run_goes_on(
    bad_inputs: tuple[list[str], dict[str, str | None]], cli: Any, jsonl: Any
) -> None:
    args, expected = bad_inputs
    result = cli(["scan", *args])
    assert result.exit_code == EXIT_FAILED
    records = jsonl(result.stdout)
    _check_every_record_once(records, expected)
    failed = sum(1 for v in expected.values() if v is not None)
    assert f"{failed} failed" in result.stderr


@pytest.mark.slow
def test_bad_records_in_a_real_process(
    bad_inputs: tuple[list[str], dict[str, str | None]], docgap_proc: Any, jsonl: Any
) -> None:
    args, expected = bad_inputs
    done = docgap_proc(["scan", *args])
    assert done.returncode == EXIT_FAILED
    _check_every_record_once(jsonl(done.stdout), expected)


@pytest.mark.parametrize(
    ("name", "warning"),
    [("latin1", "Windows-1252"), ("utf16-bom", "UTF-16")],
)
def test_other_encodings_are_decoded_with_a_warning(
    tmp_path: Path, cli: Any, jsonl: Any, name: str, warning: str
) -> None:
    _folder_of_bad_files(tmp_path)
    result = cli(["scan", str(tmp_path / f"{name}.txt")])
    assert result.exit_code == 0
    (record,) = jsonl(result.stdout)
    assert record["status"] in docgap.STATUSES
    assert any(warning in w for w in record["warnings"])
    assert "1 with warnings" in result.stderr


def test_decoded_text_is_the_real_text(tmp_path: Path, cli: Any, jsonl: Any) -> None:
    # Evidence offsets index the decoded text: the words must be found where they are.
    (tmp_path / "utf16.txt").write_bytes(CLINICAL.encode("utf-16"))
    (record,) = jsonl(cli(["scan", str(tmp_path / "utf16.txt")]).stdout)
    assert record["evidence"], "a decoded clinical note yields evidence"
    for ev in record["evidence"]:
        assert CLINICAL[ev["start"] : ev["end"]] == ev["text"]


# -- inputs that cannot be used at all --------------------------------------------------
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing.txt", "no such file"),
        (lambda p: _write(p / "notes.rtf", b"{\\rtf1 neck pain}"), "unknown input format"),
        (lambda p: _write(p / "notes.csv", b"id,body\n1,neck pain\n"), "no column 'text'"),
        (lambda p: _write(p / "notes.tsv", b"id\tbody\n1\tneck pain\n"), "no column 'text'"),
        (lambda p: _write(p / "notes.parquet", b"garbage"), "not a readable Parquet file"),
    ],
    ids=["missing-file", "unknown-format", "csv-without-text", "tsv-without-text", "bad-parquet"],
)
def test_unusable_input_is_one_line_and_exit_2(
    tmp_path: Path, cli: Any, setup: Any, message: str
) -> None:
    good = _write(tmp_path / "good.txt", CLINICAL.encode())
    result = cli(["scan", str(good), str(setup(tmp_path))])
    assert result.exit_code == EXIT_UNUSABLE
    assert result.stdout == "", "nothing is written before the inputs are validated"
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("docgap: error: ") and message in line


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- size -------------------------------------------------------------------------------
FILLER = "The patient was seen and the plan was reviewed in detail with her today. "


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "single_line"),
    [(5_000_000, False), (2_000_000, True)],
    ids=["5MB-note", "2MB-single-line"],
)
def test_huge_notes_are_analysed(
    tmp_path: Path,
    cli: Any,
    jsonl: Any,
    analyzer: docgap.Analyzer,
    size: int,
    single_line: bool,
) -> None:
    head = CLINICAL + ("  " if single_line else "\n")
    sep = " " if single_line else "\n"
    body = sep.join(FILLER * 8 for _ in range(size // (len(FILLER) * 8) + 1))
    text = (head + body)[:size]
    assert ("\n" in text) is not single_line
    path = tmp_path / "huge.txt"
    path.write_text(text, encoding="utf-8")
    result = cli(["scan", str(path)])
    assert result.exit_code == 0, result.stderr
    (record,) = jsonl(result.stdout)
    assert record["text_length"] == size
    assert record["status"] in docgap.STATUSES
    assert any("chunks" in w for w in record["warnings"])
    # The mentions at the start of the note are found as in the short note alone.
    alone = {(e.element, e.text, e.start) for e in analyzer.analyze(CLINICAL).evidence}
    head_found = {
        (e["element"], e["text"], e["start"])
        for e in record["evidence"]
        if e["end"] <= len(CLINICAL)
    }
    assert alone and head_found == alone


# -- PHI --------------------------------------------------------------------------------
def test_failing_notes_leave_no_text_in_stderr_or_logs(
    tmp_path: Path,
    cli: Any,
    jsonl: Any,
    analyzer: docgap.Analyzer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "a.txt").write_text(f"{SECRET}. Neck pain.", encoding="utf-8")
    (tmp_path / "b.txt").write_text(f"{SECRET}\x00\x01\x02 binary", encoding="utf-8")

    def leaky_decide(*args: Any, **kwargs: Any) -> Any:
        # An exception whose message quotes the note, as a careless library might.
        raise ValueError(f"cannot decide on {SECRET}")

    monkeypatch.setattr(analyzer.pack, "decide", leaky_decide)
    caplog.set_level(logging.DEBUG)
    result = cli(["scan", str(tmp_path)])
    assert result.exit_code == EXIT_FAILED
    records = jsonl(result.stdout)
    assert [r["note_id"] for r in records] == ["a", "b"]
    assert all(r["error"] for r in records)
    assert "analysis failed (ValueError)" in records[0]["error"]
    for channel in (result.stderr, caplog.text, *(r["error"] for r in records)):
        assert "Zebulon" not in channel
    assert "analysis failed (ValueError)" in caplog.text  # logged, by id and type only


@pytest.mark.slow
def test_no_note_text_in_a_real_process_stderr(tmp_path: Path, docgap_proc: Any) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "note_id,text\n"
        f'r1,"{SECRET}\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10\x11\x12\x13\x14"\n'
        f'r2,"{SECRET}, neck pain"\n'
        '"r3",\n',
        encoding="utf-8",
    )
    done = docgap_proc(["scan", str(rows), "--format", "csv"])
    assert done.returncode == EXIT_FAILED
    stderr = done.stderr.decode()
    assert "Zebulon" not in stderr
    assert "2 failed" in stderr


# -- issue 14: the bad-input corpus, read case by case (no analysis) ---------------------
_CORPUS_SCRIPT = Path(__file__).resolve().parents[1] / "bad_inputs" / "make_bad_inputs.py"
# Scan cases whose records the readers alone decide (the others are CLI-level).
_READER_CASES = [
    "fifo-in-folder",
    "csv-non-utf8",
    "jsonl-cp1252",
    "jsonl-hostile",
    "path-too-long",
    "parquet-invalid-utf8",
    "unreadable-inputs",
    "csv-unclosed-quote",
    "json-nested-resource-type",
    "json-array",
    "jsonl-bom",
    "fhir-bundle-bad-entry",
    "csv-from-a-pipe",
    "text-files",
    "csv-huge-and-crlf",
    "csv-id-column",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[str]]:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("make_bad_inputs", _CORPUS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cases, markers = module.make(tmp_path_factory.mktemp("bad") / "corpus")
    return {case.name: case for case in cases}, markers


def _read_case(case: Any) -> list[Any]:
    """The records of a case's inputs, read in a thread (an old reader hung on a FIFO)."""
    import threading

    from docgap.inputs.reading import open_sources

    args = case.args[1 : case.args.index("--out")]
    fmt = "auto"
    if "--input-format" in args:
        fmt = args[args.index("--input-format") + 1]
        args = [a for a in args if a not in ("--input-format", fmt)]
    args = [a for a in args if a != "--resume"]
    found: list[Any] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            for source in open_sources(args, fmt=fmt):
                found.extend(source.records())
        except BaseException as exc:  # reported below, in the test's thread
            failed.append(exc)

    if case.stdin:

        def feed() -> None:
            with open(case.stdin, "wb") as handle:
                handle.write(case.stdin_data)

        threading.Thread(target=feed, daemon=True).start()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "reading hung"
    if failed:
        raise failed[0]
    return found


@pytest.mark.parametrize("name", _READER_CASES)
def test_corpus_case_reads_every_record_once_with_its_reason(
    corpus: tuple[dict[str, Any], list[str]], name: str
) -> None:
    cases, markers = corpus
    case = cases[name]
    records = _read_case(case)
    assert Counter(r.note_id for r in records) == Counter(list(case.expect))
    for record in records:
        fragment = case.expect[record.note_id]
        if fragment is None:
            assert record.error is None, record.error
            assert record.text is not None and record.text.strip()
        else:
            assert record.error is not None and fragment in record.error
        told = json.dumps([record.note_id, record.error, record.warnings, record.meta])
        told.encode("utf-8")  # every value writable (no lone surrogates)
        assert not any(word in told for word in markers)


def test_corpus_has_every_reader_case(corpus: tuple[dict[str, Any], list[str]]) -> None:
    cases, _ = corpus
    assert set(_READER_CASES) <= set(cases)


def test_a_csv_without_header_names_no_cell(tmp_path: Path) -> None:
    """Issue 14 item 1: the message names the column and the count, never cell values."""
    from docgap.inputs.reading import InputError, open_sources

    path = tmp_path / "h.csv"
    path.write_text(f"n1,{SECRET}\n", encoding="utf-8")
    for args, stdin in (([str(path)], None), (["-"], path.read_bytes())):
        import io

        with pytest.raises(InputError) as caught:
            open_sources(
                args, fmt="csv" if stdin else "auto", stdin=io.BytesIO(stdin) if stdin else None
            )
        message = str(caught.value)
        assert "'text'" in message and "2 columns" in message
        assert "Zebulon" not in message and "n1" not in message


def test_decoding_replaces_a_few_controls_and_reads_utf32() -> None:
    """Issue 14 item 21: stray NUL/ESC/BEL are replaced (offsets kept); UTF-32 is text."""
    from docgap.inputs.decoding import decode_bytes

    noisy = decode_bytes(b"\x1b[31m" + CLINICAL.encode() + b"\x07\x00")
    assert noisy.error is None and noisy.text is not None
    assert len(noisy.text) == len(CLINICAL) + 7 and "\x00" not in noisy.text
    assert any("control characters replaced" in w for w in noisy.warnings)
    wide = decode_bytes(CLINICAL.encode("utf-32"))
    assert wide.text == CLINICAL and any("UTF-32" in w for w in wide.warnings)
    assert decode_bytes(bytes(range(1, 9)) * 200).error is not None


def test_an_unreadable_subfolder_is_an_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 13 (root reads any folder, so the refusal is simulated)."""
    import os

    from docgap.inputs.reading import open_sources

    (tmp_path / "ok.txt").write_text(CLINICAL, encoding="utf-8")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "hidden.txt").write_text(CLINICAL, encoding="utf-8")
    real = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    (source,) = open_sources([str(tmp_path)])
    records = list(source.records())
    assert [(Path(r.note_id).name, r.error) for r in records] == [
        ("locked", "cannot read folder: Permission denied"),
        ("ok", None),
    ]


def test_bundle_renamed_ids_never_collide() -> None:
    """Issue 14 item 12: a renamed id is unique even against ids taken later."""
    from docgap.inputs.fhir import document_reference, parse_resource

    doc = document_reference("a", CLINICAL)
    no_id = {k: v for k, v in doc.items() if k != "id"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": doc},
            {"resource": doc},
            {"fullUrl": "a#2", "resource": no_id},
            7,
        ],
    }
    records = parse_resource(bundle, name="b").records
    ids = [r.note_id for r in records]
    assert len(set(ids)) == len(ids) == 4
    assert records[3].error is not None and "not an object" in records[3].error
