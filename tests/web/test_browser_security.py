"""Sessions and CSRF in a real browser: cookie flags as the browser stores them, a forged
form from another site refused, a tampered token refused, and another organisation's
application answered with the 404 page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Application, Role
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.servers import LOOPBACK
from tests.web.browser import assert_accessible
from tests.web.conftest import LiveSite

pytestmark = pytest.mark.slow


def _sign_in(live: LiveSite, **context: Any) -> tuple[Any, Any]:
    applicant = live.factory.user(Role.applicant)
    page = live.new_page(**context)
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(applicant.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/applications")
    return page, applicant


def _applications(live: LiveSite) -> int:
    with live.db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Application)) or 0


def test_the_session_cookie_is_httponly_and_samesite_lax(live: LiveSite) -> None:
    page, _ = _sign_in(live)

    cookies = {c["name"]: c for c in page.context.cookies()}
    for name in ("grants_session", "grants_csrf"):
        assert cookies[name]["httpOnly"] is True
        assert cookies[name]["sameSite"] == "Lax"
        assert cookies[name]["path"] == "/"
        assert cookies[name]["secure"] is False  # GRANTS_ENV=test: Secure only in production
    # Scripts cannot read the session or the CSRF secret; they do write the time zone.
    readable = page.evaluate("() => document.cookie")
    assert "grants_session" not in readable
    assert "grants_csrf" not in readable
    assert "tz=" in readable

    page.get_by_role("button", name="Sign out").click()
    assert "You have signed out." in page.locator(".flashes").inner_text()
    assert "grants_session" not in {c["name"] for c in page.context.cookies()}


@pytest.fixture
def other_site() -> Iterator[dict[str, str]]:
    """A page on another origin with a form aimed at the service, as an attacker would."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages["origin"] = f"http://{LOOPBACK}:{server.server_address[1]}"
    yield pages
    server.shutdown()
    thread.join(timeout=5)


def test_a_form_posted_from_another_site_is_refused(
    live: LiveSite, other_site: dict[str, str]
) -> None:
    call = live.reference_call()
    page, _ = _sign_in(live)
    other_site["/prize.html"] = (
        "<!doctype html><title>You won</title>"
        f'<form method="post" action="{live.url}/calls/{call.id}/apply">'
        '<input type="hidden" name="csrf_token" value="guessed">'
        "<button>Claim your prize</button></form>"
    )

    page.goto(f"{other_site['origin']}/prize.html")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Claim your prize").click()

    assert navigation.value.status == 403
    assert "This form has expired or did not come from this site" in page.content()
    assert _applications(live) == 0


def test_a_tampered_token_is_refused_and_nothing_changes(live: LiveSite) -> None:
    call = live.reference_call()
    page, _ = _sign_in(live)
    page.goto(f"/calls/{call.id}")
    page.evaluate(
        "() => document.querySelector('form[action$=\"/apply\"] input[name=csrf_token]')"
        ".value = '0'.repeat(64)"
    )

    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Start an application").click()

    assert navigation.value.status == 403
    assert page.locator("h1").inner_text() == "You may not do this"
    assert_accessible(page)
    assert _applications(live) == 0

    page.go_back()
    page.reload()
    page.get_by_role("button", name="Start an application").click()
    assert "created" in page.locator(".flashes").inner_text()
    assert _applications(live) == 1


def test_another_organisations_application_is_the_404_page(live: LiveSite) -> None:
    call = live.reference_call()
    other = live.factory.user(Role.applicant)
    theirs = httpx.post(
        f"{live.url}/api/v1/calls/{call.id}/applications",
        json={"title": "Another organisation's plan"},
        headers=live.factory.headers(other),
    ).json()
    page, _ = _sign_in(live)

    response = page.goto(f"/applications/{theirs['id']}")

    assert response is not None
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert "Another organisation's plan" not in page.content()
    assert_accessible(page)
