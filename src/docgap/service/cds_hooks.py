"""CDS Hooks 2.0 for docgap: M53.0 documentation cards at ``encounter-discharge``.

EHRs and scribe platforms call decision support through CDS Hooks, not bespoke APIs. This
module is one :class:`fastapi.APIRouter` (mounted by ``docgap serve``):

* ``GET /cds-services``: discovery (always 200, no authentication, as the spec requires).
* ``POST /cds-services/docgap-m53-0``: the hook call. Notes come from ``prefetch`` (a
  ``Bundle`` or a single ``DocumentReference``; text as base64 ``text/plain``
  attachments, parsed by :mod:`docgap.inputs.fhir`) or, failing that, from ``fhirServer``
  with the ``fhirAuthorization`` bearer token; 412 when neither yields them.
* ``POST /cds-services/docgap-m53-0/feedback``: ``accepted``/``overridden`` per card
  ``uuid``, handed to a :class:`FeedbackSink` (the worklist database implements it).

Cards are informational only (no suggestions, no actions): the physician is asked, never
led (AHIMA/ACDIS compliant queries), so no card proposes a diagnosis. The spec forbids null
or empty values, so every response is pruned of them. With a JWKS configured every call but
discovery must carry the CDS client's signed JWT (RS384/ES384, ``iss`` in the allowlist,
``aud`` the service URL, ``exp``, ``iat``, ``jti`` not replayed) or get 401. Error responses name
fields and types, never note text or echoed request values (PHI).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from docgap.engines.loop import analyze_one
from docgap.inputs.fhir import FhirError, parse_resource
from docgap.inputs.record import NoteInput

if TYPE_CHECKING:
    from docgap.analyzer import Analyzer
    from docgap.report import NoteReport

__all__ = [
    "HOOK",
    "SERVICE_ID",
    "FeedbackEvent",
    "FeedbackSink",
    "JsonlFeedbackSink",
    "JwtVerifier",
    "build_cards",
    "cds_router",
    "prune",
]

log = logging.getLogger(__name__)

SERVICE_ID = "docgap-m53-0"
HOOK = "encounter-discharge"
PREFETCH_KEY = "notes"
PREFETCH = {
    PREFETCH_KEY: "DocumentReference?patient={{context.patientId}}"
    "&encounter={{context.encounterId}}"
}
ALGORITHMS = ("RS384", "ES384")
SUMMARY_MAX = 139  # "summary: less than 140 characters"
FETCH_TIMEOUT = 10.0
_EVIDENCE_MAX = 8
_CARD_MEMORY = 10_000  # card uuid -> note id, for feedback that names only the card
_OUTCOMES = ("accepted", "overridden")


# -- the spec's "no null or empty values" ------------------------------------------------
def prune(value: Any) -> Any:
    """``value`` without None, empty strings, empty lists and empty objects, recursively.

    ``cards`` stays even when empty: the spec requires the array.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = prune(item)
            if key == "cards" or item not in (None, "", [], {}):
                out[key] = item
        return out
    if isinstance(value, list):
        return [p for p in (prune(v) for v in value) if p not in (None, "", [], {})]
    return value


# -- feedback ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackEvent:
    """One card's outcome as the CDS client reported it."""

    card: str
    outcome: str
    outcome_timestamp: str
    note_id: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    user_comment: str | None = None
    service: str = SERVICE_ID


class FeedbackSink(Protocol):
    """Where card feedback goes (the worklist audit when ``--db`` is set)."""

    def record(self, event: FeedbackEvent) -> None:
        """Keep one feedback event."""


class JsonlFeedbackSink:
    """Feedback as JSON Lines, one event a line, flushed (the default without a database)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, event: FeedbackEvent) -> None:
        """Append ``event`` (its None fields left out)."""
        line = json.dumps(prune(asdict(event)), ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


# -- JWT -----------------------------------------------------------------------------------
class JwtVerifier:
    """The CDS client's bearer JWT: signature from the JWKS, claims, and no replay.

    ``jti`` values are remembered until their token expires, so a captured token cannot be
    sent twice. An empty ``allowed_issuers`` accepts any issuer whose key is in the JWKS.
    """

    def __init__(
        self,
        jwks: Mapping[str, Any],
        allowed_issuers: Iterable[str] = (),
        *,
        leeway: float = 30.0,
    ) -> None:
        import jwt

        self._jwt = jwt
        self.keys = jwt.PyJWKSet.from_dict(dict(jwks))
        self.allowed = frozenset(allowed_issuers)
        self.leeway = leeway
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _key(self, token: str) -> tuple[Any, str]:
        header = self._jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise PermissionError("JWT algorithm must be RS384 or ES384")
        kid = header.get("kid")
        candidates = [k for k in self.keys.keys if kid is None or k.key_id == kid]
        if not candidates:
            raise PermissionError("JWT key id not in the JWKS")
        return candidates[0].key, str(alg)

    def verify(self, authorization: str | None, audiences: list[str]) -> dict[str, Any]:
        """The token's claims, or :class:`PermissionError` saying why not (no token text)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise PermissionError("missing bearer JWT")
        token = authorization.split(None, 1)[1].strip()
        try:
            key, alg = self._key(token)
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audiences,
                leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except PermissionError:
            raise
        except self._jwt.PyJWTError as exc:
            raise PermissionError(f"invalid JWT ({type(exc).__name__})") from None
        if self.allowed and claims["iss"] not in self.allowed:
            raise PermissionError("JWT issuer not allowed")
        now = time.time()
        seen = (str(claims["iss"]), str(claims["jti"]))
        with self._lock:
            self._seen = {k: exp for k, exp in self._seen.items() if exp + self.leeway > now}
            if seen in self._seen:
                raise PermissionError("JWT jti already used")
            self._seen[seen] = float(claims["exp"])
        return claims


# -- cards -------------------------------------------------------------------------------
_SUMMARIES = {
    "at_risk": "M53.0 is named but its documentation is incomplete: review before coding",
    "downcode": "Documentation supports {would_code} as written: review before coding",
    "redirect": "Findings point to a code other than M53.0 ({would_code}): review before coding",
    "supported": "M53.0 documentation is flagged for CDI review",
}
_QUERY = "Clinical picture may need clarification: a non-leading query may help"


def _summary(report: NoteReport) -> str:
    if report.error is not None:
        text = "docgap could not analyse this note"
    elif report.query_opportunity:
        text = _QUERY
    else:
        text = _SUMMARIES.get(report.status or "", "M53.0 documentation review").format(
            would_code=report.would_code or "another code"
        )
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _md(value: str) -> str:
    """Text safe inside markdown (no emphasis, links or HTML from note text)."""
    out = value.replace("\\", "\\\\")
    for char in "`*_[]<>#|":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def _detail(report: NoteReport) -> str:
    lines = [f"**Note** {_md(report.note_id)}"]
    if report.error is not None:
        lines += ["", f"Not analysed: {_md(report.error)}."]
        return "\n".join(lines)
    status = report.status or "unknown"
    code = f" (supports {report.would_code})" if report.would_code else ""
    lines[0] += f" · status **{status}**{code}"
    if report.gaps:
        lines += ["", "**Documentation gaps**", ""]
        lines += [f"- {_md(gap.message)}" for gap in report.gaps]
    counted = [e for e in report.evidence if e.counted]
    if counted:
        lines += ["", "**Evidence in the note**", ""]
        for item in counted[:_EVIDENCE_MAX]:
            section = item.section.replace("_", " ") if item.section else "no section heading"
            lines.append(
                f'- > "{_md(item.text)}"  \n  {_md(section)} · {item.element.replace("_", " ")}'
            )
        if len(counted) > _EVIDENCE_MAX:
            lines.append(f"- … and {len(counted) - _EVIDENCE_MAX} more")
    lines += [
        "",
        "Any query to the provider should be open-ended and non-leading (AHIMA/ACDIS): "
        "it asks for clarification and does not propose a diagnosis.",
    ]
    return "\n".join(lines)


def _wants_card(report: NoteReport) -> bool:
    if report.error is not None:
        return True
    if report.status == "supported":
        return bool(report.review)
    # not_applicable: nothing about the neck at all; a card would only add alert fatigue.
    return report.status != "not_applicable"


def build_cards(
    reports: Iterable[NoteReport], *, version: str, public_url: str | None = None
) -> list[dict[str, Any]]:
    """One informational card per note that needs a look (see the module docstring)."""
    cards = []
    for report in reports:
        if not _wants_card(report):
            continue
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": _summary(report),
            "indicator": "warning" if report.status == "at_risk" else "info",
            "detail": _detail(report),
            "source": {
                "label": f"docgap {version}",
                "topic": {
                    "system": "https://github.com/docgap/docgap/cds-topics",
                    "code": "m53.0-documentation",
                    "display": "M53.0 documentation review",
                },
            },
        }
        if public_url:
            url = f"{public_url.rstrip('/')}/worklist/{quote(report.note_id, safe='')}"
            card["links"] = [
                {"label": "Open in the docgap worklist", "url": url, "type": "absolute"}
            ]
        cards.append(prune(card))
    return cards


# -- the hook call -----------------------------------------------------------------------
def _bad(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def _resources(prefetch: Any) -> list[dict[str, Any]]:
    """Prefetched Bundles/DocumentReferences (a null prefetch value: not fetched)."""
    if not isinstance(prefetch, dict):
        return []
    found = []
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") in ("Bundle", "DocumentReference"):
            found.append(value)
    return found


def _empty_bundle(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") == "Bundle" and not resource.get("entry")


async def _fetch(body: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The encounter's DocumentReferences from ``fhirServer`` (412 when that fails)."""
    import httpx

    server = body.get("fhirServer")
    if not isinstance(server, str) or not server.startswith(("http://", "https://")):
        raise _bad(412, "no prefetch and no usable fhirServer: cannot get the notes")
    patient, encounter = context.get("patientId"), context.get("encounterId")
    if not isinstance(patient, str) or not patient:
        raise _bad(412, "context.patientId is needed to fetch the notes")
    params = {"patient": patient}
    if isinstance(encounter, str) and encounter:
        params["encounter"] = encounter
    headers = {"Accept": "application/fhir+json"}
    auth = body.get("fhirAuthorization")
    if isinstance(auth, dict) and isinstance(auth.get("access_token"), str):
        headers["Authorization"] = f"Bearer {auth['access_token']}"
    try:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
            answer = await client.get(
                f"{server.rstrip('/')}/DocumentReference", params=params, headers=headers
            )
    except httpx.HTTPError as exc:
        raise _bad(412, f"fhirServer could not be reached ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise _bad(412, f"fhirServer answered HTTP {answer.status_code}")
    try:
        resource = answer.json()
    except ValueError:
        raise _bad(412, "fhirServer did not answer with JSON") from None
    if not isinstance(resource, dict):
        raise _bad(412, "fhirServer did not answer with a FHIR resource")
    return resource


def _notes(resources: list[dict[str, Any]], max_chars: int | None) -> list[NoteInput]:
    notes: list[NoteInput] = []
    for position, resource in enumerate(resources, start=1):
        if _empty_bundle(resource):
            continue
        kwargs: dict[str, Any] = {"name": f"prefetch-{position}"}
        if max_chars is not None:
            kwargs["max_chars"] = max_chars
        try:
            notes.extend(parse_resource(resource, **kwargs).records)
        except FhirError as exc:
            if str(exc).startswith("Bundle holds no DocumentReference"):
                continue
            raise _bad(400, str(exc)) from None
    return notes


class _Cards:
    """Card uuid -> note id, bounded (feedback names the card only)."""

    def __init__(self) -> None:
        self._notes: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, cards: list[dict[str, Any]], note_ids: list[str]) -> None:
        with self._lock:
            for card, note_id in zip(cards, note_ids, strict=True):
                self._notes[card["uuid"]] = note_id
            while len(self._notes) > _CARD_MEMORY:
                self._notes.popitem(last=False)

    def note_of(self, card: str) -> str | None:
        with self._lock:
            return self._notes.get(card)


def _load_jwks(jwks: Mapping[str, Any] | Path | str) -> Mapping[str, Any]:
    if isinstance(jwks, (str, Path)):
        loaded = json.loads(Path(jwks).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError("the JWKS file is not a JSON object")
        return loaded
    return jwks


def cds_router(
    analyzer_getter: Callable[[], Analyzer] | None = None,
    *,
    analyze: Callable[[list[NoteInput]], Awaitable[list[NoteReport]]] | None = None,
    public_url: str | None = None,
    jwks: Mapping[str, Any] | Path | str | None = None,
    allowed_issuers: Iterable[str] = (),
    audience: str | None = None,
    feedback_sink: FeedbackSink | None = None,
    max_chars: int | None = None,
) -> APIRouter:
    """The CDS Hooks routes over ``analyzer_getter()`` (called per request, analysed serially).

    ``audience`` is the service's public URL (``.../cds-services/docgap-m53-0``), which the
    JWT ``aud`` must name; without it the request URL is used. ``jwks`` is a JWKS object or
    a file holding one; without it calls are not authenticated (loopback use only).
    ``audience`` may also be the discovery URL (``.../cds-services``): the service's URL
    under it is then accepted too. ``analyze`` (async) replaces ``analyzer_getter``: the
    service passes its worker pool, so hook calls share its threads and timeout.
    """
    if analyzer_getter is None and analyze is None:
        raise ValueError("cds_router needs analyzer_getter or analyze")
    import docgap

    version = docgap.__version__
    verifier = JwtVerifier(_load_jwks(jwks), allowed_issuers) if jwks is not None else None
    analysis_lock = threading.Lock()  # one Analyzer is not used by two threads at once
    cards_seen = _Cards()
    router = APIRouter(tags=["CDS Hooks"])

    def authenticate(request: Request, feedback: bool) -> None:
        if verifier is None:
            return
        if audience:
            base = audience.rstrip("/")
            audiences = [base, base + "/feedback"]
            if base.endswith("/cds-services"):
                audiences += [f"{base}/{SERVICE_ID}", f"{base}/{SERVICE_ID}/feedback"]
        else:
            audiences = [str(request.url).split("?", 1)[0]]
            if feedback:
                audiences.append(audiences[0].removesuffix("/feedback"))
        try:
            verifier.verify(request.headers.get("authorization"), audiences)
        except PermissionError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _bad(400, "request body is not JSON") from None
        if not isinstance(body, dict):
            raise _bad(400, "request body is not a JSON object")
        return body

    def analyse(notes: list[NoteInput]) -> list[NoteReport]:
        assert analyzer_getter is not None
        with analysis_lock:
            analyzer = analyzer_getter()
            return [analyze_one(analyzer, note) for note in notes]

    async def analyse_all(notes: list[NoteInput]) -> list[NoteReport]:
        if analyze is not None:
            return await analyze(notes)
        return await run_in_threadpool(analyse, notes)

    @router.get("/cds-services")
    async def discovery() -> dict[str, Any]:
        """The services this server offers (CDS Hooks discovery)."""
        return {
            "services": [
                {
                    "hook": HOOK,
                    "id": SERVICE_ID,
                    "title": "docgap: M53.0 documentation review",
                    "description": "Reviews the encounter's notes for the documentation "
                    "ICD-10-CM M53.0 (cervicocranial syndrome) needs, and shows the gaps "
                    "and the evidence for CDI. Informational only; never proposes a diagnosis.",
                    "prefetch": PREFETCH,
                    "usageRequirements": "Notes as DocumentReference with base64 text/plain "
                    "attachments.",
                }
            ]
        }

    @router.post(f"/cds-services/{SERVICE_ID}")
    async def hook(request: Request) -> JSONResponse:
        """Analyse the encounter's notes and answer with cards."""
        authenticate(request, feedback=False)
        body = await body_of(request)
        if body.get("hook") != HOOK:
            raise _bad(400, f"hook must be {HOOK!r}")
        if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
            raise _bad(400, "hookInstance is required")
        context = body.get("context")
        if not isinstance(context, dict):
            raise _bad(400, "context is required")
        resources = _resources(body.get("prefetch"))
        if not resources:
            resources = [await _fetch(body, context)]
        notes = _notes(resources, max_chars)
        for note in notes:
            for key, field in (("patient_id", "patientId"), ("encounter_id", "encounterId")):
                if isinstance(context.get(field), str) and context[field]:
                    note.meta.setdefault(key, context[field])
        reports = await analyse_all(notes) if notes else []
        wanted = [r for r in reports if _wants_card(r)]
        cards = build_cards(wanted, version=version, public_url=public_url)
        cards_seen.remember(cards, [r.note_id for r in wanted])
        return JSONResponse(prune({"cards": cards}))

    @router.post(f"/cds-services/{SERVICE_ID}/feedback")
    async def feedback(request: Request) -> Response:
        """Record what the clinician did with each card."""
        authenticate(request, feedback=True)
        body = await body_of(request)
        items = body.get("feedback")
        if not isinstance(items, list) or not items:
            raise _bad(400, "feedback must be a non-empty array")
        events = []
        for position, item in enumerate(items):
            where = f"feedback[{position}]"
            if not isinstance(item, dict):
                raise _bad(400, f"{where} is not an object")
            card, outcome = item.get("card"), item.get("outcome")
            if not isinstance(card, str) or not card:
                raise _bad(400, f"{where}.card is required")
            if outcome not in _OUTCOMES:
                raise _bad(400, f"{where}.outcome must be accepted or overridden")
            stamp = item.get("outcomeTimestamp")
            if not isinstance(stamp, str) or not stamp:
                raise _bad(400, f"{where}.outcomeTimestamp is required")
            override = item.get("overrideReason")
            override = override if isinstance(override, dict) else {}
            reason = override.get("reason")
            reason = reason if isinstance(reason, dict) else {}
            comment = override.get("userComment")
            events.append(
                FeedbackEvent(
                    card=card,
                    outcome=str(outcome),
                    outcome_timestamp=stamp,
                    note_id=cards_seen.note_of(card),
                    override_code=reason.get("code") if outcome == "overridden" else None,
                    override_display=reason.get("display") if outcome == "overridden" else None,
                    user_comment=comment if isinstance(comment, str) and comment else None,
                )
            )
        if feedback_sink is not None:
            for event in events:
                feedback_sink.record(event)
        return Response(status_code=200)

    return router
