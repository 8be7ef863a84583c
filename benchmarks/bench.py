"""Throughput benchmark: docgap against the stock medspaCy 1.3.1 pipeline on real notes.

    python benchmarks/bench.py [--notes 300] [--workers 1] [--corpus PATH] [--rounds 3]
    python benchmarks/bench.py --memory [--memory-notes 100000] [--workers N]

The default run takes the first ``--notes`` non-empty notes of the shared MTSamples corpus
and, in one run, alternates docgap and the stock medspaCy pipeline over the same notes with
the same number of processes. The stock pipeline is ``medspacy.load()`` as shipped (PyRuSH
sentences, TargetMatcher, ConText with its default rules) with a plain TargetMatcher
lexicon of docgap's target phrases, read from docgap's rule files; PyRuSH's per-token
DEBUG logging is switched off (``logger.disable("PyRuSH")``), as any user would.

It prints the machine, the start-up time of each (import + pipeline build, in a fresh
process), marginal throughput (notes/s and MB/s after start-up), peak RSS, the time spent
in each pipeline stage, and the speed ratio. ``--memory`` instead writes a generated
100k-note JSONL input (the corpus repeated, streamed to a temporary file) and compares the
peak RSS of ``docgap scan`` over its first 1,000 notes and over all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Beside the repository, or beside the folder of its git worktrees (/work/wt/<name>).
_CORPUS_AT = [
    base / "shared" / "corpora" / "mtsamples" / "mtsamples.jsonl" for base in ROOT.parents[:2]
]
DEFAULT_CORPUS = next((p for p in _CORPUS_AT if p.is_file()), _CORPUS_AT[0])
CORPUS_ENV = "DOCGAP_BENCH_CORPUS"


# ----------------------------------------------------------------------------- input


def corpus_path(arg: str | None) -> Path:
    """The corpus to sample; exits with a clear message when it is missing."""
    path = Path(arg or os.environ.get(CORPUS_ENV) or DEFAULT_CORPUS)
    if not path.is_file():
        sys.exit(
            f"bench: corpus not found: {path}\n"
            "The benchmark samples the shared MTSamples corpus (a JSONL file with one note per "
            f"line and a 'text' field). Pass its path with --corpus PATH or set {CORPUS_ENV}."
        )
    return path


def read_notes(path: Path, limit: int | None) -> list[tuple[str, str]]:
    """The first ``limit`` non-empty, non-reserved notes as ``(note_id, text)`` pairs.

    Ids listed in ``reserved_ids.txt`` beside the corpus (held-out notes) are skipped on
    their id, before their text is looked at.
    """
    from notes import usable_notes

    notes = usable_notes(path, limit, distinct=False)
    if not notes:
        sys.exit(f"bench: no non-empty 'text' values in {path}")
    return notes


def megabytes(notes: list[tuple[str, str]]) -> float:
    return sum(len(text.encode("utf-8")) for _, text in notes) / 1e6


# ----------------------------------------------------------------------------- machine


def machine_line() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"machine: {cpu}; {os.cpu_count()} cores; Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); {versions()}"
    )


def load_line() -> str:
    """Other work on the machine skews timings: say how busy it was."""
    if not hasattr(os, "getloadavg"):
        return "load average: unknown"
    one, five, _ = os.getloadavg()
    return f"load average: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("docgap", "medspacy", "spacy", "PyRuSH"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# ----------------------------------------------------------------------------- pipelines


def stock_phrases() -> list[tuple[str, str]]:
    """``(phrase, LABEL)`` for every target phrase in docgap's rule files.

    Read straight from the YAML (not through docgap) so that the stock pipeline's start-up
    does not include importing docgap.
    """
    import yaml

    targets = ROOT / "lexicons" / "packs" / "m53.0" / "targets"
    if not targets.is_dir():  # an installed docgap without the source tree
        from docgap.resources import lexicon_dir

        targets = lexicon_dir() / "packs" / "m53.0" / "targets"
    phrases = []
    for path in sorted(targets.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        label = str(data["label"]).upper()
        for concept in data["concepts"]:
            phrases.extend((phrase, label) for phrase in concept.get("phrases", []))
    return phrases


def build_stock() -> Any:
    """``medspacy.load()`` with a plain TargetMatcher lexicon of docgap's target phrases."""
    import medspacy
    from loguru import logger
    from medspacy.target_matcher import TargetRule

    logger.disable("PyRuSH")
    nlp = medspacy.load()
    nlp.get_pipe("medspacy_target_matcher").add(
        [TargetRule(phrase, label) for phrase, label in stock_phrases()]
    )
    return nlp


def build_docgap(fast: bool = True) -> Any:
    """docgap's analyzer; ``fast=False`` puts it on the reference pipeline (stock medspaCy
    components behind docgap's sentence splitter), the one the fast path is tested against.
    """
    from docgap import Analyzer
    from docgap.nlp.pipeline import build_nlp

    analyzer = Analyzer()
    if not fast:
        max_length = analyzer.nlp.max_length
        analyzer.nlp = build_nlp(analyzer.lexicon, fast=False)
        analyzer.nlp.max_length = max_length
    return analyzer


class StageClock:
    """Wraps each component of a spaCy pipeline to add up the CPU time spent in it.

    CPU time, not wall time: on a machine shared with other jobs it varies far less.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def attached(self, nlp: Any) -> Iterator[None]:
        original = list(nlp._components)  # spaCy 3.x keeps (name, component) pairs here
        nlp._components[:] = [(name, self._timed(name, proc)) for name, proc in original]
        tokenizer = nlp.tokenizer
        nlp.tokenizer = self._timed("tokenizer", tokenizer)
        try:
            yield
        finally:
            nlp._components[:] = original
            nlp.tokenizer = tokenizer

    def _timed(self, name: str, proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
        seconds = self.seconds
        seconds.setdefault(name, 0.0)
        clock = time.process_time

        def run(doc: Any) -> Any:
            start = clock()
            try:
                return proc(doc)
            finally:
                seconds[name] += clock() - start

        return run


@dataclass
class Side:
    """One contender: how it processes a note, and what was measured."""

    name: str
    process: Callable[[str, str], Any]
    nlp: Any
    rounds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)

    def run(self, notes: list[tuple[str, str]]) -> float:
        clock = StageClock()
        with clock.attached(self.nlp):
            start, start_cpu = time.perf_counter(), time.process_time()
            for note_id, text in notes:
                self.process(text, note_id)
            elapsed = time.perf_counter() - start
            self.cpu.append(time.process_time() - start_cpu)
        self.rounds.append(elapsed)
        for name, seconds in clock.seconds.items():
            self.stages[name] = self.stages.get(name, 0.0) + seconds
        self.stages["(total)"] = self.stages.get("(total)", 0.0) + self.cpu[-1]
        return elapsed


# ----------------------------------------------------------------------------- child modes


def child_startup(which: str, corpus: Path, notes: int) -> None:
    """Run in a fresh process: time import + build, then process the sample for peak RSS."""
    start = time.perf_counter()
    if which == "docgap":
        analyzer = build_docgap()
        built = time.perf_counter() - start
        built_cpu = time.process_time()

        def process(text: str, note_id: str) -> Any:
            return analyzer.analyze(text, note_id)
    else:
        nlp = build_stock()
        built = time.perf_counter() - start
        built_cpu = time.process_time()

        def process(text: str, note_id: str) -> Any:
            return nlp(text)

    for note_id, text in read_notes(corpus, notes):
        process(text, note_id)
    print(json.dumps({"startup": built, "startup_cpu": built_cpu, "peak_rss_mb": peak_rss_mb()}))


def fresh_process(which: str, corpus: Path, notes: int) -> dict[str, float]:
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", which]
    done = subprocess.run(
        [*command, "--corpus", str(corpus), "--notes", str(notes)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"bench: the {which} start-up run failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


# ----------------------------------------------------------------------------- parallel runs


_STOCK_NLP: Any = None


def _stock_init() -> None:
    global _STOCK_NLP
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOCK_NLP = build_stock()


def _stock_one(text: str) -> int:
    return len(_STOCK_NLP(text).ents)


def worker_peak_mb() -> float:
    """The largest peak RSS among this process's live docgap workers (Linux)."""
    import multiprocessing

    peaks = [
        _memory_mb(child.pid)
        for child in multiprocessing.active_children()
        if child.name == "docgap-worker" and child.pid is not None
    ]
    return max((p[0] for p in peaks if p is not None), default=0.0)


def marginal_rate(
    results: Iterator[Any], total: int, warmup: int, sample: Callable[[], None] | None = None
) -> float:
    """Notes per second after the first ``warmup`` results (start-up excluded)."""
    start = None
    count = 0
    for count, _ in enumerate(results, start=1):
        if sample is not None and (count % 100 == 0 or count == total - 1):
            sample()  # the workers are gone once the last report is out
        if count == warmup:
            start = time.perf_counter()
    if start is None or count <= warmup:
        raise SystemExit("bench: too few notes to measure after warm-up; raise --notes")
    return (total - warmup) / (time.perf_counter() - start)


def run_parallel(notes: list[tuple[str, str]], workers: int, rounds: int) -> None:
    import multiprocessing

    from docgap.engines.parallel import analyze_parallel
    from docgap.inputs.reading import NoteInput

    warmup = min(len(notes) // 4, workers * 16)
    print(f"\n{workers} processes each ({len(notes)} notes, the first {warmup} not timed):")
    rates: dict[str, list[float]] = {"stock medspaCy": [], "docgap": [], "docgap, 1 process": []}
    context = multiprocessing.get_context("forkserver")
    peaks = [0.0]

    def sample() -> None:
        peaks[0] = max(peaks[0], worker_peak_mb())

    for _ in range(rounds):
        records = (NoteInput(note_id, text) for note_id, text in notes)
        # A fresh analyzer each round, as the workers are: spaCy is slower on words it has
        # not seen yet, so a warm analyzer against cold workers would flatter the former.
        rates["docgap, 1 process"].append(
            marginal_rate(analyze_parallel(records, 1), len(notes), warmup)
        )
        records = (NoteInput(note_id, text) for note_id, text in notes)
        rates["docgap"].append(
            marginal_rate(analyze_parallel(records, workers), len(notes), warmup, sample)
        )
        with context.Pool(workers, initializer=_stock_init) as pool:
            texts = (text for _, text in notes)
            rates["stock medspaCy"].append(
                marginal_rate(pool.imap(_stock_one, texts, chunksize=2), len(notes), warmup)
            )
    mb_per_note = megabytes(notes) / len(notes)
    for name, values in rates.items():
        rate = statistics.median(values)
        print(
            f"  {name:18s} {rate:8.1f} notes/s  {rate * mb_per_note:6.2f} MB/s  (best round "
            f"{max(values):.1f}; rounds: {', '.join(f'{v:.1f}' for v in values)})"
        )
    ratio = statistics.median(rates["docgap"]) / statistics.median(rates["stock medspaCy"])
    print(f"  speed ratio (docgap / stock, {workers} processes each): {ratio:.1f}x")
    scaling = statistics.median(rates["docgap"]) / statistics.median(rates["docgap, 1 process"])
    best = max(rates["docgap"]) / max(rates["docgap, 1 process"])
    print(
        f"  docgap scaling ({workers} processes / 1): {scaling:.2f}x median, {best:.2f}x best "
        "rounds (the best rounds are the least disturbed by other work on the machine)"
    )
    print(f"  largest docgap worker peak RSS: {peaks[0]:.0f} MB")
    print(f"\n{load_line()}")


# ----------------------------------------------------------------------------- memory mode


def docgap_command() -> list[str]:
    script = Path(sys.executable).with_name("docgap")
    if script.is_file():
        return [str(script)]
    found = shutil.which("docgap")
    if found:
        return [found]
    return [sys.executable, "-c", "from docgap.cli import main; main()"]


def write_generated(source: list[tuple[str, str]], count: int, path: Path) -> float:
    """Stream ``count`` notes (the corpus over and over, fresh ids) to a JSONL file."""
    size = 0
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            _, text = source[i % len(source)]
            line = json.dumps({"note_id": f"gen-{i:06d}", "text": text}) + "\n"
            handle.write(line)
            size += len(line)
    return size / 1e6


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """A process's peak RSS so far (VmHWM) and its RSS now (VmRSS); None once it is gone."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                found[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        return None
    if len(found) != 2:
        return None
    return found["VmHWM"], found["VmRSS"]


def scan_peak_rss(
    input_path: Path, output: Path, workers: int
) -> tuple[float, float, float, float]:
    """Run ``docgap scan``; return peak RSS in MB of the scan process, of the largest process
    under it (fork server, workers), and of all of them at once, and the seconds it took.

    The process tree is sampled every 0.2 s: each process's high-water mark, and the sum of
    the live processes' RSS (pages the workers share with the fork server count in each).
    """
    command = [*docgap_command(), "scan", str(input_path), "--out", str(output), "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    peaks: dict[int, float] = {}
    together = 0.0
    start = time.perf_counter()
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors) as scan,
    ):
        while scan.poll() is None:
            now = 0.0
            for pid in _process_tree(scan.pid):
                memory = _memory_mb(pid)
                if memory is not None:
                    peaks[pid] = max(peaks.get(pid, 0.0), memory[0])
                    now += memory[1]
            together = max(together, now)
            time.sleep(0.2)
        errors.seek(0)
        message = errors.read().decode("utf-8", "replace")
    seconds = time.perf_counter() - start
    if scan.returncode not in (0, 1):  # 1: some notes have errors; the run itself completed
        sys.exit(
            f"bench: `{' '.join(command)}` failed (exit {scan.returncode}):\n{message[-2000:]}"
        )
    if scan.pid not in peaks:
        sys.exit("bench: could not read peak RSS from /proc (Linux only)")
    others = [peak for pid, peak in peaks.items() if pid != scan.pid]
    return peaks[scan.pid], max(others, default=0.0), together, seconds


def memory_mode(corpus: Path, total: int, workers: int) -> None:
    source = read_notes(corpus, None)
    sizes = sorted({min(1000, total), min(10_000, total), total})
    runs = []
    with tempfile.TemporaryDirectory(prefix="docgap-bench-") as tmp:
        folder = Path(tmp)
        for count in sizes:
            input_path, output = folder / f"notes-{count}.jsonl", folder / f"out-{count}.jsonl"
            size = write_generated(source, count, input_path)
            parent, worker, together, seconds = scan_peak_rss(input_path, output, workers)
            with output.open(encoding="utf-8") as handle:
                lines = sum(1 for _ in handle)
            runs.append((count, size, parent, worker, together, seconds, lines))
            input_path.unlink()
            output.unlink()
    print(f"\ndocgap scan, peak RSS (workers={workers or 'the CLI default'}):")
    for count, size, parent, worker, together, seconds, lines in runs:
        print(
            f"  {count:>7,} notes ({size:6.1f} MB): scan process {parent:4.0f} MB, largest "
            f"process under it {worker:4.0f} MB, all at once {together:5.0f} MB; {seconds:6.1f} s "
            f"({count / seconds:5.1f} notes/s); {lines:,} records written"
        )
    first, last = runs[0], runs[-1]
    for label, column in (("scan process", 2), ("largest under it", 3), ("all at once", 4)):
        if first[column]:
            growth = last[column] / first[column] - 1
            print(f"  {label}: {last[0]:,} notes vs {first[0]:,}: {growth:+.1%}")
    print(
        f"  (the corpus has {len(source):,} notes, repeated: past that many, spaCy's "
        "vocabulary stops growing)"
    )
    print(f"\n{load_line()}")


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=300, help="notes to sample (default 300)")
    parser.add_argument(
        "--workers",
        type=int,
        help="processes per side (default 1; with --memory, docgap scan's own default)",
    )
    parser.add_argument("--corpus", help=f"JSONL corpus (default {DEFAULT_CORPUS})")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--memory", action="store_true", help="peak RSS of docgap scan, 1k vs 100k")
    parser.add_argument("--memory-notes", type=int, default=100_000)
    parser.add_argument(
        "--no-reference", action="store_true", help="skip docgap's reference pipeline"
    )
    parser.add_argument("--child", choices=["docgap", "stock"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    corpus = corpus_path(args.corpus)
    if args.child:
        child_startup(args.child, corpus, args.notes)
        return

    print(machine_line())
    print(load_line())
    if args.memory:
        memory_mode(corpus, args.memory_notes, args.workers or 0)
        return

    notes = read_notes(corpus, args.notes)
    size = megabytes(notes)
    print(f"sample: the first {len(notes)} non-empty notes of {corpus.name} ({size:.2f} MB)")

    print("\nstart-up in a fresh process (import + pipeline build); peak RSS after the sample:")
    for which in ("stock", "docgap"):
        fresh = fresh_process(which, corpus, len(notes))
        print(
            f"  {'stock medspaCy' if which == 'stock' else 'docgap':15s} "
            f"start-up {fresh['startup']:5.2f} s ({fresh['startup_cpu']:4.2f} s CPU; whole run "
            f"{fresh['wall']:5.1f} s), "
            f"peak RSS {fresh['peak_rss_mb']:5.0f} MB"
        )

    if args.workers and args.workers > 1:
        run_parallel(notes, args.workers, args.rounds)
        return

    stock_nlp = build_stock()
    analyzer = build_docgap()
    sides = [
        Side("stock medspaCy", lambda text, _id: stock_nlp(text), stock_nlp),
        Side("docgap", lambda text, note_id: analyzer.analyze(text, note_id), analyzer.nlp),
    ]
    if not args.no_reference:
        reference = build_docgap(fast=False)
        sides.append(
            Side(
                "docgap reference",
                lambda text, note_id: reference.analyze(text, note_id),
                reference.nlp,
            )
        )
    for side in sides:  # one untimed pass: spaCy's vocabulary grows on first sight of a word
        side.process(notes[0][1], notes[0][0])
    for i in range(args.rounds):
        for side in sides[i % len(sides) :] + sides[: i % len(sides)]:
            side.run(notes)

    print(f"\none process, {args.rounds} alternating rounds over the same notes (median):")
    rates, cpu_rates = {}, {}
    for side in sides:
        seconds = statistics.median(side.rounds)
        rates[side.name] = len(notes) / seconds
        cpu_rates[side.name] = len(notes) / statistics.median(side.cpu)
        print(
            f"  {side.name:16s} {rates[side.name]:7.1f} notes/s {size / seconds:5.2f} MB/s "
            f"({cpu_rates[side.name]:6.1f} notes per CPU second; rounds: "
            f"{', '.join(f'{len(notes) / s:.1f}' for s in side.rounds)} notes/s)"
        )
    ratio = rates["docgap"] / rates["stock medspaCy"]
    cpu_ratio = cpu_rates["docgap"] / cpu_rates["stock medspaCy"]
    print(f"  speed ratio (docgap / stock): {ratio:.1f}x ({cpu_ratio:.1f}x in CPU time)")
    if "docgap reference" in rates:
        gain = rates["docgap"] / rates["docgap reference"]
        print(f"  fast path / reference path: {gain:.1f}x")

    print("\nCPU time per stage (ms per note, all rounds):")
    per_note = 1000 / (len(notes) * args.rounds)
    for side in sides:
        total = side.stages.pop("(total)")
        staged = sum(side.stages.values())
        parts = [f"{name} {seconds * per_note:.2f}" for name, seconds in side.stages.items()]
        parts.append(f"outside spaCy {max(total - staged, 0.0) * per_note:.2f}")
        print(f"  {side.name}: " + ", ".join(parts) + f"; total {total * per_note:.2f}")
    print(f"\n{load_line()}")


if __name__ == "__main__":
    main()
