"""``docgap serve``: the HTTP service (FastAPI app, settings, the uvicorn runner)."""

from docgap.service.app import (
    ServiceSettings,
    app_from_env,
    create_app,
    openapi_document,
    read_token,
    serve,
    write_openapi,
)

__all__ = [
    "ServiceSettings",
    "app_from_env",
    "create_app",
    "openapi_document",
    "read_token",
    "serve",
    "write_openapi",
]
