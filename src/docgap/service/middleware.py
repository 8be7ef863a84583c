"""What wraps every request: the bearer token, the body limit, the request log, errors.

Notes are PHI: the log names methods, paths, sizes, durations and note ids, never text; an
unexpected exception is logged by type only; no error answer echoes the input.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from docgap.service.schemas import RefusalError, error_response
from docgap.service.workers import service_state

__all__ = [
    "BodyLimit",
    "RequestLog",
    "authorize",
    "log_ids",
    "on_http_error",
    "on_invalid",
    "on_refusal",
    "safe",
]

log = logging.getLogger(__name__)

_MAX_LOGGED_IDS = 20

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_bearer = HTTPBearer(auto_error=False, description="The token from `docgap serve --token-file`.")


def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse (401) a request without the configured bearer token (constant-time compare)."""
    expected = service_state(request).settings.token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


def log_ids(request: Request, ids: list[str]) -> None:
    """Hand the note ids to the request log (ids only, never text)."""
    request.scope["docgap.note_ids"] = ids


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")


def safe(value: object) -> str:
    r"""``value`` with control characters escaped (``\\n``, ``\\x1b``...): one log line stays one.

    A client chooses note ids and paths; unescaped, a newline in one would forge a second
    log line (and an ANSI escape would rewrite the terminal showing the log).
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return "\\\\" if char == "\\" else char.encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(escape, str(value))


async def _send_error(send: Send, status: int, key: str, detail: str) -> None:
    body = json.dumps({"error": key, "detail": detail}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Reject bodies over the limit with 413 before the app reads them (no JSON is parsed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (other scope types pass through untouched)."""
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


class RequestLog:
    """One log line per request (method, path, status, bytes, ms, note ids) and no tracebacks.

    Sits outside every other layer: an unexpected exception becomes a 500 JSON answer here
    and is logged by type only, since its message or traceback could quote a note.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (other scope types pass through untouched)."""
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
            log.error(
                "%s %s failed (%s)", safe(scope["method"]), safe(scope["path"]), type(exc).__name__
            )
            if status == 0:
                status = 500
                await _send_error(send, 500, "internal", "internal error; see the service log")
        ids = scope.get("docgap.note_ids") or []
        shown = ",".join(safe(i) for i in ids[:_MAX_LOGGED_IDS])
        if len(ids) > _MAX_LOGGED_IDS:
            shown += f",+{len(ids) - _MAX_LOGGED_IDS} more"
        log.info(
            "%s %s %d %dB %.1fms notes=%s",
            safe(scope["method"]),
            safe(scope["path"]),
            status,
            size,
            (time.perf_counter() - started) * 1000,
            shown or "-",
        )


async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
    """The answer an endpoint or worker decided (``RefusalError``)."""
    assert isinstance(exc, RefusalError)
    return exc.response


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (401, 404, 405) in the service's one error shape."""
    assert isinstance(exc, HTTPException)
    key = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    return error_response(exc.status_code, key, str(exc.detail), **(exc.headers or {}))


_FIELDS = frozenset({"notes", "note_id", "text"})  # the request models' own field names


def _where(loc: Sequence[Any], *, extra: bool = False) -> str:
    """Where in the body: our field names and list positions only, never a client's key."""
    parts = [p for p in loc if p != "body"]
    if extra and parts:
        parts = parts[:-1]  # the unknown key itself is the client's text
    shown = [str(p) if isinstance(p, int) or p in _FIELDS else "?" for p in parts]
    return ".".join(shown) or "body"


def _problem(err: Mapping[str, Any]) -> str:
    """One validation problem in our words (pydantic's messages never quote the input)."""
    if err.get("type") == "extra_forbidden":
        return f"{_where(err.get('loc', ()), extra=True)}: a field not in the schema"
    return f"{_where(err.get('loc', ()))}: {err.get('msg', 'invalid')}"


async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
    """400 for malformed JSON, 422 for a body that does not fit; neither echoes the input."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "not JSON")
            loc = err.get("loc") or ()
            at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            return error_response(400, "malformed_json", f"malformed JSON{at}: {reason}")
    if any(
        tuple(err.get("loc", ())) == ("body",) and err.get("type") == "missing" for err in errors
    ):
        return error_response(422, "invalid_request", "the request has no body; send a JSON object")
    problems = list(dict.fromkeys(_problem(err) for err in errors))
    return error_response(422, "invalid_request", "; ".join(problems[:10]))
