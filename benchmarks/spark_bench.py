"""Spark ``local[2]`` against the local engine with 2 worker processes, on the same notes.

    python benchmarks/spark_bench.py [--notes 500] [--partitions 8] [--rounds 3] [--corpus PATH]

The notes are the development corpus (corpus/dev/gold.jsonl) and the first ``--notes``
non-empty MTSamples notes, written once to a Parquet file that both engines read. For each
engine it prints (medians of ``--rounds`` runs) the start-up time (worker processes building
their analyzers; for Spark also the JVM and SparkSession), the cold run (start-up included)
and the warm throughput in notes/s. Spark's warm runs are later jobs in the same session,
which reuse its Python workers and their analyzers; the local engine's start-up is the time
to its first report and its warm rate is over the rest of the notes. It checks that both
engines gave the same status for every note. Needs pyspark (``pip install 'docgap[spark]'``)
and Java 17+.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from docgap.engines.parallel import analyze_parallel
from docgap.inputs.reading import open_sources

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "corpus" / "dev" / "gold.jsonl"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "mtsamples" / "mtsamples.jsonl"
CORPUS_ENV = "DOCGAP_BENCH_CORPUS"
WORKERS = 2

T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def read_notes(limit: int, corpus: Path) -> list[tuple[str, str]]:
    """The development corpus and the first ``limit`` non-empty notes of ``corpus``."""
    notes: list[tuple[str, str]] = []
    for line in DEV.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            notes.append((str(record["id"]), record["text"]))
    if limit <= 0:
        return notes
    if not corpus.is_file():
        sys.exit(f"spark_bench: corpus not found: {corpus} (use --corpus or set {CORPUS_ENV})")
    from notes import reserved_ids

    reserved = reserved_ids(corpus)  # held-out notes: skipped on their id, text unread
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if str(record.get("note_id")) in reserved:
                continue
            if (record.get("text") or "").strip():
                notes.append((str(record["note_id"]), record["text"]))
                limit -= 1
                if limit == 0:
                    break
    return notes


def run_local(path: Path, n: int, rounds: int) -> tuple[Counter[str], dict[str, float]]:
    """Medians over ``rounds`` runs; start-up: until the first report (workers building)."""
    runs = [local_once(path, n) for _ in range(rounds)]
    timings = {k: statistics.median(t[k] for _, t in runs) for k in runs[0][1]}
    return runs[0][0], timings


def local_once(path: Path, n: int) -> tuple[Counter[str], dict[str, float]]:
    records = open_sources([str(path)])[0].records()
    start = time.perf_counter()
    first = 0.0
    statuses: Counter[str] = Counter()
    for report in analyze_parallel(records, WORKERS):
        first = first or time.perf_counter()
        statuses[f"{report.note_id}\t{report.status}"] += 1
    end = time.perf_counter()
    rate = (n - 1) / max(end - first, 1e-9)
    return statuses, {"startup": first - start, "cold": end - start, "rate": rate}


def run_spark(
    path: Path, n: int, partitions: int, rounds: int
) -> tuple[Counter[str], dict[str, float]]:
    """One session; the cold run builds the workers' analyzers, then ``rounds`` warm runs."""
    from docgap.engines.spark import analyze_dataframe, spark_session

    spark, session = timed(
        lambda: spark_session(
            f"local[{WORKERS}]",
            app_name="docgap-bench",
            conf={"spark.sql.shuffle.partitions": str(partitions)},
        )
    )
    try:

        def job() -> Any:
            df = spark.read.parquet(str(path)).repartition(partitions)
            return analyze_dataframe(df)

        _, cold = timed(lambda: job().write.format("noop").mode("overwrite").save())
        warm = statistics.median(
            timed(lambda: job().write.format("noop").mode("overwrite").save())[1]
            for _ in range(rounds)
        )
        rows = job().select("note_id", "status").collect()
    finally:
        spark.stop()
    statuses = Counter(f"{r['note_id']}\t{r['status']}" for r in rows)
    timings = {"session": session, "cold": cold, "warm": warm, "rate": n / warm}
    timings["startup"] = session + max(cold - warm, 0.0)
    return statuses, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=500, help="MTSamples notes to add")
    parser.add_argument("--partitions", type=int, default=8, help="Spark partitions")
    parser.add_argument("--corpus", type=Path, default=None, help="MTSamples JSONL")
    parser.add_argument("--rounds", type=int, default=3, help="runs to take the median of")
    args = parser.parse_args()
    corpus = args.corpus or Path(os.environ.get(CORPUS_ENV) or DEFAULT_CORPUS)
    notes = read_notes(args.notes, corpus)
    chars = sum(len(text) for _, text in notes)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {len(notes):,} notes, {chars / 1e6:.1f} M characters"
    )
    with tempfile.TemporaryDirectory(prefix="docgap-spark-bench-") as folder:
        path = Path(folder) / "notes.parquet"
        ids, texts = zip(*notes, strict=True)
        pq.write_table(pa.table({"note_id": list(ids), "text": list(texts)}), path)
        local, local_t = run_local(path, len(notes), args.rounds)
        spark, spark_t = run_spark(path, len(notes), args.partitions, args.rounds)
    print(f"{'engine':<28}{'start-up s':>12}{'cold run s':>12}{'warm notes/s':>14}")
    print(
        f"{'local, 2 worker processes':<28}{local_t['startup']:>12.1f}"
        f"{local_t['cold']:>12.1f}{local_t['rate']:>14.1f}"
    )
    print(
        f"{'spark local[2]':<28}{spark_t['startup']:>12.1f}"
        f"{spark_t['cold'] + spark_t['session']:>12.1f}{spark_t['rate']:>14.1f}"
    )
    print(f"  (Spark: session {spark_t['session']:.1f} s, warm run {spark_t['warm']:.1f} s)")
    same = local == spark
    print(f"same status for every note: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
