"""``docgap serve``: run the HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docgap.cli.base import (
    _fail,
    app,
)

_SERVE_EXITS = (
    "Exit codes: 0 stopped (Ctrl-C or a signal); 2 unusable option (token file, limits) or "
    "the address cannot be bound; 1 unexpected internal error."
)


@app.command(epilog=_SERVE_EXITS)
def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Address to bind (loopback by default).")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            exists=True,
            dir_okay=False,
            help="A file holding the bearer token clients must send.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Analysis threads a process.")] = 1,
    max_body_bytes: Annotated[int, typer.Option(metavar="BYTES", help="Largest request body.")] = 10
    * 1024
    * 1024,
    max_batch: Annotated[int, typer.Option(help="Most notes in one batch request.")] = 64,
    max_note_chars: Annotated[int, typer.Option(help="Longest note, in characters.")] = 1_000_000,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds a request may take.")
    ] = 30.0,
) -> None:
    """Serve the analyzer over HTTP (FastAPI + uvicorn): /v1/analyze, /v1/fhir, /healthz."""
    from docgap.service import ServiceSettings
    from docgap.service import serve as run

    try:
        settings = ServiceSettings(
            max_body_bytes=max_body_bytes,
            max_batch=max_batch,
            max_note_chars=max_note_chars,
            timeout_seconds=timeout,
            threads=threads,
        )
        run(host, port, token_file, settings=settings, workers=workers)
    except (ValueError, OSError) as exc:  # an empty or unreadable token file, a bad limit
        _fail(str(exc))


# -- train ------------------------------------------------------------------------------
