"""The service's settings: the limits of one process, and the bearer token it reads.

Kept apart from the app so worker processes (``app_from_env``) and the CLI can make
settings without importing FastAPI's routes.
"""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SETTINGS_ENV", "ServiceSettings", "read_token"]

log = logging.getLogger(__name__)

SETTINGS_ENV = "DOCGAP_SERVICE_SETTINGS"  # hands settings to worker processes (no token)
_MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and options of one service process (each limit answers a clear 4xx/5xx)."""

    max_body_bytes: int = 10 * 1024 * 1024  # 413 body_too_large
    max_batch: int = 64  # 413 batch_too_large
    # 413 note_too_large. About 300 pages. The analysis is linear in the note's length
    # (about 0.7 MB/s a core) and a request's deadline stops it between two chunks, so a
    # long note costs at most the timeout and frees its analyzer (issue 13).
    max_note_chars: int = 1_000_000
    timeout_seconds: float = 30.0  # 504 timeout
    threads: int = 1  # worker threads, one Analyzer each
    token: str | None = field(default=None, repr=False)  # bearer token; None: no auth
    # Slow clients: headers and body must arrive within these (408), at most this many
    # connections at once (503 beyond), idle keep-alive connections closed after this.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    max_connections: int = 100
    keep_alive_seconds: float = 5.0
    docs: bool = False  # serve /docs and /openapi.json (behind the token)
    # Integrations: CDS Hooks (always mounted) and, with a database, the web worklist.
    public_url: str | None = None
    cds_jwks: str | None = None  # a JWKS file: every hook call must carry a signed JWT
    cds_issuers: tuple[str, ...] = ()
    cds_audience: str | None = None  # default: public_url + /cds-services
    cds_feedback: str | None = None  # a JSONL file for card feedback
    db_url: str | None = field(default=None, repr=False)  # may hold a password
    session_secret_file: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_note_chars", "threads", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "timeout_seconds",
            "header_timeout_seconds",
            "body_timeout_seconds",
            "keep_alive_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        object.__setattr__(self, "cds_issuers", tuple(self.cds_issuers))

    @property
    def audience(self) -> str | None:
        """The ``aud`` a CDS client's JWT must name (``--cds-audience``, or derived)."""
        if self.cds_audience:
            return self.cds_audience
        if self.public_url:
            return self.public_url.rstrip("/") + "/cds-services"
        return None


def read_token(path: Path | str) -> str:
    """The bearer token in ``path`` (surrounding whitespace ignored); refuses an empty file."""
    path = Path(path)
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    if len(token) < _MIN_TOKEN_CHARS:
        log.warning("the token in %s is shorter than %d characters", path, _MIN_TOKEN_CHARS)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users; chmod 600 it", path)
    return token
