"""Request and response bodies of the service (also its OpenAPI schema), and its errors.

The report's response model is not written here: it is derived from the report's field
table (:func:`docgap.schema.response_model`), so the service documents exactly the record
``docgap scan`` writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from docgap.outputs.queries import documentation_help
from docgap.schema import response_model

__all__ = [
    "ERROR_RESPONSES",
    "FHIR_BODY",
    "AnalysisOut",
    "BatchIn",
    "BatchOut",
    "ErrorOut",
    "FixOut",
    "NoteIn",
    "QueryOut",
    "RefusalError",
    "ReportOut",
    "StatusOut",
    "VersionOut",
    "analysis_body",
    "error_response",
]


class NoteIn(BaseModel):
    """One note to analyse."""

    model_config = ConfigDict(extra="forbid")

    note_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="Your id for the note."
    )
    text: str = Field(description="The note's plain text.")


class BatchIn(BaseModel):
    """Several notes to analyse in one request (at most the configured batch size)."""

    model_config = ConfigDict(extra="forbid")

    notes: list[NoteIn]


if TYPE_CHECKING:  # mypy cannot see a model made at run time: it sees the base class

    class ReportOut(BaseModel):
        """One note's report (made from the field table at run time)."""

else:
    ReportOut = response_model("ReportOut")


class IndicatorOut(BaseModel):
    """A clinical indicator a query cites: what was found, where and when."""

    text: str
    wording: str
    where: str
    when: str | None = None
    element: str
    section: str | None = None
    start: int
    end: int


class QueryOut(BaseModel):
    """A compliant, non-leading query draft for a CDI specialist to review and send."""

    key: str = Field(description="The query's key in the pack's queries.yml.")
    gap: str = Field(description="The gap that calls for this query.")
    title: str
    indicators: list[IndicatorOut]
    question: str
    options: list[str]
    text: str = Field(description="The whole query, ready to edit and send.")


class FixOut(BaseModel):
    """What would close one gap: the documentation to add, or the query that asks for it."""

    gap: str
    severity: str
    suggestion: str = Field(description="The pack's wording of what the chart lacks and needs.")
    query: str | None = Field(
        default=None,
        description="The key of the query draft to send instead when the provider must be "
        "asked (a CDI specialist never adds a diagnosis).",
    )


class AnalysisOut(ReportOut):
    """One note's report with the query drafts and a documentation fix per gap."""

    queries: list[QueryOut] = Field(default_factory=list)
    fixes: list[FixOut] = Field(default_factory=list)


def analysis_body(record: dict[str, Any]) -> dict[str, Any]:
    """A report record with ``queries`` and ``fixes`` added (drafts from the pack's queries).

    The drafts are made by :func:`docgap.outputs.queries.draft_queries`, the same as the HTML
    report shows; a gap's fix is the pack's message, pointing at the query that asks the
    provider when there is one.
    """
    return record | documentation_help(record)


class BatchOut(BaseModel):
    """Reports in the order of the request's notes."""

    reports: list[AnalysisOut]


class ErrorOut(BaseModel):
    """An error: a stable machine key and a message for people (never the note's text)."""

    error: str
    detail: str


class StatusOut(BaseModel):
    """Liveness or readiness."""

    status: str
    detail: str | None = None


class VersionOut(BaseModel):
    """What is answering: docgap's version, the rules' hash and the model, if any."""

    docgap: str
    lexicon_sha256: str | None
    model: dict[str, Any] | None
    ready: bool


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "Malformed JSON.",
        401: "Missing or wrong bearer token.",
        413: "Body, batch or note larger than the configured limit.",
        422: "The request does not fit the schema.",
        503: "The pipeline is not built yet.",
        504: "The analysis took longer than the per-request timeout.",
    }.items()
}


def error_response(status: int, key: str, detail: str, **headers: str) -> JSONResponse:
    """The one error body: ``{"error": key, "detail": message}`` (never the note's text)."""
    return JSONResponse(
        {"error": key, "detail": detail}, status_code=status, headers=headers or None
    )


class RefusalError(Exception):
    """An answer other than 200 decided inside an endpoint or a worker."""

    def __init__(self, status: int, key: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(key)
        self.response = error_response(status, key, detail, **(headers or {}))


FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A FHIR R4 DocumentReference, or a Bundle of them; the note "
                    "is the first content[].attachment with contentType text/plain and "
                    "base64 data.",
                    "required": ["resourceType"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["DocumentReference", "Bundle"]}
                    },
                }
            },
            "application/fhir+json": {"schema": {"type": "object"}},
        },
    }
}
