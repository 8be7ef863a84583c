"""The command line end to end: Typer's runner in this process and a real subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import docgap
from conftest import EXAMPLES, INPUT_KINDS, REPO, InputCase
from docgap.cli import base as cli_module
from docgap.outputs.worklist import build_worklist
from docgap.outputs.writers import JsonlWriter
from docgap.report import STATUSES


@dataclass
class Outcome:
    """What a run of ``docgap`` left: exit code, stdout bytes, stderr text."""

    code: int
    stdout: bytes
    stderr: str


Run = Callable[..., Outcome]


@pytest.fixture(
    params=[
        pytest.param("runner", id="cli-runner"),
        pytest.param("process", id="subprocess", marks=pytest.mark.slow),
    ]
)
def run(request: pytest.FixtureRequest, cli: Any, docgap_proc: Any) -> Run:
    """Run docgap through Typer's CliRunner or through ``python -m docgap.cli``."""
    if request.param == "runner":

        def go(args: list[str], stdin: bytes | None = None) -> Outcome:
            result = cli(args, input=stdin)
            return Outcome(result.exit_code, result.stdout_bytes, result.stderr)

    else:

        def go(args: list[str], stdin: bytes | None = None) -> Outcome:
            done = docgap_proc(args, input=stdin)
            return Outcome(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    return go


def _records(fmt: str, data: bytes | Path) -> list[dict[str, Any]]:
    if fmt == "parquet":
        assert isinstance(data, Path)
        return pq.read_table(data).to_pylist()
    raw = data.read_bytes() if isinstance(data, Path) else data
    text = raw.decode("utf-8")
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- inputs and outputs -----------------------------------------------------------------
@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_scan_reads_every_input_kind(
    tmp_path: Path, make_input: Callable[..., InputCase], run: Run, kind: str
) -> None:
    case = make_input(kind, tmp_path)
    outcome = run(["scan", *case.args, "--quiet"], stdin=case.stdin)
    assert outcome.code == 0, outcome.stderr
    records = _records("jsonl", outcome.stdout)
    assert [r["note_id"] for r in records] == case.ids
    assert all(r["status"] in STATUSES and "error" not in r for r in records)
    assert outcome.stderr == ""


@pytest.mark.parametrize(
    ("fmt", "to_file"),
    [("jsonl", True), ("jsonl", False), ("csv", True), ("csv", False), ("parquet", True)],
    ids=["jsonl-file", "jsonl-stdout", "csv-file", "csv-stdout", "parquet-file"],
)
def test_scan_writes_every_format(
    tmp_path: Path,
    make_input: Callable[..., InputCase],
    run: Run,
    analyzer: docgap.Analyzer,
    fmt: str,
    to_file: bool,
) -> None:
    case = make_input("csv", tmp_path)
    out = tmp_path / "reports" / f"out.{fmt}"
    args = ["scan", *case.args, "--format", fmt, "--quiet"]
    outcome = run([*args, "--out", str(out)] if to_file else args)
    assert outcome.code == 0, outcome.stderr
    if to_file:
        assert outcome.stdout == b""
    rows = _records(fmt, out if to_file else outcome.stdout)
    assert [r["note_id"] for r in rows] == case.ids
    # The same verdicts as the library gives for the same texts.
    expected = [analyzer.analyze(t, i) for i, t in zip(case.ids, case.texts, strict=True)]
    assert [r["status"] for r in rows] == [e.status for e in expected]
    flat = (lambda v: v) if fmt != "csv" else (lambda v: v == "true")
    for row, report in zip(rows, expected, strict=True):
        elements = row["elements"] if fmt == "jsonl" else {e: flat(row[e]) for e in report.elements}
        assert elements == report.elements
    if fmt != "jsonl":  # the table's other columns come along as meta
        assert [r["specialty"] if fmt == "csv" else json.loads(r["meta"])["specialty"]
                for r in rows] == [m["specialty"] for m in case.meta]


def test_summary_line_counts_what_was_written(
    tmp_path: Path, make_input: Callable[..., InputCase], cli: Any
) -> None:
    case = make_input("folder", tmp_path)
    (Path(case.args[0]) / "empty.txt").write_text("  \n", encoding="utf-8")
    result = cli(["scan", *case.args])
    assert result.exit_code == cli_module.EXIT_FAILED
    records = _records("jsonl", result.stdout_bytes)  # stdout holds the report only
    summary = result.stderr.strip().splitlines()[-1]
    assert f"{len(records)} notes written" in summary
    counts = Counter(r["status"] for r in records if "error" not in r)
    for status, n in counts.items():
        assert f"{n} {status}" in summary
    assert "1 failed" in summary


def test_quiet_success_prints_nothing_on_stderr(
    tmp_path: Path, make_input: Callable[..., InputCase], cli: Any
) -> None:
    case = make_input("jsonl", tmp_path)
    result = cli(["scan", *case.args, "-q", "-o", str(tmp_path / "r.jsonl")])
    assert (result.exit_code, result.stderr, result.stdout) == (0, "", "")


# -- exit codes -------------------------------------------------------------------------
def _bad_args(tmp_path: Path, which: str) -> list[str]:
    if which == "missing-file":
        return ["scan", str(tmp_path / "nope.txt")]
    if which == "unknown-suffix":
        (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
        return ["scan", str(tmp_path / "notes.docx")]
    if which == "csv-without-text":
        (tmp_path / "notes.csv").write_text("note_id,body\n1,neck pain\n", encoding="utf-8")
        return ["scan", str(tmp_path / "notes.csv")]
    if which == "parquet-to-stdout":
        (tmp_path / "a.txt").write_text("neck pain", encoding="utf-8")
        return ["scan", str(tmp_path / "a.txt"), "--format", "parquet"]
    if which == "unknown-output-format":
        return ["scan", "-", "--format", "xml"]
    if which == "unknown-input-format":
        return ["scan", "-", "--input-format", "xml"]
    if which == "no-input":
        return ["scan"]
    raise ValueError(which)


ONE_LINE_ERRORS = ["missing-file", "unknown-suffix", "csv-without-text", "parquet-to-stdout"]
USAGE_ERRORS = ["unknown-output-format", "unknown-input-format", "no-input"]


@pytest.mark.parametrize("which", ONE_LINE_ERRORS + USAGE_ERRORS)
def test_unusable_input_or_usage_exits_2(tmp_path: Path, cli: Any, which: str) -> None:
    result = cli(_bad_args(tmp_path, which), input=b"neck pain")
    assert result.exit_code == cli_module.EXIT_UNUSABLE
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if which in ONE_LINE_ERRORS:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("docgap: error: "), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("which", ONE_LINE_ERRORS)
def test_unusable_input_in_a_real_process(tmp_path: Path, docgap_proc: Any, which: str) -> None:
    done = docgap_proc(_bad_args(tmp_path, which))
    stderr = done.stderr.decode()
    assert done.returncode == 2
    assert done.stdout == b""
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_a_note_that_crashes_the_analysis_becomes_its_error_record(
    tmp_path: Path, cli: Any, analyzer: docgap.Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One analysis loop: a crash on one note loses that note only, and leaks no text."""
    secret = "Patient Jane Roe MRN 0048213 occipital headache"
    (tmp_path / "a.txt").write_text(secret, encoding="utf-8")
    (tmp_path / "b.txt").write_text("Neck pain. Cervicalgia.", encoding="utf-8")
    real = analyzer.analyze_input

    def crash(note: Any) -> Any:
        if "Jane" in (note.text or ""):
            raise RuntimeError(f"crashed on {note.text}")
        return real(note)

    monkeypatch.setattr(analyzer, "analyze_input", crash)
    out = tmp_path / "out.jsonl"
    result = cli(["scan", str(tmp_path), "--out", str(out)])
    assert result.exit_code == cli_module.EXIT_FAILED
    records = {r["note_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["a"]["error"] == "analysis failed (RuntimeError)"
    assert records["b"]["status"] is not None and "error" not in records["b"]
    assert "Jane" not in result.stderr and "Jane" not in out.read_text()


def test_an_internal_error_exits_1_without_note_text(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Patient Jane Roe MRN 0048213 occipital headache"
    (tmp_path / "note.txt").write_text(secret, encoding="utf-8")
    import docgap.engines.loop as loop

    def broken_loop(analyzer: Any, records: Any, hook: Any = None) -> Any:
        for note in records:
            raise RuntimeError(f"the loop broke on {note.text}")
        yield from ()

    monkeypatch.setattr(loop, "analyze_all", broken_loop)
    result = cli(["scan", str(tmp_path / "note.txt")])
    assert result.exit_code == cli_module.EXIT_INTERNAL
    assert "internal error (RuntimeError)" in result.stderr
    assert "Jane" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_ctrl_c_stops_cleanly_with_what_was_written(
    tmp_path: Path,
    make_input: Callable[..., InputCase],
    cli: Any,
    analyzer: docgap.Analyzer,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    notes = [(f"n{i}", f"Neck pain, note {i}.", "x") for i in range(6)]
    case = make_input("jsonl", tmp_path, notes)
    real = analyzer.analyze_input
    calls = []

    def interrupted_at_the_third(note: Any) -> Any:
        calls.append(note.note_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(note)

    monkeypatch.setattr(analyzer, "analyze_input", interrupted_at_the_third)
    out = tmp_path / f"out.{fmt}"
    result = cli(["scan", *case.args, "--format", fmt, "--out", str(out)])
    assert result.exit_code == cli_module.EXIT_INTERRUPTED
    assert f"interrupted: 2 notes written to {out}" in result.stderr
    assert [r["note_id"] for r in _records(fmt, out)] == ["n0", "n1"]


@pytest.mark.slow
def test_sigint_in_a_real_process(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    for i in range(400):
        (folder / f"n{i:04d}.txt").write_text(texts[i % len(texts)], encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "docgap.cli", "scan", str(folder), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the scan ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == cli_module.EXIT_INTERRUPTED
    lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line complete
    assert 3 <= len(records) < 400
    assert [r["note_id"] for r in records] == [f"n{i:04d}" for i in range(len(records))]
    assert f"interrupted: {len(records)} notes written" in stderr.decode()
    assert "Traceback" not in stderr.decode()


@pytest.mark.slow
def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(30):
        (notes / f"n{i}.txt").write_text("Neck pain and occipital headache.", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "docgap.cli", "scan", str(notes), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert json.loads(first)["note_id"] == "n0"
    assert proc.returncode == cli_module.EXIT_BROKEN_PIPE
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


@pytest.mark.slow
def test_workers_give_the_same_report(tmp_path: Path, docgap_proc: Any) -> None:
    pytest.importorskip("docgap.engines.parallel")
    one = docgap_proc(["scan", str(EXAMPLES), "-q"])
    two = docgap_proc(["scan", str(EXAMPLES), "-q", "--workers", "2"])
    assert (one.returncode, two.returncode) == (0, 0)
    assert two.stdout == one.stdout


# -- documentation of the contract ------------------------------------------------------
EXIT_CODES = {
    "EXIT_OK": 0, "EXIT_INTERNAL": 1, "EXIT_UNUSABLE": 2, "EXIT_FAILED": 3,
    "EXIT_INTERRUPTED": 130,
}


@pytest.mark.parametrize(("name", "code"), EXIT_CODES.items())
def test_exit_codes_are_documented(cli: Any, name: str, code: int) -> None:
    assert getattr(cli_module, name) == code
    assert re.search(rf"^{code}\s+\S", cli_module.__doc__ or "", re.MULTILINE)
    help_text = " ".join(cli(["scan", "--help"]).stdout.split())
    assert "Exit codes:" in help_text
    assert re.search(rf"[:;] {code} \w", help_text), help_text


def test_version_names_the_rule_set(cli: Any, analyzer: docgap.Analyzer) -> None:
    result = cli(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"docgap {docgap.__version__} (lexicon sha256 {analyzer.lexicon_hash})"
    )


@pytest.mark.slow
def test_entry_point_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("docgap")
    if not script.exists():
        pytest.skip("the docgap script is not installed beside this interpreter")
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, check=False, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0 and done.stdout.decode().startswith("docgap ")


# -- worklist ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def examples_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example notes scanned through the library (not the CLI under test)."""
    analyzer = docgap.default_analyzer()
    path = tmp_path_factory.mktemp("report") / "examples.jsonl"
    with JsonlWriter(path) as writer:
        for note in sorted(EXAMPLES.glob("*.txt")):
            writer.write(analyzer.analyze(note.read_text(encoding="utf-8"), note.stem))
    return path


def _expected_rank(record: dict[str, Any]) -> int | None:
    """The priority the worklist must give, from the spec's wording (None: not listed)."""
    status = record["status"]
    if status == "at_risk":
        return 0
    if status == "downcode" and record["query_opportunity"]:
        return 1
    return {"redirect": 2, "downcode": 3}.get(status)


def _positions(stdout: str, ids: list[str]) -> dict[str, int]:
    return {i: stdout.find(f" {i} ") for i in ids}


def test_worklist_lists_the_notes_to_act_on_in_priority_order(
    examples_report: Path, cli: Any
) -> None:
    records = [json.loads(line) for line in examples_report.read_text().splitlines()]
    ranked = [(r, _expected_rank(r)) for r in records]
    expected = [r["note_id"] for r, rank in sorted(
        ((r, k) for r, k in ranked if k is not None), key=lambda rk: rk[1]
    )]
    left_out = [r["note_id"] for r, rank in ranked if rank is None]
    assert expected and left_out  # the examples cover both
    result = cli(["worklist", str(examples_report)])
    assert result.exit_code == 0
    where = _positions(result.stdout, expected + left_out)
    assert all(where[i] >= 0 for i in expected), result.stdout
    assert sorted(expected, key=where.__getitem__) == expected
    assert all(where[i] == -1 for i in left_out)
    assert f"{len(left_out)} supported, not_applicable or failed notes not listed" in result.stdout


def test_worklist_all_and_limit(examples_report: Path, cli: Any) -> None:
    records = [json.loads(line) for line in examples_report.read_text().splitlines()]
    everything = cli(["worklist", str(examples_report), "--all"])
    assert all(f" {r['note_id']} " in everything.stdout for r in records)
    limited = cli(["worklist", str(examples_report), "--limit", "2"])
    shown = [r["note_id"] for r in records if f" {r['note_id']} " in limited.stdout]
    assert len(shown) == 2
    assert "more not shown" in limited.stdout


def test_worklist_reads_the_report_as_written(
    examples_report: Path, tmp_path: Path, cli: Any
) -> None:
    records = [json.loads(line) for line in examples_report.read_text().splitlines()]
    target = next(r for r in records if r["status"] in ("supported", "not_applicable"))
    target["status"] = "at_risk"  # a verdict the analysis did not give: the worklist obeys
    target["gaps"] = [{"key": "edited_gap", "message": "m", "severity": "required"}]
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = cli(["worklist", str(edited)])
    row = next(line for line in result.stdout.splitlines() if f" {target['note_id']} " in line)
    assert "at_risk" in row and "edited_gap" in row


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"note_id": "a", "status": "at_risk", "elements": {}}\n{broken\n', ":2: malformed JSON"),
        ('{"id": "a", "text": "neck pain"}\n', ":1: not a docgap report"),
    ],
)
def test_worklist_refuses_a_bad_report(
    tmp_path: Path, cli: Any, content: str, message: str
) -> None:
    path = tmp_path / "report.jsonl"
    path.write_text(content, encoding="utf-8")
    result = cli(["worklist", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_worklist_missing_report(tmp_path: Path, cli: Any) -> None:
    result = cli(["worklist", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_worklist_ranks_gaps_by_severity() -> None:
    records = [
        {"note_id": "d", "status": "downcode", "query_opportunity": False, "gaps": []},
        {"note_id": "r", "status": "redirect", "gaps": []},
        {"note_id": "q", "status": "downcode", "query_opportunity": True, "gaps": []},
        {"note_id": "s", "status": "supported", "gaps": []},
        {"note_id": "e", "status": None, "error": "empty note", "gaps": []},
        {
            "note_id": "a",
            "status": "at_risk",
            "gaps": [
                {"key": "i", "severity": "info"},
                {"key": "rec", "severity": "recommended"},
                {"key": "req", "severity": "required"},
            ],
        },
    ]
    items, total = build_worklist(records)
    assert total == 6
    assert [i.note_id for i in items] == ["a", "q", "r", "d"]
    assert items[0].gaps == ("req", "rec", "i")
    assert items[1].label == "downcode (query)"
    every, _ = build_worklist(records, include_all=True)
    assert [i.note_id for i in every] == ["a", "q", "r", "d", "e", "s"]


def test_csv_output_has_the_meta_columns_of_every_input(
    tmp_path: Path, make_input: Callable[..., InputCase], cli: Any
) -> None:
    folder = make_input("folder", tmp_path / "a")
    table = make_input("jsonl", tmp_path / "b")
    result = cli(["scan", *folder.args, *table.args, "--format", "csv", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = _records("csv", result.stdout_bytes)
    assert [r["note_id"] for r in rows] == folder.ids + table.ids
    assert [r["source"] for r in rows] == [m["source"] for m in folder.meta] + [""] * 3
    assert [r["specialty"] for r in rows] == [""] * 3 + [m["specialty"] for m in table.meta]


def test_tracebacks_never_show_locals() -> None:
    # A local variable of a failing command can hold note text (PHI).
    assert cli_module.app.pretty_exceptions_show_locals is False


def test_resume_appends_without_duplicates(cli: Any, tmp_path: Path) -> None:
    """An interrupted scan (some complete lines, one cut off) resumes where it stopped."""
    full = tmp_path / "full.jsonl"
    assert cli(["scan", str(EXAMPLES), "--out", str(full), "--quiet"]).exit_code == 0
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2], encoding="utf-8")
    result = cli(["scan", str(EXAMPLES), "--out", str(partial), "--resume"])
    assert result.exit_code == 0, result.output
    resumed = [json.loads(x)["note_id"] for x in partial.read_text(encoding="utf-8").splitlines()]
    assert resumed == [json.loads(x)["note_id"] for x in lines]


def test_resume_needs_a_jsonl_file(cli: Any) -> None:
    result = cli(["scan", str(EXAMPLES), "--resume", "--format", "csv"])
    assert result.exit_code == 2


class _ConfidentInSupported:
    """A review-model stand-in that is surest of supported notes (the old --sort put them first)."""

    def predict_report(self, report: docgap.NoteReport, text: str) -> dict[str, Any]:
        score = 0.99 if report.status == "supported" else 0.5
        return {"score": score, "review": False, "status_probabilities": None, "top_features": []}


def test_scan_sort_score_is_review_priority(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``scan --sort score`` lists notes as ``worklist --all`` does, most urgent first."""
    monkeypatch.setattr(docgap.default_analyzer(), "model", _ConfidentInSupported())
    result = cli(["scan", str(EXAMPLES), "--sort", "score", "-q"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    order = [r["note_id"] for r in records]
    assert sorted(order) == sorted(p.stem for p in EXAMPLES.glob("*.txt"))
    items, _ = build_worklist(records, include_all=True)
    assert order == [item.note_id for item in items]
    ranks = [_expected_rank(r) for r in records]
    actionable = [k for k in ranks if k is not None]
    assert actionable == sorted(actionable) and actionable[0] == 0  # at_risk first
    assert ranks[: len(actionable)] == actionable  # before every note not to act on
    assert records[-1]["status"] in ("supported", "not_applicable")


_WHO_COLUMNS = {
    "patient_id": ["P-1", "P-2"],
    "encounter_id": ["E-10", "E-20"],
    "date_of_service": ["2024-03-08", "2024-03-09"],
    "provider": ["Dr A", "Dr B"],
    "payer": ["Medicare", "Aetna"],
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_columns_for_assigning_work_reach_the_jsonl_meta(
    cli: Any, tmp_path: Path, suffix: str
) -> None:
    """Patient, encounter, date, provider and payer columns come through as ``meta``."""
    import pyarrow as pa

    texts = [(EXAMPLES / "01-supported-neurology.txt").read_text(encoding="utf-8"), "Neck pain."]
    table = pa.table({"note_id": ["n1", "n2"], "text": texts, **_WHO_COLUMNS})
    path = tmp_path / f"notes{suffix}"
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.column_names)
            writer.writerows(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))
    else:
        pq.write_table(table, path)
    out = tmp_path / "r.jsonl"
    result = cli(["scan", str(path), "-q", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["note_id"] for r in records] == ["n1", "n2"]
    for i, record in enumerate(records):
        assert {k: record["meta"].get(k) for k in _WHO_COLUMNS} == {
            k: v[i] for k, v in _WHO_COLUMNS.items()
        }
        assert "text" not in record["meta"] and "note_id" not in record["meta"]
