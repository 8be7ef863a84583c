"""``docgap mllp``: an MLLP listener that analyses HL7 v2 MDM documents and ACKs each one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from docgap.cli.base import _default_analyzer, _fail, _internal_errors, _say, app


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
            help="JSON Lines report file, appended (default: stdout).",
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
) -> None:
    """Listen for MDM^T02/T04/T06/T08/T10 (documents) and T11 (cancellations) over MLLP.

    Every message gets an ACK: AA analysed, AE with a reason when it parses but cannot be
    analysed, AR for a message type or version docgap does not take. SIGTERM stops it after
    every received message has been answered.
    """
    from docgap.engines.mllp import JsonlCancellationSink, MdmProcessor, run_mllp
    from docgap.outputs.writers import open_writer

    if cancellations is None and out is not None and str(out) != "-":
        cancellations = out.with_name(out.name + ".cancellations.jsonl")
    with _internal_errors():
        analyzer = _default_analyzer()
        try:
            writer = open_writer("jsonl", out, analyzer.pack.elements, append=True)
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
        with contextlib.ExitStack() as stack:
            stack.enter_context(writer)
            sink = (
                stack.enter_context(JsonlCancellationSink(cancellations))
                if cancellations is not None
                else None
            )
            processor = MdmProcessor(lambda: analyzer, writer, sink)

            def ready(bound: int) -> None:
                _say(f"listening for MLLP on {host}:{bound}")

            try:
                run_mllp(host, port, processor, ready=ready)
            except OSError as exc:
                _fail(f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}")
            counts = processor.counts
            _say(f"stopped: {counts['AA']} AA, {counts['AE']} AE, {counts['AR']} AR")
