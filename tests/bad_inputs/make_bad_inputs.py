"""Write the bad-input corpus (issue 14): one case per way an input can go wrong.

Run by ``tests/integration/test_bad_input_corpus.py`` into a temporary folder, or by hand:
``python tests/bad_inputs/make_bad_inputs.py OUT_DIR`` (prints the cases as JSON).

Every note carries a unique marker word (``mrk`` + letters) that must never reach stdout,
stderr or a log. Each case says the command to run, the exit code, and each record's
expected ``note_id`` with a fragment of its error (``None``: analysed) -- so the test can
check that every record appears exactly once with its reason.
"""

from __future__ import annotations

import base64
import codecs
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CLINICAL = "HPI: neck pain and occipital headaches. Exam: TTP C2. Dizziness: yes."


@dataclass
class Case:
    """One command over bad input and what it must produce."""

    name: str
    args: list[str]  # after ``docgap``; ``{out}`` is the report file
    exit: int
    expect: dict[str, str | None] = field(default_factory=dict)  # note_id -> error fragment
    stderr: list[str] = field(default_factory=list)  # fragments stderr must contain
    stdin: str | None = None  # a FIFO to feed while the command runs
    stdin_data: bytes = b""
    out_preset: str = ""  # written to the report file first (``--resume`` cases)


class _Markers:
    def __init__(self) -> None:
        self.words: list[str] = []

    def note(self, extra: str = "") -> str:
        """A clinical note with a fresh marker word on its own line."""
        n = len(self.words)
        word = "mrk" + "".join(chr(ord("a") + int(d)) for d in f"{n:04d}") + "zq"
        self.words.append(word)
        return f"Patient {word} seen today.\n{CLINICAL}{extra}"


def _fifo(path: Path) -> bool:
    try:
        os.mkfifo(path)
    except (AttributeError, OSError):
        return False
    return True


def _deep_dir(root: Path, length: int) -> Path:
    """Nested folders whose path is longer than ``length`` (made relative to a descriptor)."""
    fd = os.open(root, os.O_RDONLY)
    path = root
    try:
        while len(str(path)) <= length:
            name = "d" * 200
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            path = path / name
        note = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(note, CLINICAL.encode())
        os.close(note)
    finally:
        os.close(fd)
    return path


def _first_too_long(root: Path) -> str:
    path = root
    while len(str(path)) < 4096:
        path = path / ("d" * 200)
    return str(path)


def make(root: Path) -> tuple[list[Case], list[str]]:
    """Write every case under ``root``; return the cases and every marker word."""
    m = _Markers()
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def scan(name: str, inputs: list[str], exit: int, expect: dict[str, str | None], **kw: Any):
        cases.append(Case(name, ["scan", *inputs, "--out", "{out}"], exit, expect, **kw))

    # 1. A CSV without a header row: its first row must not be echoed.
    (root / "noheader.csv").write_text(f"n1,{m.note()}\n".replace("\n", " ", 1), "utf-8")
    scan("csv-no-header", [str(root / "noheader.csv")], 2, {}, stderr=["'text'", "2 columns"])
    cases.append(Case("check-csv-no-header", ["check", str(root / "noheader.csv")], 2))

    # 4. A FIFO in a folder; also a dangling symlink (a file that vanished), a symlink loop.
    folder = root / "fifo-folder"
    folder.mkdir()
    (folder / "a.txt").write_text(m.note(), "utf-8")
    expect: dict[str, str | None] = {"a": None}
    if _fifo(folder / "b.txt"):
        expect["b"] = "not a regular file"
    (folder / "gone.txt").symlink_to(folder / "vanished.txt")
    expect["gone"] = "cannot read file"
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    expect["loop"] = "cannot read file"
    scan("fifo-in-folder", [str(folder)], 3, expect)

    # 6. Non-UTF-8 bytes in a CSV id and another column; a cp1252 JSONL file.
    (root / "latin.csv").write_bytes(
        b"note_id,text,site\n"
        + b"caf\xe9-1,"
        + m.note().replace("\n", " ").encode()
        + b",H\xf4pital\n"
    )
    scan("csv-non-utf8", [str(root / "latin.csv")], 0, {"café-1": None})
    (root / "cp1252.jsonl").write_bytes(
        json.dumps({"note_id": "cp-1", "text": m.note() + " \u2019"}, ensure_ascii=False).encode(
            "cp1252"
        )
        + b"\n"
    )
    scan("jsonl-cp1252", [str(root / "cp1252.jsonl")], 0, {"cp-1": None})

    # 7. JSONL: lone surrogates, a 5,000-digit integer, 100,000-deep nesting.
    lines = [
        json.dumps({"note_id": "good", "text": m.note()}),
        '{"note_id": "sur\\ud83d", "text": "' + m.note().replace("\n", " ") + ' \\ud83d"}',
        '{"note_id": "big", "n": '
        + "9" * 5000
        + ', "text": "'
        + m.note().replace("\n", " ")
        + '"}',
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"note_id": "after", "text": m.note()}),
    ]
    (root / "hostile.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    scan(
        "jsonl-hostile",
        [str(root / "hostile.jsonl")],
        3,
        {
            "good": None,
            "sur\ufffd": None,
            "line-3": "number too long",
            "line-4": "nested too deeply",
            "after": None,
        },
    )

    # 8. A path longer than PATH_MAX inside a folder; Parquet with invalid UTF-8.
    deep = root / "deep"
    deep.mkdir()
    (deep / "ok.txt").write_text(m.note(), "utf-8")
    _deep_dir(deep, 4200)
    scan(
        "path-too-long",
        [str(deep)],
        3,
        {_first_too_long(deep): "File name too long", "ok": None},
    )
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = pa.array([b"p\xff1", b"p2"], type=pa.binary()).view(pa.string())
        texts = pa.array([m.note().encode(), m.note().encode() + b" \xff"], pa.binary())
        table = pa.table({"note_id": ids, "text": texts.view(pa.string())})
        pq.write_table(table, root / "bad-utf8.parquet")
        scan("parquet-invalid-utf8", [str(root / "bad-utf8.parquet")], 0, {"pÿ1": None, "p2": None})
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass

    # 9. Unreadable .jsonl/.csv inputs (symlink loops: unreadable even for root), then a good one.
    (root / "unreadable.jsonl").symlink_to(root / "unreadable.jsonl")
    (root / "unreadable.csv").symlink_to(root / "unreadable.csv")
    (root / "fine.txt").write_text(m.note(), "utf-8")
    scan(
        "unreadable-inputs",
        [str(root / "unreadable.jsonl"), str(root / "unreadable.csv"), str(root / "fine.txt")],
        3,
        {
            "unreadable.jsonl": "cannot read file",
            "unreadable.csv": "cannot read file",
            "fine": None,
        },
    )

    # 10. A CSV with an unclosed quote: one error, the rows after it still read.
    flat = [m.note().replace("\n", " ") for _ in range(4)]
    (root / "unclosed.csv").write_text(
        f'note_id,text\nq1,"{flat[0]}"\nq2,"{flat[1]}\nq3,"{flat[2]}"\nq4,{flat[3]}\n', "utf-8"
    )
    scan(
        "csv-unclosed-quote",
        [str(root / "unclosed.csv")],
        3,
        {"q1": None, "q2": "never closed", "q3": None, "q4": None},
    )

    # 11. .json JSONL with a nested resourceType; a pretty-printed array; JSONL with a BOM.
    nested = [
        {"note_id": f"nest-{i}", "text": m.note(), "src": {"resourceType": "DocumentReference"}}
        for i in range(2)
    ]
    (root / "nested.json").write_text("\n".join(json.dumps(r) for r in nested) + "\n", "utf-8")
    scan(
        "json-nested-resource-type",
        [str(root / "nested.json")],
        0,
        {"nest-0": None, "nest-1": None},
    )
    array = [{"note_id": f"arr-{i}", "text": m.note()} for i in range(3)]
    (root / "array.json").write_text(json.dumps(array, indent=2), "utf-8")
    scan("json-array", [str(root / "array.json")], 0, {f"arr-{i}": None for i in range(3)})
    (root / "bom.jsonl").write_bytes(
        codecs.BOM_UTF8 + (json.dumps({"note_id": "bom-1", "text": m.note()}) + "\n").encode()
    )
    scan("jsonl-bom", [str(root / "bom.jsonl")], 0, {"bom-1": None})

    # 12. A FHIR Bundle with a non-object entry; ids that collide again after renaming.
    def doc(note_id: str) -> dict[str, Any]:
        data = base64.b64encode(m.note().encode()).decode()
        return {
            "resourceType": "DocumentReference",
            "id": note_id,
            "status": "current",
            "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
        }

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": doc("a")},
            "not an entry",
            {"resource": doc("a")},  # a repeated id: renamed a#3
            {
                "fullUrl": "a#3",
                "resource": {k: v for k, v in doc("x").items() if k != "id"},
            },  # then a#3 again
        ],
    }
    (root / "bundle.json").write_text(json.dumps(bundle), "utf-8")
    scan(
        "fhir-bundle-bad-entry",
        [str(root / "bundle.json")],
        3,
        {"a": None, "bundle#entry-2": "not an object", "a#3": None, "a#3#4": None},
    )

    # 15. --out equal to an input.
    (root / "self.jsonl").write_text(json.dumps({"note_id": "s", "text": m.note()}) + "\n", "utf-8")
    cases.append(
        Case(
            "out-is-input",
            ["scan", str(root / "self.jsonl"), "--out", str(root / "self.jsonl")],
            2,
            stderr=["also an input"],
        )
    )

    # 20. A parent that is a file; a pipe read as CSV; an empty folder; FHIR .json in a folder.
    cases.append(
        Case(
            "out-parent-is-file",
            ["scan", str(root / "fine.txt"), "--out", str(root / "fine.txt" / "r.jsonl")],
            2,
            stderr=["is a file"],
        )
    )
    if _fifo(root / "pipe.csv"):
        cases.append(
            Case(
                "csv-from-a-pipe",
                ["scan", str(root / "pipe.csv"), "--input-format", "csv", "--out", "{out}"],
                0,
                {"pp1": None, "pp2": None},
                stdin=str(root / "pipe.csv"),
                stdin_data=(f'note_id,text\npp1,"{m.note()}"\npp2,"{m.note()}"\n').encode(),
            )
        )
    (root / "empty-folder").mkdir()
    scan("empty-folder", [str(root / "empty-folder")], 2, {}, stderr=["no notes"])
    cases.append(Case("check-empty-folder", ["check", str(root / "empty-folder")], 2))
    fhir_folder = root / "fhir-folder"
    fhir_folder.mkdir()
    (fhir_folder / "n.json").write_text(json.dumps(doc("f1")), "utf-8")
    scan("folder-of-fhir", [str(fhir_folder)], 2, {}, stderr=["--input-format fhir", "no notes"])
    cases.append(Case("check-folder-of-fhir", ["check", str(fhir_folder)], 2))

    # 21 and those that already held: UTF-32, stray controls, NUL, BOMs, CRLF, huge fields.
    texts = root / "texts"
    texts.mkdir()
    (texts / "utf32.txt").write_bytes(m.note().encode("utf-32"))
    (texts / "ansi.txt").write_text("\x1b[31m" + m.note() + "\x07\x00", "utf-8")
    (texts / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (texts / "utf16.txt").write_bytes(m.note().encode("utf-16"))
    (texts / "bom8.txt").write_bytes(codecs.BOM_UTF8 + m.note().encode())
    (texts / "crlf.txt").write_bytes(m.note().replace("\n", "\r\n").encode())
    (texts / "empty.txt").write_bytes(b"")
    (texts / "scan.pdf").write_bytes(b"%PDF-1.4 " + m.note().encode())
    (texts / "letter.docx").write_bytes(b"PK\x03\x04" + m.note().encode())
    scan(
        "text-files",
        [str(texts)],
        3,
        {
            "ansi": None,
            "binary": "binary",
            "bom8": None,
            "crlf": None,
            "empty": "empty note",
            "utf16": None,
            "utf32": None,
        },
        stderr=["skipped 2 files", ".docx", ".pdf"],
    )
    huge = m.note().replace("\n", " ") + " x" * 130_000
    (root / "huge.csv").write_text(
        f'note_id,text\nh1,"{huge}"\nh2,"line one\r\nline two {m.note()}"\n', "utf-8", newline=""
    )
    scan("csv-huge-and-crlf", [str(root / "huge.csv")], 0, {"h1": None, "h2": None})

    # 17. --resume: checked by note id; refused for another input's report or --review-only;
    # an error record already in the report still sets the exit code.
    two = [{"note_id": "r1", "text": ""}, {"note_id": "r2", "text": m.note()}]
    (root / "two.jsonl").write_text("\n".join(json.dumps(r) for r in two) + "\n", "utf-8")
    failed = {"note_id": "r1", "status": None, "error": "empty note", "elements": {}}
    scan(
        "resume-keeps-error-exit",
        [str(root / "two.jsonl"), "--resume"],
        3,
        {"r1": "empty note", "r2": None},
        out_preset=json.dumps(failed) + "\n",
    )
    other = dict(failed, note_id="someone-else")
    scan(
        "resume-other-input",
        [str(root / "two.jsonl"), "--resume"],
        2,
        {"someone-else": "empty note"},
        stderr=["start a new report"],
        out_preset=json.dumps(other) + "\n",
    )
    scan(
        "resume-more-than-inputs",
        [str(root / "fine.txt"), "--resume"],
        2,
        {"fine": "x", "extra": "x"},
        stderr=["more records than the inputs"],
        out_preset=json.dumps(dict(failed, note_id="fine", error="x"))
        + "\n"
        + json.dumps(dict(failed, note_id="extra", error="x"))
        + "\n",
    )
    cases.append(
        Case(
            "resume-review-only",
            ["scan", str(root / "two.jsonl"), "--resume", "--review-only", "--out", "{out}"],
            2,
            stderr=["--resume cannot"],
        )
    )

    # Issue 15: a CSV with an id column but no note_id.
    (root / "idcol.csv").write_text(f'id,text\nk1,"{m.note()}"\n', "utf-8")
    scan("csv-id-column", [str(root / "idcol.csv")], 0, {"k1": None}, stderr=["'id'", "--id-col"])
    return cases, m.words


def main(argv: list[str]) -> int:
    """Write the corpus into ``argv[0]`` and print its cases."""
    cases, _ = make(Path(argv[0]))
    print(json.dumps([asdict(c) for c in cases], indent=2, default=lambda b: b.decode()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
