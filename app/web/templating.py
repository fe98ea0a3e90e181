"""Jinja2 templates, the navigation by role, flash messages and the two page responses.

Every page goes through `render()` (an HTML response with the common context) or `redirect()`
(303 See Other after a form, optionally with a flash message for the next page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from app.auth.tokens import ALGORITHM
from app.config import Settings
from app.models import Role, User
from app.models.base import utcnow
from app.web.i18n import LANGUAGES, I18n, i18n_for
from app.web.sessions import (
    CSRF_FIELD,
    csrf_token,
    load_session,
    persist_new_csrf_secret,
    set_cookie,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "grants_flash"
FLASH_AUDIENCE = "grants-flash"
ALL_ROLES = frozenset(Role)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# --- navigation --------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a msgid, marked with N_()
    roles: frozenset[Role] = frozenset()
    anonymous: bool = False

    def shown_to(self, user: User | None) -> bool:
        return self.anonymous if user is None else user.role in self.roles


# The main menu, in order. A page area adds its entries here (docs/web.md).
NAV_ITEMS: list[NavItem] = [
    NavItem("/", N_("Open calls"), roles=ALL_ROLES, anonymous=True),
    NavItem("/applications", N_("My applications"), roles=frozenset({Role.applicant})),
    NavItem("/awards", N_("My awards"), roles=frozenset({Role.applicant})),
]

# Where each role lands after signing in; roles without an entry land on the home page.
HOME_PAGES: dict[Role, str] = {Role.applicant: "/applications"}


def home_for(user: User) -> str:
    return HOME_PAGES.get(user.role, "/")


def _nav(user: User | None, current: str) -> list[dict[str, Any]]:
    items = []
    for item in NAV_ITEMS:
        if not item.shown_to(user):
            continue
        active = current == item.path or (item.path != "/" and current.startswith(item.path + "/"))
        items.append({"path": item.path, "label": item.label, "current": active})
    return items


# --- labels ------------------------------------------------------------------------------

# Enum values shown to people (statuses, roles, kinds), by value; `{{ value|label }}`.
LABELS: dict[str, str] = {
    # applications
    "draft": N_("Draft"),
    "submitted": N_("Submitted"),
    "withdrawn": N_("Withdrawn"),
    "ineligible": N_("Not eligible"),
    "under_review": N_("Under review"),
    "awarded": N_("Awarded"),
    "declined": N_("Declined"),
    # calls
    "published": N_("Open"),
    "closed": N_("Closed"),
    # milestones
    "planned": N_("Planned"),
    "reported": N_("Reported"),
    "approved": N_("Approved"),
    "paid": N_("Paid"),
    # roles
    "admin": N_("Administrator"),
    "program_officer": N_("Programme officer"),
    "reviewer": N_("Reviewer"),
    "finance_officer": N_("Finance officer"),
    "applicant": N_("Applicant"),
    # organisation kinds
    "ngo": N_("Non-governmental organisation"),
    "international_org": N_("International organisation"),
    "other": N_("Other"),
}


# --- template environment ----------------------------------------------------------------


def _i18n(context: Context) -> I18n:
    return context["i18n"]  # type: ignore[no-any-return]


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _i18n(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _i18n(context).ngettext(singular, plural, n)


@pass_context
def _money(context: Context, minor: int | None, currency: str) -> str:
    return _i18n(context).money(minor, currency)


@pass_context
def _date(context: Context, value: date | datetime | None, zone: str | None = None) -> str:
    return _i18n(context).date(value, zone)


@pass_context
def _datetime(context: Context, value: datetime | None, zone: str | None = None) -> str:
    return _i18n(context).datetime(value, zone)


@pass_context
def _time_left(context: Context, deadline: datetime) -> str:
    return _i18n(context).time_left(deadline)


@pass_context
def _file_size(context: Context, size: int) -> str:
    return _i18n(context).file_size(size)


@pass_context
def _number(context: Context, value: int | float) -> str:
    return _i18n(context).number(value)


def label(i18n: I18n, value: object) -> str:
    """A status, role or kind in the visitor's language."""
    key = str(getattr(value, "value", value))
    return i18n.gettext(LABELS[key]) if key in LABELS else key


@pass_context
def _label(context: Context, value: object) -> str:
    return label(_i18n(context), value)


def _iso(value: datetime) -> str:
    return value.isoformat()


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters.update(
        money=_money,
        date=_date,
        datetime=_datetime,
        time_left=_time_left,
        file_size=_file_size,
        number=_number,
        label=_label,
        iso=_iso,
    )
    return env


templates = build_environment()


# --- flash messages ----------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _read_flashes(request: Request) -> list[dict[str, str]]:
    token = request.cookies.get(FLASH_COOKIE)
    if not token:
        return []
    try:
        claims = jwt.decode(
            token, _settings(request).secret_key, algorithms=[ALGORITHM], audience=FLASH_AUDIENCE
        )
    except jwt.PyJWTError:
        return []
    messages = claims.get("messages")
    if not isinstance(messages, list):
        return []
    return [
        {"level": str(m[0]), "text": str(m[1])}
        for m in messages
        if isinstance(m, list) and len(m) == 2
    ]


def flash(request: Request, response: Response, message: str, level: str = "success") -> None:
    """Show `message` (already translated) once, on the next page rendered for this browser."""
    token = jwt.encode(
        {
            "messages": [[level, message]],
            "aud": FLASH_AUDIENCE,
            "exp": utcnow() + timedelta(minutes=5),
        },
        _settings(request).secret_key,
        algorithm=ALGORITHM,
    )
    set_cookie(request, response, FLASH_COOKIE, token)


def redirect(
    request: Request, url: str, *, message: str | None = None, level: str = "success"
) -> RedirectResponse:
    """303 to `url` (the answer to every successful form), with an optional flash message."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message, level)
    return response


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in?" + urlencode({"next": target})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never `//host`, a scheme, or a backslash trick."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return default
    return target


# --- rendering ---------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with the common context: `i18n`, `user`, `csrf_token`, `nav`, `flashes`."""
    i18n = i18n_for(request)
    session = load_session(request)
    user = session.user if session else None
    flashes = _read_flashes(request)
    common = {
        "request": request,
        "i18n": i18n,
        "user": user,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "nav": _nav(user, request.url.path),
        "flashes": flashes,
        "languages": LANGUAGES,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    html = templates.get_template(template).render({**common, **(context or {})})
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    # Pages carry CSRF tokens and personal data: never cached, by anyone.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, Accept-Language"
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(
            FLASH_COOKIE,
            path="/",
            secure=_settings(request).is_production,
            httponly=True,
            samesite="lax",
        )
    persist_new_csrf_secret(request, response)
    return response
