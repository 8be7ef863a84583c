r"""An MLLP listener for HL7 v2 MDM: every message framed, analysed and acknowledged.

Interface engines push transcribed documents over MLLP (``\x0b message \x1c\r`` on a TCP
connection) and wait for an ACK per message. This module has two parts with one job each:

* :class:`MdmProcessor` turns one received message into its ACK (synchronously, no
  sockets): ``AA`` when the document was analysed (or the cancellation recorded), ``AE``
  with a reason when it parses but cannot be analysed, ``AR`` for a message type or HL7
  version docgap does not take. Reports go to a :class:`ReportSink`, cancellations to a
  :class:`CancellationSink`; the worklist database (issue 16) implements both.
* :func:`serve_mllp` runs the asyncio server: one task per connection, analysis on one
  worker thread (an :class:`~docgap.analyzer.Analyzer` is not shared across threads), and
  on SIGTERM it stops accepting, answers every frame it has fully received, then returns.

A client that disconnects mid-frame loses only that unfinished frame; a bad message gets
its ``AE``/``AR`` and the connection goes on. No log line holds message content (PHI).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from docgap.engines.loop import analyze_one, failure_report
from docgap.inputs.hl7 import END, START, Cancellation, MdmMessage, parse_mdm

if TYPE_CHECKING:
    from docgap.analyzer import Analyzer
    from docgap.report import NoteReport

__all__ = [
    "CancellationSink",
    "JsonlCancellationSink",
    "MdmProcessor",
    "ReportSink",
    "ReportSinks",
    "TextReportSink",
    "build_ack",
    "run_mllp",
    "serve_mllp",
]

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024 * 1024
_READ = 65_536
_ACK_TEXT_MAX = 80


class ReportSink(Protocol):
    """Where analysed reports go (a :class:`~docgap.outputs.writers.ReportWriter` is one)."""

    def write(self, report: NoteReport) -> None:
        """Keep one report."""


@runtime_checkable
class TextReportSink(Protocol):
    """A report sink that also keeps the note's text (the worklist database does)."""

    def write_with_text(self, report: NoteReport, text: str | None) -> None:
        """Keep one report and the text it was made from."""


class ReportSinks:
    """Several report sinks as one (``docgap mllp --db URL --out FILE`` writes to both)."""

    def __init__(self, *sinks: ReportSink) -> None:
        self.sinks = sinks

    def write(self, report: NoteReport) -> None:
        """Hand ``report`` to every sink."""
        self.write_with_text(report, None)

    def write_with_text(self, report: NoteReport, text: str | None) -> None:
        """Hand ``report`` to every sink, with its text to those that keep it."""
        for sink in self.sinks:
            _write(sink, report, text)


def _write(sink: ReportSink, report: NoteReport, text: str | None) -> None:
    if isinstance(sink, TextReportSink):
        sink.write_with_text(report, text)
    else:
        sink.write(report)


class CancellationSink(Protocol):
    """Where MDM^T11 cancellations go: off the open worklist, and into its audit."""

    def cancel(self, cancellation: Cancellation) -> None:
        """Record that ``cancellation.note_id`` was withdrawn."""


class JsonlCancellationSink:
    """Cancellations as JSON Lines (one object per T11, flushed), when there is no database."""

    def __init__(self, path: Path | str) -> None:
        self.handle = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._lock = threading.Lock()

    def cancel(self, cancellation: Cancellation) -> None:
        """Append ``{"note_id", "action": "cancelled", "at", "meta"}``."""
        record = {
            "note_id": cancellation.note_id,
            "action": "cancelled",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "meta": cancellation.meta,
        }
        with self._lock:
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.handle.flush()

    def close(self) -> None:
        """Close the file."""
        self.handle.close()

    def __enter__(self) -> JsonlCancellationSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def _escape(value: str) -> str:
    """ACK text with HL7 delimiters escaped (the escape character first)."""
    for char, seq in _ESCAPES:
        value = value.replace(char, seq)
    return value.replace("\r", " ").replace("\n", " ")


_ack_ids = itertools.count(1)


def build_ack(message: MdmMessage, code: str, text: str | None = None) -> bytes:
    """The ACK for ``message`` (MSH + MSA, plus ERR for AE/AR), MLLP-framed."""
    now = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    app, facility = (_escape(v) for v in message.receiver)
    to_app, to_facility = (_escape(v) for v in message.sender)
    trigger = message.event or ""
    version = _escape(message.version)
    control = f"DG{now}{next(_ack_ids):06d}"
    segments = [
        f"MSH|^~\\&|{app or 'DOCGAP'}|{facility}|{to_app}|{to_facility}|{now}||"
        f"ACK^{trigger}^ACK|{control}|P|{version}",
        f"MSA|{code}|{_escape(message.control_id or '')}"
        + (f"|{_escape(text[:_ACK_TEXT_MAX])}" if text else ""),
    ]
    if code != "AA" and text:
        error_code = "200" if code == "AR" else "207"  # unsupported / application error
        level = "E"
        segments.append(f"ERR|||{error_code}^{_escape(text[:_ACK_TEXT_MAX])}^HL70357|{level}")
    return START + "\r".join(segments).encode("utf-8") + b"\r" + END + b"\r"


class MdmProcessor:
    """One message in, its ACK out; reports and cancellations handed to their sinks.

    ``analyzer_getter`` is called on first use, so a listener starts accepting at once and
    the analyzer is built by the worker thread that uses it.
    """

    def __init__(
        self,
        analyzer_getter: Callable[[], Analyzer],
        reports: ReportSink | None = None,
        cancellations: CancellationSink | None = None,
        *,
        max_chars: int | None = None,
    ) -> None:
        self.analyzer_getter = analyzer_getter
        self.reports = reports
        self.cancellations = cancellations
        self.max_chars = max_chars
        self.counts: dict[str, int] = {"AA": 0, "AE": 0, "AR": 0}

    def _ack(self, message: MdmMessage, code: str, text: str | None = None) -> bytes:
        self.counts[code] += 1
        return build_ack(message, code, text)

    def process(self, raw: bytes) -> bytes:
        """The ACK for one message (never raises: an internal failure is an ``AE``)."""
        message = (
            parse_mdm(raw) if self.max_chars is None else parse_mdm(raw, max_chars=self.max_chars)
        )
        try:
            return self._process(message)
        except Exception as exc:  # a sink that fails: refuse the message, keep serving
            log.error("MLLP message not processed (%s)", type(exc).__name__)
            return self._ack(message, "AE", f"internal error ({type(exc).__name__})")

    def _process(self, message: MdmMessage) -> bytes:
        if message.outcome == "unsupported":
            return self._ack(message, "AR", message.reason)
        if message.outcome == "cancel":
            assert message.cancellation is not None
            if self.cancellations is not None:
                self.cancellations.cancel(_with_sender(message))
            return self._ack(message, "AA", "cancellation recorded")
        if message.outcome == "invalid" or message.note is None:
            reason = message.reason or "message cannot be analysed"
            if message.note is not None and self.reports is not None:
                analyzer = self.analyzer_getter()
                _write(
                    self.reports,
                    failure_report(message.note, reason, analyzer.pack.elements),
                    message.note.text,
                )
            return self._ack(message, "AE", reason)
        report = analyze_one(self.analyzer_getter(), message.note)
        if self.reports is not None:
            _write(self.reports, report, message.note.text)
        if report.error is not None:
            return self._ack(message, "AE", report.error)
        return self._ack(message, "AA", f"analysed: {report.status}")


def _with_sender(message: MdmMessage) -> Cancellation:
    """The cancellation with who sent it (MSH-3/MSH-4), for the audit log's user."""
    assert message.cancellation is not None
    app, facility = message.sender
    meta = dict(message.cancellation.meta)
    if app:
        meta.setdefault("sending_application", app)
    if facility:
        meta.setdefault("sending_facility", facility)
    return replace(message.cancellation, meta=meta)


class _Server:
    """Connections, the frames they have delivered, and a clean stop."""

    def __init__(self, processor: MdmProcessor, max_frame: int) -> None:
        self.processor = processor
        self.max_frame = max_frame
        self.stopping = asyncio.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docgap-mllp")
        self.connections: set[asyncio.Task[None]] = set()

    async def _answer(self, frame: bytes, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        ack = await loop.run_in_executor(self.executor, self.processor.process, frame)
        writer.write(ack)
        await writer.drain()

    async def _next_chunk(self, reader: asyncio.StreamReader) -> bytes:
        """The next bytes, or b"" at end of stream or when the server is stopping."""
        read = asyncio.ensure_future(reader.read(_READ))
        stop = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
        if read in done:
            stop.cancel()
            return read.result()
        read.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await read
        return b""

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        buffer = b""
        try:
            while True:
                while START in buffer and END in buffer[buffer.index(START) :]:
                    begin = buffer.index(START) + 1
                    end = buffer.index(END, begin)
                    frame, buffer = buffer[begin:end], buffer[end + 1 :].lstrip(b"\r\n")
                    await self._answer(frame, writer)  # accepted: answered even when stopping
                if START not in buffer:
                    buffer = b""  # bytes outside a frame are line noise
                if len(buffer) > self.max_frame:
                    log.warning("MLLP frame over %d bytes: connection closed", self.max_frame)
                    return
                chunk = await self._next_chunk(reader)
                if not chunk:
                    if START in buffer:
                        log.warning("MLLP client left mid-frame: the partial frame is dropped")
                    return
                buffer += chunk
        except (ConnectionError, asyncio.IncompleteReadError):
            log.warning("MLLP client connection lost")
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def serve_mllp(
    host: str,
    port: int,
    processor: MdmProcessor,
    *,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
    max_frame: int = MAX_FRAME_BYTES,
) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives; ``ready(port)`` once listening.

    On stop: no new connections, every fully received frame is answered, then it returns.
    """
    state = _Server(processor, max_frame)
    server = await asyncio.start_server(state.connection, host, port)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, state.stopping.set)
            handled.append(signum)
    if stop is not None:
        stop_task = asyncio.ensure_future(stop.wait())
        stop_task.add_done_callback(lambda _: state.stopping.set())
    try:
        if ready is not None:
            ready(server.sockets[0].getsockname()[1])
        await state.stopping.wait()
        server.close()
        await server.wait_closed()
        if state.connections:
            await asyncio.gather(*state.connections, return_exceptions=True)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        state.executor.shutdown(wait=True)


def run_mllp(
    host: str,
    port: int,
    processor: MdmProcessor,
    *,
    ready: Callable[[int], None] | None = None,
) -> None:
    """:func:`serve_mllp` in its own event loop (the ``docgap mllp`` command)."""
    asyncio.run(serve_mllp(host, port, processor, ready=ready))
