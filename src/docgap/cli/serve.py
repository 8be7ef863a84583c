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
    max_note_chars: Annotated[
        int,
        typer.Option(
            help="Longest note, in characters (413 beyond; a note still being analysed at "
            "the timeout is stopped between two chunks and answers 504)."
        ),
    ] = 1_000_000,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds a request may take.")
    ] = 30.0,
    header_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds for a request's headers (408).")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds for a request's body (408).")
    ] = 30.0,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Connections served at once (503 beyond).")
    ] = 100,
    docs: Annotated[
        bool, typer.Option("--docs", help="Serve /docs and /openapi.json (behind the token).")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The service's public URL (CDS links and JWT aud)."),
    ] = None,
    cds_jwks: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="JWKS file: CDS Hooks calls must carry a signed JWT."
        ),
    ] = None,
    cds_issuer: Annotated[
        list[str] | None,
        typer.Option(metavar="ISS", help="An accepted JWT issuer (repeatable)."),
    ] = None,
    cds_audience: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The JWT aud (default: --public-url + /cds-services)."),
    ] = None,
    cds_feedback: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="JSON Lines file for CDS card feedback."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Worklist database: mounts the web worklist."),
    ] = None,
    session_secret_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Key signing web sessions (default: random)."
        ),
    ] = None,
) -> None:
    """Serve the analyzer over HTTP: /v1/analyze, /v1/fhir, CDS Hooks, and /worklist with --db."""
    from docgap.service import ServiceSettings
    from docgap.service import serve as run

    try:
        settings = ServiceSettings(
            max_body_bytes=max_body_bytes,
            max_batch=max_batch,
            max_note_chars=max_note_chars,
            timeout_seconds=timeout,
            threads=threads,
            header_timeout_seconds=header_timeout,
            body_timeout_seconds=body_timeout,
            max_connections=max_connections,
            docs=docs,
            public_url=public_url,
            cds_jwks=str(cds_jwks) if cds_jwks else None,
            cds_issuers=tuple(cds_issuer or ()),
            cds_audience=cds_audience,
            cds_feedback=str(cds_feedback) if cds_feedback else None,
            db_url=db,
            session_secret_file=str(session_secret_file) if session_secret_file else None,
        )
        run(host, port, token_file, settings=settings, workers=workers)
    except (ValueError, OSError) as exc:  # an empty or unreadable token file, a bad limit
        _fail(str(exc))


# -- train ------------------------------------------------------------------------------
