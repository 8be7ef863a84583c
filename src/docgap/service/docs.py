"""``/docs`` and ``/openapi.json``, only with ``docgap serve --docs``, and behind the token.

The API's schema tells a stranger what the service accepts, so it is off by default. No
Swagger UI assets are available offline (FastAPI loads them from a CDN, which a service that
handles PHI must not make browsers fetch), so ``/docs`` is a small self-contained HTML page
listing each operation and linking the JSON schema; ReDoc is off.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, JSONResponse

__all__ = ["add_docs", "docs_page"]

_METHODS = ("get", "post", "put", "patch", "delete")


def docs_page(schema: dict[str, Any]) -> str:
    """A plain HTML page of the schema's operations (no script, no external asset)."""
    rows = []
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            summary = operation.get("summary") or operation.get("operationId") or ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(summary)}</td></tr>"
            )
    info = schema.get("info", {})
    title = html.escape(f"{info.get('title', 'docgap')} {info.get('version', '')}")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{title} API</title>"
        "<style>body{font:15px system-ui,sans-serif;margin:2em}td{padding:.2em .8em}</style>"
        f"</head><body><h1>{title} API</h1>"
        "<p>The full schema: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3).</p>"
        f"<table><tr><th>Method</th><th>Path</th><th>Summary</th></tr>{''.join(rows)}</table>"
        "</body></html>"
    )


def add_docs(app: FastAPI, dependencies: Sequence[Depends]) -> None:
    """Serve ``/openapi.json`` and ``/docs`` behind ``dependencies`` (the bearer token)."""

    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    for path, endpoint in (("/openapi.json", openapi_json), ("/docs", docs)):
        app.get(path, include_in_schema=False, dependencies=list(dependencies))(endpoint)
