"""Golden files: ``docgap scan examples/notes`` must write exactly the reports under golden/.

A change to the rules or the report format shows up here as a diff to review. When the
change is intended, regenerate the files and review them in the commit:

    python -m pytest tests/integration/test_golden.py --update-golden  # or DOCGAP_UPDATE_GOLDEN=1

Regenerating never blesses a wrong verdict on an example note: the golden statuses are
checked against ``examples/expected.json`` (the labels decided by reading the notes).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, REPO

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = {"jsonl": GOLDEN / "examples.jsonl", "csv": GOLDEN / "examples.csv"}
SCAN = ["scan", "examples/notes", "--quiet"]  # relative: the report records the path given


def _diff(expected: str, actual: str, limit: int = 8) -> str:
    """Where the output departs from the golden file: line, column, and the text around."""
    golden, scanned = expected.splitlines(), actual.splitlines()
    found = []
    if len(golden) != len(scanned):
        found.append(f"{len(golden)} golden lines, {len(scanned)} now")
    for n, (old, new) in enumerate(zip(golden, scanned, strict=False), start=1):
        if old != new:
            col = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                min(len(old), len(new)),
            )
            start = max(0, col - 80)
            found.append(
                f"line {n}, column {col}:\n  golden: ...{old[start : col + 80]}\n"
                f"  now:    ...{new[start : col + 80]}"
            )
        if len(found) >= limit:
            break
    return "\n".join(found) + "\n(regenerate with --update-golden if the change is intended)"


def _check(path: Path, actual: bytes, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"{path} is missing: run pytest with --update-golden"
    expected = path.read_bytes()
    assert actual == expected, _diff(expected.decode("utf-8"), actual.decode("utf-8"))


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_scan_output_is_the_golden_file(
    cli: Any, monkeypatch: pytest.MonkeyPatch, update_golden: bool, fmt: str
) -> None:
    monkeypatch.chdir(REPO)
    result = cli([*SCAN, "--format", fmt])
    assert result.exit_code == 0, result.stderr
    _check(CASES[fmt], result.stdout_bytes, update_golden)


@pytest.mark.slow
def test_a_real_process_writes_the_golden_jsonl(docgap_proc: Any) -> None:
    done = docgap_proc([*SCAN, "--format", "jsonl"], cwd=REPO)
    assert done.returncode == 0, done.stderr.decode()
    _check(CASES["jsonl"], done.stdout, update=False)


def _golden_records(fmt: str) -> list[dict[str, Any]]:
    text = CASES[fmt].read_text(encoding="utf-8")
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_golden_files_hold_every_example_once(fmt: str) -> None:
    ids = [r["note_id"] for r in _golden_records(fmt)]
    assert ids == sorted(p.stem for p in EXAMPLES.glob("*.txt"))


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_golden_verdicts_are_the_expected_labels(fmt: str) -> None:
    expected = json.loads((REPO / "examples" / "expected.json").read_text(encoding="utf-8"))
    for record in _golden_records(fmt):
        label = expected[record["note_id"]]
        would_code = record["would_code"] or None  # CSV writes null as ""
        assert (record["status"], would_code) == (label["status"], label["would_code"]), (
            record["note_id"]
        )
