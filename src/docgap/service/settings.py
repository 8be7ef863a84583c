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
    max_note_chars: int = 1_000_000  # 413 note_too_large (about 300 pages of text)
    timeout_seconds: float = 30.0  # 504 timeout
    threads: int = 1  # worker threads, one Analyzer each
    token: str | None = field(default=None, repr=False)  # bearer token; None: no auth

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_note_chars", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


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
