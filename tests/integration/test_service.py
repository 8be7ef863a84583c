"""The HTTP service in process (FastAPI's TestClient): every endpoint, limit and error."""

from __future__ import annotations

import json
import logging
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

import docgap
from docgap.inputs.fhir import document_reference
from docgap.inputs.reading import NoteInput
from docgap.report import NoteReport
from docgap.service import (
    ServiceSettings,
    create_app,
    openapi_document,
    read_token,
)
from docgap.service.fhir_out import GAP_SYSTEM
from docgap.service.middleware import safe
from docgap.service.schemas import analysis_body

ROOT = Path(__file__).resolve().parents[2]
NOTES = {
    p.stem: p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "examples" / "notes").glob("*.txt"))
}
SECRET = "SECRET-NOTE-TEXT neck pain and vertigo"
TOKEN = "correct-horse-battery-staple-42"
LIMITS = ServiceSettings(max_body_bytes=200_000, max_batch=4, max_note_chars=20_000)


class _Capture(logging.Handler):
    """The service's log lines, whatever the logging setup of other tests."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def service_log() -> Iterator[_Capture]:
    logger = logging.getLogger("docgap.service")
    handler = _Capture()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture(scope="module")
def client(analyzer: docgap.Analyzer) -> Iterator[TestClient]:
    with TestClient(create_app(analyzer, LIMITS)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def secured(analyzer: docgap.Analyzer) -> Iterator[TestClient]:
    with TestClient(create_app(analyzer, ServiceSettings(token=TOKEN))) as test_client:
        yield test_client


def _expected(analyzer: docgap.Analyzer, note_id: str, text: str) -> dict[str, Any]:
    record = analysis_body(analyzer.analyze(text, note_id).to_dict())
    return json.loads(json.dumps(record))


class _FakeAnalyzer:
    """Stands in for the pipeline where a test needs it slow, broken or counted."""

    lexicon_hash = "fake"

    def __init__(self, delay: float = 0.0, explode: bool = False) -> None:
        self.delay = delay
        self.explode = explode
        self.busy = False
        self.overlapped = False
        self.calls = 0

    def analyze_input(self, note: NoteInput, deadline: float | None = None) -> NoteReport:
        if self.busy:
            self.overlapped = True
        self.busy = True
        try:
            self.calls += 1
            time.sleep(self.delay)
            if self.explode:
                raise RuntimeError(f"boom: {note.text}")  # an exception that quotes the note
            return NoteReport(note.note_id, "not_applicable", None, {}, False)
        finally:
            self.busy = False


# -- operations endpoints ----------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_version(client: TestClient, analyzer: docgap.Analyzer) -> None:
    body = client.get("/version").json()
    assert body["docgap"] == docgap.__version__
    assert body["lexicon_sha256"] == analyzer.lexicon_hash and body["ready"] is True
    assert analyzer.model is not None, "the shipped review model should load"
    assert body["model"]["model_sha256"] == analyzer.model.metadata["model_sha256"]
    assert body["model"]["classes"] == list(analyzer.model.classes)


def test_docs_are_off_by_default(client: TestClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert client.get(path).status_code == 404


def test_docs_with_the_flag_are_local_and_behind_the_token(analyzer: docgap.Analyzer) -> None:
    app = create_app(analyzer, ServiceSettings(token=TOKEN, docs=True))
    with TestClient(app) as docs_client:
        assert docs_client.get("/openapi.json").status_code == 401
        assert docs_client.get("/docs").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        page = docs_client.get("/docs", headers=auth)
        assert page.status_code == 200 and "/v1/analyze" in page.text
        assert "<script" not in page.text and "cdn" not in page.text.lower()
        assert docs_client.get("/openapi.json", headers=auth).json()["info"]["title"] == "docgap"


def test_openapi_is_served_and_matches_the_checked_in_copy(analyzer: docgap.Analyzer) -> None:
    with TestClient(create_app(analyzer, ServiceSettings(docs=True))) as docs_client:
        served = docs_client.get("/openapi.json").json()
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served == checked_in, (
        "docs/openapi.json is stale: regenerate it with "
        "python -c \"from docgap.service import write_openapi; write_openapi('docs/openapi.json')\""
    )
    assert json.loads(openapi_document()) == checked_in
    assert set(served["paths"]) == {
        "/v1/analyze",
        "/v1/analyze/batch",
        "/v1/fhir",
        "/healthz",
        "/readyz",
        "/version",
        "/cds-services",
        "/cds-services/docgap-m53-0",
        "/cds-services/docgap-m53-0/feedback",
    }


# -- analysis: the same records as scan --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOTES))
def test_analyze_answers_the_scan_record(
    client: TestClient, analyzer: docgap.Analyzer, name: str
) -> None:
    response = client.post("/v1/analyze", json={"note_id": name, "text": NOTES[name]})
    assert response.status_code == 200
    assert response.json() == _expected(analyzer, name, NOTES[name])


def test_analyze_without_id(client: TestClient) -> None:
    assert client.post("/v1/analyze", json={"text": "neck pain"}).json()["note_id"] == "note"


def test_blank_note_is_422(client: TestClient) -> None:
    for text in (" \n\t ", ""):
        response = client.post("/v1/analyze", json={"note_id": "blank", "text": text})
        assert "whitespace" in _error(response, 422, "empty_note")


def test_reports_carry_query_drafts_and_a_fix_per_gap(client: TestClient) -> None:
    body = client.post("/v1/analyze", json={"text": NOTES["04-at-risk-no-cranial"]}).json()
    assert [f["gap"] for f in body["fixes"]] == [g["key"] for g in body["gaps"]]
    assert all(f["suggestion"] for f in body["fixes"])
    queried = {f["gap"]: f["query"] for f in body["fixes"] if f.get("query")}
    assert queried, "an at-risk note has a query draft"
    assert {q["key"] for q in body["queries"]} == set(queried.values())
    assert all(q["text"] and q["options"] for q in body["queries"])


def test_batch_answers_reports_in_order(client: TestClient, analyzer: docgap.Analyzer) -> None:
    names = sorted(NOTES)[:3]
    notes = [{"note_id": n, "text": NOTES[n]} for n in names] + [{"text": ""}]
    response = client.post("/v1/analyze/batch", json={"notes": notes})
    assert response.status_code == 200
    reports = response.json()["reports"]
    assert reports[:3] == [_expected(analyzer, n, NOTES[n]) for n in names]
    assert reports[3]["note_id"] == "note-4" and reports[3]["error"]


def test_fhir_bundle_answers_detected_issues_keeping_the_subject(
    client: TestClient, analyzer: docgap.Analyzer
) -> None:
    names = sorted(NOTES)[:3]
    entries = [
        document_reference(n, NOTES[n]) | {"subject": {"reference": "Patient/p1"}} for n in names
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": e} for e in entries]
        + [{"resource": {"resourceType": "Patient", "id": "p1"}}],
    }
    response = client.post(
        "/v1/fhir", content=json.dumps(bundle), headers={"content-type": "application/fhir+json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    issues = _issues(body, "DetectedIssue")
    expected = [(n, g.key) for n in names for g in analyzer.analyze(NOTES[n], n).gaps]
    assert [
        (i["implicated"][0]["reference"].split("/")[1], i["code"]["coding"][0]["code"])
        for i in issues
    ] == [(f"DocumentReference/{n}".split("/")[1], k) for n, k in expected]
    assert expected, "the first notes have gaps"
    for issue in issues:
        assert issue["patient"] == {"reference": "Patient/p1"}
        assert issue["code"]["coding"][0]["system"] == GAP_SYSTEM
        assert issue["status"] == "preliminary" and issue["severity"] in ("high", "moderate", "low")
    skipped = [
        o
        for o in _issues(body, "OperationOutcome")
        if "not DocumentReference" in o["issue"][0]["details"]["text"]
    ]
    assert len(skipped) == 1 and "Patient" not in json.dumps(skipped)


def test_fhir_document_reference_without_gaps_says_so(client: TestClient) -> None:
    name = "01-supported-neurology"
    body = client.post("/v1/fhir", json=document_reference(name, NOTES[name])).json()
    outcomes = _issues(body, "OperationOutcome")
    if not _issues(body, "DetectedIssue"):
        assert outcomes[0]["issue"][0]["expression"] == [f"DocumentReference/{name}"]
        assert outcomes[0]["issue"][0]["severity"] == "information"


def test_fhir_bad_entry_is_an_operation_outcome(client: TestClient) -> None:
    bad = document_reference("bad", SECRET) | {"date": "not a date"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": document_reference("good", "neck pain")}, {"resource": bad}],
    }
    response = client.post("/v1/fhir", json=bundle)
    assert response.status_code == 200
    errors = [
        o
        for o in _issues(response.json(), "OperationOutcome")
        if o["issue"][0]["severity"] == "error"
    ]
    assert len(errors) == 1 and errors[0]["issue"][0]["expression"] == ["DocumentReference/bad"]
    assert "date" in errors[0]["issue"][0]["details"]["text"]
    assert "SECRET" not in response.text


# -- limits -------------------------------------------------------------------------------------


def _error(response: Any, status: int, key: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert "SECRET" not in response.text
    if body.get("resourceType") == "OperationOutcome":  # /v1/fhir answers FHIR
        details = body["issue"][0]["details"]
        assert details["coding"][0]["code"] == key
        return str(details["text"])
    assert body["error"] == key
    return str(body["detail"])


def _issues(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_body_too_large(client: TestClient) -> None:
    big = {"note_id": "big", "text": SECRET + "x" * 300_000}
    assert "200,000 bytes" in _error(client.post("/v1/analyze", json=big), 413, "body_too_large")


def test_chunked_body_too_large(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "' + SECRET.encode()
        for _ in range(30):
            yield b"x" * 10_000
        yield b'"}'

    response = client.post(
        "/v1/analyze", content=chunks(), headers={"content-type": "application/json"}
    )
    _error(response, 413, "body_too_large")


def test_batch_too_large(client: TestClient) -> None:
    notes = [{"text": SECRET}] * (LIMITS.max_batch + 1)
    detail = _error(client.post("/v1/analyze/batch", json={"notes": notes}), 413, "batch_too_large")
    assert f"limit is {LIMITS.max_batch}" in detail


def test_fhir_bundle_too_large(client: TestClient) -> None:
    entries = [
        {"resource": document_reference(f"d{i}", SECRET)} for i in range(LIMITS.max_batch + 1)
    ]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    _error(client.post("/v1/fhir", json=bundle), 413, "batch_too_large")


@pytest.mark.parametrize("endpoint", ["/v1/analyze", "/v1/analyze/batch", "/v1/fhir"])
def test_note_too_large(client: TestClient, endpoint: str) -> None:
    text = SECRET + " neck" * (LIMITS.max_note_chars // 5 + 1)
    body: dict[str, Any] = {"note_id": "long-1", "text": text}
    if endpoint.endswith("batch"):
        body = {"notes": [{"note_id": "short", "text": "neck pain"}, body]}
    elif endpoint.endswith("fhir"):
        body = document_reference("long-1", text)
    detail = _error(client.post(endpoint, json=body), 413, "note_too_large")
    assert "long-1" in detail and "short" not in detail


def test_timeout(service_log: _Capture) -> None:
    slow = _FakeAnalyzer(delay=1.0)
    settings = ServiceSettings(timeout_seconds=0.2)
    with TestClient(create_app(slow, settings)) as test_client:  # type: ignore[arg-type]
        response = test_client.post("/v1/analyze", json={"note_id": "slow-1", "text": SECRET})
        assert "0.2 s" in _error(response, 504, "timeout")
        # A batch that times out stops at the deadline instead of analysing every note.
        notes = [{"text": SECRET}] * 4
        _error(test_client.post("/v1/analyze/batch", json={"notes": notes}), 504, "timeout")
        time.sleep(1.5)
    assert slow.calls < 5
    assert any("504" in line and "slow-1" in line for line in service_log.lines)


def test_a_long_note_stops_at_the_deadline_and_frees_its_analyzer() -> None:
    """The request deadline reaches into the analysis: the one analyzer is free again soon.

    Without it the timed-out thread would analyse the whole ~1 MB mention-dense note (about
    ten seconds a core) holding the only analyzer, and the short request after it would
    time out too.
    """
    analyzer = docgap.Analyzer(chunk_chars=20_000)
    settings = ServiceSettings(timeout_seconds=2.0)
    sentence = "Neck pain with occipital headaches and dizziness on turning the head. "
    dense = sentence * ((settings.max_note_chars - 1) // len(sentence))
    with TestClient(create_app(analyzer, settings)) as test_client:
        response = test_client.post("/v1/analyze", json={"note_id": "long-1", "text": dense})
        _error(response, 504, "timeout")
        short = test_client.post("/v1/analyze", json={"note_id": "short-1", "text": "neck pain"})
        assert short.status_code == 200, short.text
        assert short.json()["note_id"] == "short-1"


# -- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "key", "fragment"),
    [
        (b'{"text": "SECRET-NOTE-TEXT', 400, "malformed_json", "malformed JSON"),
        (b"", 422, "invalid_request", "no body"),
        (b'"SECRET-NOTE-TEXT"', 422, "invalid_request", "valid dictionary"),
        (b'{"txt": "SECRET-NOTE-TEXT"}', 422, "invalid_request", "text: Field required"),
        (b'{"text": 12}', 422, "invalid_request", "text: Input should be a valid string"),
        (b'{"text": "SECRET-NOTE-TEXT", "note_id": ""}', 422, "invalid_request", "note_id"),
        (b'{"text": "x", "SECRET-KEY": 1}', 422, "invalid_request", "not in the schema"),
        (b'{"text": "x", "a\\nSECRET": 1}', 422, "invalid_request", "not in the schema"),
    ],
)
def test_malformed_analyze(
    client: TestClient, body: bytes, status: int, key: str, fragment: str
) -> None:
    response = client.post(
        "/v1/analyze", content=body, headers={"content-type": "application/json"}
    )
    assert fragment in _error(response, status, key)


@pytest.mark.parametrize(
    ("body", "status", "key", "fragment"),
    [
        (b'{"notes": {"text": "SECRET-NOTE-TEXT"}}', 422, "invalid_request", "notes"),
        (b'{"notes": [{"text": "SECRET-NOTE-TEXT"}, {}]}', 422, "invalid_request", "notes.1.text"),
        (b'[{"text": "SECRET-NOTE-TEXT"}]', 422, "invalid_request", "valid dictionary"),
    ],
)
def test_malformed_batch(
    client: TestClient, body: bytes, status: int, key: str, fragment: str
) -> None:
    response = client.post(
        "/v1/analyze/batch", content=body, headers={"content-type": "application/json"}
    )
    assert fragment in _error(response, status, key)


@pytest.mark.parametrize(
    ("body", "status", "key", "fragment"),
    [
        (b"{not json SECRET-NOTE-TEXT", 400, "malformed_json", "line 1, column 2"),
        (b"\xff\xfe", 400, "malformed_json", "UTF-8"),
        (b"[]", 422, "invalid_fhir", "JSON list"),
        (
            b'{"resourceType": "SECRET-TYPE", "text": "SECRET-NOTE-TEXT"}',
            422,
            "invalid_fhir",
            "DocumentReference or Bundle",
        ),
        (
            json.dumps(document_reference("d", SECRET) | {"status": None}).encode(),
            422,
            "invalid_fhir",
            "status",
        ),
        (
            json.dumps(document_reference("d", SECRET) | {"content": []}).encode(),
            200,
            None,
            "no content",
        ),
        (b'{"resourceType": "Bundle", "type": "collection"}', 422, "invalid_fhir", "no Document"),
    ],
)
def test_malformed_fhir(
    client: TestClient, body: bytes, status: int, key: str | None, fragment: str
) -> None:
    response = client.post("/v1/fhir", content=body, headers={"content-type": "application/json"})
    if key is None:  # a valid resource whose note is unusable: an error OperationOutcome
        assert response.status_code == status
        (outcome,) = _issues(response.json(), "OperationOutcome")
        assert fragment in outcome["issue"][0]["details"]["text"]
    else:
        assert fragment in _error(response, status, key)


@pytest.mark.parametrize(
    ("method", "path", "status", "key"),
    [("GET", "/nowhere", 404, "not_found"), ("GET", "/v1/analyze", 405, "method_not_allowed")],
)
def test_unknown_routes(client: TestClient, method: str, path: str, status: int, key: str) -> None:
    _error(client.request(method, path), status, key)


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/analyze", {"text": SECRET}),
        ("POST", "/v1/analyze/batch", {"notes": [{"text": SECRET}]}),
        ("POST", "/v1/fhir", document_reference("d", SECRET)),
        ("GET", "/version", None),
    ],
)
def test_token_required(
    secured: TestClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    response = secured.request(method, path, json=body, headers=headers)
    _error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/analyze", {"text": "neck pain"}),
        ("POST", "/v1/analyze/batch", {"notes": [{"text": "neck pain"}]}),
        ("POST", "/v1/fhir", document_reference("d", "neck pain")),
        ("GET", "/version", None),
    ],
)
def test_token_accepted(secured: TestClient, method: str, path: str, body: Any) -> None:
    response = secured.request(
        method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/cds-services"])
def test_probes_and_schema_need_no_token(secured: TestClient, path: str) -> None:
    assert secured.get(path).status_code == 200


def test_read_token(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n", encoding="utf-8")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert read_token(path) == TOKEN
    empty = tmp_path / "empty"
    empty.write_text(" \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        read_token(empty)


@pytest.mark.parametrize(
    ("content", "mode", "warning"),
    [
        ("abc123xyz", 0o600, "shorter than"),
        (TOKEN, 0o644, "readable by other users"),
    ],
    ids=["short", "readable"],
)
def test_read_token_warnings(
    tmp_path: Path, service_log: _Capture, content: str, mode: int, warning: str
) -> None:
    path = tmp_path / "token"
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    read_token(path)
    assert any(warning in line for line in service_log.lines)
    assert not any(content in line for line in service_log.lines)


# -- readiness and the worker pool ---------------------------------------------------------


def test_not_ready_until_the_pipeline_is_built(analyzer: docgap.Analyzer) -> None:
    release = threading.Event()

    def slow_factory() -> docgap.Analyzer:
        release.wait(30)
        return analyzer

    with TestClient(create_app(factory=slow_factory)) as test_client:
        assert test_client.get("/healthz").status_code == 200
        assert test_client.get("/readyz").json()["status"] == "starting"
        assert test_client.get("/readyz").status_code == 503
        response = test_client.post("/v1/analyze", json={"text": SECRET})
        _error(response, 503, "not_ready")
        assert response.headers["Retry-After"]
        assert test_client.get("/version").json()["ready"] is False
        release.set()
        for _ in range(300):
            if test_client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert test_client.get("/readyz").json()["status"] == "ready"
        assert test_client.post("/v1/analyze", json={"text": "neck pain"}).status_code == 200


def test_pipeline_that_fails_to_build(service_log: _Capture) -> None:
    def broken() -> docgap.Analyzer:
        raise RuntimeError("lexicons/packs/m53.0/targets/x.yml: bad pattern")

    with TestClient(create_app(factory=broken)) as test_client:
        for _ in range(100):
            if test_client.get("/readyz").json()["status"] != "starting":
                break
            time.sleep(0.05)
        readiness = test_client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json() == {
            "status": "failed",
            "detail": "pipeline failed to build (RuntimeError)",
        }
        assert "failed to build" in _error(
            test_client.post("/v1/analyze", json={"text": "x"}), 503, "not_ready"
        )
    assert any("bad pattern" in line for line in service_log.lines)


def test_each_worker_thread_has_its_own_analyzer() -> None:
    fakes = [_FakeAnalyzer(delay=0.05), _FakeAnalyzer(delay=0.05)]
    pool = iter(fakes)
    app = create_app(settings=ServiceSettings(threads=2), factory=lambda: next(pool))  # type: ignore[arg-type, return-value]
    with TestClient(app) as test_client:
        for _ in range(100):
            if test_client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert test_client.get("/readyz").json()["detail"] == "2 analyzer(s)"
        assert [f.calls for f in fakes] == [1, 1]  # each warmed up once while building

        def post(i: int) -> int:
            body = {"note_id": f"n{i}", "text": "neck pain"}
            return test_client.post("/v1/analyze", json=body).status_code

        threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(f.calls for f in fakes) == 2 + 12
    assert all(f.calls > 1 for f in fakes)
    assert not any(f.overlapped for f in fakes)


# -- logs: ids and sizes, never text -------------------------------------------------------


def test_request_log_has_ids_not_text(client: TestClient, service_log: _Capture) -> None:
    client.post("/v1/analyze", json={"note_id": "log-1", "text": SECRET})
    client.post("/v1/analyze/batch", json={"notes": [{"note_id": "log-2", "text": SECRET}]})
    client.post(
        "/v1/analyze",
        content=b'{"text": "SECRET-NOTE-TEXT',
        headers={"content-type": "application/json"},
    )
    lines = service_log.lines
    assert any(line.startswith("POST /v1/analyze 200 ") and "notes=log-1" in line for line in lines)
    assert any("/v1/analyze/batch 200" in line and "notes=log-2" in line for line in lines)
    assert any(line.startswith("POST /v1/analyze 400 ") for line in lines)
    assert not any("SECRET" in line for line in lines)


def test_internal_error_is_a_500_without_text(service_log: _Capture) -> None:
    broken = _FakeAnalyzer(explode=True)
    with TestClient(create_app(broken)) as test_client:  # type: ignore[arg-type]
        response = test_client.post("/v1/analyze", json={"note_id": "x-1", "text": SECRET})
    _error(response, 500, "internal")
    assert any("RuntimeError" in line for line in service_log.lines)
    assert not any("SECRET" in line for line in service_log.lines)


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"max_body_bytes": 0},
        {"max_batch": 0},
        {"max_note_chars": 0},
        {"threads": 0},
        {"timeout_seconds": 0},
    ],
)
def test_settings_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ServiceSettings(**bad)


def test_settings_repr_hides_the_token() -> None:
    assert TOKEN not in repr(ServiceSettings(token=TOKEN))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    from docgap.service.app import _is_loopback

    assert _is_loopback(host) is loopback


def test_worker_processes_get_settings_and_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docgap.service import app_from_env

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN, encoding="utf-8")
    token_file.chmod(0o600)
    shared = {"max_batch": 3, "timeout_seconds": 5.0, "token_file": str(token_file)}
    monkeypatch.setenv("DOCGAP_SERVICE_SETTINGS", json.dumps(shared))
    settings = app_from_env().state.docgap.settings
    assert (settings.max_batch, settings.timeout_seconds, settings.token) == (3, 5.0, TOKEN)


# -- the report model and provenance ----------------------------------------------------------


class _ProvenanceAnalyzer(_FakeAnalyzer):
    """Sets provenance on its reports, as the real analyzer does."""

    provenance: ClassVar[dict[str, str]] = {
        "docgap_version": "9.9.9",
        "pack": "m53_0",
        "pack_version": "v1",
        "lexicon_sha256": "ab" * 32,
    }

    def analyze_input(self, note: NoteInput, deadline: float | None = None) -> NoteReport:
        report = super().analyze_input(note, deadline)
        report.provenance = dict(self.provenance)
        return report


def test_reports_carry_the_analyzers_provenance() -> None:
    from docgap.service.schemas import ReportOut

    fake = _ProvenanceAnalyzer()
    with TestClient(create_app(fake, LIMITS)) as test_client:  # type: ignore[arg-type]
        body = test_client.post("/v1/analyze", json={"note_id": "a", "text": "x"}).json()
    assert body["provenance"] == fake.provenance
    assert ReportOut.model_validate(body).model_dump(exclude_unset=True) == body


def test_the_report_model_documents_every_record_key() -> None:
    from docgap.schema import field_names

    schema = json.loads(openapi_document())["components"]["schemas"]["AnalysisOut"]
    assert tuple(schema["properties"]) == (*field_names(), "queries", "fixes")


def test_logged_values_cannot_forge_lines(client: TestClient, service_log: _Capture) -> None:
    forged = "n1\nINFO forged line\x1b[2K"
    assert (
        client.post("/v1/analyze", json={"note_id": forged, "text": "neck pain"}).status_code == 200
    )
    (line,) = [entry for entry in service_log.lines if "/v1/analyze" in entry]
    assert "\n" not in line and "\x1b" not in line
    assert "n1\\nINFO forged line\\x1b[2K" in line
    assert safe("a\\b\u2028") == "a\\\\b\\u2028"
