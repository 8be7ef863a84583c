"""Users of the web worklist, with argon2 password hashes (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from docgap.store.db import session
from docgap.store.models import User

__all__ = ["ROLES", "UserError", "add_user", "verify_user"]

ROLES = ("reviewer", "admin")
_HASHER = PasswordHasher()


class UserError(ValueError):
    """A user that cannot be added as asked."""


def add_user(db_url: str, name: str, role: str, password: str) -> None:
    """Add a user; the password is stored only as its argon2 hash."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    if not name.strip():
        raise UserError("a user needs a name")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    with session(db_url) as db:
        if db.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserError(f"user {name!r} exists")
        db.add(User(name=name, role=role, password_hash=_HASHER.hash(password)))


def verify_user(db_url: str, name: str, password: str) -> str | None:
    """The user's role when ``password`` is theirs, else None (same answer for no such user)."""
    with session(db_url) as db:
        user = db.scalar(select(User).where(User.name == name))
        if user is None:
            _HASHER.hash(password)  # spend the same time: no hint that the name is unknown
            return None
        try:
            _HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        return user.role
