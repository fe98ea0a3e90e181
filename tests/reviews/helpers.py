"""Client-side builders for the review API tests: applications taken to `under_review`
through the API, panels, assignments and scored reviews.

The factory's default call has the rubric approach (weight 60, max 10) and capacity
(weight 40, max 5), so a review's total is t = approach / 10 * 60 + capacity / 5 * 40
= 6 * approach + 8 * capacity.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db import Database
from app.models import Application, ApplicationStatus, Organization, Role, User
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

API = "/api/v1"
Headers = dict[str, str]


def application_body(requested_amount: str = "100000.00", **overrides: Any) -> dict[str, Any]:
    """Every field submission requires (no budget lines, so none has to add up)."""
    body: dict[str, Any] = {
        "title": "Safe homes for children",
        "summary": "Shelters and case management for child victims.",
        "requested_amount": requested_amount,
        "duration_months": 24,
        "objectives": ["protection"],
        "regions": [{"code": "lima", "share_pct": 100}],
    }
    body.update(overrides)
    return body


@dataclass
class Applicant:
    user: User
    headers: Headers
    organization: Organization


def applicant(factory: Factory, organization: Organization | None = None, **kw: Any) -> Applicant:
    org = organization or factory.organization()
    user, headers = factory.login(Role.applicant, organization=org, **kw)
    return Applicant(user, headers, org)


def draft(client: TestClient, call_id: Any, who: Applicant, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/calls/{call_id}/applications", json=application_body(**body), headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload_proposal(
    client: TestClient, application_id: str, who: Applicant, filename: str = "proposal.pdf"
) -> dict[str, Any]:
    response = client.post(
        f"{API}/applications/{application_id}/documents",
        files=upload_files("proposal", pdf_bytes(), filename=filename),
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def submit(client: TestClient, application_id: str, who: Applicant) -> dict[str, Any]:
    response = client.post(f"{API}/applications/{application_id}/submit", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def submitted_with_proposal(
    client: TestClient, call_id: Any, who: Applicant, filename: str = "proposal.pdf", **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draft with every field, the required proposal uploaded, submitted: (application, doc)."""
    application = draft(client, call_id, who, **body)
    document = upload_proposal(client, application["id"], who, filename)
    return submit(client, application["id"], who), document


def submitted(client: TestClient, call_id: Any, who: Applicant, **body: Any) -> dict[str, Any]:
    return submitted_with_proposal(client, call_id, who, **body)[0]


def screen(
    client: TestClient,
    application_id: str,
    officer: Headers,
    *,
    eligible: bool = True,
    notes: str = "",
) -> Any:
    return client.post(
        f"{API}/applications/{application_id}/screening",
        json={"eligible": eligible, "notes": notes},
        headers=officer,
    )


def under_review_with_proposal(
    client: TestClient,
    call_id: Any,
    who: Applicant,
    officer: Headers,
    filename: str = "proposal.pdf",
    **body: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An application taken from draft to `under_review` through the API, with its proposal."""
    application, document = submitted_with_proposal(client, call_id, who, filename, **body)
    response = screen(client, application["id"], officer)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "under_review"
    return response.json(), document


def under_review(
    client: TestClient, call_id: Any, who: Applicant, officer: Headers, **body: Any
) -> dict[str, Any]:
    return under_review_with_proposal(client, call_id, who, officer, **body)[0]


def set_panel(client: TestClient, call_id: Any, officer: Headers, *reviewers: User) -> None:
    response = client.put(
        f"{API}/calls/{call_id}/panel",
        json={"reviewer_ids": [str(r.id) for r in reviewers]},
        headers=officer,
    )
    assert response.status_code == 200, response.text


def assign(client: TestClient, application_id: str, reviewer: User, officer: Headers) -> Any:
    return client.post(
        f"{API}/assignments",
        json={"application_id": application_id, "reviewer_id": str(reviewer.id)},
        headers=officer,
    )


def assigned(
    client: TestClient, application_id: str, reviewer: User, officer: Headers
) -> dict[str, Any]:
    response = assign(client, application_id, reviewer, officer)
    assert response.status_code == 201, response.text
    return response.json()


def save_review(
    client: TestClient,
    application_id: str,
    headers: Headers,
    scores: dict[str, Any],
    recommendation: str | None = "fund",
    comment: str = "",
) -> Any:
    return client.put(
        f"{API}/applications/{application_id}/review",
        json={"scores": scores, "recommendation": recommendation, "comment": comment},
        headers=headers,
    )


def submit_review(client: TestClient, application_id: str, headers: Headers) -> Any:
    return client.post(f"{API}/applications/{application_id}/review/submit", headers=headers)


def scored(
    client: TestClient, application_id: str, headers: Headers, approach: float, capacity: float
) -> dict[str, Any]:
    """Save and submit a complete review; its total is 6 * approach + 8 * capacity."""
    saved = save_review(
        client, application_id, headers, {"approach": approach, "capacity": capacity}
    )
    assert saved.status_code == 200, saved.text
    response = submit_review(client, application_id, headers)
    assert response.status_code == 200, response.text
    return response.json()


def set_status(db: Database, application_id: Any, status: ApplicationStatus) -> None:
    """Move an application to a decision state directly (awards are built elsewhere)."""
    with db.transaction() as session:
        session.execute(
            update(Application)
            .where(Application.id == uuid.UUID(str(application_id)))
            .values(status=status)
        )


def audit_events(client: TestClient, admin: Headers, entity_id: str) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/audit", params={"entity_id": entity_id, "limit": 200}, headers=admin
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]
