"""Alembic environment of the docgap store: run from :func:`docgap.store.db.upgrade`.

The caller hands over an open connection (``config.attributes["connection"]``), so the
migrations run in the caller's engine and no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from docgap.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line, with sqlalchemy.url set
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///docgap.db")
    with engine.begin() as conn:
        _run(conn)
