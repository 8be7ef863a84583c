"""CDS Hooks for real: the router on a bare FastAPI app served by uvicorn on loopback.

A CDS client (httpx) sends the spec's example requests; a fake FHIR server (http.server on
loopback) answers the ``fhirServer`` path and records what it was asked; JWTs are signed
with RSA and EC keys generated here.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

import docgap
from docgap.inputs.fhir import document_reference
from docgap.service.cds_hooks import SUMMARY_MAX, JsonlFeedbackSink, cds_router

ROOT = Path(__file__).resolve().parents[2]
NOTES = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "examples" / "notes").glob("*.txt")}
ISSUER = "https://ehr.example.org"
PUBLIC = "https://docgap.example.org"
SECRET = "Zyxwvut-secret-note-text"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Uvicorn:
    """An app served on a free loopback port in a thread, stopped at the end."""

    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def bundle(*notes: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": document_reference(i, text)} for i, text in notes],
    }


def example_request(prefetch: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The spec's encounter-discharge example request."""
    body: dict[str, Any] = {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "hook": "encounter-discharge",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "1288992",
            "encounterId": "89284",
        },
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


def no_empty_values(value: Any, where: str = "$") -> None:
    """The spec: no null, empty string, empty array or empty object (``cards`` may be [])."""
    if isinstance(value, dict):
        assert value, f"empty object at {where}"
        for key, item in value.items():
            if key == "cards" and item == []:
                continue
            no_empty_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        assert value, f"empty array at {where}"
        for position, item in enumerate(value):
            no_empty_values(item, f"{where}[{position}]")
    else:
        assert value is not None and value != "", f"null or empty at {where}"


# -- the fake FHIR server ----------------------------------------------------------------
class _Fhir(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[tuple[int, dict[str, Any]]] = (200, {})

    def do_GET(self) -> None:
        type(self).requests.append(
            {"path": self.path, "authorization": self.headers.get("Authorization")}
        )
        status, body = type(self).answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fhir_server() -> Iterator[tuple[str, type[_Fhir]]]:
    handler = type("Handler", (_Fhir,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir", handler
    server.shutdown()
    server.server_close()


# -- keys --------------------------------------------------------------------------------
class Keys:
    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP384R1())
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        self.jwks = {
            "keys": [
                rsa_jwk | {"kid": "rsa-1", "alg": "RS384", "use": "sig"},
                ec_jwk | {"kid": "ec-1", "alg": "ES384", "use": "sig"},
            ]
        }

    def token(self, aud: str, alg: str = "RS384", **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": aud,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.rsa if alg == "RS384" else self.ec
        kid = "rsa-1" if alg == "RS384" else "ec-1"
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def open_service(
    analyzer: docgap.Analyzer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    feedback = tmp_path_factory.mktemp("cds") / "feedback.jsonl"
    app = FastAPI()
    app.include_router(
        cds_router(lambda: analyzer, public_url=PUBLIC, feedback_sink=JsonlFeedbackSink(feedback))
    )
    with _Uvicorn(app) as url:
        yield url, feedback


@pytest.fixture(scope="module")
def signed_service(analyzer: docgap.Analyzer, keys: Keys) -> Iterator[str]:
    app = FastAPI()
    app.include_router(cds_router(lambda: analyzer, jwks=keys.jwks, allowed_issuers=[ISSUER]))
    with _Uvicorn(app) as url:
        yield url


# -- discovery and the hook call -----------------------------------------------------------
def test_discovery_lists_the_service(open_service: tuple[str, Path]) -> None:
    url, _ = open_service
    answer = httpx.get(f"{url}/cds-services")
    assert answer.status_code == 200
    (service,) = answer.json()["services"]
    assert (service["id"], service["hook"]) == ("docgap-m53-0", "encounter-discharge")
    assert service["prefetch"]["notes"].startswith(
        "DocumentReference?patient={{context.patientId}}"
    )
    no_empty_values(answer.json())


def test_prefetch_bundle_gives_one_card_per_note_needing_a_look(
    open_service: tuple[str, Path],
) -> None:
    url, _ = open_service
    notes = [
        ("n-supported", NOTES["01-supported-neurology"]),
        ("n-at-risk", NOTES["04-at-risk-no-cranial"]),
        ("n-query", NOTES["05-downcode-query-opportunity"]),
        ("n-redirect", NOTES["08-redirect-disc-radiculopathy"]),
        ("n-lumbar", NOTES["11-not-applicable-lumbar"]),
    ]
    answer = httpx.post(
        f"{url}/cds-services/docgap-m53-0",
        json=example_request({"notes": bundle(*notes)}),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    no_empty_values(body)
    cards = body["cards"]
    by_note = {c["detail"].split("\n", 1)[0].split()[1]: c for c in cards}
    assert set(by_note) == {"n-at-risk", "n-query", "n-redirect"}
    assert by_note["n-at-risk"]["indicator"] == "warning"
    assert by_note["n-query"]["indicator"] == "info"
    assert "non-leading query" in by_note["n-query"]["summary"]
    assert by_note["n-redirect"]["indicator"] == "info"
    for card in cards:
        assert len(card["summary"]) < 140 and len(card["summary"]) <= SUMMARY_MAX
        assert card["source"]["label"] == f"docgap {docgap.__version__}"
        assert uuid.UUID(card["uuid"])
        assert "suggestions" not in card  # asked, never led
        lowered = (card["summary"] + card["detail"]).lower()
        for leading in ("add the diagnosis", "consider diagnosing", "document cervicocranial"):
            assert leading not in lowered
        assert "**Documentation gaps**" in card["detail"]
        (link,) = card["links"]
        assert link["url"].startswith(f"{PUBLIC}/worklist/") and link["type"] == "absolute"
    detail = by_note["n-at-risk"]["detail"]
    assert '> "' in detail and "**Evidence in the note**" in detail
    assert "·" in detail.split("**Evidence in the note**")[1]  # section shown with each quote


def test_single_document_reference_and_an_empty_bundle(open_service: tuple[str, Path]) -> None:
    url, _ = open_service
    single = document_reference("n-1", NOTES["02-at-risk-chiro-no-level"])
    answer = httpx.post(
        f"{url}/cds-services/docgap-m53-0", json=example_request({"notes": single}), timeout=60
    )
    assert answer.status_code == 200
    assert [c["indicator"] for c in answer.json()["cards"]] == ["warning"]
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    answer = httpx.post(
        f"{url}/cds-services/docgap-m53-0", json=example_request({"notes": empty}), timeout=60
    )
    assert answer.status_code == 200 and answer.json() == {"cards": []}


def test_bad_requests_are_refused_without_echoing_them(open_service: tuple[str, Path]) -> None:
    url, _ = open_service
    service = f"{url}/cds-services/docgap-m53-0"
    wrong_hook = example_request({"notes": bundle(("x", "neck pain"))}) | {"hook": "patient-view"}
    assert httpx.post(service, json=wrong_hook).status_code == 400
    bad_doc = {"resourceType": "DocumentReference", "id": "d", "status": "current"}
    answer = httpx.post(service, json=example_request({"notes": bad_doc | {"content": SECRET}}))
    assert answer.status_code == 400 and SECRET not in answer.text
    # A readable DocumentReference without text: an info card saying why, not an error.
    answer = httpx.post(service, json=example_request({"notes": bad_doc | {"content": []}}))
    (card,) = answer.json()["cards"]
    assert card["indicator"] == "info" and "Not analysed: no text/plain" in card["detail"]
    assert httpx.post(service, content=b"{not json").status_code == 400


def test_neither_prefetch_nor_fhir_server_is_412(open_service: tuple[str, Path]) -> None:
    url, _ = open_service
    answer = httpx.post(f"{url}/cds-services/docgap-m53-0", json=example_request())
    assert answer.status_code == 412
    null_prefetch = example_request({"notes": None})
    assert httpx.post(f"{url}/cds-services/docgap-m53-0", json=null_prefetch).status_code == 412


def test_fhir_server_path_fetches_with_the_bearer_token(
    open_service: tuple[str, Path], fhir_server: tuple[str, type[_Fhir]]
) -> None:
    url, _ = open_service
    base, handler = fhir_server
    handler.answer = (200, bundle(("n-fetched", NOTES["04-at-risk-no-cranial"])))
    body = example_request(
        fhirServer=base,
        fhirAuthorization={
            "access_token": "some-opaque-fhir-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/DocumentReference.read",
            "subject": "cds-service4",
        },
    )
    answer = httpx.post(f"{url}/cds-services/docgap-m53-0", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (card,) = answer.json()["cards"]
    assert card["detail"].startswith("**Note** n-fetched")
    (seen,) = handler.requests
    assert seen["authorization"] == "Bearer some-opaque-fhir-access-token"
    assert seen["path"] == "/fhir/DocumentReference?patient=1288992&encounter=89284"
    handler.answer = (500, {"resourceType": "OperationOutcome"})
    assert httpx.post(f"{url}/cds-services/docgap-m53-0", json=body).status_code == 412


def test_feedback_is_recorded_per_card(open_service: tuple[str, Path]) -> None:
    url, feedback = open_service
    answer = httpx.post(
        f"{url}/cds-services/docgap-m53-0",
        json=example_request({"notes": bundle(("n-fb", NOTES["04-at-risk-no-cranial"]))}),
        timeout=60,
    )
    (card,) = answer.json()["cards"]
    items = [
        {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2024-01-01T10:00:00Z"},
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2024-01-01T10:01:00Z",
            "overrideReason": {
                "reason": {"code": "not-relevant", "display": "Not relevant", "system": "x"},
                "userComment": "already queried",
            },
        },
    ]
    endpoint = f"{url}/cds-services/docgap-m53-0/feedback"
    assert httpx.post(endpoint, json={"feedback": items}).status_code == 200
    recorded = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert recorded[-2:] == [
        {
            "card": card["uuid"],
            "outcome": "accepted",
            "outcome_timestamp": "2024-01-01T10:00:00Z",
            "note_id": "n-fb",
            "service": "docgap-m53-0",
        },
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcome_timestamp": "2024-01-01T10:01:00Z",
            "note_id": "n-fb",
            "override_code": "not-relevant",
            "override_display": "Not relevant",
            "user_comment": "already queried",
            "service": "docgap-m53-0",
        },
    ]
    bad = {"feedback": [{"card": card["uuid"], "outcome": "ignored"}]}
    assert httpx.post(endpoint, json=bad).status_code == 400


# -- JWT ---------------------------------------------------------------------------------
def test_signed_calls_pass_and_unsigned_or_bad_ones_get_401(
    signed_service: str, keys: Keys
) -> None:
    service = f"{signed_service}/cds-services/docgap-m53-0"
    body = example_request({"notes": bundle(("n-jwt", NOTES["04-at-risk-no-cranial"]))})
    assert httpx.get(f"{signed_service}/cds-services").status_code == 200  # discovery is open

    def call(token: str | None, target: str = service, json_body: Any = body) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(target, json=json_body, headers=headers, timeout=60)

    good = keys.token(service)
    assert call(good).status_code == 200
    assert call(good).status_code == 401  # the same jti again: a replay
    assert call(keys.token(service, alg="ES384")).status_code == 200
    unsigned = jwt.encode({"iss": ISSUER, "aud": service, "exp": time.time() + 60}, None, "none")
    refused = {
        "no token": call(None),
        "unsigned": call(unsigned),
        "HS256": call(jwt.encode({"iss": ISSUER, "aud": service, "jti": "h"}, "k" * 32, "HS256")),
        "other issuer": call(keys.token(service, iss="https://evil.example.org")),
        "other audience": call(keys.token("https://elsewhere.example.org/cds-services/x")),
        "expired": call(keys.token(service, exp=int(time.time()) - 3600)),
        "no jti": call(keys.token(service, jti=None)),
        "no iat": call(keys.token(service, iat=None)),
    }
    for why, answer in refused.items():
        assert answer.status_code == 401, why
        assert answer.headers["www-authenticate"] == "Bearer", why
    feedback = f"{service}/feedback"
    items = {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2024"}]}
    assert call(None, feedback, items).status_code == 401
    assert call(keys.token(feedback), feedback, items).status_code == 200
