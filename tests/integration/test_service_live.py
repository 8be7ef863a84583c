"""The service for real: uvicorn in a subprocess on a free loopback port, several client threads.

Marked slow: it starts a server process (building the pipeline takes seconds).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import docgap
from docgap.inputs.fhir import document_reference

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTES = {
    p.stem: p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "examples" / "notes").glob("*.txt"))
}
TOKEN = "live-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "SECRET-NOTE-TEXT"
LIMITS = {"max_body_bytes": 300_000, "max_batch": 8, "max_note_chars": 50_000}
STARTUP_SECONDS = 180


@dataclass
class Server:
    url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("live")
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    log = folder / "server.log"
    port = _free_port()
    # The host is left to serve()'s default, which must be loopback.
    code = (
        "from docgap.service import ServiceSettings, serve; "
        f"serve(port={port}, token_file={str(token_file)!r}, "
        f"settings=ServiceSettings(**{LIMITS!r}))"
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=sink, stderr=subprocess.STDOUT, cwd=folder
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {STARTUP_SECONDS} s:\n{log.read_text()}")
            time.sleep(0.25)
        yield Server(url, port, log, process)
    finally:
        process.terminate()
        try:
            code_at_exit = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit -SIGTERM).
    assert code_at_exit in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http:
        yield http


def _expected(analyzer: docgap.Analyzer, note_id: str, text: str) -> dict[str, Any]:
    return json.loads(json.dumps(analyzer.analyze(text, note_id).to_dict()))


def test_listens_on_loopback_only(server: Server) -> None:
    table = Path("/proc/net/tcp")
    if not table.exists():
        pytest.skip("no /proc/net/tcp on this system")
    listening = [
        line.split()[1]
        for line in table.read_text().splitlines()[1:]
        if line.split()[3] == "0A"  # LISTEN
    ]
    ours = [addr for addr in listening if int(addr.split(":")[1], 16) == server.port]
    assert ours == ["0100007F:" + f"{server.port:04X}"]  # 127.0.0.1 in /proc's byte order


def test_probes(server: Server, analyzer: docgap.Analyzer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
    version = httpx.get(f"{server.url}/version", headers=AUTH).json()
    assert version["docgap"] == docgap.__version__
    assert version["lexicon_sha256"] == analyzer.lexicon_hash


def test_concurrent_requests_match_in_process_results(
    client: httpx.Client, analyzer: docgap.Analyzer
) -> None:
    jobs = [(f"{name}-r{round_}", text) for round_ in range(3) for name, text in NOTES.items()]

    def post(job: tuple[str, str]) -> tuple[str, int, dict[str, Any]]:
        note_id, text = job
        response = client.post("/v1/analyze", json={"note_id": note_id, "text": text})
        return note_id, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(post, jobs))
    texts = dict(jobs)
    assert [status for _, status, _ in results] == [200] * len(jobs)
    for note_id, _, body in results:
        # The service adds the query drafts and a fix per gap to the report record.
        assert isinstance(body.pop("queries"), list) and isinstance(body.pop("fixes"), list)
        assert body == _expected(analyzer, note_id, texts[note_id])


def test_concurrent_batch_and_fhir(client: httpx.Client, analyzer: docgap.Analyzer) -> None:
    names = sorted(NOTES)
    batches = [names[i : i + 4] for i in range(0, len(names), 4)]

    def batch(chunk: list[str]) -> list[dict[str, Any]]:
        body = {"notes": [{"note_id": n, "text": NOTES[n]} for n in chunk]}
        response = client.post("/v1/analyze/batch", json=body)
        assert response.status_code == 200
        reports = list(response.json()["reports"])
        for report in reports:
            report.pop("queries"), report.pop("fixes")
        return reports

    def fhir(chunk: list[str]) -> list[dict[str, Any]]:
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": document_reference(n, NOTES[n])} for n in chunk],
        }
        response = client.post("/v1/fhir", json=bundle)
        assert response.status_code == 200
        answer = response.json()
        assert answer["resourceType"] == "Bundle"
        gaps: dict[str, list[str]] = {n: [] for n in chunk}
        for entry in answer["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "DetectedIssue":
                document = resource["implicated"][0]["reference"].split("/", 1)[1]
                gaps[document].append(resource["code"]["coding"][0]["code"])
        return [gaps[n] for n in chunk]

    with ThreadPoolExecutor(max_workers=4) as pool:
        from_batch = pool.map(batch, batches)
        from_fhir = pool.map(fhir, batches)
        got_batch = [r for chunk in from_batch for r in chunk]
        got_fhir = [g for chunk in from_fhir for g in chunk]
    expected = [_expected(analyzer, n, NOTES[n]) for n in names]
    assert got_batch == expected
    # /v1/fhir answers each document's gaps as DetectedIssues, in the report's order.
    assert got_fhir == [[gap["key"] for gap in e["gaps"]] for e in expected]


@pytest.mark.parametrize(
    ("path", "body", "status", "key"),
    [
        ("/v1/analyze", {"text": SECRET + "x" * LIMITS["max_body_bytes"]}, 413, "body_too_large"),
        ("/v1/analyze", {"text": SECRET + "x" * LIMITS["max_note_chars"]}, 413, "note_too_large"),
        ("/v1/analyze/batch", {"notes": [{"text": SECRET}] * 9}, 413, "batch_too_large"),
        ("/v1/analyze", b'{"text": "SECRET-NOTE-TEXT', 400, "malformed_json"),
        ("/v1/analyze", {"txt": SECRET}, 422, "invalid_request"),
        ("/v1/fhir", b"{not json", 400, "malformed_json"),
        ("/v1/fhir", {"resourceType": "Patient", "text": SECRET}, 422, "invalid_fhir"),
    ],
)
def test_limits_and_malformed_input(
    client: httpx.Client, path: str, body: Any, status: int, key: str
) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status
    body = response.json()
    if path == "/v1/fhir":  # FHIR errors are OperationOutcomes with docgap's key as coding
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["details"]["coding"][0]["code"] == key
    else:
        assert body["error"] == key
    assert SECRET not in response.text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}])
def test_token_is_checked(server: Server, headers: dict[str, str]) -> None:
    response = httpx.post(
        f"{server.url}/v1/analyze", json={"text": SECRET}, headers=headers, timeout=30
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_log_has_ids_and_no_text(server: Server, client: httpx.Client) -> None:
    client.post("/v1/analyze", json={"note_id": "logged-note-1", "text": SECRET + " neck pain"})
    time.sleep(0.2)
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "POST /v1/analyze 200" in log and "notes=logged-note-1" in log
    assert SECRET not in log
    assert 'HTTP/1.1"' not in log  # uvicorn's own access log is off
    for text in NOTES.values():
        first_line = text.strip().splitlines()[0]
        assert first_line not in log
