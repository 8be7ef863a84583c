"""No corpus, test or example file holds an MTSamples note kept for the independent evaluation.

``shared/corpora/mtsamples/reserved_ids.txt`` lists the reserved notes (every id sharing a
reserved text included). A reserved id may not appear in any tracked file, and no record's
text may equal a reserved note's text (compared by hash only: the test never prints a
reserved text, and its messages name only our own records' ids).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

SHARED = REPO.parent / "shared" / "corpora" / "mtsamples"
RESERVED = SHARED / "reserved_ids.txt"

pytestmark = pytest.mark.skipif(
    not RESERVED.is_file(), reason="the shared MTSamples copy is not beside this checkout"
)


def _reserved_ids() -> set[str]:
    return set(RESERVED.read_text(encoding="utf-8").split())


def _tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()
    return [REPO / p for p in out.split("\0") if p]


def _sha(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _files_naming(paths: list[Path], reserved: set[str]) -> list[str]:
    word = re.compile(r"mts-\d{4}")
    hits = []
    for path in paths:
        if not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found = set(word.findall(text)) & reserved
        if found:
            hits.append(f"{path.name}: {len(found)} reserved id(s)")
    return hits


def test_no_tracked_file_names_a_reserved_note() -> None:
    reserved = _reserved_ids()
    assert reserved, "reserved_ids.txt is empty"
    hits = _files_naming(_tracked_files(), reserved)
    assert not hits, "; ".join(hits)


def test_no_corpus_record_carries_a_reserved_text() -> None:
    reserved = _reserved_ids()
    reserved_hashes = set()
    with (SHARED / "mtsamples.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["note_id"] in reserved and record["text"]:
                reserved_hashes.add(_sha(record["text"]))
    leaked = []
    for path in sorted((REPO / "corpus").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            text = record.get("text")
            if isinstance(text, str) and _sha(text) in reserved_hashes:
                leaked.append(f"{path.relative_to(REPO)}:{record.get('id')}")
    assert not leaked, f"records with a reserved note's text: {leaked}"


def test_the_guard_catches_a_file_naming_a_reserved_note(tmp_path: Path) -> None:
    reserved = _reserved_ids()
    leaky = tmp_path / "leaky.jsonl"
    leaky.write_text(json.dumps({"id": sorted(reserved)[0], "text": "x"}) + "\n")
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"id": "dev-x-001", "text": "x"}) + "\n")
    assert _files_naming([leaky, clean], reserved) == ["leaky.jsonl: 1 reserved id(s)"]
