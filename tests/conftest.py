"""Shared fixtures: the analyzer is built once per test session, and CLI runners over it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

import docgap
from docgap.cli import app

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "notes"

# `docgap scan` uses all cores by default; the CLI tests run one process each (the
# parallel engine has its own tests) so the suite stays fast on small machines.
os.environ.setdefault("DOCGAP_WORKERS", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current output (or set DOCGAP_UPDATE_GOLDEN=1)",
    )


@pytest.fixture(scope="session")
def analyzer() -> docgap.Analyzer:
    """One analyzer with the shipped rules for the whole session (building it takes seconds).

    It is the process-wide ``docgap.default_analyzer()``, the one the CLI uses, so the
    in-process CLI tests do not build another.
    """
    return docgap.default_analyzer()


@pytest.fixture(scope="session")
def update_golden(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--update-golden")) or (
        os.environ.get("DOCGAP_UPDATE_GOLDEN") == "1"
    )


CliCall = Callable[..., Result]
ProcCall = Callable[..., "subprocess.CompletedProcess[bytes]"]


@pytest.fixture
def cli(analyzer: docgap.Analyzer) -> CliCall:
    """Run the Typer app in this process: ``cli(["scan", ...], input=b"...")``."""
    runner = CliRunner()

    def run(args: Sequence[str], input: bytes | str | None = None) -> Result:
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def docgap_proc() -> ProcCall:
    """Run ``python -m docgap.cli`` in a real subprocess (a fresh interpreter each time)."""

    def run(
        args: Sequence[str],
        input: bytes | None = None,
        cwd: Path | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "DOCGAP_DEBUG"}
        return subprocess.run(
            [sys.executable, "-m", "docgap.cli", *[str(a) for a in args]],
            input=input if input is not None else b"",
            capture_output=True,
            cwd=cwd or REPO,
            env=env,
            timeout=timeout,
            check=False,
        )

    return run


def parse_jsonl(text: str | bytes) -> list[dict[str, Any]]:
    """Every non-empty line of a JSON Lines text, parsed (a bad line fails the test)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def jsonl() -> Callable[[str | bytes], list[dict[str, Any]]]:
    return parse_jsonl


# -- inputs of every kind ---------------------------------------------------------------
SAMPLE_NOTES: list[tuple[str, str, str]] = [
    ("n-001", "HPI: neck pain and occipital headaches since the MVC.\nPlan: PT.", "neurology"),
    ("n-002", "Low back pain after lifting, no radiation. Neck: supple.", "primary care"),
    ("n-003", "Dizziness: yes\nExam: TTP C2 paraspinals.\nA/P: cervicalgia, vértigo.", "ED"),
]
INPUT_KINDS = ("folder", "txt", "csv", "tsv", "jsonl", "parquet", "stdin")


@dataclass
class InputCase:
    """An input of one kind on disk (or for stdin) and the records it holds."""

    kind: str
    args: list[str]  # the INPUT arguments (and options) for ``docgap scan``
    stdin: bytes | None
    ids: list[str]
    texts: list[str]
    meta: list[dict[str, Any]] = field(default_factory=list)


def write_input(
    kind: str, folder: Path, notes: Sequence[tuple[str, str, str]] = SAMPLE_NOTES
) -> InputCase:
    """Write ``notes`` (id, text, specialty) as an input of ``kind`` under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [n[0] for n in notes]
    texts = [n[1] for n in notes]
    table_meta = [{"specialty": n[2]} for n in notes]
    if kind == "folder":
        root = folder / "notes"
        places = [root / "a", root / "b" / "c", root]  # recursive
        for (note_id, text, _), place in zip(notes, places * len(notes), strict=False):
            place.mkdir(parents=True, exist_ok=True)
            (place / f"{note_id}.txt").write_text(text, encoding="utf-8")
        (root / "README.md").write_text("not a note", encoding="utf-8")  # ignored
        paths = sorted(root.rglob("*.txt"))
        by_id = dict(zip(ids, texts, strict=True))
        return InputCase(
            kind, [str(root)], None, [p.stem for p in paths], [by_id[p.stem] for p in paths],
            [{"source": str(p)} for p in paths],
        )
    if kind == "txt":
        path = folder / f"{ids[0]}.txt"
        path.write_text(texts[0], encoding="utf-8")
        return InputCase(kind, [str(path)], None, ids[:1], texts[:1], [{"source": str(path)}])
    if kind == "stdin":
        return InputCase(kind, ["-"], texts[0].encode("utf-8"), ["stdin"], texts[:1], [{}])
    if kind in ("csv", "tsv"):
        path = folder / f"notes.{kind}"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t" if kind == "tsv" else ",")
            writer.writerow(["note_id", "specialty", "text"])
            writer.writerows([n[0], n[2], n[1]] for n in notes)
        return InputCase(kind, [str(path)], None, ids, texts, table_meta)
    if kind == "jsonl":
        path = folder / "notes.jsonl"
        path.write_text(
            "".join(
                json.dumps({"note_id": i, "text": t, "specialty": s}) + "\n" for i, t, s in notes
            ),
            encoding="utf-8",
        )
        return InputCase(kind, [str(path)], None, ids, texts, table_meta)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / "notes.parquet"
        pq.write_table(
            pa.table({"note_id": ids, "text": texts, "specialty": [n[2] for n in notes]}), path
        )
        return InputCase(kind, [str(path)], None, ids, texts, table_meta)
    raise ValueError(kind)


@pytest.fixture(scope="session")
def make_input() -> Callable[..., InputCase]:
    return write_input
