"""``docgap scan --db``: a scan stores its reports and notes; a rescan adds nothing.

Runs on SQLite and on the throwaway PostgreSQL of ``tests/store/conftest.py``, with one
process and with worker processes (where the parent builds no pipeline).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgap.cli import app
from docgap.store import session
from docgap.store.models import Note, Report, Scan

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_NOTES = REPO / "examples" / "notes"

runner = CliRunner()


def _counts(db_url: str) -> tuple[int, int, int]:
    with session(db_url) as db:
        return (db.query(Note).count(), db.query(Scan).count(), db.query(Report).count())


@pytest.mark.parametrize("workers", ["1", "2"])
def test_scan_into_the_database_twice_adds_nothing_the_second_time(
    db_url: str, tmp_path: Path, workers: str
) -> None:
    assert runner.invoke(app, ["db", "upgrade", "--db", db_url]).exit_code == 0
    out = tmp_path / "scan.jsonl"
    args = ["scan", str(EXAMPLE_NOTES), "--out", str(out), "--db", db_url, "-j", workers]
    first = runner.invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "12 reports stored, 0 unchanged" in first.stderr
    assert _counts(db_url) == (12, 1, 12)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == 12
    with session(db_url) as db:
        stored = {n.note_id: n.text for n in db.query(Note)}
    assert stored["01-supported-neurology"] == (
        EXAMPLE_NOTES / "01-supported-neurology.txt"
    ).read_text(encoding="utf-8")
    second = runner.invoke(app, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "0 reports stored, 12 unchanged" in second.stderr
    assert _counts(db_url) == (12, 1, 12)


def test_scan_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["scan", str(EXAMPLE_NOTES), "--db", url, "-j", "1"])
    assert result.exit_code == 2
    assert "docgap db upgrade" in result.stderr
