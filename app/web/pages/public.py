"""Public pages: open calls, a call's terms, and the language switcher."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app.applications.service import list_query
from app.calls.service import get_call_for, visible_calls
from app.db import DbSession
from app.ids import ParsedId
from app.models import Application, ApplicationStatus, Call, CallStatus, Role, User
from app.models.base import utcnow
from app.web.deps import OptionalUser
from app.web.filetypes import type_names
from app.web.i18n import LANG_COOKIE, LANGUAGES, I18n, i18n_for
from app.web.routing import page_router
from app.web.sessions import set_cookie
from app.web.templating import render, safe_next

router = page_router()

ONE_YEAR = 365 * 24 * 3600


@router.get("/")
def home(request: Request, session: DbSession, user: OptionalUser) -> Response:
    """The calls accepting applications now (or soon), the nearest deadline first."""
    now = utcnow()
    calls = session.scalars(
        visible_calls(user)
        .where(Call.status == CallStatus.published)
        .order_by(Call.closes_at, Call.id)
    )
    open_calls = [c for c in calls if c.effective_status(now) is CallStatus.published]
    return render(request, "public/home.html", {"calls": open_calls, "now": now})


def document_rules(i18n: I18n, call: Call) -> list[dict[str, Any]]:
    """The call's required documents with their rules in words, for the call and the form."""
    return [
        {
            "type": rule["type"],
            "label": rule["label"],
            "required": rule["required"],
            "max_size_mb": rule["max_size_mb"],
            "allowed_types": rule["allowed_types"],
            "type_names": type_names(i18n, rule["allowed_types"]),
        }
        for rule in call.required_documents
    ]


def _own_application(session: DbSession, user: User | None, call: Call) -> Application | None:
    if user is None or user.role is not Role.applicant:
        return None
    return session.scalar(
        list_query(user, call.id, None).where(Application.status != ApplicationStatus.withdrawn)
    )


@router.get("/calls/{id}")
def call_page(
    request: Request, call_id: ParsedId, session: DbSession, user: OptionalUser
) -> Response:
    call = get_call_for(session, user, call_id)
    now = utcnow()
    return render(
        request,
        "public/call.html",
        {
            "call": call,
            "status": call.effective_status(now),
            "is_open": call.is_open(now),
            "opens_later": now < call.opens_at,
            "documents": document_rules(i18n_for(request), call),
            "criteria": call.rubric.get("criteria", []),
            "own_application": _own_application(session, user, call),
        },
    )


@router.get("/language/{lang}")
def choose_language(request: Request, lang: str, next: str | None = None) -> Response:
    """The language switcher: remembered in the `lang` cookie, then back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, lang, max_age=ONE_YEAR)
    return response
