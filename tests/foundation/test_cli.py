"""The `grants` command line (SPEC §4, §11): create-user and demo, on a real database."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app import cli
from app.config import get_settings
from app.db import Database
from app.demo import DEMO_PASSWORD, REFERENCE_TITLE
from app.models import AuditEvent, Call, Role, User
from tests.foundation.api import bearer, sign_in

pytestmark = pytest.mark.slow

CREATE_ADMIN = [
    "create-user",
    "--email",
    "First.Admin@donor.example.org",
    "--role",
    "admin",
    "--full-name",
    "First Admin",
    "--password-stdin",
]


@pytest.fixture
def grants(committed_db: Database, monkeypatch) -> Iterator[Callable[..., int]]:
    """Run `grants …` against the committed database, with `stdin` as standard input."""
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(False))

    def run(*argv: str, stdin: str = "", env: str = "development") -> int:
        monkeypatch.setenv("GRANTS_ENV", env)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        get_settings.cache_clear()
        try:
            return cli.main(list(argv))
        finally:
            get_settings.cache_clear()

    yield run
    get_settings.cache_clear()


def _count(db: Database, entity, *where) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(entity).where(*where))


def test_create_user_makes_an_admin_who_can_sign_in_and_manage_users(
    grants, committed_app_factory, capsys
):
    code = grants(*CREATE_ADMIN, stdin="first-admin-password\n")

    assert code == 0
    assert "first.admin@donor.example.org" in capsys.readouterr().out
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        token = sign_in(client, "first.admin@donor.example.org", "first-admin-password")
        assert token.status_code == 200
        headers = bearer(token.json()["access_token"])
        me = client.get("/api/v1/users/me", headers=headers).json()
        assert (me["role"], me["full_name"]) == ("admin", "First Admin")
        assert client.get("/api/v1/users", headers=headers).status_code == 200


def test_create_user_is_audited_without_an_actor(grants, committed_db):
    grants(*CREATE_ADMIN, stdin="first-admin-password\n")

    with committed_db.transaction(read_only=True) as session:
        [event] = session.scalars(select(AuditEvent))
        assert (event.action, event.actor_id) == ("user.created", None)
        assert event.data == {"email": "first.admin@donor.example.org", "role": "admin"}


def test_create_user_refuses_a_short_password_with_exit_code_2(grants, committed_db, capsys):
    code = grants(*CREATE_ADMIN, stdin="elevenchars\n")

    assert code == 2
    assert "error" in capsys.readouterr().err
    assert _count(committed_db, User) == 0


def test_create_user_without_a_password_on_stdin_is_refused(grants, committed_db):
    assert grants(*CREATE_ADMIN, stdin="") == 2
    assert _count(committed_db, User) == 0


def test_create_user_with_an_email_in_use_fails_and_keeps_the_first(grants, committed_db, capsys):
    assert grants(*CREATE_ADMIN, stdin="first-admin-password\n") == 0

    code = grants(*CREATE_ADMIN, stdin="another-password-1\n")

    assert code not in (0, None)
    assert "already exists" in capsys.readouterr().err
    assert _count(committed_db, User) == 1


def test_create_user_does_not_create_applicants(grants, committed_db):
    argv = [a if a != "admin" else "applicant" for a in CREATE_ADMIN]

    with pytest.raises(SystemExit) as refused:
        grants(*argv, stdin="first-admin-password\n")

    assert refused.value.code == 2
    assert _count(committed_db, User) == 0


def test_demo_refuses_to_load_in_production(grants, committed_db, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "p" * 48)

    code = grants("demo", env="production")

    assert code != 0
    assert "production" in capsys.readouterr().err
    assert _count(committed_db, User) == 0
    assert _count(committed_db, Call) == 0


def test_demo_loads_the_reference_call_and_one_user_per_role(
    grants, committed_db, committed_app_factory
):
    assert grants("demo") == 0

    with committed_db.transaction(read_only=True) as session:
        roles = set(session.scalars(select(User.role)))
    assert roles == set(Role)
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        assert sign_in(client, "admin@example.org", DEMO_PASSWORD).status_code == 200
        applicant = bearer(sign_in(client, "ngo@example.org", DEMO_PASSWORD).json()["access_token"])
        [call] = client.get("/api/v1/calls", headers=applicant).json()["items"]
        officer = bearer(
            sign_in(client, "officer@example.org", DEMO_PASSWORD).json()["access_token"]
        )
        panel = client.get(f"/api/v1/calls/{call['id']}/panel", headers=officer).json()

    assert (call["title"], call["status"], call["is_open"]) == (REFERENCE_TITLE, "published", True)
    assert (call["currency"], call["envelope_amount"]) == ("USD", "5000000.00")
    assert [r["code"] for r in call["regions"]] == ["lima", "cusco", "loreto", "other"]
    assert {o["code"] for o in call["objectives"]} == {"prosecution", "protection", "prevention"}
    assert sum(c["weight"] for c in call["rubric"]["criteria"]) == 100
    assert any(d["required"] for d in call["required_documents"])
    assert len(panel["reviewer_ids"]) >= call["reviewers_per_application"]


def test_demo_is_idempotent(grants, committed_db, capsys):
    assert grants("demo") == 0
    users, events = _count(committed_db, User), _count(committed_db, AuditEvent)
    capsys.readouterr()

    assert grants("demo") == 0

    assert "already loaded" in capsys.readouterr().out
    assert _count(committed_db, Call) == 1
    assert _count(committed_db, User) == users
    assert _count(committed_db, AuditEvent) == events
