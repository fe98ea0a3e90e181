"""A reviewer's work (SPEC §7): drafts, validation against the rubric, submission that locks,
the queue, and other reviewers' scores only after one's own review is in.

The default call's rubric: approach (weight 60, max 10), capacity (weight 40, max 5).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.models import Role, User
from tests.reviews.helpers import (
    API,
    Headers,
    applicant,
    assigned,
    save_review,
    scored,
    set_panel,
    submit_review,
    under_review,
)
from tests.support.factories import Factory


def assigned_application(
    client: TestClient, factory: Factory, *reviewers: User
) -> tuple[dict[str, Any], Headers]:
    """One application under review, assigned to every given reviewer; with the officer."""
    _, officer = factory.login(Role.program_officer)
    call = factory.call()
    set_panel(client, call.id, officer, *reviewers)
    application = under_review(client, call.id, applicant(factory), officer)
    for reviewer in reviewers:
        assigned(client, application["id"], reviewer, officer)
    return application, officer


def test_a_draft_may_leave_criteria_unscored(client: TestClient, factory: Factory) -> None:
    reviewer, headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)

    response = save_review(
        client, application["id"], headers, {"approach": 7.5}, recommendation=None
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["scores"] == {"approach": 7.5}
    assert body["total"] is None  # not every criterion is scored yet
    assert body["submitted_at"] is None
    # Saving again replaces the draft; a complete one has its total: 6 * 7 + 8 * 4.5 = 78.
    again = save_review(client, application["id"], headers, {"approach": 7, "capacity": 4.5})
    assert again.json()["id"] == body["id"]
    assert again.json()["total"] == 78.0
    stored = client.get(f"{API}/applications/{application['id']}/review", headers=headers)
    assert stored.json()["scores"] == {"approach": 7, "capacity": 4.5}


def test_a_score_outside_the_rubric_is_422_and_saves_nothing(
    client: TestClient, factory: Factory
) -> None:
    reviewer, headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)
    refused = [
        ({"approach": 5, "budget_realism": 3}, "budget_realism"),  # not a criterion
        ({"approach": 10.01}, "approach"),  # max_score 10
        ({"capacity": 6}, "capacity"),  # max_score 5
        ({"capacity": -1}, "capacity"),
        ({"approach": "ten"}, "approach"),
    ]

    for scores, offending in refused:
        response = save_review(client, application["id"], headers, scores)
        assert response.status_code == 422, (scores, response.text)
        assert offending in response.text, scores

    assert (
        client.get(f"{API}/applications/{application['id']}/review", headers=headers).status_code
        == 404
    )  # nothing was saved


def test_the_bounds_of_the_scale_are_accepted(client: TestClient, factory: Factory) -> None:
    reviewer, headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)

    response = save_review(client, application["id"], headers, {"approach": 10, "capacity": 0})

    assert response.status_code == 200, response.text
    assert response.json()["total"] == 60.0  # 10 / 10 * 60 + 0 / 5 * 40


def test_submitting_an_incomplete_review_lists_what_is_missing(
    client: TestClient, factory: Factory
) -> None:
    reviewer, headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)
    never_saved = submit_review(client, application["id"], headers)
    assert save_review(client, application["id"], headers, {"approach": 6}).is_success

    response = submit_review(client, application["id"], headers)

    assert never_saved.status_code == 422, never_saved.text
    assert {m["item"] for m in never_saved.json()["missing"]} >= {"approach", "capacity"}
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "incomplete"
    assert [m["item"] for m in response.json()["missing"]] == ["capacity"]
    stored = client.get(f"{API}/applications/{application['id']}/review", headers=headers)
    assert stored.json()["status"] == "draft"


def test_a_submitted_review_is_locked(client: TestClient, factory: Factory) -> None:
    reviewer, headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)
    saved = save_review(
        client, application["id"], headers, {"approach": 8, "capacity": 2}, comment="Solid plan."
    )
    assert saved.status_code == 200, saved.text

    submitted = submit_review(client, application["id"], headers)
    edit = save_review(client, application["id"], headers, {"approach": 1, "capacity": 1})
    resubmit = submit_review(client, application["id"], headers)

    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_at"] is not None
    assert submitted.json()["total"] == 64.0  # 8 / 10 * 60 + 2 / 5 * 40 = 48 + 16
    assert edit.status_code == 409, edit.text
    assert edit.json()["code"] == "review_submitted"
    assert resubmit.status_code == 409, resubmit.text
    stored = client.get(f"{API}/applications/{application['id']}/review", headers=headers).json()
    assert (stored["scores"], stored["comment"]) == ({"approach": 8, "capacity": 2}, "Solid plan.")
    assert stored["submitted_at"] == submitted.json()["submitted_at"]


def test_a_reviewer_not_assigned_gets_404(client: TestClient, factory: Factory) -> None:
    reviewer, _ = factory.login(Role.reviewer)
    _, stranger_headers = factory.login(Role.reviewer)
    application, _ = assigned_application(client, factory, reviewer)
    app_path = f"{API}/applications/{application['id']}"

    responses = [
        client.get(app_path, headers=stranger_headers),
        client.get(f"{app_path}/review", headers=stranger_headers),
        save_review(client, application["id"], stranger_headers, {"approach": 5}),
        submit_review(client, application["id"], stranger_headers),
        client.get(f"{app_path}/scores", headers=stranger_headers),
    ]

    assert [r.status_code for r in responses] == [404] * 5


def test_the_queue_shows_each_assignment_and_how_far_its_review_is(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, headers = factory.login(Role.reviewer)
    other_reviewer, other_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer, other_reviewer)
    untouched, drafted, done, not_mine = (
        under_review(client, call.id, applicant(factory), officer, title=f"Proposal {n}")
        for n in range(4)
    )
    for application in (untouched, drafted, done):
        assigned(client, application["id"], reviewer, officer)
    assigned(client, not_mine["id"], other_reviewer, officer)
    assert save_review(client, drafted["id"], headers, {"approach": 4}).is_success
    scored(client, done["id"], headers, 9, 5)
    scored(client, not_mine["id"], other_headers, 9, 5)

    response = client.get(f"{API}/reviews/assigned", headers=headers)

    assert response.status_code == 200, response.text
    queue = {item["application_id"]: item for item in response.json()["items"]}
    assert {k: v["review_status"] for k, v in queue.items()} == {
        untouched["id"]: "not_started",
        drafted["id"]: "draft",
        done["id"]: "submitted",
    }
    assert response.json()["total"] == 3
    assert queue[drafted["id"]]["reference"] == drafted["reference"]
    assert queue[drafted["id"]]["title"] == "Proposal 1"


def test_other_reviewers_scores_are_shown_only_after_submitting_ones_own(
    client: TestClient, factory: Factory
) -> None:
    early, early_headers = factory.login(Role.reviewer)
    late, late_headers = factory.login(Role.reviewer)
    application, officer = assigned_application(client, factory, early, late)
    scores_path = f"{API}/applications/{application['id']}/scores"
    scored(client, application["id"], early_headers, 9, 4)  # 54 + 32 = 86
    assert save_review(client, application["id"], late_headers, {"approach": 5}).is_success

    before = client.get(scores_path, headers=late_headers)
    early_view = client.get(scores_path, headers=early_headers)
    assert save_review(
        client, application["id"], late_headers, {"approach": 5, "capacity": 2}
    ).is_success
    assert submit_review(client, application["id"], late_headers).is_success  # 30 + 16 = 46
    after = client.get(scores_path, headers=late_headers)

    assert before.status_code == 409, before.text
    assert before.json()["code"] == "submit_own_review_first"
    # The early reviewer sees only submitted reviews: not the late one's draft.
    assert [r["total"] for r in early_view.json()["reviews"]] == [86.0]
    assert after.status_code == 200, after.text
    reviews = {r["total"]: r for r in after.json()["reviews"]}
    assert set(reviews) == {86.0, 46.0}
    assert reviews[46.0]["reviewer_id"] == str(late.id)
    assert reviews[86.0]["reviewer_id"] is None
    assert reviews[86.0]["reviewer_name"] is None
    assert str(early.id) not in after.text
    assert early.full_name not in after.text
    assert after.json()["mean_score"] == 66.0  # (86 + 46) / 2
    # Staff see every reviewer by name.
    staff = client.get(scores_path, headers=officer).json()
    assert {r["reviewer_id"] for r in staff["reviews"]} == {str(early.id), str(late.id)}
    assert {r["reviewer_name"] for r in staff["reviews"]} == {early.full_name, late.full_name}
