"""Web sessions and CSRF: cookie flags, the API's credential check, throttle and audit,
revocation by deactivation or role change, sign-out, and forms refused without their token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth.tokens import issue_access_token
from app.config import Environment, Settings
from app.db import Database
from app.main import create_app
from app.models import Application, Document, Role, User
from app.storage import Storage
from app.users.schemas import UserUpdate
from app.users.service import update_user
from app.web.sessions import CSRF_COOKIE, SESSION_COOKIE
from tests.support.factories import DEFAULT_PASSWORD, Factory
from tests.support.uploads import pdf_bytes
from tests.web.pages import audit_actions, csrf_token, post_form, set_cookies, sign_in

HTML = {"accept": "text/html"}


def _count(db: Database, model: type) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _change_user(db: Database, factory: Factory, user: User, **changes: object) -> None:
    admin = factory.user(Role.admin)
    with db.transaction() as session:
        target = session.get(User, user.id)
        assert target is not None
        update_user(session, actor=admin, user=target, changes=UserUpdate(**changes))


# --- signing in --------------------------------------------------------------------------


def test_signing_in_sets_httponly_samesite_lax_session_and_csrf_cookies(
    client: TestClient, factory: Factory
) -> None:
    applicant = factory.user(Role.applicant)

    response = sign_in(client, applicant.email)

    assert response.headers["location"] == "/applications"
    cookies = set_cookies(response)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        flags = [part.strip().lower() for part in cookies[name].split(";")]
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # not in production: plain-HTTP development works
    assert client.get("/applications").status_code == 200


@pytest.fixture
def production_client(db: Database, storage: Storage, settings: Settings) -> Iterator[TestClient]:
    production = settings.model_copy(update={"grants_env": Environment.production})
    app = create_app(production, database=db, storage=storage)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_in_production_every_cookie_of_the_web_interface_is_secure(
    production_client: TestClient, factory: Factory
) -> None:
    applicant = factory.user(Role.applicant)

    signed_in = sign_in(production_client, applicant.email)
    language = production_client.get("/language/es?next=/", follow_redirects=False)

    cookies = {**set_cookies(signed_in), **set_cookies(language)}
    for name in (SESSION_COOKIE, CSRF_COOKIE, "lang"):
        flags = [part.strip().lower() for part in cookies[name].split(";")]
        assert "secure" in flags, name
        assert "httponly" in flags, name


def test_a_wrong_password_is_refused_recorded_and_audited_like_the_api(
    client: TestClient, factory: Factory, db: Database
) -> None:
    applicant = factory.user(Role.applicant)

    response = post_form(
        client, "/sign-in", "/sign-in", {"email": applicant.email, "password": "wrong-password"}
    )

    assert response.status_code == 401
    assert "Incorrect email or password." in response.text
    assert f'value="{applicant.email}"' in response.text  # the email is kept, never the password
    assert "wrong-password" not in response.text
    assert SESSION_COOKIE not in set_cookies(response)
    assert audit_actions(db)[-1] == "auth.login_failed"


def test_the_api_throttle_applies_to_the_sign_in_page(client: TestClient, factory: Factory) -> None:
    applicant = factory.user(Role.applicant)
    for _ in range(5):
        failed = post_form(
            client, "/sign-in", "/sign-in", {"email": applicant.email, "password": "wrong-one"}
        )
        assert failed.status_code == 401

    refused = post_form(
        client, "/sign-in", "/sign-in", {"email": applicant.email, "password": DEFAULT_PASSWORD}
    )

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-in attempts" in refused.text
    # The API counts the same failures: its sign-in is throttled too.
    api = client.post(
        "/api/v1/auth/token", data={"username": applicant.email, "password": DEFAULT_PASSWORD}
    )
    assert api.status_code == 429


def test_a_successful_sign_in_is_audited_and_returns_to_the_page_asked_for(
    client: TestClient, factory: Factory, db: Database
) -> None:
    applicant = factory.user(Role.applicant)

    response = post_form(
        client,
        "/sign-in?next=/awards",
        "/sign-in",
        {"email": applicant.email, "password": DEFAULT_PASSWORD, "next": "/awards"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/awards"
    assert audit_actions(db)[-1] == "auth.login"


@pytest.mark.parametrize(
    "target", ["//evil.example.org/", "https://evil.example.org/", "/\\evil.example.org"]
)
def test_sign_in_never_redirects_off_the_site(
    client: TestClient, factory: Factory, target: str
) -> None:
    applicant = factory.user(Role.applicant)

    response = post_form(
        client,
        "/sign-in",
        "/sign-in",
        {"email": applicant.email, "password": DEFAULT_PASSWORD, "next": target},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/applications"


# --- revocation and sign-out -------------------------------------------------------------


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": Role.reviewer}])
def test_deactivation_or_a_role_change_ends_the_web_session(
    client: TestClient, factory: Factory, db: Database, change: dict[str, object]
) -> None:
    officer = factory.user(Role.program_officer)
    sign_in(client, officer.email)
    assert client.get("/", headers=HTML).text.count("Sign out") == 1

    _change_user(db, factory, officer, **change)

    page = client.get("/", headers=HTML)
    assert "Sign out" not in page.text
    assert "Sign in" in page.text


def test_a_tampered_session_cookie_is_no_session(client: TestClient, factory: Factory) -> None:
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)
    token = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))

    response = client.get("/applications", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_api_tokens_and_web_sessions_cannot_stand_in_for_each_other(
    client: TestClient, factory: Factory, settings: Settings
) -> None:
    applicant = factory.user(Role.applicant)
    api_token, _ = issue_access_token(applicant, settings)
    client.cookies.set(SESSION_COOKIE, api_token)
    assert client.get("/applications", follow_redirects=False).status_code == 303

    client.cookies.clear()
    sign_in(client, applicant.email)
    session_token = client.cookies[SESSION_COOKIE]
    api = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {session_token}"})
    assert api.status_code == 401


def test_signing_out_clears_the_session(client: TestClient, factory: Factory) -> None:
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)

    response = post_form(client, "/applications", "/sign-out")

    assert response.status_code == 303
    cleared = set_cookies(response)[SESSION_COOKIE].lower()
    assert "max-age=0" in cleared
    assert client.get("/applications", follow_redirects=False).status_code == 303
    assert "You have signed out." in client.get("/").text


def test_sign_out_without_the_csrf_token_is_refused(client: TestClient, factory: Factory) -> None:
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)

    response = client.post("/sign-out", data={}, follow_redirects=False)

    assert response.status_code == 403
    assert client.get("/applications", follow_redirects=False).status_code == 200


# --- CSRF --------------------------------------------------------------------------------


@pytest.fixture
def applicant_client(client: TestClient, factory: Factory) -> TestClient:
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)
    return client


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_a_form_without_its_token_is_refused_and_changes_nothing(
    applicant_client: TestClient, factory: Factory, db: Database, token: str | None
) -> None:
    call = factory.call(publish=True)
    data = {} if token is None else {"csrf_token": token}

    response = applicant_client.post(
        f"/calls/{call.id}/apply", data=data, headers=HTML, follow_redirects=False
    )

    assert response.status_code == 403
    assert "This form has expired or did not come from this site" in response.text
    assert _count(db, Application) == 0


def test_another_browsers_token_is_refused(
    applicant_client: TestClient, app: object, factory: Factory, db: Database
) -> None:
    call = factory.call(publish=True)
    with TestClient(app) as other:  # type: ignore[arg-type]
        other_user = factory.user(Role.applicant)
        sign_in(other, other_user.email)
        foreign = csrf_token(other.get(f"/calls/{call.id}").text)

    response = applicant_client.post(
        f"/calls/{call.id}/apply", data={"csrf_token": foreign}, follow_redirects=False
    )

    assert response.status_code == 403
    assert _count(db, Application) == 0


def test_a_token_from_before_sign_in_is_refused_after_it(
    client: TestClient, factory: Factory, db: Database
) -> None:
    call = factory.call(publish=True)
    anonymous_token = csrf_token(client.get("/sign-in").text)
    applicant = factory.user(Role.applicant)
    sign_in(client, applicant.email)

    response = client.post(
        f"/calls/{call.id}/apply", data={"csrf_token": anonymous_token}, follow_redirects=False
    )

    assert response.status_code == 403
    assert _count(db, Application) == 0


def test_the_same_form_with_its_token_goes_through(
    applicant_client: TestClient, factory: Factory, db: Database
) -> None:
    call = factory.call(publish=True)

    response = post_form(applicant_client, f"/calls/{call.id}", f"/calls/{call.id}/apply")

    assert response.status_code == 303
    assert _count(db, Application) == 1


def test_an_upload_without_the_token_header_stores_nothing(
    applicant_client: TestClient, factory: Factory, db: Database, storage: Storage
) -> None:
    call = factory.call(publish=True)
    created = post_form(applicant_client, f"/calls/{call.id}", f"/calls/{call.id}/apply")
    page = created.headers["location"]
    token = csrf_token(applicant_client.get(page).text)

    # The token in the multipart body is not enough: streamed uploads take it from the header.
    response = applicant_client.post(
        f"{page}/documents",
        files={
            "csrf_token": (None, token),
            "doc_type": (None, "proposal"),
            "file": ("proposal.pdf", pdf_bytes(), "application/pdf"),
        },
        headers={"accept": "application/json"},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert _count(db, Document) == 0
    assert list(storage.iter_objects()) == []
