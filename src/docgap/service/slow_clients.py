"""Slow or hostile clients: request headers and bodies must arrive in time, or 408.

uvicorn closes idle keep-alive connections, but a connection that has sent part of its
request line or headers is held open for ever (its keep-alive timer is cancelled by the first
byte), so 150 such connections exhaust the server. :class:`HeaderTimeoutProtocol` is uvicorn's
h11 protocol with a header deadline: from the connection (or the end of the previous
response) to the end of the headers. :class:`BodyTimeout` is the ASGI side: the whole body
must arrive within its deadline. Both answer ``408`` with the service's JSON error and close.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import anyio
import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from docgap.service.middleware import ASGIApp, Message, Receive, Scope, Send
from docgap.service.settings import SETTINGS_ENV

__all__ = ["BodyTimeout", "HeaderTimeoutProtocol", "header_timeout_protocol"]

_BODY = json.dumps(
    {"error": "request_timeout", "detail": "the request headers did not arrive in time"}
).encode()
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, answering 408 when a request's headers take too long."""

    header_timeout: float | None = None  # None: from the worker's environment, else 10 s

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock as the connection opens."""
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(_seconds(self), self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        """Stop the clock once the headers are complete; restart it for a new request."""
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # bytes of a request line or headers, not complete yet
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        """Between requests uvicorn's keep-alive timer rules; the header clock is off."""
        self._disarm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is under way (pipelining): not a slow client
        self.logger.info("closed a connection whose request headers took too long (408)")
        self.transport.write(_408)
        self.transport.close()


def _seconds(protocol: HeaderTimeoutProtocol) -> float:
    """The class's deadline; worker processes (which get the plain class) read settings."""
    if protocol.header_timeout is not None:
        return protocol.header_timeout
    raw = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
    return float(raw.get("header_timeout_seconds", 10.0))


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this header deadline.

    Not picklable: worker processes get :class:`HeaderTimeoutProtocol` itself instead.
    """
    return type("HeaderTimeout", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


class BodyTimeout:
    """408 when the request body has not all arrived ``seconds`` after the app first asks."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (other scope types pass through untouched)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()
            if deadline is None:
                deadline = anyio.current_time() + self.seconds
            try:
                with anyio.fail_after(max(deadline - anyio.current_time(), 0)):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlowError from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except _BodyTooSlowError:
            if started:
                raise
            await _send_408(send)
        except Exception as exc:  # an app or middleware may wrap the error: find it
            if not _caused_by_slow_body(exc) or started:
                raise
            await _send_408(send)


class _BodyTooSlowError(Exception):
    """The body did not arrive in time (turned into a 408 by :class:`BodyTimeout`)."""


def _caused_by_slow_body(exc: BaseException) -> bool:
    seen: Any = exc
    while seen is not None:
        if isinstance(seen, _BodyTooSlowError):
            return True
        group = getattr(seen, "exceptions", None)  # an ExceptionGroup (3.10: the backport)
        if isinstance(group, (list, tuple)):
            return any(_caused_by_slow_body(e) for e in group)
        seen = seen.__cause__ or seen.__context__
    return False


async def _send_408(send: Send) -> None:
    body = json.dumps(
        {"error": "request_timeout", "detail": "the request body did not arrive in time"}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
