"""``docgap mllp``: an MLLP listener that analyses HL7 v2 MDM documents and ACKs each one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docgap.cli.base import _default_analyzer, _fail, _internal_errors, _say, app

if TYPE_CHECKING:
    from docgap.engines.mllp import CancellationSink
    from docgap.inputs.hl7 import Cancellation


@app.command()
def mllp(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 2575,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            dir_okay=False,
            help="JSON Lines report file, appended (default: stdout; none with --db).",
        ),
    ] = None,
    cancellations: Annotated[
        Path | None,
        typer.Option(
            "--cancellations",
            dir_okay=False,
            help="JSON Lines file of MDM^T11 cancellations, appended "
            "(default: next to --out as OUT.cancellations.jsonl; none without --out).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Worklist database URL (e.g. sqlite:///docgap.db): reports are ingested and "
            "T11 cancellations take notes off the open worklist, audited. --out may be given too.",
        ),
    ] = None,
) -> None:
    """Listen for MDM^T02/T04/T06/T08/T10 (documents) and T11 (cancellations) over MLLP.

    Every message gets an ACK: AA analysed, AE with a reason when it parses but cannot be
    analysed, AR for a message type or version docgap does not take. SIGTERM stops it after
    every received message has been answered.
    """
    from docgap.engines.mllp import (
        JsonlCancellationSink,
        MdmProcessor,
        ReportSink,
        ReportSinks,
        run_mllp,
    )
    from docgap.outputs.writers import open_writer

    if cancellations is None and out is not None and str(out) != "-":
        cancellations = out.with_name(out.name + ".cancellations.jsonl")
    if db is not None:
        _check_db(db)
    with _internal_errors():
        analyzer = _default_analyzer()
        with contextlib.ExitStack() as stack:
            reports: list[ReportSink] = []
            cancels: list[CancellationSink] = []
            if db is None or out is not None:
                try:
                    writer = open_writer("jsonl", out, analyzer.pack.elements, append=True)
                except OSError as exc:
                    _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
                reports.append(stack.enter_context(writer))
            if cancellations is not None:
                cancels.append(stack.enter_context(JsonlCancellationSink(cancellations)))
            if db is not None:
                from docgap.store.sinks import StoreCancellationSink, StoreReportSink

                reports.append(StoreReportSink(db, lexicon_hash=analyzer.lexicon_hash))
                cancels.append(StoreCancellationSink(db))
            processor = MdmProcessor(lambda: analyzer, ReportSinks(*reports), _Cancels(cancels))

            def ready(bound: int) -> None:
                _say(f"listening for MLLP on {host}:{bound}")

            try:
                run_mllp(host, port, processor, ready=ready)
            except OSError as exc:
                _fail(f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}")
            counts = processor.counts
            _say(f"stopped: {counts['AA']} AA, {counts['AE']} AE, {counts['AR']} AR")


class _Cancels:
    """Every configured cancellation sink, in order (a file and the database)."""

    def __init__(self, sinks: list[CancellationSink]) -> None:
        self.sinks = sinks

    def cancel(self, cancellation: Cancellation) -> None:
        for sink in self.sinks:
            sink.cancel(cancellation)


def _check_db(db: str) -> None:
    """Refuse at start, not on the first message, a database that cannot be used."""
    from docgap.store import StoreError
    from docgap.store.db import current_revision, head_revision

    try:
        current = current_revision(db)
    except Exception as exc:  # sqlalchemy's errors may quote the URL's password: name only
        _fail(f"cannot open the database ({type(exc).__name__})")
    if current != head_revision():
        _fail(str(StoreError(f"the database schema is at {current or 'nothing'}: "
                             "run 'docgap db upgrade --db URL'")))  # fmt: skip
