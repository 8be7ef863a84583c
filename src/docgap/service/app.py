"""`docgap serve`: the analyzer behind a small HTTP API for scribe vendors and EHR pipelines.

A warm process answers in milliseconds where a fresh CLI needs seconds to build the
pipeline. Endpoints (JSON in and out; the OpenAPI schema is served at ``/openapi.json`` and
checked in at ``docs/openapi.json``):

- ``POST /v1/analyze`` ``{"note_id", "text"}``: the note's report, the same record as ``scan``;
- ``POST /v1/analyze/batch`` ``{"notes": [...]}``: ``{"reports": [...]}`` in order;
- ``POST /v1/fhir``: a FHIR R4 DocumentReference or Bundle of them, answered with
  ``{"resourceType", "reports": {resource id: report}, "skipped": {resourceType: count}}``;
- ``GET /healthz`` (the process is up), ``GET /readyz`` (the pipeline is built),
  ``GET /version`` (docgap version, lexicon hash, model).

Every error is a JSON object ``{"error": key, "detail": message}``: 400 malformed JSON, 401
missing or wrong bearer token, 413 body, batch or note too large, 422 a request or FHIR
resource that does not fit the schema, 503 not ready yet, 504 analysis took longer than the
per-request timeout. A note that cannot be analysed (empty, binary) is not an HTTP error: its
report carries ``error``, as in ``scan``.

Notes are PHI. The service binds to loopback unless told otherwise, logs one line per
request with method, path, status, size, duration and note ids (never text), answers errors
without echoing input, and can require a bearer token (``--token-file``). The pipeline is
built once per process, in the background after start-up; its CPU work runs in worker
threads off the event loop, each thread with its own Analyzer (spaCy pipelines are not
guaranteed thread-safe), so health checks answer while notes are analysed.
"""

from __future__ import annotations

import copy
import hmac
import ipaddress
import json
import logging
import logging.config
import os
import queue
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from docgap import __version__
from docgap.analyzer import Analyzer
from docgap.inputs.fhir import FhirError, MalformedJsonError, fhir_models, parse_fhir_json
from docgap.inputs.reading import NoteInput
from docgap.report import NoteReport

__all__ = [
    "ServiceSettings",
    "app_from_env",
    "create_app",
    "openapi_document",
    "read_token",
    "serve",
    "write_openapi",
]

log = logging.getLogger(__name__)

_SETTINGS_ENV = "DOCGAP_SERVICE_SETTINGS"  # hands settings to worker processes (no token)
_MAX_LOGGED_IDS = 20
_MIN_TOKEN_CHARS = 16
_WARM_UP = "Neck pain with occipital headache."  # not a note: exercises the pipeline once
_DESCRIPTION = (
    "Per-note reports, the same records as `docgap scan` writes. Errors are "
    '`{"error": key, "detail": message}` and never echo the note. See the README for limits, '
    "exit codes of `docgap check`, and authentication."
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and options of one service process (each limit answers a clear 4xx/5xx)."""

    max_body_bytes: int = 10 * 1024 * 1024  # 413 body_too_large
    max_batch: int = 64  # 413 batch_too_large
    max_note_chars: int = 1_000_000  # 413 note_too_large (about 300 pages of text)
    timeout_seconds: float = 30.0  # 504 timeout
    threads: int = 1  # worker threads, one Analyzer each
    token: str | None = field(default=None, repr=False)  # bearer token; None: no auth

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_note_chars", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


# -- request and response bodies (also the OpenAPI schema) -----------------------------------


class NoteIn(BaseModel):
    """One note to analyse."""

    model_config = ConfigDict(extra="forbid")

    note_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="Your id for the note."
    )
    text: str = Field(description="The note's plain text.")


class BatchIn(BaseModel):
    """Several notes to analyse in one request (at most the configured batch size)."""

    model_config = ConfigDict(extra="forbid")

    notes: list[NoteIn]


class ReportOut(BaseModel):
    """One note's report: the stable keys of the scan record (spec section 5), and more."""

    model_config = ConfigDict(extra="allow")

    note_id: str
    status: str | None = Field(
        description="supported, at_risk, downcode, redirect or not_applicable; null on error"
    )
    would_code: str | None
    elements: dict[str, bool]
    chiropractic: bool
    gaps: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    error: str | None = Field(default=None, description="Why the note could not be analysed.")


class BatchOut(BaseModel):
    """Reports in the order of the request's notes."""

    reports: list[ReportOut]


class FhirOut(BaseModel):
    """Reports keyed by resource id, and the Bundle entries that are not DocumentReferences."""

    resourceType: str  # noqa: N815 - FHIR's spelling
    reports: dict[str, ReportOut]
    skipped: dict[str, int]


class ErrorOut(BaseModel):
    """An error: a stable machine key and a message for people (never the note's text)."""

    error: str
    detail: str


class StatusOut(BaseModel):
    """Liveness or readiness."""

    status: str
    detail: str | None = None


class VersionOut(BaseModel):
    """What is answering: docgap's version, the rules' hash and the model, if any."""

    docgap: str
    lexicon_sha256: str | None
    model: dict[str, Any] | None
    ready: bool


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "Malformed JSON.",
        401: "Missing or wrong bearer token.",
        413: "Body, batch or note larger than the configured limit.",
        422: "The request does not fit the schema.",
        503: "The pipeline is not built yet.",
        504: "The analysis took longer than the per-request timeout.",
    }.items()
}


def _error(status: int, key: str, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": key, "detail": detail}, status_code=status, headers=headers or None
    )


class _RefusalError(Exception):
    """An answer other than 200 decided inside an endpoint."""

    def __init__(self, status: int, key: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(key)
        self.response = _error(status, key, detail, **(headers or {}))


# -- the workers: analysis off the event loop ------------------------------------------------


class _ExpiredError(Exception):
    """The request's deadline passed before its notes were analysed."""


class _Workers:
    """A fixed set of Analyzers, each used by one thread at a time."""

    def __init__(self, analyzers: Sequence[Analyzer]) -> None:
        self._idle: queue.SimpleQueue[Analyzer] = queue.SimpleQueue()
        for analyzer in analyzers:
            self._idle.put(analyzer)
        self.count = len(analyzers)
        self.first = analyzers[0]
        self._limiter = anyio.CapacityLimiter(self.count)

    def _work(self, notes: list[NoteInput], deadline: float) -> list[NoteReport]:
        analyzer = self._idle.get()
        try:
            reports = []
            for note in notes:
                if time.monotonic() > deadline:  # the caller has given up: do no more work
                    raise _ExpiredError
                reports.append(analyzer.analyze_input(note))
            return reports
        finally:
            self._idle.put(analyzer)

    async def analyze(self, notes: list[NoteInput], timeout: float) -> list[NoteReport]:
        """Analyse ``notes`` in a worker thread; a timeout abandons the wait (504)."""
        deadline = time.monotonic() + timeout
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(
                    self._work, notes, deadline, limiter=self._limiter, abandon_on_cancel=True
                )
        except (TimeoutError, _ExpiredError):
            raise _RefusalError(
                504, "timeout", f"analysis took longer than the {timeout:g} s request timeout"
            ) from None


# -- application state ------------------------------------------------------------------------


class _State:
    """What the endpoints share: settings, and the workers once the pipeline is built."""

    def __init__(
        self, settings: ServiceSettings, analyzer: Analyzer | None, factory: Callable[[], Analyzer]
    ) -> None:
        self.settings = settings
        self.analyzer = analyzer
        self.factory = factory
        self.workers: _Workers | None = None
        self.failure: str | None = None

    def adopt(self) -> bool:
        """Serve the analyzer given to ``create_app``, if any (ready at once)."""
        if self.analyzer is None:
            return False
        self.workers = _Workers([self.analyzer])
        return True

    def _build(self, count: int) -> list[Analyzer]:
        """Build and warm up the analyzers, so the first request is not the slow one."""
        analyzers = [self.factory() for _ in range(count)]
        for analyzer in analyzers:
            analyzer.analyze_input(NoteInput("warm-up", _WARM_UP))
        fhir_models()
        return analyzers

    async def build(self) -> None:
        """Build the pipeline(s) in a thread, so /healthz answers meanwhile."""
        count = self.settings.threads
        started = time.monotonic()
        try:
            analyzers = await anyio.to_thread.run_sync(self._build, count, abandon_on_cancel=True)
        except Exception as exc:  # a broken rule file must not take the process down silently
            self.failure = f"pipeline failed to build ({type(exc).__name__})"
            log.error("pipeline failed to build: %s", exc)  # rule-file errors, no notes
            return
        self.workers = _Workers(analyzers)
        log.info("ready: %d analyzer(s) built in %.1f s", count, time.monotonic() - started)


def _state(request: Request) -> _State:
    state: _State = request.app.state.docgap
    return state


_bearer = HTTPBearer(auto_error=False, description="The token from `docgap serve --token-file`.")


def _authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = _state(request).settings.token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


def _workers(request: Request) -> _Workers:
    state = _state(request)
    if state.workers is None:
        detail = state.failure or "the pipeline is still being built; retry shortly"
        raise _RefusalError(503, "not_ready", detail, {"Retry-After": "2"})
    return state.workers


Workers = Annotated[_Workers, Depends(_workers)]


def _log_ids(request: Request, ids: list[str]) -> None:
    """Hand the note ids to the request log (ids only, never text)."""
    request.scope["docgap.note_ids"] = ids


def _check_sizes(notes: Sequence[NoteInput], settings: ServiceSettings) -> None:
    limit = settings.max_note_chars
    large = [n.note_id for n in notes if n.text is not None and len(n.text) > limit]
    if large:
        shown = ", ".join(large[:10]) + (f" and {len(large) - 10} more" if len(large) > 10 else "")
        raise _RefusalError(
            413, "note_too_large", f"note(s) longer than {limit:,} characters: {shown}"
        )


# -- endpoints --------------------------------------------------------------------------------


async def analyze(body: NoteIn, request: Request, workers: Workers) -> JSONResponse:
    """Analyse one note; answers the note's report (the same record as `docgap scan`)."""
    note = NoteInput(body.note_id or "note", body.text)
    _log_ids(request, [note.note_id])
    settings = _state(request).settings
    _check_sizes([note], settings)
    (report,) = await workers.analyze([note], settings.timeout_seconds)
    return JSONResponse(report.to_dict())


async def analyze_batch(body: BatchIn, request: Request, workers: Workers) -> JSONResponse:
    """Analyse several notes; answers their reports in order."""
    settings = _state(request).settings
    if len(body.notes) > settings.max_batch:
        raise _RefusalError(
            413,
            "batch_too_large",
            f"{len(body.notes)} notes in one batch; the limit is {settings.max_batch}",
        )
    notes = [NoteInput(n.note_id or f"note-{i}", n.text) for i, n in enumerate(body.notes, start=1)]
    _log_ids(request, [n.note_id for n in notes])
    _check_sizes(notes, settings)
    reports = await workers.analyze(notes, settings.timeout_seconds)
    return JSONResponse({"reports": [r.to_dict() for r in reports]})


_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A FHIR R4 DocumentReference, or a Bundle of them; the note "
                    "is the first content[].attachment with contentType text/plain and "
                    "base64 data.",
                    "required": ["resourceType"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["DocumentReference", "Bundle"]}
                    },
                }
            },
            "application/fhir+json": {"schema": {"type": "object"}},
        },
    }
}


async def analyze_fhir(request: Request, workers: Workers) -> JSONResponse:
    """Analyse a FHIR DocumentReference or Bundle; answers reports keyed by resource id."""
    settings = _state(request).settings
    body = await request.body()
    try:  # parsing and validating a large Bundle is CPU work too: off the event loop
        notes = await anyio.to_thread.run_sync(parse_fhir_json, body)
    except MalformedJsonError as exc:
        raise _RefusalError(400, "malformed_json", str(exc)) from None
    except FhirError as exc:
        raise _RefusalError(422, "invalid_fhir", str(exc)) from None
    _log_ids(request, [n.note_id for n in notes.records])
    if len(notes.records) > settings.max_batch:
        raise _RefusalError(
            413,
            "batch_too_large",
            f"{len(notes.records)} DocumentReferences in one Bundle; the limit is "
            f"{settings.max_batch}",
        )
    _check_sizes(notes.records, settings)
    reports = await workers.analyze(notes.records, settings.timeout_seconds)
    return JSONResponse(
        {
            "resourceType": notes.resource_type,
            "reports": {r.note_id: r.to_dict() for r in reports},
            "skipped": dict(notes.skipped),
        }
    )


async def healthz() -> StatusOut:
    """Liveness: the process answers (the pipeline may still be building)."""
    return StatusOut(status="ok")


async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 once the pipeline is built, 503 before (or if it failed to build)."""
    state = _state(request)
    if state.workers is not None:
        return JSONResponse({"status": "ready", "detail": f"{state.workers.count} analyzer(s)"})
    if state.failure is not None:
        return JSONResponse({"status": "failed", "detail": state.failure}, status_code=503)
    return JSONResponse({"status": "starting", "detail": "building the pipeline"}, status_code=503)


def _model_info(analyzer: Analyzer) -> dict[str, Any] | None:
    """The review model's identity, when the analyzer carries one (``model_info``)."""
    info = getattr(analyzer, "model_info", None)
    info = info() if callable(info) else info
    return dict(info) if isinstance(info, dict) else None


async def version(request: Request) -> VersionOut:
    """The version of docgap, the hash of the rules in use, and the model (null if none)."""
    workers = _state(request).workers
    analyzer = workers.first if workers is not None else None
    return VersionOut(
        docgap=__version__,
        lexicon_sha256=analyzer.lexicon_hash if analyzer is not None else None,
        model=_model_info(analyzer) if analyzer is not None else None,
        ready=workers is not None,
    )


# -- middleware and error handlers ------------------------------------------------------------


async def _send_error(send: Send, status: int, key: str, detail: str) -> None:
    body = json.dumps({"error": key, "detail": detail}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyLimit:
    """Reject bodies over the limit with 413 before the app reads them (no JSON is parsed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body larger than {self.max_bytes:,} bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _send_error(send, 413, "body_too_large", detail)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, "body_too_large", detail)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class _RequestLog:
    """One log line per request (method, path, status, bytes, ms, note ids) and no tracebacks.

    Sits outside every other layer: an unexpected exception becomes a 500 JSON answer here
    and is logged by type only, since its message or traceback could quote a note.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        size = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception as exc:
            log.error("%s %s failed (%s)", scope["method"], scope["path"], type(exc).__name__)
            if status == 0:
                status = 500
                await _send_error(send, 500, "internal", "internal error; see the service log")
        ids = scope.get("docgap.note_ids") or []
        shown = ",".join(ids[:_MAX_LOGGED_IDS])
        if len(ids) > _MAX_LOGGED_IDS:
            shown += f",+{len(ids) - _MAX_LOGGED_IDS} more"
        log.info(
            "%s %s %d %dB %.1fms notes=%s",
            scope["method"],
            scope["path"],
            status,
            size,
            (time.perf_counter() - started) * 1000,
            shown or "-",
        )


async def _on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _RefusalError)
    return exc.response


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    key = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    return _error(exc.status_code, key, str(exc.detail), **(exc.headers or {}))


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _on_invalid(request: Request, exc: Exception) -> JSONResponse:
    """400 for malformed JSON, 422 for a body that does not fit; neither echoes the input."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "not JSON")
            loc = err.get("loc") or ()
            at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            return _error(400, "malformed_json", f"malformed JSON{at}: {reason}")
    if any(
        tuple(err.get("loc", ())) == ("body",) and err.get("type") == "missing" for err in errors
    ):
        return _error(422, "invalid_request", "the request has no body; send a JSON object")
    problems = [f"{_where(err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in errors]
    return _error(422, "invalid_request", "; ".join(problems[:10]))


# -- the app ----------------------------------------------------------------------------------


def create_app(
    analyzer: Analyzer | None = None,
    settings: ServiceSettings | None = None,
    *,
    factory: Callable[[], Analyzer] = Analyzer,
) -> FastAPI:
    """The ASGI app. ``analyzer``: serve this one (ready at once); else build with ``factory``.

    The pipeline is built in the app's lifespan: run it under uvicorn, or use
    ``with TestClient(app):`` in tests.
    """
    state = _State(settings or ServiceSettings(), analyzer, factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            if not state.adopt():
                group.start_soon(state.build)
            yield
            group.cancel_scope.cancel()

    app = FastAPI(
        title="docgap",
        version=__version__,
        summary="Does a clinical note support ICD-10-CM M53.0, and if not, why not?",
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.docgap = state
    secured = [Depends(_authorize)]
    app.post(
        "/v1/analyze",
        response_model=ReportOut,
        responses=_ERRORS,
        dependencies=secured,
        tags=["analysis"],
    )(analyze)
    app.post(
        "/v1/analyze/batch",
        response_model=BatchOut,
        responses=_ERRORS,
        dependencies=secured,
        tags=["analysis"],
    )(analyze_batch)
    app.post(
        "/v1/fhir",
        response_model=FhirOut,
        responses=_ERRORS,
        dependencies=secured,
        tags=["analysis"],
        openapi_extra=_FHIR_BODY,
    )(analyze_fhir)
    app.get(
        "/healthz", response_model=StatusOut, response_model_exclude_none=True, tags=["operations"]
    )(healthz)
    app.get(
        "/readyz",
        response_model=StatusOut,
        responses={503: {"model": StatusOut}},
        tags=["operations"],
    )(readyz)
    app.get(
        "/version",
        response_model=VersionOut,
        responses={401: _ERRORS[401]},
        dependencies=secured,
        tags=["operations"],
    )(version)
    app.add_exception_handler(_RefusalError, _on_refusal)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_middleware(_BodyLimit, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(_RequestLog)  # added last: the outermost layer
    return app


def openapi_document(app: FastAPI | None = None) -> str:
    """The OpenAPI schema as stable, indented JSON (what ``docs/openapi.json`` holds)."""
    schema = (app or create_app(settings=ServiceSettings())).openapi()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path | str) -> None:
    """Regenerate the checked-in schema: ``python -c 'from docgap.service import *; ...'``."""
    Path(path).write_text(openapi_document(), encoding="utf-8")


# -- running it -------------------------------------------------------------------------------


def read_token(path: Path | str) -> str:
    """The bearer token in ``path`` (surrounding whitespace ignored); refuses an empty file."""
    path = Path(path)
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    if len(token) < _MIN_TOKEN_CHARS:
        log.warning("the token in %s is shorter than %d characters", path, _MIN_TOKEN_CHARS)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users; chmod 600 it", path)
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes: settings come from the environment."""
    raw = json.loads(os.environ.get(_SETTINGS_ENV, "{}"))
    token_file = raw.pop("token_file", None)
    settings = ServiceSettings(**raw)
    if token_file:
        settings = replace(settings, token=read_token(token_file))
    return create_app(settings=settings)


def _log_config(level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}
    config["loggers"]["docgap"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    token_file: Path | str | None = None,
    *,
    settings: ServiceSettings | None = None,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Run the service under uvicorn until interrupted.

    ``workers`` > 1 starts that many processes, each with its own pipeline (a process per
    core is how the service uses every core); each answers ``/readyz`` for itself.
    uvicorn's access log is off: the request log above replaces it and never names more
    than note ids.
    """
    import uvicorn

    logging.config.dictConfig(_log_config(log_level))
    settings = settings or ServiceSettings()
    if token_file is not None:
        settings = replace(settings, token=read_token(token_file))
    if settings.token is None and not _is_loopback(host):
        log.warning(
            "listening on %s without --token-file: anyone who can reach it can post notes", host
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": _log_config(log_level),
        "log_level": log_level,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        shared = {k: v for k, v in asdict(settings).items() if k != "token"}
        if token_file is not None:
            shared["token_file"] = str(token_file)
        os.environ[_SETTINGS_ENV] = json.dumps(shared)
        uvicorn.run("docgap.service:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings=settings), **options)
