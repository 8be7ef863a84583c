"""Opening a store database and migrating its schema (Alembic, run in-process).

``sqlite:///docgap.db`` is the embedded default (nothing to install);
``postgresql+psycopg://user@host/db`` serves a team. :func:`upgrade` creates or migrates
the schema to the newest revision shipped in ``migrations/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DEFAULT_URL", "StoreError", "engine_for", "session", "upgrade"]

DEFAULT_URL = "sqlite:///docgap.db"
_MIGRATIONS = Path(__file__).parent / "migrations"
# URLs whose schema was found current in this process (checked once, not per session).
_CURRENT: set[str] = set()


class StoreError(Exception):
    """The database cannot be used as asked (unreachable, or its schema is not current)."""


def _enable_sqlite_foreign_keys(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """One engine per database URL and process (engines pool connections)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(url: str, revision: str = "head") -> str:
    """Create or migrate the schema of ``url`` to ``revision``; returns the revision now."""
    config = _config()
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    _CURRENT.discard(url)
    return current_revision(url) or ""


def current_revision(url: str) -> str | None:
    """The schema revision of the database (None before the first upgrade)."""
    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest schema revision this docgap ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error.

    Refuses a database whose schema is not the newest (run ``docgap db upgrade``).
    """
    if url not in _CURRENT:
        current = current_revision(url)
        if current != head_revision():
            raise StoreError(
                f"the database schema is at {current or 'nothing'}, not {head_revision()}: "
                "run 'docgap db upgrade --db URL'"
            )
        _CURRENT.add(url)
    maker = sessionmaker(engine_for(url), expire_on_commit=False)
    with maker.begin() as db:
        yield db
