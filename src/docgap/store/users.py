"""Users of the web worklist, with argon2 password hashes (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from docgap.store.db import session
from docgap.store.models import User

__all__ = ["ROLES", "UserError", "add_user", "list_users", "set_role", "verify_user"]

ROLES = ("reviewer", "admin")
_HASHER = PasswordHasher()


class UserError(ValueError):
    """A user that cannot be added as asked."""


def add_user(db_url: str, name: str, role: str, password: str) -> None:
    """Add a user; the password is stored only as its argon2 hash."""
    _check_role(role)
    if not name.strip():
        raise UserError("a user needs a name")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    with session(db_url) as db:
        if db.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserError(f"user {name!r} exists")
        db.add(User(name=name, role=role, password_hash=_HASHER.hash(password)))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")


def list_users(db_url: str) -> list[tuple[str, str]]:
    """Every user's name and role, by name (never the hashes)."""
    with session(db_url) as db:
        return [(u.name, u.role) for u in db.scalars(select(User).order_by(User.name))]


def set_role(db_url: str, name: str, role: str) -> None:
    """Give ``name`` the role ``role``; refuses to demote the last admin (no one could cancel)."""
    _check_role(role)
    with session(db_url) as db:
        user = db.scalar(select(User).where(User.name == name))
        if user is None:
            raise UserError(f"no user {name!r}")
        if user.role == "admin" and role != "admin":
            admins = db.scalars(select(User.id).where(User.role == "admin")).all()
            if len(admins) == 1:
                raise UserError(f"{name!r} is the last admin; make another admin first")
        user.role = role


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
