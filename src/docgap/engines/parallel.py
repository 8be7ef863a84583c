"""Analyse notes on several cores, in input order; a worker that dies loses only its note.

Each worker process builds its own :class:`~docgap.analyzer.Analyzer` once, when it
starts, and then analyses the notes the parent hands it one at a time, sending each report
back as soon as it is done. The parent keeps only a bounded number of notes in flight (and
their reports until their turn comes), so memory does not grow with the input; it yields
the reports in input order. When a worker process dies (a crash in native code, the
out-of-memory killer, ``os._exit``), the note it was analysing comes back as an error
record, the notes queued behind it go to a fresh worker, and the run goes on.

spaCy's vocabulary keeps every new word it meets for the life of the pipeline, so on a
long run over varied notes a worker slowly grows; each worker is therefore replaced by a
fresh one after ``recycle_after`` notes (a second or two of start-up every few minutes).

spaCy pipelines built with medspaCy cannot be pickled (its rules hold callbacks), which is
why ``nlp.pipe(n_process=...)`` fails on them: here nothing but notes and reports crosses
a process boundary.
"""

from __future__ import annotations

import logging
import multiprocessing
import selectors
import signal
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from docgap.analyzer import Analyzer
from docgap.engines.loop import NoteHook, analyze_all, analyze_one, failure_report
from docgap.inputs.reading import NoteInput
from docgap.report import NoteReport

__all__ = ["WorkerStartError", "analyze_parallel"]

log = logging.getLogger(__name__)

# Notes handed to one worker ahead of the one it is analysing: enough that it never waits
# for the parent, few enough that a crash re-queues little and memory stays flat.
DEFAULT_PER_WORKER = 8
# Notes a worker analyses before a fresh one replaces it (spaCy's vocabulary only grows).
DEFAULT_RECYCLE_AFTER = 50_000
# A worker that dies before it is ready this many times in a row means the analyzer cannot
# be built (bad rule files, missing model): stop instead of restarting forever.
_MAX_START_FAILURES = 3

WorkerHook = NoteHook


class WorkerStartError(RuntimeError):
    """Worker processes cannot build the analyzer; the run cannot start."""


def _worker_main(
    tasks: Any, results: Connection, options: Mapping[str, Any], hook: WorkerHook | None
) -> None:
    """Build the analyzer, then analyse ``(seq, note)`` tasks until ``None`` arrives."""
    # Ctrl-C reaches the whole process group: the parent decides what to do, not the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        analyzer = Analyzer(**options)
    except Exception as exc:
        results.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    results.send(("ready", tuple(analyzer.pack.elements)))
    while True:
        batch = tasks.get()  # the notes handed out at one time, in one message
        if batch is None:
            return
        for seq, note in batch:  # each report goes back alone: a crash loses only its note
            results.send((seq, analyze_one(analyzer, note, hook)))


@dataclass
class _Worker:
    process: Any
    tasks: Any
    results: Connection
    ready: bool = False
    outstanding: deque[tuple[int, NoteInput]] = field(default_factory=deque)
    assigned: int = 0  # notes handed to it over its life


class _Pool:
    """The worker processes and the notes each one holds."""

    def __init__(
        self,
        size: int,
        options: Mapping[str, Any],
        hook: WorkerHook | None,
        start_method: str | None,
    ) -> None:
        self._ctx: Any = multiprocessing.get_context(start_method or _default_start_method())
        if self._ctx.get_start_method() == "forkserver":
            # Workers fork from a server that has already imported spaCy and docgap.
            self._ctx.set_forkserver_preload(["docgap.analyzer"])
        self._options = dict(options)
        self._hook = hook
        self.workers: list[_Worker] = [self._start() for _ in range(size)]
        self.elements: tuple[str, ...] = ()
        self._start_failures = 0

    def _start(self) -> _Worker:
        tasks = self._ctx.Queue()
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_worker_main,
            args=(tasks, sender, self._options, self._hook),
            name="docgap-worker",
            daemon=True,
        )
        process.start()
        sender.close()  # the child holds its own copy; EOF then means the child is gone
        return _Worker(process, tasks, receiver)

    def replace(self, dead: _Worker) -> _Worker:
        """A fresh worker in the dead one's place."""
        self._retire(dead, kill=True)
        if dead.ready:
            self._start_failures = 0
        else:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                raise WorkerStartError(
                    f"docgap worker processes died while starting {self._start_failures} "
                    f"times in a row (last exit code {dead.process.exitcode})"
                )
        fresh = self._start()
        self.workers[self.workers.index(dead)] = fresh
        return fresh

    def recycle(self, old: _Worker) -> _Worker:
        """Stop a worker that has done its share (it holds no note) and start a fresh one."""
        old.tasks.put(None)
        old.process.join(timeout=10)
        self._retire(old, kill=True)
        fresh = self._start()
        self.workers[self.workers.index(old)] = fresh
        return fresh

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.tasks.cancel_join_thread()
        worker.tasks.close()
        worker.results.close()

    def close(self, *, graceful: bool) -> None:
        """Stop every worker: ask politely after a complete run, kill otherwise."""
        for worker in self.workers:
            if graceful and worker.process.is_alive():
                worker.tasks.put(None)
        for worker in self.workers:
            if graceful:
                worker.process.join(timeout=10)
            self._retire(worker, kill=True)


def _default_start_method() -> str:
    # forkserver: workers fork from a clean single-threaded server with docgap imported
    # (fast to start, safe with the parent's queue threads); spawn where there is no fork.
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def analyze_parallel(
    records: Iterable[NoteInput],
    workers: int,
    *,
    analyzer_options: Mapping[str, Any] | None = None,
    analyzer: Analyzer | None = None,
    per_worker: int = DEFAULT_PER_WORKER,
    recycle_after: int | None = DEFAULT_RECYCLE_AFTER,
    start_method: str | None = None,
    worker_hook: WorkerHook | None = None,
) -> Iterator[NoteReport]:
    """Analyse ``records`` with ``workers`` processes; yield one report per record, in order.

    ``analyzer_options`` are the keyword arguments each worker builds its
    :class:`Analyzer` with; ``analyzer`` is used only when ``workers=1``, which analyses
    in this process. Each worker holds at most ``per_worker`` notes and is replaced after
    ``recycle_after`` notes (``None``: never). ``worker_hook`` is called with each note
    just before the worker analyses it (tests use it to make a worker crash); it must be
    picklable.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if per_worker < 1:
        raise ValueError("per_worker must be at least 1")
    if recycle_after is not None and recycle_after < 1:
        raise ValueError("recycle_after must be at least 1 (or None)")
    options = dict(analyzer_options or {})
    if workers == 1:
        yield from _analyze_here(records, analyzer or Analyzer(**options), worker_hook)
        return
    settings = _Settings(per_worker, recycle_after or 0, start_method, worker_hook)
    yield from _analyze_pooled(records, workers, options, settings)


def _analyze_here(
    records: Iterable[NoteInput], analyzer: Analyzer, hook: WorkerHook | None
) -> Iterator[NoteReport]:
    yield from analyze_all(analyzer, records, hook)


@dataclass(frozen=True)
class _Settings:
    per_worker: int
    recycle_after: int  # 0: never
    start_method: str | None
    hook: WorkerHook | None


def _analyze_pooled(
    records: Iterable[NoteInput], size: int, options: Mapping[str, Any], settings: _Settings
) -> Iterator[NoteReport]:
    source = iter(records)
    retry: deque[tuple[int, NoteInput]] = deque()  # notes a dead worker held, to hand on
    done: dict[int, NoteReport] = {}  # reports waiting for their turn
    next_seq = 0  # sequence number of the next record read from the input
    next_out = 0  # sequence number of the next report to yield
    exhausted = False
    failure: Exception | None = None  # raised by the input, re-raised once the rest is out
    # Reports finished ahead of a slow note wait for it; this caps how many (memory).
    per_worker, recycle_after = settings.per_worker, settings.recycle_after
    max_ahead = 2 * size * per_worker
    pool = _Pool(size, options, settings.hook, settings.start_method)
    by_handle: dict[Any, _Worker] = {}  # what to wait on: each worker's pipe and process
    # by_handle's handles, registered once each time by_handle changes
    watch: selectors.BaseSelector = selectors.DefaultSelector()
    graceful = False
    try:
        while True:
            # Hand out work: re-queued notes first, then new ones, at most per_worker each.
            # A worker is topped up once half its notes are done, so each hand-out is a
            # batch (one message) and it still holds notes to work on meanwhile.
            for worker in sorted(pool.workers, key=lambda w: len(w.outstanding)):
                if len(worker.outstanding) > per_worker // 2:
                    continue
                batch: list[tuple[int, NoteInput]] = []
                while len(worker.outstanding) < per_worker:
                    if recycle_after and worker.assigned >= recycle_after:
                        break  # its share is done: it is replaced once it has finished
                    if retry:
                        task = retry.popleft()
                    elif not exhausted and next_seq - next_out < max_ahead:
                        try:
                            note = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        except Exception as exc:  # an input that goes bad: finish what was read
                            failure, exhausted = exc, True
                            break
                        task = (next_seq, note)
                        next_seq += 1
                    else:
                        break
                    worker.outstanding.append(task)
                    worker.assigned += 1
                    batch.append(task)
                if batch:  # one message (one pickle, one feeder wake-up) per hand-out
                    worker.tasks.put(batch)
            if exhausted and not retry and next_out == next_seq:
                graceful = True
                if failure is not None:
                    raise failure
                return
            if not by_handle:
                by_handle = {h: w for w in pool.workers for h in (w.results, w.process.sentinel)}
                watch.close()
                watch = _watch(by_handle)
            # Walk a snapshot: burying or recycling a worker rebuilds ``by_handle`` while
            # the other handle of the same (dead) worker may still be in this ready list.
            handles = by_handle
            for key, _ in watch.select():
                handle = key.data
                worker = handles[handle]
                if worker not in pool.workers:
                    continue  # replaced earlier in this round
                if handle is worker.results and _drain(pool, worker, done):
                    spent = recycle_after and worker.assigned >= recycle_after
                    more = retry or not exhausted  # no fresh worker just to stop it
                    if spent and more and not worker.outstanding:
                        pool.recycle(worker)
                        by_handle = {}  # a new worker: new handles
                    continue
                _bury(pool, worker, retry, done)
                by_handle = {}
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
    finally:
        watch.close()
        pool.close(graceful=graceful)


def _watch(handles: Mapping[Any, _Worker]) -> selectors.BaseSelector:
    """A selector over the workers' result pipes and process sentinels, kept between waits.

    ``multiprocessing.connection.wait`` builds and fills a new selector on every call: at
    hundreds of reports a second that was most of the parent's time, on a core the workers
    need (issue 13: two workers at least 1.8x one).
    """
    watch = selectors.DefaultSelector()
    for handle in handles:
        watch.register(handle, selectors.EVENT_READ, handle)
    return watch


def _drain(pool: _Pool, worker: _Worker, done: dict[int, Any]) -> bool:
    """Receive one message the worker has sent; False if its pipe is closed (it died).

    One, not all: ``Connection.poll`` builds a selector on each call, and the kept selector
    reports the pipe again while messages remain.
    """
    try:
        _receive(pool, worker, worker.results.recv(), done)
    except (EOFError, OSError):
        return False
    return True  # more messages in the pipe wake the selector again


def _receive(pool: _Pool, worker: _Worker, message: tuple[Any, ...], done: dict[int, Any]) -> None:
    if message[0] == "ready":
        worker.ready = True
        pool.elements = message[1]
    elif message[0] == "failed":
        raise WorkerStartError(f"docgap worker could not build the analyzer: {message[1]}")
    else:
        seq, report = message
        expected, _ = worker.outstanding.popleft()
        if seq != expected:  # pragma: no cover - a worker answers in the order it was asked
            raise RuntimeError(f"worker answered note #{seq}, expected #{expected}")
        done[seq] = report


def _bury(
    pool: _Pool, worker: _Worker, retry: deque[tuple[int, NoteInput]], done: dict[int, Any]
) -> None:
    """A worker died: keep what it finished, fail the note it was on, re-queue the rest."""
    while True:  # reports it sent before dying are still in the pipe
        try:
            if not worker.results.poll():
                break
            message = worker.results.recv()
        except (EOFError, OSError):
            break
        _receive(pool, worker, message, done)
    worker.process.join(timeout=5)
    code = worker.process.exitcode
    if worker.ready and worker.outstanding:  # one that dies while starting blames no note
        seq, note = worker.outstanding.popleft()
        log.error("note %s: worker process died (exit code %s)", note.note_id, code)
        done[seq] = failure_report(
            note, f"worker process died while analysing this note (exit code {code})", pool.elements
        )
    retry.extendleft(reversed(worker.outstanding))
    worker.outstanding.clear()
    pool.replace(worker)
