"""Bounded load test of `docgap serve`: requests/s and p50/p99 latency, loopback only.

    python benchmarks/load_test.py [--requests 400] [--concurrency 4] [--max-seconds 60]
                                   [--endpoint analyze|batch|fhir|cds] [--batch-size 8]
                                   [--server-workers 1] [--corpus NOTES.jsonl] [--json]
                                   [--warmup N] [--note-kb 10]
    python benchmarks/load_test.py --url http://127.0.0.1:8000 [--token-file FILE] ...

Without ``--url`` it starts its own server (uvicorn in a subprocess on a free loopback port,
``--server-workers`` processes), waits for ``/readyz``, runs the load, and stops the server.
With ``--url`` it loads a server that is already running, which must be on a loopback
address (anything else is refused). The load is bounded twice: at most ``--requests``
requests, and no new request after ``--max-seconds``. Notes come from ``examples/notes``
(or the first ``--limit`` notes of a JSONL corpus with a ``text`` field), cycled.

``--endpoint cds`` is the CDS Hooks call an EHR makes at discharge (issue 17: "within 500 ms
for a 10 KB note on a warm service"): each request POSTs an ``encounter-discharge`` call to
``/cds-services/docgap-m53-0`` whose prefetch Bundle holds one DocumentReference, a base64
``text/plain`` note of about ``--note-kb`` KB made by concatenating distinct corpus notes
(the shared MTSamples corpus unless ``--corpus`` names another; reserved ids are dropped
before any text is read). The EHR waits on that answer, so latency, not throughput, is the
figure: run it with ``--concurrency 1``. ``--warmup`` requests (10 for ``cds``) go first and
are not timed, so the figures are those of a warm service.

It prints requests/s, notes/s, latency percentiles (p50, p90, p95, p99, max) and error counts
by HTTP status, and, for a server it started, the time from process start to ready.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "notes"
# The shared MTSamples corpus: beside the repository, or beside the folder of its worktrees.
_MTSAMPLES_AT = [
    base / "shared" / "corpora" / "mtsamples" / "mtsamples.jsonl" for base in ROOT.parents[:2]
]
MTSAMPLES = next((p for p in _MTSAMPLES_AT if p.is_file()), _MTSAMPLES_AT[0])
CDS_PATH = "/cds-services/docgap-m53-0"
CDS_WARMUP = 10
STARTUP_SECONDS = 300
REQUEST_TIMEOUT = 60.0


def read_notes(corpus: Path | None, limit: int) -> list[tuple[str, str]]:
    """``(note_id, text)`` pairs: the example notes, or the first ``limit`` of a corpus."""
    if corpus is None:
        return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.txt"))]
    from notes import reserved_ids

    reserved = reserved_ids(corpus)  # held-out notes: skipped on their id, text unread
    notes = []
    with corpus.open(encoding="utf-8") as handle:
        for i, line in enumerate(handle, start=1):
            record = json.loads(line)
            if str(record.get("note_id", record.get("id", ""))) in reserved:
                continue
            text = record.get("text")
            if isinstance(text, str) and text.strip():
                notes.append((str(record.get("note_id", record.get("id", f"line-{i}"))), text))
            if len(notes) >= limit:
                break
    if not notes:
        sys.exit(f"load_test: no notes with a 'text' field in {corpus}")
    return notes


def long_notes(notes: list[tuple[str, str]], target_chars: int) -> list[tuple[str, str]]:
    """Notes of at least ``target_chars`` characters, each a run of distinct source notes.

    A hook call carries the encounter's whole note; MTSamples notes are ~3 KB, so a 10 KB
    note is three or four of them joined. Each source text is used at most once (repeated
    texts are skipped), so no two long notes share a part; a text that would take a note
    past 1.2x the target is left out, and the tail that does not reach the target is dropped.
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    ids: list[str] = []
    parts: list[str] = []
    size = 0
    for note_id, text in notes:
        if text in seen:
            continue
        seen.add(text)
        if size + len(text.strip()) > 1.2 * target_chars:
            continue
        ids.append(note_id)
        parts.append(text.strip())
        size += len(parts[-1]) + 2
        if size >= target_chars:
            out.append(("+".join(ids), "\n\n".join(parts)))
            ids, parts, size = [], [], 0
    if not out:
        sys.exit(f"load_test: the notes hold fewer than {target_chars} characters in all")
    return out


def cds_call(note_id: str, text: str, n: int) -> dict[str, Any]:
    """An ``encounter-discharge`` hook call with the note prefetched (no FHIR server)."""
    from docgap.inputs.fhir import document_reference

    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": document_reference(f"load-{n}", text)}],
    }
    return {
        "hook": "encounter-discharge",
        "hookInstance": f"load-test-{n}",
        "context": {
            "userId": "Practitioner/load-test",
            "patientId": "load-test-patient",
            "encounterId": f"load-test-encounter-{n}",
        },
        "prefetch": {"notes": bundle},
    }


def check_loopback(url: str) -> None:
    """Refuse any target but this machine's loopback addresses."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        sys.exit(f"load_test: cannot resolve {host!r}")
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        sys.exit(f"load_test: refusing {url}: only loopback addresses may be loaded")


def load_line() -> str:
    """Other work on the shared machine skews latencies: say how busy it was."""
    if not hasattr(os, "getloadavg"):
        return "load average: unknown"
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_server(workers: int, settings: dict[str, Any]) -> Iterator[tuple[str, float]]:
    """Start `docgap serve` on a free loopback port; yield its URL and its time to ready."""
    port = _free_port()
    code = (
        "from docgap.service import ServiceSettings, serve; "
        f"serve('127.0.0.1', {port}, workers={workers}, log_level='warning', "
        f"settings=ServiceSettings(**{settings!r}))"
    )
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log)
        try:
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    sys.exit(
                        f"load_test: the server exited:\n{log.read().decode(errors='replace')}"
                    )
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > STARTUP_SECONDS:
                    sys.exit(f"load_test: server not ready after {STARTUP_SECONDS} s")
                time.sleep(0.1)
            yield url, time.perf_counter() - started
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _body(
    endpoint: str, notes: list[tuple[str, str]], n: int, batch_size: int
) -> tuple[str, dict[str, Any], int]:
    """The path, JSON body and note count of request number ``n`` (notes are cycled)."""
    if endpoint == "analyze":
        note_id, text = notes[n % len(notes)]
        return "/v1/analyze", {"note_id": f"{note_id}-{n}", "text": text}, 1
    if endpoint == "cds":
        note_id, text = notes[n % len(notes)]
        return CDS_PATH, cds_call(note_id, text, n), 1
    chunk = [notes[(n * batch_size + i) % len(notes)] for i in range(batch_size)]
    if endpoint == "batch":
        body = {"notes": [{"note_id": f"{i}-{n}", "text": t} for i, t in chunk]}
        return "/v1/analyze/batch", body, len(chunk)
    from docgap.inputs.fhir import document_reference

    entries = [{"resource": document_reference(f"{i}-{n}", t)} for i, t in chunk]
    return (
        "/v1/fhir",
        {"resourceType": "Bundle", "type": "collection", "entry": entries},
        len(chunk),
    )


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_load(
    url: str,
    notes: list[tuple[str, str]],
    *,
    endpoint: str,
    batch_size: int,
    requests: int,
    concurrency: int,
    max_seconds: float,
    token: str | None,
    warmup: int = 0,
) -> dict[str, Any]:
    """Send at most ``requests`` requests from ``concurrency`` threads; stop at the time cap.

    ``warmup`` requests go first, one at a time and untimed (the first calls pay for lazy
    loading and spaCy's first sight of words); any that fails stops the run.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if warmup:
        with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as client:
            for i in range(warmup):
                path, body, _ = _body(endpoint, notes, requests + i, batch_size)
                status = client.post(path, json=body).status_code
                if status != 200:
                    sys.exit(f"load_test: warm-up request {i + 1} answered HTTP {status}")
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    notes_done = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker() -> None:
        nonlocal notes_done
        with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as client:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                path, body, count = _body(endpoint, notes, n, batch_size)
                sent = time.perf_counter()
                try:
                    status = str(client.post(path, json=body).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - sent
                with lock:
                    statuses[status] += 1
                    if status == "200":
                        latencies.append(elapsed)
                        notes_done += count

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    wall = time.perf_counter() - started
    latencies.sort()
    sent_total = sum(statuses.values())
    return {
        "endpoint": endpoint,
        "requests": sent_total,
        "ok": statuses.get("200", 0),
        "errors": {k: v for k, v in statuses.items() if k != "200"},
        "concurrency": concurrency,
        "warmup_requests": warmup,
        "wall_seconds": round(wall, 3),
        "stopped_by_time_cap": sent_total < requests,
        "requests_per_second": round(sent_total / wall, 2) if wall else None,
        "notes_per_second": round(notes_done / wall, 2) if wall else None,
        "latency_ms": {
            name: round(percentile(latencies, q) * 1000, 2)
            for name, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("max", 100))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--token-file", type=Path, help="bearer token for --url")
    parser.add_argument("--requests", type=int, default=400, help="request count cap")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="duration cap")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument(
        "--endpoint", choices=("analyze", "batch", "fhir", "cds"), default="analyze"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="notes per batch/Bundle")
    parser.add_argument("--server-workers", type=int, default=1, help="server processes")
    parser.add_argument("--corpus", type=Path, help="JSONL notes with a 'text' field")
    parser.add_argument("--limit", type=int, default=200, help="notes to take from --corpus")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--warmup", type=int, help=f"untimed requests first (default {CDS_WARMUP} for cds, else 0)"
    )
    parser.add_argument("--note-kb", type=float, default=10.0, help="cds: KB per note")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.max_seconds <= 0:
        sys.exit("load_test: --requests, --concurrency and --max-seconds must be positive")
    warmup = args.warmup if args.warmup is not None else CDS_WARMUP * (args.endpoint == "cds")
    if warmup < 0 or args.note_kb <= 0:
        sys.exit("load_test: --warmup must not be negative, --note-kb must be positive")
    if args.endpoint == "cds":
        corpus = args.corpus or MTSAMPLES
        if not corpus.is_file():
            sys.exit(f"load_test: corpus not found: {corpus} (pass --corpus NOTES.jsonl)")
        notes = long_notes(read_notes(corpus, args.limit), round(args.note_kb * 1000))
    else:
        notes = read_notes(args.corpus, args.limit)
    load = {
        "endpoint": args.endpoint,
        "batch_size": args.batch_size,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "max_seconds": args.max_seconds,
        "warmup": warmup,
    }
    result: dict[str, Any] = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "notes": len(notes),
        "mean_note_chars": round(sum(len(t) for _, t in notes) / len(notes)),
    }
    if args.url:
        check_loopback(args.url)
        token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else None
        result |= run_load(args.url, notes, token=token, **load)
    else:
        settings = {"max_batch": max(64, args.batch_size), "timeout_seconds": REQUEST_TIMEOUT}
        with own_server(args.server_workers, settings) as (url, ready_seconds):
            result["server_workers"] = args.server_workers
            result["server_ready_seconds"] = round(ready_seconds, 2)
            result |= run_load(url, notes, token=None, **load)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    lat = result["latency_ms"]
    print(f"machine: {result['machine']}; {load_line()}")
    print(f"notes: {result['notes']} distinct, {result['mean_note_chars']} characters on average")
    if "server_ready_seconds" in result:
        print(
            f"server: {result['server_workers']} process(es), ready "
            f"{result['server_ready_seconds']} s after start"
        )
    print(
        f"{result['endpoint']}: {result['requests']} requests ({result['ok']} ok) from "
        f"{result['concurrency']} threads in {result['wall_seconds']} s"
        + (f" after {warmup} untimed warm-up requests" if warmup else "")
        + (" (time cap reached)" if result["stopped_by_time_cap"] else "")
    )
    print(
        f"throughput: {result['requests_per_second']} requests/s, "
        f"{result['notes_per_second']} notes/s"
    )
    print(
        f"latency ms: p50 {lat['p50']}, p90 {lat['p90']}, p95 {lat['p95']}, "
        f"p99 {lat['p99']}, max {lat['max']}"
    )
    if result["errors"]:
        print(f"errors: {result['errors']}")
    print(load_line())


if __name__ == "__main__":
    main()
