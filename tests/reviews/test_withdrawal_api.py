"""A withdrawn application leaves its reviewers' queues."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.models import Role
from tests.reviews.helpers import API, applicant, assigned, set_panel, under_review
from tests.support.factories import Factory


def test_withdrawal_ends_the_review_assignments(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call()
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    set_panel(client, call.id, officer, reviewer)
    who = applicant(factory)
    application = under_review(client, call.id, who, officer)
    assigned(client, application["id"], reviewer, officer)
    assert (
        client.get(f"{API}/applications/{application['id']}", headers=reviewer_headers).status_code
        == 200
    )

    withdrawn = client.post(f"{API}/applications/{application['id']}/withdraw", headers=who.headers)

    assert withdrawn.status_code == 200
    queue = client.get(f"{API}/reviews/assigned", headers=reviewer_headers).json()
    assert queue["total"] == 0
    assert (
        client.get(f"{API}/applications/{application['id']}", headers=reviewer_headers).status_code
        == 404
    )
    review = client.put(
        f"{API}/applications/{application['id']}/review",
        json={"scores": {"approach": 5}},
        headers=reviewer_headers,
    )
    assert review.status_code == 404
