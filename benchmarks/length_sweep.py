"""Length sweep: MB/s of docgap and stock medspaCy as notes grow, on one core.

    PYTHONPATH=src python benchmarks/length_sweep.py [--cap 60] [--corpus PATH] [--no-startup]

Inputs, built the same for both sides:

- **real text** at 1, 3, 10, 30, 100 and 300 KB per note: each note is a concatenation of
  *distinct* MTSamples notes (never a note twice in one input, never a reserved note: those
  ids are dropped before their text is read), cut at a line end to the size. A size gets
  several such notes (about 100 KB of text in all, at least one note) so short sizes are not
  timed on one note;
- **mention-dense**: a short supported note (``examples/notes/01-supported-neurology.txt``)
  repeated to 10, 30 and 100 KB: every sentence carries targets and modifiers, the worst
  case for assertion scoping.

Each side runs each series in a fresh child process pinned to one CPU: it builds its
pipeline (docgap's ``Analyzer``; stock medspaCy from ``bench.build_stock``), then reports
every size as it finishes. A size that overruns ``--cap`` seconds (wall) kills the child and
is reported as ``> cap`` with every larger size (the cost only grows with length). Peak RSS
is the child's ``ru_maxrss`` when it finished (or was stopped).

Start-up, in the same run: the wall time of ``docgap scan`` over 20 notes in a fresh process
(``--workers 1``, one CPU) beside a fresh stock medspaCy process that imports, builds and
processes the same 20 notes (``bench.py --child stock``).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402
    ROOT,
    build_stock,
    corpus_path,
    docgap_command,
    load_line,
    machine_line,
    peak_rss_mb,
)
from notes import usable_notes  # noqa: E402

REAL_KB = (1, 3, 10, 30, 100, 300)
DENSE_KB = (10, 30, 100)
TEXT_PER_SIZE_KB = 100
DENSE_NOTE = ROOT / "examples" / "notes" / "01-supported-neurology.txt"
STARTUP_NOTES = 20
SIDES = ("docgap", "stock")


# ----------------------------------------------------------------------------- inputs


def _cut(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` bytes of UTF-8, at the last line end before it."""
    data = text.encode("utf-8")[:size].decode("utf-8", errors="ignore")
    end = data.rfind("\n")
    return data[: end + 1] if end > size // 2 else data


def real_inputs(notes: list[str], kb: int) -> list[str]:
    """Notes of ``kb`` KB, each made of distinct corpus notes taken in turn."""
    size = kb * 1000
    count = max(1, TEXT_PER_SIZE_KB // kb)
    inputs: list[str] = []
    position = 0
    for _ in range(count):
        parts: list[str] = []
        length = 0
        start = position
        while length < size:
            part = notes[position % len(notes)]
            position += 1
            if position - start > len(notes):
                raise SystemExit("length_sweep: the corpus is too small for this size")
            parts.append(part)
            length += len(part.encode("utf-8")) + 2
        inputs.append(_cut("\n\n".join(parts), size))
    return inputs


def dense_inputs(kb: int) -> list[str]:
    """The short supported note repeated to ``kb`` KB."""
    note = DENSE_NOTE.read_text(encoding="utf-8").strip() + "\n\n"
    return [_cut(note * (kb * 1000 // len(note.encode("utf-8")) + 1), kb * 1000)]


def series(corpus: Path, name: str) -> list[tuple[int, list[str]]]:
    """``(kb, inputs)`` for one series, smallest first."""
    if name == "dense":
        return [(kb, dense_inputs(kb)) for kb in DENSE_KB]
    texts = [text for _, text in usable_notes(corpus)]
    return [(kb, real_inputs(texts, kb)) for kb in REAL_KB]


# ----------------------------------------------------------------------------- child


def _one_core() -> int:
    """Pin this process to the first CPU it may use; return that CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def child(side: str, name: str, corpus: Path) -> None:
    """Build one side, then print one JSON line per size of the series as it finishes."""
    _one_core()
    if side == "docgap":
        from docgap import Analyzer

        analyzer = Analyzer()

        def process(text: str) -> Any:
            return analyzer.analyze(text, "sweep")
    else:
        nlp = build_stock()
        nlp.max_length = max(nlp.max_length, 2_000_000)

        def process(text: str) -> Any:
            return nlp(text)

    process("Warm-up: neck pain and occipital headache.")
    print(json.dumps({"ready": True}), flush=True)
    for kb, inputs in series(corpus, name):
        start, start_cpu = time.perf_counter(), time.process_time()
        for text in inputs:
            process(text)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        mb = sum(len(t.encode("utf-8")) for t in inputs) / 1e6
        print(json.dumps({"kb": kb, "notes": len(inputs), "mb": mb, "wall": wall, "cpu": cpu,
                          "peak_rss_mb": peak_rss_mb()}), flush=True)


def _peak_of(pid: int) -> float | None:
    """A live process's peak RSS (VmHWM, Linux), for a child stopped at the cap."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_series(side: str, name: str, corpus: Path, cap: float) -> dict[str, Any]:
    """Run one side over one series in a child; sizes past ``cap`` seconds are None."""
    sizes = DENSE_KB if name == "dense" else REAL_KB
    results: dict[int, dict[str, Any] | None] = dict.fromkeys(sizes)
    command = [sys.executable, __file__, "--child", side, "--series", name,
               "--corpus", str(corpus)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                        "MKL_NUM_THREADS": "1"}
    peak: float | None = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=env) as proc:
        assert proc.stdout is not None
        build_deadline = time.monotonic() + 300  # building is not what is capped
        deadline = build_deadline
        pending = list(sizes)
        while pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
            if not ready:
                peak = _peak_of(proc.pid)
                proc.kill()
                break
            line = proc.stdout.readline()
            if not line:
                break  # the child failed: its sizes stay unmeasured
            record = json.loads(line)
            if not record.get("ready"):
                results[record["kb"]] = record
                pending.remove(record["kb"])
                peak = record["peak_rss_mb"]
            deadline = time.monotonic() + cap
        proc.wait()
    return {"sizes": results, "peak_rss_mb": peak}


# ----------------------------------------------------------------------------- start-up


def startup(corpus: Path) -> dict[str, float]:
    """Wall seconds of a fresh ``docgap scan`` of 20 notes and of a fresh stock process."""
    notes = usable_notes(corpus, STARTUP_NOTES)
    cpu = str(min(os.sched_getaffinity(0)))
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="docgap-sweep-") as tmp:
        sample = Path(tmp) / "notes.jsonl"
        sample.write_text("".join(json.dumps({"note_id": i, "text": t}) + "\n"
                                  for i, t in notes), encoding="utf-8")
        commands = {
            "docgap": [*docgap_command(), "scan", str(sample), "--format", "jsonl", "--out",
                       str(Path(tmp) / "out.jsonl"), "--workers", "1", "--quiet"],
            # bench.py's child reads only this 20-note file: no other note is opened.
            "stock": [sys.executable, str(HERE / "bench.py"), "--child", "stock",
                      "--corpus", str(sample), "--notes", str(STARTUP_NOTES)],
        }
        for side in SIDES:
            start = time.perf_counter()
            subprocess.run(["taskset", "-c", cpu, *commands[side]], check=True,
                           capture_output=True)
            found[side] = time.perf_counter() - start
    return found


# ----------------------------------------------------------------------------- report


def _rate(result: dict[str, Any] | None, key: str) -> str:
    return f"{result['mb'] / result[key]:7.3f}" if result else "  > cap"


def print_table(title: str, runs: dict[str, dict[str, Any]], cap: float) -> None:
    print(f"\n{title} (MB/s on one core; '> cap': over {cap:.0f} s for that size)")
    print(f"{'KB/note':>8} {'notes':>5} | {'docgap':>7} {'(CPU)':>7} | {'stock':>7} "
          f"{'(CPU)':>7} | {'ratio':>6}")
    sizes = runs["docgap"]["sizes"]
    for kb in sizes:
        ours, stock = sizes[kb], runs["stock"]["sizes"][kb]
        ratio = f"{stock['wall'] / ours['wall']:5.1f}x" if ours and stock else "     -"
        count = (ours or stock or {}).get("notes", "-")
        print(f"{kb:>8} {count:>5} | {_rate(ours, 'wall')} {_rate(ours, 'cpu')} | "
              f"{_rate(stock, 'wall')} {_rate(stock, 'cpu')} | {ratio:>6}")
    print("peak RSS (MB): " + ", ".join(
        f"{side} {runs[side]['peak_rss_mb'] or 0:.0f}" for side in SIDES))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus")
    parser.add_argument("--cap", type=float, default=60.0,
                        help="seconds (wall) one size may take before it is reported '> cap'")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--series", choices=["real", "dense"], help=argparse.SUPPRESS)
    parser.add_argument("--no-startup", action="store_true")
    args = parser.parse_args(argv)
    corpus = corpus_path(args.corpus)
    if args.child:
        child(args.child, args.series, corpus)
        return
    print(machine_line())
    print(load_line())
    started = time.perf_counter()
    if not args.no_startup:
        up = startup(corpus)
        print(f"start-up, {STARTUP_NOTES} notes in a fresh process, one CPU: "
              f"docgap scan {up['docgap']:.2f} s, stock medspaCy {up['stock']:.2f} s "
              f"(docgap/stock {up['docgap'] / up['stock']:.2f})")
    for name, title in (("real", "real text (distinct MTSamples notes concatenated)"),
                        ("dense", "mention-dense (a short supported note repeated)")):
        runs = {side: run_series(side, name, corpus, args.cap) for side in SIDES}
        print_table(title, runs, args.cap)
    print(f"\n{load_line()}; sweep took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
