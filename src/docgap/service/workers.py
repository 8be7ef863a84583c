"""The analyzer pool: notes analysed in worker threads, off the event loop.

spaCy pipelines are not guaranteed thread-safe, so each thread takes an Analyzer of its own
from the pool for a whole request; health checks keep answering while notes are analysed.
The pipeline is built once per process, in the background after start-up.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence
from typing import Annotated

import anyio
from fastapi import Depends, Request

from docgap.analyzer import AnalysisTimeout, Analyzer
from docgap.inputs.fhir import fhir_models
from docgap.inputs.reading import NoteInput
from docgap.report import NoteReport
from docgap.service.schemas import RefusalError
from docgap.service.settings import ServiceSettings

__all__ = ["ServiceState", "WorkerPool", "Workers", "service_state"]

log = logging.getLogger(__name__)

_WARM_UP = "Neck pain with occipital headache."  # not a note: exercises the pipeline once


class _ExpiredError(Exception):
    """The request's deadline passed before its notes were analysed."""


class WorkerPool:
    """A fixed set of Analyzers, each used by one thread at a time."""

    def __init__(self, analyzers: Sequence[Analyzer]) -> None:
        self._idle: queue.SimpleQueue[Analyzer] = queue.SimpleQueue()
        for analyzer in analyzers:
            self._idle.put(analyzer)
        self.count = len(analyzers)
        self.first = analyzers[0]
        self._limiter = anyio.CapacityLimiter(self.count)

    def _work(self, notes: list[NoteInput], deadline: float) -> list[NoteReport]:
        """Analyse in this thread; the request's deadline also stops a long note between chunks.

        The event loop answers 504 at the deadline; without the deadline inside the analysis
        a timed-out thread would run on (holding its analyzer) to the end of a long note.
        """
        analyzer = self._idle.get()
        try:
            reports = []
            for note in notes:
                if time.monotonic() > deadline:  # the caller has given up: do no more work
                    raise _ExpiredError
                try:
                    reports.append(analyzer.analyze_input(note, deadline=deadline))
                except AnalysisTimeout:
                    raise _ExpiredError from None
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
            raise RefusalError(
                504, "timeout", f"analysis took longer than the {timeout:g} s request timeout"
            ) from None


# -- application state ------------------------------------------------------------------------


class ServiceState:
    """What the endpoints share: settings, and the workers once the pipeline is built."""

    def __init__(
        self, settings: ServiceSettings, analyzer: Analyzer | None, factory: Callable[[], Analyzer]
    ) -> None:
        self.settings = settings
        self.analyzer = analyzer
        self.factory = factory
        self.workers: WorkerPool | None = None
        self.failure: str | None = None

    def adopt(self) -> bool:
        """Serve the analyzer given to ``create_app``, if any (ready at once)."""
        if self.analyzer is None:
            return False
        self.workers = WorkerPool([self.analyzer])
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
        self.workers = WorkerPool(analyzers)
        log.info("ready: %d analyzer(s) built in %.1f s", count, time.monotonic() - started)


def service_state(request: Request) -> ServiceState:
    """The state ``create_app`` put on the app."""
    state: ServiceState = request.app.state.docgap
    return state


def _workers(request: Request) -> WorkerPool:
    state = service_state(request)
    if state.workers is None:
        detail = state.failure or "the pipeline is still being built; retry shortly"
        raise RefusalError(503, "not_ready", detail, {"Retry-After": "2"})
    return state.workers


Workers = Annotated[WorkerPool, Depends(_workers)]
