"""The CDI worklist as a system of record: notes, scans, reports, review items, audit log.

SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL, the schema kept by Alembic
migrations shipped in this package. Entry points:

- :func:`upgrade` creates or migrates a database;
- :func:`ingest` stores a scan's reports (revision-safe; what ``docgap scan --db`` calls);
- :func:`cancel` and :func:`record_feedback` record HL7 cancellations and CDS feedback;
- :func:`act` applies a reviewer's action through the lifecycle state machine;
- :func:`metrics`, :func:`export_gold` read what reviewers did.
"""

from docgap.store.db import DEFAULT_URL, StoreError, session, upgrade
from docgap.store.events import cancel, record_feedback
from docgap.store.gold import export_gold
from docgap.store.ingest import IngestResult, StatusChange, ingest
from docgap.store.lifecycle import (
    ACTIONS,
    OPEN_STATES,
    RESPONSES,
    STATES,
    TransitionError,
    next_state,
)
from docgap.store.metrics import metrics
from docgap.store.review import ConflictError, ReviewRequest, UnknownNoteError, act
from docgap.store.users import ROLES, UserError, add_user, verify_user

__all__ = [
    "ACTIONS",
    "DEFAULT_URL",
    "OPEN_STATES",
    "RESPONSES",
    "ROLES",
    "STATES",
    "ConflictError",
    "IngestResult",
    "ReviewRequest",
    "StatusChange",
    "StoreError",
    "TransitionError",
    "UnknownNoteError",
    "UserError",
    "act",
    "add_user",
    "cancel",
    "export_gold",
    "ingest",
    "metrics",
    "next_state",
    "record_feedback",
    "session",
    "upgrade",
    "verify_user",
]
