"""`docgap check` gate: which statuses pass each requirement, the verdict lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import docgap
from docgap.outputs.gate import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SHORT,
    EXIT_UNUSABLE,
    REQUIREMENTS,
    Gate,
    check_exit_code,
    format_verdict,
    meets,
)
from docgap.report import STATUSES, Gap, NoteReport

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "notes"
EXPECTED = json.loads((ROOT / "examples" / "expected.json").read_text(encoding="utf-8"))

# The contract documented in docgap/gate.py, written out status by status.
PASSES = {
    ("supported", "supported"): True,
    ("at_risk", "supported"): False,
    ("downcode", "supported"): False,
    ("redirect", "supported"): False,
    ("not_applicable", "supported"): False,
    ("supported", "not-downcode"): True,
    ("at_risk", "not-downcode"): True,
    ("downcode", "not-downcode"): False,
    ("redirect", "not-downcode"): True,
    ("not_applicable", "not-downcode"): True,
}


def _report(status: str | None, note_id: str = "n", gaps: list[Gap] | None = None) -> NoteReport:
    if status is None:
        return NoteReport.failed(note_id, "empty note (no text after removing whitespace)")
    return NoteReport(
        note_id=note_id,
        status=status,
        would_code=None,
        elements={},
        chiropractic=False,
        gaps=gaps or [],
    )


def test_the_table_covers_every_status_and_requirement() -> None:
    assert set(PASSES) == {(s, r) for s in STATUSES for r in REQUIREMENTS}


@pytest.mark.parametrize(("status", "require"), sorted(PASSES))
def test_meets(status: str, require: str) -> None:
    assert meets(_report(status), require) is PASSES[(status, require)]


@pytest.mark.parametrize("require", sorted(REQUIREMENTS))
def test_a_failed_note_never_meets(require: str) -> None:
    assert meets(_report(None), require) is False


@pytest.mark.parametrize(
    ("statuses", "require", "code"),
    [
        (["supported"], "supported", EXIT_OK),
        (["supported", "supported"], "supported", EXIT_OK),
        (["supported", "at_risk"], "supported", EXIT_SHORT),
        (["supported", "at_risk"], "not-downcode", EXIT_OK),
        (["redirect", "not_applicable"], "not-downcode", EXIT_OK),
        (["downcode"], "not-downcode", EXIT_SHORT),
        (["supported", None], "supported", EXIT_FAILED),
        (["downcode", None], "not-downcode", EXIT_FAILED),  # "could not judge" wins
        ([], "supported", EXIT_UNUSABLE),
    ],
)
def test_exit_code(statuses: list[str | None], require: str, code: int) -> None:
    reports = [_report(s, f"n{i}") for i, s in enumerate(statuses)]
    assert check_exit_code(reports, require) == code
    gate = Gate(require)
    for report in reports:
        gate.add(report)
    assert gate.exit_code == code
    assert f"(exit {code})" in gate.summary()


def test_exit_codes_are_distinct() -> None:
    assert len({EXIT_OK, EXIT_UNUSABLE, EXIT_FAILED, EXIT_SHORT}) == 4
    assert 1 not in {EXIT_OK, EXIT_UNUSABLE, EXIT_FAILED, EXIT_SHORT}  # left to crashes


def test_summary_counts() -> None:
    gate = Gate("supported")
    for status in ("supported", "downcode", None):
        gate.add(_report(status))
    assert gate.summary().startswith("1 of 3 notes meet --require supported")
    assert "1 fall short" in gate.summary()
    assert "1 could not be analysed" in gate.summary()


@pytest.mark.parametrize("bad", ["supported-ish", ""])
def test_unknown_requirement_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown requirement"):
        Gate(bad)
    with pytest.raises(ValueError, match="unknown requirement"):
        format_verdict(_report("supported"), require=bad)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown verdict format"):
        format_verdict(_report("supported"), "xml")


REQUIRED = Gap("missing_x", "Document X.", "required")
ADVICE = Gap("missing_y", "Y would help.", "recommended")


@pytest.mark.parametrize(
    ("status", "gaps", "require", "lines", "second"),
    [
        ("supported", [], "supported", 1, None),
        ("supported", [ADVICE], "supported", 1, None),  # passing: advice stays on line 1
        ("at_risk", [ADVICE, REQUIRED], "supported", 2, REQUIRED.message),  # most severe first
        ("at_risk", [REQUIRED], "not-downcode", 2, REQUIRED.message),  # passes, but lacks X
        ("downcode", [ADVICE], "supported", 2, ADVICE.message),
    ],
)
def test_text_verdict_shape(
    status: str, gaps: list[Gap], require: str, lines: int, second: str | None
) -> None:
    report = _report(status, "note-7", gaps)
    text = format_verdict(report, "text", require=require)
    first, *rest = text.split("\n")
    assert first.startswith(("PASS" if meets(report, require) else "FAIL") + " note-7: " + status)
    assert len(text.split("\n")) == lines
    for gap in gaps:
        assert gap.key in first
    assert ("missing_x (required)" in first) is (REQUIRED in gaps)
    if second is not None:
        assert rest[0].strip() == second


def test_error_verdict_names_the_reason_not_the_text(analyzer: docgap.Analyzer) -> None:
    report = analyzer.analyze("\x00\x01\x02 SECRET-MARKER \x03\x04" * 5, "bin-1")
    text = format_verdict(report)
    assert text.startswith("ERROR bin-1: ")
    assert report.error is not None and report.error in text
    assert "SECRET-MARKER" not in text
    assert "SECRET-MARKER" not in format_verdict(report, "json")


@pytest.mark.parametrize("require", sorted(REQUIREMENTS))
def test_json_verdict_is_the_scan_record_plus_the_verdict(
    analyzer: docgap.Analyzer, require: str
) -> None:
    path = EXAMPLES / "02-at-risk-chiro-no-level.txt"
    report = analyzer.analyze(path.read_text(encoding="utf-8"), path.stem)
    record = json.loads(format_verdict(report, "json", require=require))
    assert record.pop("require") == require
    assert record.pop("meets") is meets(report, require)
    assert record == json.loads(json.dumps(report.to_dict()))


@pytest.mark.parametrize("require", sorted(REQUIREMENTS))
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples_pass_or_fail_by_their_expected_status(
    analyzer: docgap.Analyzer, name: str, require: str
) -> None:
    report = analyzer.analyze((EXAMPLES / f"{name}.txt").read_text(encoding="utf-8"), name)
    expected = EXPECTED[name]["status"] in REQUIREMENTS[require]
    text = format_verdict(report, require=require)
    assert text.startswith(f"{'PASS' if expected else 'FAIL'} {name}: ")
    assert len(text.split("\n")) <= 2


@pytest.mark.parametrize("require", sorted(REQUIREMENTS))
def test_examples_exit_code(analyzer: docgap.Analyzer, require: str) -> None:
    reports = [
        analyzer.analyze((EXAMPLES / f"{name}.txt").read_text(encoding="utf-8"), name)
        for name in sorted(EXPECTED)
    ]
    all_pass = all(EXPECTED[n]["status"] in REQUIREMENTS[require] for n in EXPECTED)
    assert check_exit_code(reports, require) == (EXIT_OK if all_pass else EXIT_SHORT)
