"""Security headers on every response, the documentation pages' policy, HSTS in production
only, no-store on the API, and CORS closed unless CORS_ORIGINS lists origins."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Environment, Settings
from app.db import Database
from app.main import create_app
from app.models import Role
from app.storage import Storage
from tests.foundation.api import registration
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
DOCS_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_hardened(response) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    csp = policy(response.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]


def assert_strict(response) -> None:
    assert_hardened(response)
    header = response.headers["content-security-policy"]
    assert "unsafe-inline" not in header
    assert "https:" not in header
    assert "script-src" not in policy(header)  # scripts fall back to default-src 'self'


@pytest.fixture
def failing_app(settings: Settings, db: Database, storage: Storage) -> FastAPI:
    """The app plus one route that fails unexpectedly, as a bug would."""
    app = create_app(settings, database=db, storage=storage)

    def explode() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/explode", explode)
    return app


def test_every_kind_of_response_carries_the_headers(
    client: TestClient, factory: Factory, failing_app: FastAPI
) -> None:
    _, admin = factory.login(Role.admin)
    with TestClient(failing_app, raise_server_exceptions=False) as failing:
        responses = {
            "ok": client.get("/healthz"),
            "api ok": client.get("/api/v1/users/me", headers=admin),
            "unauthenticated": client.get("/api/v1/users/me"),
            "unknown route": client.get("/no/such/page"),
            "wrong method": client.delete("/api/v1/users/me"),
            "validation": client.post("/api/v1/auth/register", json={}),
            "too large": client.post(
                "/api/v1/auth/register",
                content=b" " * (1024 * 1024 + 1),
                headers={"Content-Type": "application/json"},
            ),
            "schema": client.get("/openapi.json"),
            "unexpected error": failing.get("/api/v1/explode"),
        }
    assert responses["too large"].status_code == 413
    assert responses["unexpected error"].status_code == 500
    assert responses["unexpected error"].json() == {
        "detail": "Internal error.",
        "code": "internal_error",
    }
    for response in responses.values():
        assert_strict(response)


def test_a_streamed_download_keeps_its_bytes_and_gets_the_headers(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    _, applicant = factory.login(Role.applicant)
    draft = client.post(
        f"/api/v1/calls/{call.id}/applications",
        json={"title": "Refugio", "requested_amount": "100000.00"},
        headers=applicant,
    ).json()
    content = pdf_bytes(padding=200_000)
    document = client.post(
        f"/api/v1/applications/{draft['id']}/documents",
        files=upload_files("proposal", content),
        headers=applicant,
    ).json()

    download = client.get(f"/api/v1/documents/{document['id']}/content", headers=applicant)

    assert download.status_code == 200
    assert download.content == content
    for name, value in ALWAYS.items():
        assert download.headers[name] == value
    # The route's own policy and cache header are kept; framing is forbidden on top.
    csp = policy(download.headers["content-security-policy"])
    assert "sandbox" in csp
    assert csp["frame-ancestors"] == ["'none'"]
    assert download.headers["cache-control"] == "private, no-store"


def test_api_responses_are_not_stored_by_caches(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    for response in (
        client.get("/api/v1/calls", headers=officer),
        client.get("/api/v1/calls"),
        client.post("/api/v1/auth/register", json=registration()),
    ):
        assert response.headers["cache-control"] == "no-store", response.request.url


def test_non_api_responses_are_not_marked_no_store(client: TestClient) -> None:
    assert "cache-control" not in client.get("/healthz").headers


class _Assets(HTMLParser):
    """What an HTML page loads: scripts, stylesheets, icons, and whether it has inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.images: list[str] = []
        self.inline_script = False
        self.inline_style = False
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            if attributes.get("src"):
                self.scripts.append(attributes["src"] or "")
            else:
                self._in = "script"
        elif tag == "link" and attributes.get("href"):
            rel = attributes.get("rel") or ""
            (self.styles if "stylesheet" in rel else self.images).append(attributes["href"] or "")
        elif tag == "style":
            self._in = "style"

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline_script = True
        if self._in == "style" and data.strip():
            self.inline_style = True

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def _allowed(csp: dict[str, list[str]], directive: str, url: str) -> bool:
    sources = csp.get(directive, csp["default-src"])
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    return origin in sources or (not urlsplit(url).netloc and "'self'" in sources)


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_documentation_pages_policy_allows_exactly_what_they_load(
    client: TestClient, page: str
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert_hardened(response)
    csp = policy(response.headers["content-security-policy"])
    assets = _Assets()
    assets.feed(response.text)

    for url in assets.scripts:
        assert _allowed(csp, "script-src", url), url
    for url in assets.styles:
        assert _allowed(csp, "style-src", url), url
    for url in assets.images:
        assert _allowed(csp, "img-src", url), url
    if assets.inline_script:
        assert "'unsafe-inline'" in csp["script-src"]
    if assets.inline_style:
        assert "'unsafe-inline'" in csp["style-src"]
    # Whatever runs there may only talk to this service.
    assert csp["connect-src"] == ["'self'"]


def test_the_documentation_pages_do_load_from_the_cdn(client: TestClient) -> None:
    # Guards the test above against passing because FastAPI stopped using the CDN.
    assets = _Assets()
    assets.feed(client.get("/docs").text)
    assert any(u.startswith("https://cdn.jsdelivr.net/") for u in assets.scripts)
    assert assets.inline_script


def test_the_relaxed_policy_is_only_on_the_documentation_pages(client: TestClient) -> None:
    for path in ("/docs/", "/docsx", "/redoc/x", "/openapi.json", "/api/v1/docs"):
        assert_strict(client.get(path, follow_redirects=False))


def test_hsts_only_in_production(
    client: TestClient, settings: Settings, db: Database, storage: Storage
) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers
    production = settings.model_copy(update={"grants_env": Environment.production})
    with TestClient(create_app(production, database=db, storage=storage)) as prod:
        for response in (prod.get("/healthz"), prod.get("/api/v1/users/me"), prod.get("/docs")):
            hsts = response.headers["strict-transport-security"]
            assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
            assert int(hsts.split("=")[1].split(";")[0]) >= 31_536_000  # at least a year


# --- CORS -----------------------------------------------------------------------------------

ORIGIN = "https://grants.example.org"


@pytest.fixture
def cors_client(settings: Settings, db: Database, storage: Storage) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"cors_origins": f"{ORIGIN}, https://admin.example.org:8443"}
    )
    with TestClient(create_app(configured, database=db, storage=storage)) as client:
        yield client


def _preflight(client: TestClient, origin: str):
    return client.options(
        "/api/v1/calls",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_without_cors_origins_no_cors_headers_are_sent(client: TestClient) -> None:
    for response in (
        client.get("/api/v1/calls", headers={"Origin": ORIGIN}),
        _preflight(client, ORIGIN),
    ):
        assert not [h for h in response.headers if h.startswith("access-control-")]
    assert _preflight(client, ORIGIN).status_code == 405


def test_a_listed_origin_gets_cors_headers(cors_client: TestClient) -> None:
    simple = cors_client.get("/api/v1/calls", headers={"Origin": ORIGIN})
    preflight = _preflight(cors_client, ORIGIN)

    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in simple.headers
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "idempotency-key" in allowed
    assert_strict(preflight)


def test_an_unlisted_origin_gets_no_cors_allowance(cors_client: TestClient) -> None:
    for origin in ("https://evil.example.org", "https://grants.example.org.evil.example"):
        simple = cors_client.get("/api/v1/calls", headers={"Origin": origin})
        assert "access-control-allow-origin" not in simple.headers
        assert _preflight(cors_client, origin).status_code == 400


@pytest.mark.parametrize(
    "value", ["*", "grants.example.org", "https://grants.example.org/app", "ftp://x.org"]
)
def test_cors_origins_must_be_plain_origins(value: str) -> None:
    with pytest.raises(ValidationError, match=r"CORS_ORIGINS|cors_origins"):
        Settings(CORS_ORIGINS=value)
