"""`docgap serve` for real: a subprocess on loopback with CDS Hooks mounted and a JWKS set.

Also slow clients against real sockets: partial headers and a partial body answered 408.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_cds_hooks import ISSUER, NOTES, Keys, bundle, example_request

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys, Path]]:
    folder = tmp_path_factory.mktemp("serve")
    keys = Keys()
    (folder / "jwks.json").write_text(json.dumps(keys.jwks), encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    feedback = folder / "feedback.jsonl"
    command = [
        sys.executable, "-m", "docgap.cli", "serve", "--port", str(port),
        "--public-url", url, "--cds-jwks", str(folder / "jwks.json"), "--cds-issuer", ISSUER,
        "--cds-feedback", str(feedback), "--header-timeout", "1", "--body-timeout", "1",
    ]  # fmt: skip
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    try:
        while True:
            assert process.poll() is None, (folder / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "docgap serve did not become ready"
            time.sleep(0.5)
        yield url, keys, feedback
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_discovery_hook_feedback_and_refusal(served: tuple[str, Keys, Path]) -> None:
    url, keys, feedback = served
    assert httpx.get(f"{url}/cds-services").json()["services"][0]["id"] == "docgap-m53-0"
    service = f"{url}/cds-services/docgap-m53-0"
    body = example_request({"notes": bundle(("n1", NOTES["04-at-risk-no-cranial"]))})
    assert httpx.post(service, json=body, timeout=60).status_code == 401  # unsigned
    auth = {"Authorization": f"Bearer {keys.token(f'{url}/cds-services')}"}
    answer = httpx.post(service, json=body, headers=auth, timeout=60)
    assert answer.status_code == 200, answer.text
    (card,) = answer.json()["cards"]
    items = {
        "feedback": [{"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026"}]
    }
    auth = {"Authorization": f"Bearer {keys.token(f'{service}/feedback')}"}
    assert httpx.post(f"{service}/feedback", json=items, headers=auth).status_code == 200
    (line,) = feedback.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["note_id"] == "n1"


def _raw(url: str, data: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        started = time.monotonic()
        answer = sock.recv(4096)
        assert time.monotonic() - started < 8
        return answer


def test_slow_headers_and_bodies_get_408(served: tuple[str, Keys, Path]) -> None:
    url = served[0]
    for _ in range(3):
        assert _raw(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").startswith(b"HTTP/1.1 408")
    partial = b'POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"te'
    assert _raw(url, partial).startswith(b"HTTP/1.1 408")
    assert httpx.get(f"{url}/healthz").status_code == 200  # and it goes on serving
