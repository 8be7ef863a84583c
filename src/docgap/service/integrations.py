"""What ``docgap serve`` mounts beside the REST API: CDS Hooks, and the web worklist.

CDS Hooks (:mod:`docgap.service.cds_hooks`) is always mounted: discovery at
``/cds-services`` and the ``docgap-m53-0`` hook, analysed by the service's own worker pool
(its threads and timeout). Card feedback goes to the worklist database when ``--db`` is set
(``docgap.store.sinks.StoreFeedbackSink``, when that module exists) or else to the
``--cds-feedback`` JSON Lines file. With ``--db`` the web worklist is mounted at
``/worklist``.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from docgap.inputs.record import NoteInput
from docgap.service.cds_hooks import FeedbackSink, JsonlFeedbackSink, cds_router
from docgap.service.schemas import RefusalError
from docgap.service.settings import ServiceSettings

if TYPE_CHECKING:
    from docgap.report import NoteReport
    from docgap.service.workers import ServiceState

__all__ = ["WORKLIST_PREFIX", "feedback_sink", "mount_integrations", "session_secret"]

log = logging.getLogger(__name__)

WORKLIST_PREFIX = "/worklist"
_SECRET_BYTES = 32


def feedback_sink(settings: ServiceSettings) -> FeedbackSink | None:
    """The database when there is one (and its sink exists), else the JSONL file, else none."""
    if settings.db_url:
        try:
            sinks = importlib.import_module("docgap.store.sinks")
            sink: FeedbackSink = sinks.StoreFeedbackSink(settings.db_url)
            return sink
        except (ImportError, AttributeError):
            log.warning(
                "CDS feedback cannot be recorded in the database yet (no "
                "docgap.store.sinks.StoreFeedbackSink); %s",
                "writing it to --cds-feedback" if settings.cds_feedback else "it is not kept",
            )
    if settings.cds_feedback:
        return JsonlFeedbackSink(settings.cds_feedback)
    return None


def session_secret(settings: ServiceSettings) -> bytes:
    """The web sessions' signing key: ``--session-secret-file``, or random for this process."""
    if settings.session_secret_file is None:
        return secrets.token_bytes(_SECRET_BYTES)
    secret = Path(settings.session_secret_file).read_bytes().strip()
    if len(secret) < _SECRET_BYTES // 2:
        raise ValueError(f"{settings.session_secret_file}: the session secret is too short")
    return secret


def mount_integrations(app: FastAPI, state: ServiceState) -> None:
    """Include the CDS Hooks router (always) and the web worklist (with a database)."""
    settings = state.settings

    async def analyze(notes: list[NoteInput]) -> list[NoteReport]:
        if state.workers is None:
            raise RefusalError(503, "not_ready", "the pipeline is still being built")
        return await state.workers.analyze(notes, settings.timeout_seconds)

    app.include_router(
        cds_router(
            analyze=analyze,
            public_url=settings.public_url,
            jwks=settings.cds_jwks,
            allowed_issuers=settings.cds_issuers,
            audience=settings.audience,
            feedback_sink=feedback_sink(settings),
            max_chars=settings.max_note_chars,
        )
    )
    if settings.db_url:
        from docgap.web import worklist_router

        app.include_router(
            worklist_router(
                settings.db_url, secret=session_secret(settings), prefix=WORKLIST_PREFIX
            ),
            include_in_schema=False,
        )
