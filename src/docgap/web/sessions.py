"""Signed session cookies and CSRF tokens for the web worklist (stdlib HMAC, no state).

The cookie holds the user's name, role, a CSRF token and an expiry, signed with HMAC-SHA256
under the server's secret; a tampered or expired cookie is no session. Every form carries
the session's CSRF token (synchronizer token), compared in constant time on POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

__all__ = ["COOKIE", "Session", "SessionSigner"]

COOKIE = "docgap_session"


@dataclass(frozen=True)
class Session:
    """A signed-in user."""

    user: str
    role: str
    csrf: str
    expires: float


class SessionSigner:
    """Issues and reads session cookies under one secret."""

    def __init__(self, secret: bytes, max_age: float = 8 * 3600) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret needs at least 16 bytes")
        self._secret = secret
        self.max_age = max_age

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def issue(self, user: str, role: str) -> tuple[str, Session]:
        """A new session for ``user`` and its cookie value."""
        session = Session(user, role, secrets.token_urlsafe(32), time.time() + self.max_age)
        payload = base64.urlsafe_b64encode(json.dumps(vars(session)).encode("utf-8"))
        return f"{payload.decode('ascii')}.{self._sign(payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie value, or None when it is missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(self._sign(payload.encode("ascii", "replace")), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
            session = Session(str(data["user"]), str(data["role"]), str(data["csrf"]),
                              float(data["expires"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        """Whether a form's token is the session's."""
        return bool(token) and hmac.compare_digest(session.csrf, token or "")
