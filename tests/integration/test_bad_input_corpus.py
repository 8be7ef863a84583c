"""The CLI over the whole bad-input corpus (issue 14): nothing lost, nothing leaked.

``tests/bad_inputs/make_bad_inputs.py`` writes every case into a temporary folder; each
command must end with its exit code, write every record exactly once (an ``error`` with
its reason for each bad one), and never print a note's marker word on stdout, stderr or
in a log record.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = Path(__file__).resolve().parents[1] / "bad_inputs" / "make_bad_inputs.py"


def _corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_bad_inputs", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _feed(path: str, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(path, "wb") as handle:  # blocks until the command opens the pipe
            handle.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _problems(case: Any, result: Any, out: Path, logs: str, markers: list[str]) -> list[str]:
    found = []
    if result.exit_code != case.exit:
        found.append(f"exit {result.exit_code}, expected {case.exit}: {result.stderr[-300:]}")
    for fragment in case.stderr:
        if fragment not in result.stderr:
            found.append(f"stderr lacks {fragment!r}: {result.stderr[-300:]}")
    leaked = [w for w in markers if w in result.stdout or w in result.stderr or w in logs]
    if leaked:
        found.append(f"note text leaked: {leaked}")
    if case.expect:
        records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
        ids = Counter(r["note_id"] for r in records)
        if ids != Counter(list(case.expect)):
            shown = {k[-60:]: n for k, n in ids.items()}
            found.append(f"records {shown}, expected each of {len(case.expect)} once")
        for record in records:
            fragment = case.expect.get(record["note_id"])
            error = record.get("error")
            if fragment is None and error is not None:
                found.append(f"{record['note_id']}: unexpected error {error!r}")
            if fragment is not None and (error is None or fragment not in error):
                found.append(f"{record['note_id']}: error {error!r} lacks {fragment!r}")
            told = json.dumps([error, record.get("warnings")])
            if any(w in told for w in markers):
                found.append(f"{record['note_id']}: note text in its error or warnings")
    return found


@pytest.mark.slow
def test_every_bad_input_case(cli: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cases, markers = _corpus_module().make(tmp_path / "corpus")
    assert len(cases) >= 25 and len(markers) >= 30
    failures: dict[str, list[str]] = {}
    caplog.set_level(logging.DEBUG)
    for case in cases:
        out = tmp_path / f"{case.name}.jsonl"
        args = [a.replace("{out}", str(out)) for a in case.args]
        if case.out_preset:
            out.write_text(case.out_preset, encoding="utf-8")
        feeder = _feed(case.stdin, case.stdin_data) if case.stdin else None
        caplog.clear()
        result = cli(args)
        if feeder is not None:
            feeder.join(timeout=10)
        problems = _problems(case, result, out, caplog.text, markers)
        if problems:
            failures[case.name] = problems
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)
