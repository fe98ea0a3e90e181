"""Reviewer assignment (SPEC §7): manual assignment and unassignment, and auto-assignment that
staffs, balances, keeps what exists, respects conflicts and reports what it cannot staff."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from app.models import Role, User
from tests.reviews.helpers import (
    API,
    Headers,
    applicant,
    assign,
    assigned,
    save_review,
    scored,
    set_panel,
    submitted,
    under_review,
)
from tests.support.factories import Factory


def active_assignments(client: TestClient, call_id: Any, officer: Headers) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/assignments", params={"call_id": str(call_id), "limit": 200}, headers=officer
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def auto_assign(client: TestClient, call_id: Any, officer: Headers) -> dict[str, Any]:
    response = client.post(f"{API}/calls/{call_id}/assignments/auto", headers=officer)
    assert response.status_code == 200, response.text
    return response.json()


def declare(client: TestClient, officer: Headers, reviewer: User, organization_id: Any) -> None:
    response = client.post(
        f"{API}/conflicts",
        json={
            "reviewer_id": str(reviewer.id),
            "organization_id": str(organization_id),
            "reason": "Works for this organisation.",
        },
        headers=officer,
    )
    assert response.status_code == 201, response.text


# --- manual ----------------------------------------------------------------------------


def test_manual_assignment_gives_the_reviewer_the_application_once(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer)
    application = under_review(client, call.id, applicant(factory), officer)
    assert (
        client.get(f"{API}/applications/{application['id']}", headers=reviewer_headers).status_code
        == 404
    )

    created = assign(client, application["id"], reviewer, officer)
    duplicate = assign(client, application["id"], reviewer, officer)

    assert created.status_code == 201, created.text
    assert created.json()["application_id"] == application["id"]
    assert created.json()["reviewer_id"] == str(reviewer.id)
    assert created.json()["call_id"] == str(call.id)
    assert created.json()["ended_at"] is None
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "already_assigned"
    assert [a["id"] for a in active_assignments(client, call.id, officer)] == [created.json()["id"]]
    assert (
        client.get(f"{API}/applications/{application['id']}", headers=reviewer_headers).status_code
        == 200
    )


def test_unassigning_ends_the_reviewers_access(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer)
    application = under_review(client, call.id, applicant(factory), officer)
    assignment = assigned(client, application["id"], reviewer, officer)
    # A draft does not hold the assignment in place; only a submitted review does.
    assert save_review(client, application["id"], reviewer_headers, {"approach": 5}).is_success

    deleted = client.delete(f"{API}/assignments/{assignment['id']}", headers=officer)

    assert deleted.status_code == 204, deleted.text
    for path in (
        f"/applications/{application['id']}",
        f"/applications/{application['id']}/review",
        f"/applications/{application['id']}/documents",
    ):
        assert client.get(f"{API}{path}", headers=reviewer_headers).status_code == 404, path
    assert save_review(client, application["id"], reviewer_headers, {}).status_code == 404
    queue = client.get(f"{API}/reviews/assigned", headers=reviewer_headers).json()
    assert queue["items"] == []
    assert active_assignments(client, call.id, officer) == []
    again = client.delete(f"{API}/assignments/{assignment['id']}", headers=officer)
    assert again.status_code == 404
    # Ended, not erased: it can be assigned afresh.
    assert assign(client, application["id"], reviewer, officer).status_code == 201


def test_an_assignment_with_a_submitted_review_cannot_be_deleted(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer)
    application = under_review(client, call.id, applicant(factory), officer)
    assignment = assigned(client, application["id"], reviewer, officer)
    scored(client, application["id"], reviewer_headers, 7, 3)

    refused = client.delete(f"{API}/assignments/{assignment['id']}", headers=officer)

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "review_submitted"
    assert [a["id"] for a in active_assignments(client, call.id, officer)] == [assignment["id"]]
    assert (
        client.get(f"{API}/applications/{application['id']}", headers=reviewer_headers).status_code
        == 200
    )


def test_only_applications_under_review_can_be_assigned(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, _ = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer)
    not_screened = submitted(client, call.id, applicant(factory))
    ineligible = submitted(client, call.id, applicant(factory))
    response = client.post(
        f"{API}/applications/{ineligible['id']}/screening",
        json={"eligible": False, "notes": ""},
        headers=officer,
    )
    assert response.status_code == 200, response.text

    for application in (not_screened, ineligible):
        refused = assign(client, application["id"], reviewer, officer)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "not_under_review"
    assert active_assignments(client, call.id, officer) == []


# --- automatic -------------------------------------------------------------------------


def test_auto_assignment_staffs_every_application_with_balanced_distinct_unconflicted_reviewers(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    panel = [factory.user(Role.reviewer) for _ in range(4)]
    call = factory.call(reviewers_per_application=2)
    set_panel(client, call.id, officer, *panel)
    owners = [applicant(factory) for _ in range(5)]
    applications = [under_review(client, call.id, owner, officer) for owner in owners]
    # Something that must not be staffed: submitted but not screened yet.
    pending = submitted(client, call.id, applicant(factory))
    # One conflict, one assignment made by hand beforehand.
    declare(client, officer, panel[0], owners[0].organization.id)
    manual = assigned(client, applications[1]["id"], panel[0], officer)

    result = auto_assign(client, call.id, officer)

    # 5 applications x 2 reviewers = 10 assignments, 1 of them made by hand: 9 new.
    assert len(result["assigned"]) == 9
    assert result["unstaffed"] == []
    rows = active_assignments(client, call.id, officer)
    assert len(rows) == 10
    assert manual["id"] in {a["id"] for a in rows}
    by_application: dict[str, list[str]] = {}
    for row in rows:
        by_application.setdefault(row["application_id"], []).append(row["reviewer_id"])
    assert set(by_application) == {a["id"] for a in applications}
    assert pending["id"] not in by_application
    panel_ids = {str(r.id) for r in panel}
    for reviewers in by_application.values():
        assert len(reviewers) == 2
        assert len(set(reviewers)) == 2
        assert set(reviewers) <= panel_ids
    assert str(panel[0].id) not in by_application[applications[0]["id"]]
    # 10 assignments over 4 reviewers: loads 3, 3, 2, 2.
    loads = Counter(row["reviewer_id"] for row in rows)
    assert sorted(loads[r] for r in panel_ids) == [2, 2, 3, 3]

    second = auto_assign(client, call.id, officer)

    assert second == {"assigned": [], "unstaffed": []}
    assert len(active_assignments(client, call.id, officer)) == 10


def test_auto_assignment_reports_a_panel_too_small_for_the_call(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    panel = [factory.user(Role.reviewer) for _ in range(2)]
    call = factory.call(reviewers_per_application=3)
    set_panel(client, call.id, officer, *panel)
    applications = [under_review(client, call.id, applicant(factory), officer) for _ in range(2)]

    result = auto_assign(client, call.id, officer)

    # Each application gets both panel members and still lacks 3 - 2 = 1 reviewer.
    assert len(result["assigned"]) == 4
    assert sorted((u["application_id"], u["missing"]) for u in result["unstaffed"]) == sorted(
        (a["id"], 1) for a in applications
    )
    assert {u["reference"] for u in result["unstaffed"]} == {a["reference"] for a in applications}


def test_auto_assignment_reports_applications_left_short_by_conflicts(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    panel = [factory.user(Role.reviewer) for _ in range(3)]
    call = factory.call(reviewers_per_application=2)
    set_panel(client, call.id, officer, *panel)
    crowded_owner = applicant(factory)
    crowded = under_review(client, call.id, crowded_owner, officer)
    fine = under_review(client, call.id, applicant(factory), officer)
    declare(client, officer, panel[0], crowded_owner.organization.id)
    declare(client, officer, panel[1], crowded_owner.organization.id)

    result = auto_assign(client, call.id, officer)

    # crowded: only panel[2] is free of conflict, so it gets 1 of 2 and misses 2 - 1 = 1.
    assert [(u["application_id"], u["missing"]) for u in result["unstaffed"]] == [
        (crowded["id"], 1)
    ]
    rows = active_assignments(client, call.id, officer)
    assert [r["reviewer_id"] for r in rows if r["application_id"] == crowded["id"]] == [
        str(panel[2].id)
    ]
    assert len([r for r in rows if r["application_id"] == fine["id"]]) == 2
    # What could not be staffed stays unstaffed on a second run, and nothing new is made.
    second = auto_assign(client, call.id, officer)
    assert second["assigned"] == []
    assert [(u["application_id"], u["missing"]) for u in second["unstaffed"]] == [
        (crowded["id"], 1)
    ]
