"""Blind review (SPEC §7): with `blind_review`, nothing a reviewer receives about an
application identifies its organisation, on any route the reviewer can call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from httpx import Response

from app.models import Organization, Role, User
from tests.reviews.helpers import (
    API,
    Applicant,
    Headers,
    assigned,
    save_review,
    scored,
    set_panel,
    submit_review,
    under_review_with_proposal,
)
from tests.support.factories import Factory

ORG_NAME = "Zephyrine Child Shield Collective"
REGISTRATION = "RUC-20547813690"
UEI = "ZQX7K4M9P2L1"
CONTACT = "office@zephyrine-shield.org"
MEMBERS = [
    ("Valentina Okonkwo-Marsh", "v.okonkwo@zephyrine-shield.org"),
    ("Teodoro Blackwood", "t.blackwood@zephyrine-shield.org"),
]
# The uploaded proposal is named after the organisation: its display name must not leak it.
FILENAME = f"{ORG_NAME} - proposal (final).pdf"


@dataclass
class Scenario:
    call_id: Any
    application: dict[str, Any]
    document: dict[str, Any]
    organization: Organization
    reviewer: Headers
    officer: Headers


def identifying_strings(organization: Organization) -> list[str]:
    """Every trace of the organisation, also as it would look percent-encoded in a header."""
    plain = [
        ORG_NAME,
        "Zephyrine",
        REGISTRATION,
        UEI,
        CONTACT,
        "zephyrine-shield.org",
        str(organization.id),
        organization.id.hex,
    ]
    for name, email in MEMBERS:
        plain += [name, email]
    return plain + [quote(s) for s in plain if quote(s) != s]


def leaks(response: Response, organization: Organization) -> list[str]:
    raw = "\n".join(
        [response.text, *(f"{key}: {value}" for key, value in response.headers.items())]
    ).lower()
    return [s for s in identifying_strings(organization) if s.lower() in raw]


def scenario(client: TestClient, factory: Factory, *, blind: bool) -> Scenario:
    _, officer = factory.login(Role.program_officer)
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    colleague, colleague_headers = factory.login(Role.reviewer)
    call = factory.call(blind_review=blind)
    set_panel(client, call.id, officer, reviewer, colleague)
    organization = factory.organization(
        ORG_NAME, registration_number=REGISTRATION, uei=UEI, contact_email=CONTACT
    )
    members = [
        factory.user(Role.applicant, organization=organization, email=email) for _, email in MEMBERS
    ]
    with factory.db.transaction() as session:
        for member, (name, _) in zip(members, MEMBERS, strict=True):
            session.get(User, member.id).full_name = name
    author = Applicant(members[0], factory.headers(members[0]), organization)
    application, document = under_review_with_proposal(
        client,
        call.id,
        author,
        officer,
        filename=FILENAME,
        title="Community protection networks",
        summary="Case management and safe spaces for children at risk.",
    )
    assigned(client, application["id"], reviewer, officer)
    assigned(client, application["id"], colleague, officer)
    scored(client, application["id"], colleague_headers, 6, 3)
    return Scenario(call.id, application, document, organization, reviewer_headers, officer)


def test_a_blind_reviewer_receives_nothing_that_identifies_the_organisation(
    client: TestClient, factory: Factory
) -> None:
    s = scenario(client, factory, blind=True)
    app_path = f"{API}/applications/{s.application['id']}"
    # The upload really carried the name, and staff still see who applied.
    assert ORG_NAME in s.document["filename"]
    staff_view = client.get(app_path, headers=s.officer).json()
    assert staff_view["organization_id"] == str(s.organization.id)

    walk: list[tuple[str, Response]] = [
        ("queue", client.get(f"{API}/reviews/assigned", headers=s.reviewer)),
        ("application", client.get(app_path, headers=s.reviewer)),
        ("call", client.get(f"{API}/calls/{s.call_id}", headers=s.reviewer)),
        ("documents", client.get(f"{app_path}/documents", headers=s.reviewer)),
        (
            "document content",
            client.get(f"{API}/documents/{s.document['id']}/content", headers=s.reviewer),
        ),
        ("scores before own review", client.get(f"{app_path}/scores", headers=s.reviewer)),
        (
            "draft",
            save_review(client, s.application["id"], s.reviewer, {"approach": 7}),
        ),
        ("review", client.get(f"{app_path}/review", headers=s.reviewer)),
        (
            "complete draft",
            save_review(client, s.application["id"], s.reviewer, {"approach": 7, "capacity": 4}),
        ),
        ("submit", submit_review(client, s.application["id"], s.reviewer)),
        ("edit after submit", save_review(client, s.application["id"], s.reviewer, {})),
        ("scores", client.get(f"{app_path}/scores", headers=s.reviewer)),
        ("queue after", client.get(f"{API}/reviews/assigned", headers=s.reviewer)),
    ]

    statuses = {name: response.status_code for name, response in walk}
    assert statuses == {
        "queue": 200,
        "application": 200,
        "call": 200,
        "documents": 200,
        "document content": 200,
        "scores before own review": 409,
        "draft": 200,
        "review": 200,
        "complete draft": 200,
        "submit": 200,
        "edit after submit": 409,
        "scores": 200,
        "queue after": 200,
    }
    assert {name: leaks(response, s.organization) for name, response in walk} == {
        name: [] for name, _ in walk
    }
    application = dict(walk)["application"].json()
    assert application["blind_review"] is True
    assert application["organization"] is None
    assert "organization_id" not in application
    # Blinding hides who applied, not what they wrote.
    assert application["title"] == "Community protection networks"
    (listed,) = dict(walk)["documents"].json()
    assert listed["id"] == s.document["id"]
    assert dict(walk)["document content"].content.startswith(b"%PDF")


def test_a_reviewer_of_an_open_call_sees_the_organisation(
    client: TestClient, factory: Factory
) -> None:
    s = scenario(client, factory, blind=False)

    application = client.get(f"{API}/applications/{s.application['id']}", headers=s.reviewer)
    documents = client.get(
        f"{API}/applications/{s.application['id']}/documents", headers=s.reviewer
    )

    assert application.status_code == 200, application.text
    assert application.json()["blind_review"] is False
    assert application.json()["organization"] == {
        "id": str(s.organization.id),
        "name": ORG_NAME,
    }
    assert documents.status_code == 200, documents.text
    assert [d["filename"] for d in documents.json()] == [s.document["filename"]]
