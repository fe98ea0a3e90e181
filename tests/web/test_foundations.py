"""The web layer's foundations: mounted beside the API without changing it, pages outside the
OpenAPI document, HTML error pages for pages and JSON for the API, static files, no inline
script or style anywhere, and every POST page route behind the one CSRF check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.models import Role
from app.web import PAGE_ROUTERS
from app.web.deps import csrf_protect
from app.web.templating import TEMPLATES_DIR
from tests.support.factories import Factory
from tests.web.pages import post_form, sign_in

HTML = {"accept": "text/html,application/xhtml+xml"}


def _page_routes() -> list[APIRoute]:
    return [r for router in PAGE_ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def _calls(dependant: Dependant) -> set[object]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def test_no_page_route_appears_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    page_paths = {r.path for r in _page_routes()}
    assert page_paths, "no page routes were found"
    assert not page_paths & set(paths)
    assert all(p.startswith("/api/v1") for p in paths if p not in ("/healthz", "/readyz"))


def test_every_post_page_route_depends_on_the_csrf_check() -> None:
    posts = [r for r in _page_routes() if "POST" in r.methods]

    assert len(posts) >= 8
    unprotected = [r.path for r in posts if csrf_protect not in _calls(r.dependant)]
    assert unprotected == []


def test_an_unknown_page_is_an_html_404_but_the_api_keeps_json(client: TestClient) -> None:
    page = client.get("/no-such-page", headers=HTML)
    api = client.get("/api/v1/no-such-thing", headers=HTML)
    plain = client.get("/no-such-page")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"
    # A client that does not ask for HTML (curl, scripts) keeps the JSON answer.
    assert plain.headers["content-type"].startswith("application/json")


def test_an_object_a_page_may_not_show_is_an_html_404(client: TestClient, factory: Factory) -> None:
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)

    response = client.get("/applications/not-a-uuid", headers=HTML)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is nothing here" in response.text


def test_a_role_that_may_not_open_a_page_gets_the_403_page(
    client: TestClient, factory: Factory
) -> None:
    reviewer = factory.user(Role.reviewer)
    sign_in(client, reviewer.email)

    response = client.get("/applications", headers=HTML)

    assert response.status_code == 403
    assert "You may not do this" in response.text


def test_a_page_that_needs_a_session_sends_the_visitor_to_sign_in_and_back(
    client: TestClient,
) -> None:
    response = client.get("/applications?status=draft", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fapplications%3Fstatus%3Ddraft"


def test_the_stylesheet_and_script_are_served_from_the_app(client: TestClient) -> None:
    css = client.get("/static/css/site.css")
    js = client.get("/static/js/site.js")

    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]


_INLINE = [
    (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    problems = []
    for template in Path(TEMPLATES_DIR).rglob("*.html"):
        text = template.read_text()
        problems += [f"{template.name}: {what}" for rx, what in _INLINE if rx.search(text)]

    assert problems == []


def test_rendered_pages_have_no_inline_script_or_style(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call(publish=True)
    pages = [client.get("/"), client.get(f"/calls/{call.id}"), client.get("/register")]

    for page in pages:
        assert page.status_code == 200
        assert [what for rx, what in _INLINE if rx.search(page.text)] == []
        assert '<script src="/static/js/site.js" defer></script>' in page.text


def test_pages_are_never_cached(client: TestClient) -> None:
    response = client.get("/")

    assert response.headers["cache-control"] == "no-store"


@pytest.mark.postgres
def test_a_value_the_database_refuses_is_the_apis_422_shown_as_a_page(
    client: TestClient,
) -> None:
    # PostgreSQL cannot store or compare a NUL character: the app's own handler grades that
    # 422 (the request's fault, not an outage) and the page route shows it as a page.
    response = post_form(
        client, "/sign-in", "/sign-in", {"email": "a\x00b@example.org", "password": "x"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Some information is not valid" in response.text
