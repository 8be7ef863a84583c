"""The database schema of the CDI worklist (SQLAlchemy 2 declarative models).

One table per kind of fact: a note's text (one row per distinct text of an id, so an edited
note is a new revision and the old one stays), a scan (which docgap and which rules), a
report (one note text analysed under one scan), a review item (the case a CDI specialist
works, one per note id), the append-only audit log, and the users of the web worklist.
The schema itself is created by the Alembic migrations in ``migrations/``, never by
``create_all``: every schema change is a migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["AuditEntry", "Base", "Note", "Report", "ReviewItem", "Scan", "User", "utcnow"]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (every timestamp of the store)."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A UTC timestamp that comes back timezone-aware on SQLite too (it keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC time")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    """The declarative base of every store table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, dt.datetime: UTCDateTime}


class Note(Base):
    """One distinct text of a note id (a revision); the same text is stored once."""

    __tablename__ = "notes"
    __table_args__ = (UniqueConstraint("note_id", "text_sha256", name="uq_notes_note_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str | None] = mapped_column(String(1024))
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Scan(Base):
    """One ingest of reports: when, by which docgap, under which pack and rules."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    docgap_version: Mapped[str] = mapped_column(String(64))
    pack: Mapped[str] = mapped_column(String(64))
    lexicon_hash: Mapped[str] = mapped_column(String(64), index=True)


class Report(Base):
    """A note revision's report (spec section 5) under one scan's rules."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_row_id: Mapped[int] = mapped_column(ForeignKey("notes.id"), index=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    status: Mapped[str | None] = mapped_column(String(32))
    record: Mapped[dict[str, Any]] = mapped_column()

    note: Mapped[Note] = relationship()
    scan: Mapped[Scan] = relationship()


class ReviewItem(Base):
    """The case a CDI specialist works for one note id, on its newest report.

    ``version`` is SQLAlchemy's optimistic lock: a write based on a stale read fails instead
    of silently overwriting another reviewer's action.
    """

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[str] = mapped_column(String(255), unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    state: Mapped[str] = mapped_column(String(32), default="new", index=True)
    assignee: Mapped[str | None] = mapped_column(String(255), index=True)
    previous_status: Mapped[str | None] = mapped_column(String(32))
    status_changed_at: Mapped[dt.datetime | None] = mapped_column()
    override_status: Mapped[str | None] = mapped_column(String(32))
    override_elements: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    override_reason: Mapped[str | None] = mapped_column(Text)
    query_text: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(String(32))
    final_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    report: Mapped[Report] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class AuditEntry(Base):
    """One transition of a review item: append-only (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[str] = mapped_column(String(255), index=True)
    user: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(32))
    before_state: Mapped[str | None] = mapped_column(String(32))
    after_state: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column()
    evidence: Mapped[dict[str, Any]] = mapped_column()


class User(Base):
    """A user of the web worklist; the password is kept only as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
