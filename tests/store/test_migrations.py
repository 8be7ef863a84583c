"""The schema is Alembic's: upgrade and downgrade round-trip on both databases."""

from __future__ import annotations

import sqlalchemy as sa

from docgap.store import upgrade
from docgap.store.db import current_revision, engine_for, head_revision
from docgap.store.models import User


def test_downgrade_and_upgrade_round_trip(db_url: str) -> None:
    from alembic import command

    from docgap.store.db import _config

    tables = {"notes", "scans", "reports", "review_items", "audit_log", "users"}
    assert tables <= set(sa.inspect(engine_for(db_url)).get_table_names())
    config = _config()
    with engine_for(db_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert current_revision(db_url) is None
    assert not tables & set(sa.inspect(engine_for(db_url)).get_table_names())
    assert upgrade(db_url) == head_revision()
    assert tables <= set(sa.inspect(engine_for(db_url)).get_table_names())


def test_password_is_stored_only_as_argon2(db_url: str) -> None:
    from docgap.store import add_user, session

    add_user(db_url, "ann", "reviewer", "correct horse battery")
    with session(db_url) as db:
        stored = db.scalar(sa.select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
