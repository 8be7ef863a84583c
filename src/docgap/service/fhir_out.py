"""docgap's findings as FHIR R4 resources, for ``POST /v1/fhir`` (which FHIR clients call).

A FHIR client expects FHIR back: the answer is a ``Bundle`` (type ``collection``) holding one
``DetectedIssue`` per documentation gap, each implicating the ``DocumentReference`` it was
found in and naming the document's ``subject`` as its ``patient``, and one
``OperationOutcome`` per note that could not be analysed. A refused request is an
``OperationOutcome`` too. Nothing here decides anything: it re-shapes the report record.
Error texts name what is wrong, never the input's values (PHI).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

__all__ = [
    "FHIR_JSON",
    "GAP_SYSTEM",
    "STATUS_EXTENSION",
    "findings_bundle",
    "operation_outcome",
    "outcome_response",
    "subjects_of",
]

FHIR_JSON = "application/fhir+json"
GAP_SYSTEM = "https://github.com/docgap/docgap/fhir/CodeSystem/gap"
STATUS_EXTENSION = "https://github.com/docgap/docgap/fhir/StructureDefinition/note-status"
WOULD_CODE_EXTENSION = "https://github.com/docgap/docgap/fhir/StructureDefinition/would-code"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# FHIR DetectedIssue.severity is high | moderate | low.
_SEVERITY = {"required": "high", "recommended": "moderate", "info": "low"}
# OperationOutcome.issue.code for the service's error keys (FHIR's IssueType value set).
_ISSUE_CODE = {
    "malformed_json": "structure",
    "invalid_fhir": "invalid",
    "invalid_request": "invalid",
    "unauthorized": "login",
    "body_too_large": "too-costly",
    "batch_too_large": "too-costly",
    "note_too_large": "too-costly",
    "not_ready": "transient",
    "timeout": "timeout",
}


def operation_outcome(key: str, detail: str, severity: str = "error") -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue (``details.coding`` carries docgap's key)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": _ISSUE_CODE.get(key, "processing"),
                "details": {
                    "coding": [{"system": f"{GAP_SYSTEM}-error", "code": key}],
                    "text": detail,
                },
            }
        ],
    }


def outcome_response(status: int, body: bytes | str | Mapping[str, Any]) -> JSONResponse:
    """A service error (``{"error", "detail"}``) re-answered as an ``OperationOutcome``."""
    error = json.loads(body) if isinstance(body, (bytes, str)) else dict(body)
    resource = operation_outcome(str(error.get("error")), str(error.get("detail")))
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON)


def subjects_of(resource: Any) -> dict[str, dict[str, Any]]:
    """DocumentReference id -> its ``subject`` reference, in a resource or a Bundle."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(resource, dict):
        return found
    entries = resource.get("entry") if resource.get("resourceType") == "Bundle" else None
    candidates = (
        [e.get("resource") for e in entries if isinstance(e, dict)]
        if isinstance(entries, list)
        else [resource]
    )
    for item in candidates:
        if not isinstance(item, dict) or item.get("resourceType") != "DocumentReference":
            continue
        subject, doc_id = item.get("subject"), item.get("id")
        if isinstance(doc_id, str) and isinstance(subject, dict) and subject:
            found.setdefault(doc_id, subject)
    return found


def _extensions(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = [
        {"url": STATUS_EXTENSION, "valueCode": str(record.get("status"))}
    ]
    if record.get("would_code"):
        extensions.append(
            {
                "url": WOULD_CODE_EXTENSION,
                "valueCoding": {"system": ICD10CM, "code": str(record["would_code"])},
            }
        )
    return extensions


def _issues(
    record: Mapping[str, Any], subject: dict[str, Any] | None, when: str
) -> list[dict[str, Any]]:
    note_id = str(record.get("note_id"))
    document = {"reference": f"DocumentReference/{note_id.split('#', 1)[0]}"}
    issues = []
    for position, gap in enumerate(record.get("gaps") or (), start=1):
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "id": f"{note_id}-gap-{position}".replace("#", "-"),
            "extension": _extensions(record),
            "status": "preliminary",
            "code": {
                "coding": [{"system": GAP_SYSTEM, "code": str(gap.get("key"))}],
                "text": str(gap.get("key")).replace("_", " "),
            },
            "severity": _SEVERITY.get(str(gap.get("severity")), "low"),
            "identifiedDateTime": when,
            "author": {"display": "docgap"},
            "implicated": [document],
            "detail": str(gap.get("message")),
        }
        if subject:
            issue["patient"] = subject
        issues.append(issue)
    return issues


def findings_bundle(
    records: Sequence[Mapping[str, Any]],
    subjects: Mapping[str, dict[str, Any]],
    skipped: Mapping[str, int],
) -> dict[str, Any]:
    """The ``Bundle`` answering ``/v1/fhir``: DetectedIssues and OperationOutcomes."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    entries: list[dict[str, Any]] = []
    for record in records:
        note_id = str(record.get("note_id"))
        if record.get("error"):
            outcome = operation_outcome("note_not_analysed", str(record["error"]))
            outcome["issue"][0]["expression"] = [f"DocumentReference/{note_id}"]
            entries.append({"resource": outcome})
            continue
        subject = subjects.get(note_id.split("#", 1)[0])
        issues = _issues(record, subject, when)
        if not issues:  # say it was read: a client must tell "no gap" from "not analysed"
            outcome = operation_outcome("no_gap", "analysed: no documentation gap", "information")
            outcome["issue"][0]["expression"] = [f"DocumentReference/{note_id}"]
            entries.append({"resource": outcome})
        entries.extend({"resource": issue} for issue in issues)
    count = sum(skipped.values())
    if count:
        note = f"{count} Bundle entr{'y is' if count == 1 else 'ies are'} not DocumentReference"
        entries.append(
            {"resource": operation_outcome("skipped", note + " and not analysed", "information")}
        )
    return {"resourceType": "Bundle", "type": "collection", "timestamp": when, "entry": entries}
