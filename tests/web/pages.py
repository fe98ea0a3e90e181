"""Helpers for the page tests without a browser: forms, CSRF tokens, signing in."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from app.db import Database
from app.models import AuditEvent
from tests.support.factories import DEFAULT_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def post_form(
    client: TestClient, page: str, action: str, data: dict[str, Any] | None = None, **kw: Any
) -> Response:
    """Open `page`, take its CSRF token, and post `data` to `action` as the browser would."""
    opened = client.get(page)
    assert opened.status_code == 200, opened.text
    body = {"csrf_token": csrf_token(opened.text), **(data or {})}
    return client.post(action, data=body, follow_redirects=False, **kw)


def sign_in(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> Response:
    response = post_form(client, "/sign-in", "/sign-in", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    return response


def audit_actions(db: Database, entity_type: str | None = None) -> list[str]:
    """The audit log's actions, oldest first (optionally for one kind of entity)."""
    stmt = select(AuditEvent.action).order_by(AuditEvent.seq)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    with db.transaction(read_only=True) as session:
        return list(session.scalars(stmt))


def set_cookies(response: Response) -> dict[str, str]:
    """The response's Set-Cookie headers by cookie name."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        cookies[header.split("=", 1)[0]] = header
    return cookies


def field_error(html: str, field_id: str) -> str | None:
    """The error message shown next to a form field (`field-<name>`), if any."""
    match = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error">'
        r'<span class="visually-hidden">[^<]*</span>\s*([^<]*)</p>',
        html,
    )
    return match.group(1).strip() if match else None


def application_form(**overrides: Any) -> dict[str, Any]:
    """The application form as a browser sends it, complete for `call_payload()`'s call:
    100000.00 requested within 50000.00..400000.00; budget lines 60000.00 + 40000.00."""
    form: dict[str, Any] = {
        "title": "Safe homes for children in Lima and Cusco",
        "summary": "Specialised shelters and case management for child victims.",
        "requested_amount": "100000.00",
        "duration_months": "24",
        "objectives": ["protection", "prevention"],
        "region-lima": "60",
        "region-cusco": "40",
        "region-loreto": "",
        "budget_rows": "3",
        "budget-0-category": "personnel",
        "budget-0-description": "Case workers",
        "budget-0-amount": "60000.00",
        "budget-1-category": "operations",
        "budget-1-description": "Shelter running costs",
        "budget-1-amount": "40000.00",
        "cost_share.amount": "",
        "cost_share.currency": "",
    }
    form.update(overrides)
    return form


def upload(
    client: TestClient, application_page: str, doc_type: str, content: bytes, filename: str
) -> Response:
    """What the page's script sends: the multipart body, the token in X-CSRF-Token."""
    token = csrf_token(client.get(application_page).text)
    return client.post(
        f"{application_page}/documents",
        files={"doc_type": (None, doc_type), "file": (filename, content, "application/pdf")},
        headers={"x-csrf-token": token, "accept": "application/json"},
    )
