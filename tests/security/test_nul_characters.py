"""A NUL character (U+0000) in any text input is the client's mistake: 422, on both backends.

PostgreSQL cannot store or compare text containing NUL, so before these checks such input got
past validation and failed in the database, where it was answered 503 "database unavailable"
with a Retry-After (and SQLite stored it).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import AuditEvent, Role, User
from app.storage import Storage
from tests.awards.helpers import API, awarded, evidence_pdf, person, report
from tests.support.factories import Factory


def _count(db: Database, model: type) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_nul_anywhere_in_a_json_body_is_a_validation_error_and_creates_nothing(
    client: TestClient, db: Database
) -> None:
    users = _count(db, User)
    body = {
        "email": "rosa@ngo.example.org",
        "password": "a long enough passphrase",
        "full_name": "Rosa Quispe",
        "organization": {"name": "Asociación\x00Nueva", "kind": "ngo", "country": "PE"},
    }

    response = client.post(f"{API}/auth/register", json=body)

    assert response.status_code == 422, response.text
    [issue] = response.json()["detail"]
    assert "NUL" in issue["msg"]
    assert _count(db, User) == users


@pytest.mark.parametrize(
    "query",
    [
        "/users?email=rosa%00@ngo.example.org",
        "/organizations?name=%00",
        "/organizations?country=P%00",
        "/audit?action=user.%00",
        "/audit?entity_type=%00",
        "/audit?entity_id=%00",
    ],
)
def test_a_nul_in_a_text_filter_is_a_validation_error(
    client: TestClient, factory: Factory, query: str
) -> None:
    _, admin = factory.login(Role.admin)

    response = client.get(f"{API}{query}", headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_a_report_filter_with_a_nul_is_a_validation_error(
    client: TestClient, factory: Factory
) -> None:
    _, finance = factory.login(Role.finance_officer)
    call = factory.call()

    response = client.get(
        f"{API}/reports/disbursements?call_id={call.id}&region=li%00ma", headers=finance
    )

    assert response.status_code == 422, response.text


def test_a_sign_in_with_a_nul_in_the_username_is_refused_and_not_counted(
    client: TestClient, db: Database
) -> None:
    events = _count(db, AuditEvent)

    response = client.post(
        f"{API}/auth/token", data={"username": "rosa\x00@ngo.example.org", "password": "x" * 12}
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_value"
    assert "Retry-After" not in response.headers
    assert _count(db, AuditEvent) == events


@pytest.mark.postgres
def test_a_value_postgresql_refuses_is_422_and_leaves_nothing_behind(
    client: TestClient, factory: Factory, storage: Storage
) -> None:
    """The last line of defence, for text no validator looks at: a milestone narrative."""
    officer = person(factory, Role.program_officer)
    grant = awarded(
        client, factory, factory.call(actor=officer.user).id, officer.headers, "100000.00"
    )
    milestone = grant.milestone(1)
    objects = {stored.key for stored in storage.iter_objects()}

    response = report(
        client, milestone, grant.applicant, narrative="Done\x00", files=[evidence_pdf()]
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_value"
    assert "Retry-After" not in response.headers
    after = client.get(f"{API}/milestones/{milestone}", headers=grant.applicant).json()
    assert (after["status"], after["narrative"]) == ("planned", None)
    assert {stored.key for stored in storage.iter_objects()} == objects
