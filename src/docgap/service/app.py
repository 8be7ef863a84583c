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
import ipaddress
import json
import logging
import logging.config
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from docgap import __version__
from docgap.analyzer import Analyzer
from docgap.inputs.fhir import FhirError, MalformedJsonError, parse_fhir_json
from docgap.inputs.reading import NoteInput
from docgap.service.docs import add_docs
from docgap.service.fhir_out import FHIR_JSON, findings_bundle, outcome_response, subjects_of
from docgap.service.integrations import mount_integrations
from docgap.service.middleware import (
    BodyLimit,
    RequestLog,
    authorize,
    log_ids,
    on_http_error,
    on_invalid,
    on_refusal,
)
from docgap.service.schemas import (
    ERROR_RESPONSES,
    FHIR_BODY,
    AnalysisOut,
    BatchIn,
    BatchOut,
    NoteIn,
    RefusalError,
    StatusOut,
    VersionOut,
    analysis_body,
)
from docgap.service.settings import SETTINGS_ENV, ServiceSettings, read_token
from docgap.service.slow_clients import (
    BodyTimeout,
    HeaderTimeoutProtocol,
    header_timeout_protocol,
)
from docgap.service.workers import ServiceState, Workers, service_state

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

_DESCRIPTION = (
    "Per-note reports, the same records as `docgap scan` writes. Errors are "
    '`{"error": key, "detail": message}` and never echo the note. See the README for limits, '
    "exit codes of `docgap check`, and authentication."
)


def _check_sizes(notes: Sequence[NoteInput], settings: ServiceSettings) -> None:
    limit = settings.max_note_chars
    large = [n.note_id for n in notes if n.text is not None and len(n.text) > limit]
    if large:
        shown = ", ".join(large[:10]) + (f" and {len(large) - 10} more" if len(large) > 10 else "")
        raise RefusalError(
            413, "note_too_large", f"note(s) longer than {limit:,} characters: {shown}"
        )


# -- endpoints --------------------------------------------------------------------------------


async def analyze(body: NoteIn, request: Request, workers: Workers) -> JSONResponse:
    """Analyse one note; answers the note's report (the same record as `docgap scan`)."""
    note = NoteInput(body.note_id or "note", body.text)
    log_ids(request, [note.note_id])
    if not body.text.strip():  # nothing to analyse is a bad request, not a report
        raise RefusalError(422, "empty_note", "text is empty or only whitespace")
    settings = service_state(request).settings
    _check_sizes([note], settings)
    (report,) = await workers.analyze([note], settings.timeout_seconds)
    return JSONResponse(analysis_body(report.to_dict()))


async def analyze_batch(body: BatchIn, request: Request, workers: Workers) -> JSONResponse:
    """Analyse several notes; answers their reports in order."""
    settings = service_state(request).settings
    if len(body.notes) > settings.max_batch:
        raise RefusalError(
            413,
            "batch_too_large",
            f"{len(body.notes)} notes in one batch; the limit is {settings.max_batch}",
        )
    notes = [NoteInput(n.note_id or f"note-{i}", n.text) for i, n in enumerate(body.notes, start=1)]
    log_ids(request, [n.note_id for n in notes])
    _check_sizes(notes, settings)
    reports = await workers.analyze(notes, settings.timeout_seconds)
    return JSONResponse({"reports": [analysis_body(r.to_dict()) for r in reports]})


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _fhir_problem(exc: FhirError) -> str:
    """The FHIR parser's message without the input's values (quoted values, resource types)."""
    text = str(exc)
    if text.startswith("expected a FHIR DocumentReference or Bundle"):
        return "expected a FHIR DocumentReference or Bundle (resourceType)"
    if text.startswith("Bundle holds no DocumentReference"):
        return "Bundle holds no DocumentReference"
    return _QUOTED.sub("(value withheld)", text)


async def analyze_fhir(request: Request, workers: Workers) -> JSONResponse:
    """Analyse a FHIR DocumentReference or Bundle; answers a FHIR Bundle of DetectedIssues.

    One ``DetectedIssue`` per gap (implicating the DocumentReference, ``patient`` its
    ``subject``), one ``OperationOutcome`` per note not analysed or without a gap; a refused
    request is an ``OperationOutcome`` (see :mod:`docgap.service.fhir_out`).
    """
    settings = service_state(request).settings
    body = await request.body()
    try:  # parsing and validating a large Bundle is CPU work too: off the event loop
        notes = await anyio.to_thread.run_sync(parse_fhir_json, body)
    except MalformedJsonError as exc:
        raise RefusalError(400, "malformed_json", str(exc)) from None
    except FhirError as exc:
        raise RefusalError(422, "invalid_fhir", _fhir_problem(exc)) from None
    log_ids(request, [n.note_id for n in notes.records])
    if len(notes.records) > settings.max_batch:
        raise RefusalError(
            413,
            "batch_too_large",
            f"{len(notes.records)} DocumentReferences in one Bundle; the limit is "
            f"{settings.max_batch}",
        )
    _check_sizes(notes.records, settings)
    reports = await workers.analyze(notes.records, settings.timeout_seconds)
    subjects = subjects_of(json.loads(body))
    bundle = findings_bundle([r.to_dict() for r in reports], subjects, notes.skipped)
    return JSONResponse(bundle, media_type=FHIR_JSON)


class _FhirErrors:
    """Errors of ``/v1/fhir`` answered as FHIR ``OperationOutcome`` (FHIR clients expect it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/v1/fhir":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def rewriting_send(message: Any) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            answer = outcome_response(start["status"], b"".join(chunks))
            for name, value in start.get("headers", []):
                if name.lower() in (b"www-authenticate", b"retry-after"):
                    answer.headers[name.decode("latin-1")] = value.decode("latin-1")
            await answer(scope, receive, send)

        await self.app(scope, receive, rewriting_send)


async def healthz() -> StatusOut:
    """Liveness: the process answers (the pipeline may still be building)."""
    return StatusOut(status="ok")


async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 once the pipeline is built, 503 before (or if it failed to build)."""
    state = service_state(request)
    if state.workers is not None:
        return JSONResponse({"status": "ready", "detail": f"{state.workers.count} analyzer(s)"})
    if state.failure is not None:
        return JSONResponse({"status": "failed", "detail": state.failure}, status_code=503)
    return JSONResponse({"status": "starting", "detail": "building the pipeline"}, status_code=503)


_MODEL_KEYS = ("model_sha256", "lexicon_sha256", "trained_at", "created", "docgap_version")


def _model_info(analyzer: Analyzer) -> dict[str, Any] | None:
    """The loaded review model's identity (its metadata's hashes and dates), or None."""
    model = getattr(analyzer, "model", None)
    if model is None:
        return None
    metadata = getattr(model, "metadata", None) or {}
    info: dict[str, Any] = {k: metadata[k] for k in _MODEL_KEYS if k in metadata}
    info["classes"] = list(getattr(model, "classes", ()))
    info["review_threshold"] = getattr(model, "threshold", None)
    return info


async def version(request: Request) -> VersionOut:
    """The version of docgap, the hash of the rules in use, and the model (null if none)."""
    workers = service_state(request).workers
    analyzer = workers.first if workers is not None else None
    return VersionOut(
        docgap=__version__,
        lexicon_sha256=analyzer.lexicon_hash if analyzer is not None else None,
        model=_model_info(analyzer) if analyzer is not None else None,
        ready=workers is not None,
    )


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
    state = ServiceState(settings or ServiceSettings(), analyzer, factory)

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
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.docgap = state
    secured = [Depends(authorize)]
    app.post(
        "/v1/analyze",
        response_model=AnalysisOut,
        responses=ERROR_RESPONSES,
        dependencies=secured,
        tags=["analysis"],
    )(analyze)
    app.post(
        "/v1/analyze/batch",
        response_model=BatchOut,
        responses=ERROR_RESPONSES,
        dependencies=secured,
        tags=["analysis"],
    )(analyze_batch)
    app.post(
        "/v1/fhir",
        response_class=JSONResponse,
        responses={
            200: {
                "description": "A FHIR Bundle (collection) of DetectedIssue and OperationOutcome.",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            },
            **{
                code: {
                    "description": value["description"] + " A FHIR OperationOutcome.",
                    "content": {FHIR_JSON: {"schema": {"type": "object"}}},
                }
                for code, value in ERROR_RESPONSES.items()
            },
        },
        dependencies=secured,
        tags=["analysis"],
        openapi_extra=FHIR_BODY,
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
        responses={401: ERROR_RESPONSES[401]},
        dependencies=secured,
        tags=["operations"],
    )(version)
    mount_integrations(app, state)
    if state.settings.docs:
        add_docs(app, secured)
    app.add_exception_handler(RefusalError, on_refusal)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_middleware(_FhirErrors)
    app.add_middleware(BodyLimit, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(BodyTimeout, seconds=state.settings.body_timeout_seconds)
    app.add_middleware(RequestLog)  # added last: the outermost layer
    return app


def openapi_document(app: FastAPI | None = None) -> str:
    """The OpenAPI schema as stable, indented JSON (what ``docs/openapi.json`` holds)."""
    schema = (app or create_app(settings=ServiceSettings())).openapi()
    schema.pop("servers", None)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path | str) -> None:
    """Regenerate the checked-in schema: ``python -c 'from docgap.service import *; ...'``."""
    Path(path).write_text(openapi_document(), encoding="utf-8")


# -- running it -------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes: settings come from the environment."""
    raw = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
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
        "http": header_timeout_protocol(settings.header_timeout_seconds)
        if workers == 1
        else HeaderTimeoutProtocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
    }
    if workers > 1:
        shared = {k: v for k, v in asdict(settings).items() if k != "token"}
        if token_file is not None:
            shared["token_file"] = str(token_file)
        os.environ[SETTINGS_ENV] = json.dumps(shared)
        uvicorn.run("docgap.service:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings=settings), **options)
