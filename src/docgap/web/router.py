"""The web worklist: an APIRouter over the store, mounted into ``docgap serve``.

Sign-in against the store's users (argon2), the worklist filterable and sortable, a note
view with the evidence highlighted, the lifecycle actions as CSRF-protected forms that
carry the item's version (a second reviewer acting on a stale page gets 409 and nothing is
lost), and the metrics page. No note text and no form field is logged.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from docgap.store import (
    RESPONSES,
    ROLES,
    STATES,
    ConflictError,
    ReviewRequest,
    TransitionError,
    UnknownNoteError,
    act,
    session,
    verify_user,
)
from docgap.store import metrics as store_metrics
from docgap.store.audit import audit_entries, entry_dict
from docgap.store.lifecycle import CLAIMS_FIRST, TRANSITIONS
from docgap.store.review import get_item, item_dict, list_items
from docgap.web.highlight import highlight
from docgap.web.sessions import COOKIE, Session, SessionSigner

__all__ = ["ADMIN_ACTIONS", "worklist_router"]

log = logging.getLogger("docgap.web")

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_SORTS = ("note", "score", "-score", "status", "state")
_MAX_FORM = 64 * 1024


#: actions only an admin may take from the web (withdrawing a note from the worklist)
ADMIN_ACTIONS = frozenset({"cancel"})


def _allowed(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action``: reviewers work items, admins may also cancel."""
    if role == "admin":
        return True
    return role == "reviewer" and action not in ADMIN_ACTIONS


def _actions_for(state: str, role: str) -> list[str]:
    actions = [a for a, (sources, _) in TRANSITIONS.items() if state in sources]
    if state == "new":
        actions += sorted(CLAIMS_FIRST)
    return [a for a in actions if _allowed(role, a)]


def _suggested_query(record: dict[str, Any]) -> str | None:
    """The first queries.yml draft for the note, to edit before saving (None if none fits)."""
    from docgap.outputs.queries import draft_queries

    drafts = draft_queries(record)
    return drafts[0].text if drafts else None


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def worklist_router(db_url: str, secret: bytes | None = None, prefix: str = "") -> APIRouter:
    """The web worklist over the store at ``db_url``.

    ``secret`` signs the session cookies (a random one per process by default: sessions then
    end with the process); ``prefix`` is where the router is mounted (for links and redirects).
    """
    signer = SessionSigner(secret or secrets.token_bytes(32))
    router = APIRouter(prefix=prefix)

    def render(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        page = _TEMPLATES.get_template(name).render(base=prefix, **values)
        return HTMLResponse(page, status_code=status_code)

    def current(request: Request) -> Session | None:
        found = signer.read(request.cookies.get(COOKIE))
        return found if found is not None and found.role in ROLES else None

    def to_login() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/login", status_code=303)

    @router.get("/login", response_class=HTMLResponse)
    def login_page() -> HTMLResponse:
        return render("login.html")

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        name = form.get("name", "")
        role = verify_user(db_url, name, form.get("password", ""))
        if role is None:
            log.info("web: failed sign-in")
            return render("login.html", 401, error="Wrong name or password.")
        cookie, _ = signer.issue(name, role)
        response = RedirectResponse(f"{prefix}/", status_code=303)
        response.set_cookie(
            COOKIE, cookie, httponly=True, samesite="strict", max_age=int(signer.max_age)
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        user = current(request)
        form = await _form(request)
        if user is None or not signer.csrf_ok(user, form.get("csrf")):
            return render("base.html", 403, error="Invalid form (CSRF).")
        response = to_login()
        response.delete_cookie(COOKIE)
        return response

    @router.get("/", response_class=HTMLResponse)
    def listing(request: Request) -> Response:
        user = current(request)
        if user is None:
            return to_login()
        params = dict(request.query_params)
        with session(db_url) as db:
            shown_state = "cancelled" if params.get("state") == "cancelled" else None
            items = [item_dict(i) for i in list_items(db, state=shown_state)]
        choices = {
            "status": sorted({str(i["status"]) for i in items}),
            "state": list(STATES),
            "assignee": sorted({i["assignee"] for i in items if i["assignee"]}),
            "gap": sorted({g for i in items for g in i["gaps"]}),
        }
        for key in ("status", "state", "assignee"):
            if params.get(key):
                items = [i for i in items if str(i[key]) == params[key]]
        if params.get("gap"):
            items = [i for i in items if params["gap"] in i["gaps"]]
        sort = params.get("sort", "note")
        if sort in ("score", "-score"):
            items.sort(key=lambda i: i["score"] or 0.0, reverse=sort == "-score")
        elif sort in ("status", "state"):
            items.sort(key=lambda i: str(i[sort]))
        return render(
            "list.html",
            items=items,
            filters=list(choices.items()),
            sorts=_SORTS,
            params=params,
            user=user.user,
            csrf=user.csrf,
        )

    def note_page(user: Session, note_id: str, status_code: int = 200, error: str = "") -> Response:
        with session(db_url) as db:
            try:
                item = get_item(db, note_id)
            except UnknownNoteError:
                return render("base.html", 404, error="No such note.", user=user.user,
                              csrf=user.csrf)  # fmt: skip
            text = item.report.note.text
            shown = item_dict(item)
            values: dict[str, Any] = {
                "item": shown,
                "text": highlight(text, item.report.record.get("evidence") or ()) if text else None,
                "query_text": item.query_text or _suggested_query(item.report.record),
                "history": [entry_dict(e) for e in audit_entries(db, note_id=note_id)],
            }
        from docgap.report import STATUSES

        return render(
            "note.html",
            status_code,
            actions=_actions_for(shown["state"], user.role),
            statuses=STATUSES,
            responses=RESPONSES,
            user=user.user,
            csrf=user.csrf,
            error=error,
            **values,
        )

    @router.get("/notes/{note_id}", response_class=HTMLResponse)
    def note(request: Request, note_id: str) -> Response:
        user = current(request)
        if user is None:
            return to_login()
        return note_page(user, note_id)

    @router.post("/notes/{note_id}/action")
    async def action(request: Request, note_id: str) -> Response:
        user = current(request)
        if user is None:
            return to_login()
        form = await _form(request)
        if not signer.csrf_ok(user, form.get("csrf")):
            log.warning("web: action refused: bad CSRF token")
            return render("base.html", 403, error="Invalid form (CSRF).", user=user.user,
                          csrf=user.csrf)  # fmt: skip
        if not _allowed(user.role, form.get("action", "")):
            log.warning("web: action refused: role %s may not take it", user.role)
            return render("base.html", 403, error="Your role may not take this action.",
                          user=user.user, csrf=user.csrf)  # fmt: skip
        try:
            version = int(form["version"]) if form.get("version") else None
        except ValueError:
            version = None
        request_ = ReviewRequest(
            action=form.get("action", ""),
            status=form.get("status") or None,
            reason=form.get("reason") or None,
            query_text=form.get("query_text") or None,
            response=form.get("response") or None,
            final_code=form.get("final_code") or None,
            expected_version=version,
        )
        try:
            act(db_url, note_id, user.user, request_)
        except ConflictError as exc:
            return note_page(user, note_id, 409, f"Conflict: {exc}")
        except TransitionError as exc:
            return note_page(user, note_id, 400, str(exc))
        except UnknownNoteError:
            return render("base.html", 404, error="No such note.", user=user.user,
                          csrf=user.csrf)  # fmt: skip
        return RedirectResponse(f"{prefix}/notes/{quote(note_id, safe='')}", status_code=303)

    @router.get("/metrics", response_class=HTMLResponse)
    def metrics_page(request: Request) -> Response:
        user = current(request)
        if user is None:
            return to_login()
        return render("metrics.html", m=store_metrics(db_url), user=user.user, csrf=user.csrf)

    return router
