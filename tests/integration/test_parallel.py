"""Analysing on several processes: input order kept, one crash costs one note, same reports.

The pooled runs start real worker processes (each builds its own analyzer), so they are
marked slow; each scenario starts one pool and several tests read its result.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docgap import Analyzer, NoteInput
from docgap.engines.parallel import WorkerStartError, analyze_parallel

ROOT = Path(__file__).resolve().parents[2]
DEV_PART = sorted((ROOT / "corpus" / "dev" / "parts").glob("*.jsonl"))[0]
CRASH_ID = "crash-me"


def _records() -> list[NoteInput]:
    """Real notes, with repeated ids, unreadable records and a note that kills its worker."""
    notes = []
    for line in DEV_PART.read_text(encoding="utf-8").splitlines()[:24]:
        record = json.loads(line)
        notes.append(NoteInput(record["id"], record["text"]))
    extra = [
        NoteInput("empty", "   \n"),
        NoteInput("unreadable", None, "undecodable text"),
        NoteInput(notes[0].note_id, notes[0].text, meta={"copy": "yes"}),  # the same id again
        NoteInput(CRASH_ID, "Neck pain and dizziness.", meta={"source": "test"}),
    ]
    # Spread the odd records through the stream.
    return [
        *notes[:5],
        extra[0],
        *notes[5:10],
        extra[3],
        *notes[10:18],
        extra[1],
        extra[2],
        *notes[18:],
    ]


RECORDS = _records()


class CrashOn:
    """Kills the worker process (no exception, no cleanup) when it reaches one note."""

    def __init__(self, note_id: str) -> None:
        self.note_id = note_id

    def __call__(self, note: NoteInput) -> None:
        if note.note_id == self.note_id:
            os._exit(70)


class RaiseOn(CrashOn):
    """Raises instead (what happens in the single-process path)."""

    def __call__(self, note: NoteInput) -> None:
        if note.note_id == self.note_id:
            raise RuntimeError("boom")


@pytest.fixture(scope="module")
def serial(analyzer: Analyzer) -> list[dict]:
    return [analyzer.analyze_input(record).to_dict() for record in RECORDS]


@pytest.fixture(scope="module")
def pooled() -> list[dict]:
    reports = analyze_parallel(RECORDS, 2, per_worker=3, worker_hook=CrashOn(CRASH_ID))
    return [report.to_dict() for report in reports]


def _without(records: list[dict], note_id: str) -> list[dict]:
    return [r for r in records if r["note_id"] != note_id]


@pytest.mark.slow
def test_every_record_comes_back_once_in_input_order(pooled: list[dict]) -> None:
    assert [r["note_id"] for r in pooled] == [record.note_id for record in RECORDS]


@pytest.mark.slow
def test_a_worker_crash_loses_only_its_note(pooled: list[dict]) -> None:
    (crashed,) = [r for r in pooled if r["note_id"] == CRASH_ID]
    assert crashed["status"] is None
    assert "worker process died" in crashed["error"]
    assert crashed["meta"] == {"source": "test"}
    assert set(crashed["elements"]) >= {"cranial_symptoms", "cervical_findings"}
    others = _without(pooled, CRASH_ID)
    assert sum(1 for r in others if "worker process died" in r.get("error", "")) == 0


@pytest.mark.slow
def test_pooled_reports_equal_serial_reports(pooled: list[dict], serial: list[dict]) -> None:
    assert _without(pooled, CRASH_ID) == _without(serial, CRASH_ID)
    assert any(r["status"] is not None for r in pooled)
    assert any(r.get("error") for r in _without(pooled, CRASH_ID))  # the unreadable records


@pytest.mark.parametrize("hook", [None, RaiseOn(CRASH_ID)], ids=["plain", "raising-hook"])
def test_one_worker_runs_here_with_the_same_reports(
    analyzer: Analyzer, serial: list[dict], hook: RaiseOn | None
) -> None:
    reports = [
        r.to_dict() for r in analyze_parallel(RECORDS, 1, analyzer=analyzer, worker_hook=hook)
    ]
    assert [r["note_id"] for r in reports] == [record.note_id for record in RECORDS]
    assert _without(reports, CRASH_ID) == _without(serial, CRASH_ID)
    (crash_report,) = [r for r in reports if r["note_id"] == CRASH_ID]
    if hook is None:
        assert crash_report["status"] is not None
    else:
        assert crash_report["error"] == "analysis failed (RuntimeError)"


@pytest.mark.slow
def test_input_is_read_lazily_and_workers_stop_when_the_caller_does() -> None:
    """Bounded work in flight: a never-ending input is fine; closing stops the workers."""
    pulled = itertools.count()

    def endless() -> Iterator[NoteInput]:
        for i in pulled:
            yield NoteInput(f"n{i}", "Occipital headache and neck stiffness.")

    workers, per_worker = 2, 2
    reports = analyze_parallel(endless(), workers, per_worker=per_worker)
    first = [next(reports).note_id for _ in range(5)]
    assert first == [f"n{i}" for i in range(5)]
    assert next(pulled) <= 5 + 2 * workers * per_worker
    reports.close()
    assert not [p for p in multiprocessing.active_children() if p.name == "docgap-worker"]


@pytest.mark.slow
def test_workers_that_cannot_build_the_analyzer_stop_the_run(tmp_path: Path) -> None:
    reports = analyze_parallel(
        RECORDS[:3], 2, analyzer_options={"lexicon_dir": tmp_path / "missing"}
    )
    with pytest.raises(WorkerStartError, match="could not build the analyzer"):
        list(reports)


@pytest.mark.parametrize(("workers", "per_worker"), [(0, 1), (2, 0)])
def test_bad_arguments(workers: int, per_worker: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(analyze_parallel(RECORDS[:1], workers, per_worker=per_worker))


class BadInputError(Exception):
    """An input that fails part-way, as a truncated file does."""


@pytest.mark.slow
def test_an_input_error_comes_after_the_reports_of_what_was_read() -> None:
    def failing() -> Iterator[NoteInput]:
        yield from RECORDS[:6]
        raise BadInputError("record 7 is unreadable")

    seen = []
    with pytest.raises(BadInputError):
        for report in analyze_parallel(failing(), 2):
            seen.append(report.note_id)
    assert seen == [record.note_id for record in RECORDS[:6]]


class NotePid:
    """Writes down which process analysed each note."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, note: NoteInput) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")


@pytest.mark.slow
def test_recycled_workers_give_the_same_reports(serial: list[dict], tmp_path: Path) -> None:
    """Each worker is replaced after a few notes; nothing is lost, repeated or reordered."""
    records = [r for r in RECORDS if r.note_id != CRASH_ID]
    pids = tmp_path / "pids.txt"
    reports = analyze_parallel(records, 2, per_worker=2, recycle_after=7, worker_hook=NotePid(pids))
    assert [r.to_dict() for r in reports] == _without(serial, CRASH_ID)
    seen = pids.read_text(encoding="utf-8").split()
    assert len(seen) == len(records)
    assert len(set(seen)) >= len(records) // 7


class KillOn:
    """SIGKILLs its own worker (what the out-of-memory killer does) on the listed notes."""

    def __init__(self, note_ids: frozenset[str]) -> None:
        self.note_ids = note_ids

    def __call__(self, note: NoteInput) -> None:
        if note.note_id in self.note_ids:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_killed_workers_lose_only_their_notes_and_are_replaced(serial: list[dict]) -> None:
    """Issue 14 item 5: a dead worker's pipe and sentinel are ready together; the pool must
    not look the second one up after rebuilding its handle table (it raised KeyError)."""
    records = [r for r in RECORDS if r.note_id != CRASH_ID]
    victims = frozenset(r.note_id for r in records[3:20:4])
    reports = []
    for report in analyze_parallel(records, 2, per_worker=2, worker_hook=KillOn(victims)):
        reports.append(report.to_dict())
        time.sleep(0.2)  # a slow consumer: a worker dies while the parent is not waiting
    assert [r["note_id"] for r in reports] == [r.note_id for r in records]
    died = {r["note_id"] for r in reports if "worker process died" in (r.get("error") or "")}
    assert died == set(victims)
    kept = [r for r in reports if r["note_id"] not in victims]
    assert kept == [r for r in _without(serial, CRASH_ID) if r["note_id"] not in victims]
