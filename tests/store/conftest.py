"""Fixtures of the store suite: every test runs on SQLite and on a throwaway PostgreSQL.

The PostgreSQL server is Debian's (``apt-get install postgresql``; ``make ensure-postgres``),
started once per test session by pytest-postgresql's ``postgresql_proc``; each test gets a
database of its own on it. PostgreSQL refuses to run as root: as root (CI, a fresh machine)
``pg_ctl`` is called through a small wrapper that runs it as the ``postgres`` user.
Without a PostgreSQL installation the PostgreSQL half is skipped, outside CI; in CI
(``CI=true``) it is an error, so a missing install step cannot pass unseen.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docgap.store import upgrade
from docgap.store.db import engine_for

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_REPORTS = REPO / "tests" / "golden" / "examples.jsonl"
EXAMPLE_NOTES = REPO / "examples" / "notes"

_WRAPPER = """#!/bin/sh
# pg_ctl refuses to run as root: run it as the postgres user, who must own the folder of
# the data directory and be able to traverse the folders above it.
data=
prev=
for arg in "$@"; do
  case "$prev" in -D|--pgdata) data="$arg" ;; esac
  prev="$arg"
done
if [ -n "$data" ]; then
  parent=$(dirname "$data")
  chown postgres "$parent"
  dir="$parent"
  while [ "$dir" != "/" ]; do dir=$(dirname "$dir"); chmod o+x "$dir"; done
fi
cd /
exec runuser -u postgres -- {pg_ctl} "$@"
"""


def _pg_ctl() -> str | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1]
    return shutil.which("pg_ctl")


def _executable() -> str | None:
    pg_ctl = _pg_ctl()
    if pg_ctl is None or os.geteuid() != 0:
        return pg_ctl
    folder = Path(tempfile.mkdtemp(prefix="docgap-pgctl-"))
    folder.chmod(0o755)
    wrapper = folder / "pg_ctl"
    wrapper.write_text(_WRAPPER.replace("{pg_ctl}", pg_ctl), encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(wrapper)


_PG_EXEC = _executable()

if _PG_EXEC is not None:
    from pytest_postgresql import factories

    postgresql_server = factories.postgresql_proc(executable=_PG_EXEC)


_counter = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty store database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        upgrade(url)
        yield url
        engine_for(url).dispose()
        return
    if _PG_EXEC is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (make ensure-postgres)")
        pytest.skip("PostgreSQL is not installed (make ensure-postgres)")
    import psycopg

    proc = request.getfixturevalue("postgresql_server")
    name = f"docgap_test_{os.getpid()}_{next(_counter)}"
    admin = f"host={proc.host} port={proc.port} user={proc.user} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{proc.user}@{proc.host}:{proc.port}/{name}"
    upgrade(url)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def example_reports() -> list[dict[str, Any]]:
    """The reports of ``examples/notes`` as the scan writes them (the golden file)."""
    with EXAMPLE_REPORTS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def example_texts() -> dict[str, str]:
    """The example notes' texts by id (file stem), as ``--texts examples/notes`` reads them."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLE_NOTES.glob("*.txt"))}
