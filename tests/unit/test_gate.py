"""`docgap check` gate: which statuses pass each requirement, the verdict lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import docgap
from conftest import CliCall
from docgap.outputs.gate import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SHORT,
    EXIT_UNUSABLE,
    REQUIREMENTS,
    SHORTFALLS,
    Gate,
    check_exit_code,
    format_verdict,
    meets,
    shortfalls,
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
    # no-required-gaps judges the gaps, not the status: a note without gaps passes.
    ("supported", "no-required-gaps"): True,
    ("at_risk", "no-required-gaps"): True,
    ("downcode", "no-required-gaps"): True,
    ("redirect", "no-required-gaps"): True,
    ("not_applicable", "no-required-gaps"): True,
}
# The requirements that judge the status alone (the examples' expected.json gives it).
BY_STATUS = sorted(r for r in REQUIREMENTS if r != "no-required-gaps")


def _report(
    status: str | None,
    note_id: str = "n",
    gaps: list[Gap] | None = None,
    *,
    score: float | None = None,
    review: bool | None = None,
) -> NoteReport:
    if status is None:
        return NoteReport.failed(note_id, "empty note (no text after removing whitespace)")
    return NoteReport(
        note_id=note_id,
        status=status,
        would_code=None,
        elements={},
        chiropractic=False,
        gaps=gaps or [],
        score=score,
        review=review,
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
    assert record.pop("confident") is False
    assert record.pop("meets") is meets(report, require)
    assert record.pop("shortfalls") == shortfalls(report, require)
    assert record == json.loads(json.dumps(report.to_dict()))


@pytest.mark.parametrize("require", BY_STATUS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples_pass_or_fail_by_their_expected_status(
    analyzer: docgap.Analyzer, name: str, require: str
) -> None:
    report = analyzer.analyze((EXAMPLES / f"{name}.txt").read_text(encoding="utf-8"), name)
    expected = EXPECTED[name]["status"] in REQUIREMENTS[require]
    text = format_verdict(report, require=require)
    assert text.startswith(f"{'PASS' if expected else 'FAIL'} {name}: ")
    assert len(text.split("\n")) <= 2


@pytest.mark.parametrize("require", BY_STATUS)
def test_examples_exit_code(analyzer: docgap.Analyzer, require: str) -> None:
    reports = [
        analyzer.analyze((EXAMPLES / f"{name}.txt").read_text(encoding="utf-8"), name)
        for name in sorted(EXPECTED)
    ]
    all_pass = all(EXPECTED[n]["status"] in REQUIREMENTS[require] for n in EXPECTED)
    assert check_exit_code(reports, require) == (EXIT_OK if all_pass else EXIT_SHORT)


# -- no-required-gaps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "gaps", "passes"),
    [
        ("supported", [], True),
        ("supported", [ADVICE], True),  # a recommended gap does not fail it
        ("at_risk", [ADVICE], True),
        ("at_risk", [ADVICE, REQUIRED], False),
        ("downcode", [REQUIRED], False),
        ("not_applicable", [], True),
    ],
)
def test_no_required_gaps_judges_the_gaps(status: str, gaps: list[Gap], passes: bool) -> None:
    report = _report(status, "note-3", gaps)
    assert meets(report, "no-required-gaps") is passes
    assert shortfalls(report, "no-required-gaps") == ([] if passes else ["required_gap"])
    text = format_verdict(report, require="no-required-gaps")
    assert text.startswith(("PASS" if passes else "FAIL") + " note-3: ")
    if not passes:  # the required gap's message says what to add
        assert text.split("\n")[1].strip() == REQUIRED.message
    assert check_exit_code([report], "no-required-gaps") == (EXIT_OK if passes else EXIT_SHORT)


def test_examples_under_no_required_gaps(analyzer: docgap.Analyzer) -> None:
    reports = [
        analyzer.analyze((EXAMPLES / f"{name}.txt").read_text(encoding="utf-8"), name)
        for name in sorted(EXPECTED)
    ]
    lacking = {r.note_id for r in reports if any(g.severity == "required" for g in r.gaps)}
    assert lacking, "the examples should include a note that lacks a required element"
    assert lacking != {r.note_id for r in reports}
    for report in reports:
        text = format_verdict(report, require="no-required-gaps")
        assert text.startswith("FAIL " if report.note_id in lacking else "PASS ")
    assert check_exit_code(reports, "no-required-gaps") == EXIT_SHORT


# -- --confident ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "review", "why"),
    [
        (0.97, False, []),
        (0.55, True, ["flagged_for_review"]),
        (None, None, ["no_model_score"]),  # no review model loaded: nobody vouched
    ],
)
def test_confident_fails_flagged_and_unscored_notes(
    score: float | None, review: bool | None, why: list[str]
) -> None:
    report = _report("supported", "note-9", score=score, review=review)
    assert meets(report, "supported")  # without --confident the status is enough
    assert shortfalls(report, "supported", confident=True) == why
    assert meets(report, "supported", confident=True) is (not why)
    text = format_verdict(report, require="supported", confident=True)
    assert text.startswith(("FAIL" if why else "PASS") + " note-9: supported")
    for key in why:  # the verdict says which
        assert SHORTFALLS[key] in text.split("\n")[0]
    record = json.loads(format_verdict(report, "json", require="supported", confident=True))
    assert record["confident"] is True
    assert record["meets"] is (not why)
    assert record["shortfalls"] == why
    gate = Gate("supported", confident=True)
    gate.add(report)
    assert gate.exit_code == (EXIT_SHORT if why else EXIT_OK)
    assert "meet --require supported --confident" in gate.summary()


def test_confident_adds_to_the_status_rule() -> None:
    report = _report("at_risk", score=0.4, review=True)
    assert shortfalls(report, "supported", confident=True) == ["status", "flagged_for_review"]
    assert shortfalls(report, "not-downcode", confident=True) == ["flagged_for_review"]
    failed = _report(None)
    assert not meets(failed, "supported", confident=True)
    assert json.loads(format_verdict(failed, "json", confident=True))["shortfalls"] == []


def test_check_cli_confident(
    cli: CliCall, analyzer: docgap.Analyzer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = tmp_path / "a.txt"
    note.write_text((EXAMPLES / "01-supported-neurology.txt").read_text(encoding="utf-8"))
    monkeypatch.setattr(analyzer, "model", None)  # the CLI shares this analyzer
    assert cli(["check", str(note)]).exit_code == EXIT_OK
    result = cli(["check", "--confident", str(note)])
    assert result.exit_code == EXIT_SHORT
    assert result.stdout.startswith("FAIL a: supported")
    assert SHORTFALLS["no_model_score"] in result.stdout
    assert "0 of 1 notes meet --require supported --confident" in result.stderr
    gaps = cli(["check", "-r", "no-required-gaps", "-f", "json", str(note)])
    assert json.loads(gaps.stdout)["require"] == "no-required-gaps"
