"""Conflicts of interest (SPEC §7): who declares them, what they block, and what a late
declaration does to an assignment and to a review already submitted."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from app.models import Role
from tests.reviews.helpers import (
    API,
    Headers,
    applicant,
    assign,
    assigned,
    save_review,
    scored,
    set_panel,
    under_review,
    under_review_with_proposal,
)
from tests.support.factories import Factory


def declare(
    client: TestClient, headers: Headers, reviewer_id: object, organization_id: object
) -> object:
    return client.post(
        f"{API}/conflicts",
        json={
            "reviewer_id": str(reviewer_id),
            "organization_id": str(organization_id),
            "reason": "Former board member of this organisation.",
        },
        headers=headers,
    )


def test_a_reviewer_declares_their_own_conflicts_and_lists_only_theirs(
    client: TestClient, factory: Factory
) -> None:
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    colleague, _ = factory.login(Role.reviewer)
    _, officer = factory.login(Role.program_officer)
    _, admin = factory.login(Role.admin)
    org_a, org_b = factory.organization(), factory.organization()

    own = declare(client, reviewer_headers, reviewer.id, org_a.id)
    for_colleague = declare(client, reviewer_headers, colleague.id, org_a.id)
    by_officer = declare(client, officer, colleague.id, org_b.id)

    assert own.status_code == 201, own.text
    assert own.json()["reviewer_id"] == str(reviewer.id)
    assert own.json()["organization_id"] == str(org_a.id)
    assert own.json()["declared_by_id"] == str(reviewer.id)
    assert own.json()["assignments_ended"] == 0
    assert for_colleague.status_code == 403, for_colleague.text
    assert by_officer.status_code == 201, by_officer.text
    mine = client.get(f"{API}/conflicts", headers=reviewer_headers).json()
    assert [c["id"] for c in mine["items"]] == [own.json()["id"]]
    assert mine["total"] == 1
    # Asking for a colleague's conflicts by filter does not widen a reviewer's view.
    filtered = client.get(
        f"{API}/conflicts", params={"reviewer_id": str(colleague.id)}, headers=reviewer_headers
    ).json()
    assert filtered["items"] == []
    for staff in (officer, admin):
        everything = client.get(f"{API}/conflicts", headers=staff).json()
        assert {c["id"] for c in everything["items"]} == {own.json()["id"], by_officer.json()["id"]}


def test_a_program_officer_declares_anyones_conflict(client: TestClient, factory: Factory) -> None:
    reviewer, _ = factory.login(Role.reviewer)
    officer_user, officer = factory.login(Role.program_officer)
    organization = factory.organization()

    response = declare(client, officer, reviewer.id, organization.id)

    assert response.status_code == 201, response.text
    assert response.json()["reviewer_id"] == str(reviewer.id)
    assert response.json()["declared_by_id"] == str(officer_user.id)


def test_declaring_the_same_conflict_twice_is_409(client: TestClient, factory: Factory) -> None:
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    _, officer = factory.login(Role.program_officer)
    organization = factory.organization()
    assert declare(client, officer, reviewer.id, organization.id).status_code == 201

    again = declare(client, reviewer_headers, reviewer.id, organization.id)

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "conflict_exists"
    assert client.get(f"{API}/conflicts", headers=officer).json()["total"] == 1


def test_the_reviewer_of_a_conflict_must_be_a_reviewer_account(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    organization = factory.organization()
    not_reviewers = [
        factory.user(Role.applicant).id,
        factory.user(Role.finance_officer).id,
        factory.user(Role.program_officer).id,
        uuid.uuid4(),
    ]

    for reviewer_id in not_reviewers:
        response = declare(client, officer, reviewer_id, organization.id)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "not_a_reviewer"
    assert client.get(f"{API}/conflicts", headers=officer).json()["total"] == 0


def test_a_conflict_blocks_manual_assignment_and_the_panel_is_required(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    on_panel, _ = factory.login(Role.reviewer)
    off_panel, _ = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, on_panel)
    owner = applicant(factory)
    application = under_review(client, call.id, owner, officer)
    assert declare(client, officer, on_panel.id, owner.organization.id).status_code == 201

    conflicted = assign(client, application["id"], on_panel, officer)
    not_on_panel = assign(client, application["id"], off_panel, officer)

    assert conflicted.status_code == 409, conflicted.text
    assert conflicted.json()["code"] == "conflict_of_interest"
    assert not_on_panel.status_code == 422, not_on_panel.text
    assert not_on_panel.json()["code"] == "not_on_panel"
    listed = client.get(
        f"{API}/assignments", params={"application_id": application["id"]}, headers=officer
    )
    assert listed.json()["items"] == []


def test_a_conflict_declared_after_assignment_ends_it_and_excludes_the_submitted_review(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    first, first_headers = factory.login(Role.reviewer)
    late, late_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, first, late)
    owner = applicant(factory)
    target, proposal = under_review_with_proposal(client, call.id, owner, officer)
    other = under_review(client, call.id, applicant(factory), officer)
    assigned(client, target["id"], first, officer)
    late_assignment = assigned(client, target["id"], late, officer)
    assigned(client, other["id"], first, officer)
    # Totals t = 6 * approach + 8 * capacity:
    scored(client, target["id"], first_headers, 8, 4)  # 48 + 32 = 80
    scored(client, target["id"], late_headers, 3, 4)  # 18 + 32 = 50
    scored(client, other["id"], first_headers, 5, 5)  # 30 + 40 = 70
    # Both reviewers have fewer than 3 reviews, so normalized_score = mean_score.
    before = client.get(f"{API}/applications/{target['id']}/scores", headers=officer).json()
    assert before["mean_score"] == 65.0  # (80 + 50) / 2
    assert before["normalized_score"] == 65.0
    assert before["score_stddev"] == 15.0  # |80 - 50| / 2
    ranking = client.get(f"{API}/calls/{call.id}/ranking", headers=officer).json()["items"]
    assert [r["application_id"] for r in ranking] == [other["id"], target["id"]]  # 70 > 65
    reviewer_reads = {
        "application": f"/applications/{target['id']}",
        "review": f"/applications/{target['id']}/review",
        "scores": f"/applications/{target['id']}/scores",
    }
    assert {
        name: client.get(f"{API}{path}", headers=late_headers).status_code
        for name, path in reviewer_reads.items()
    } == dict.fromkeys(reviewer_reads, 200)

    declared = declare(client, late_headers, late.id, owner.organization.id)

    assert declared.status_code == 201, declared.text
    assert declared.json()["assignments_ended"] == 1
    ended = client.get(
        f"{API}/assignments",
        params={"application_id": target["id"], "active": "false"},
        headers=officer,
    ).json()["items"]
    (late_row,) = [a for a in ended if a["id"] == late_assignment["id"]]
    assert late_row["ended_at"] is not None
    assert late_row["end_reason"] == "conflict_of_interest"
    # From now on the application does not exist for the conflicted reviewer.
    gone = {
        **reviewer_reads,
        "documents": f"/applications/{target['id']}/documents",
        "document content": f"/documents/{proposal['id']}/content",
    }
    assert {
        name: client.get(f"{API}{path}", headers=late_headers).status_code
        for name, path in gone.items()
    } == dict.fromkeys(gone, 404)
    assert save_review(client, target["id"], late_headers, {"approach": 1}).status_code == 404
    queue = client.get(f"{API}/reviews/assigned", headers=late_headers).json()
    assert queue["items"] == []
    # The submitted review stays on record, flagged, and out of every score.
    after = client.get(f"{API}/applications/{target['id']}/scores", headers=officer).json()
    by_reviewer = {r["reviewer_id"]: r for r in after["reviews"]}
    assert by_reviewer[str(late.id)]["excluded"] is True
    assert by_reviewer[str(late.id)]["total"] == 50.0
    assert by_reviewer[str(first.id)]["excluded"] is False
    assert after["mean_score"] == 80.0  # only the first reviewer's 80 is left
    assert after["normalized_score"] == 80.0
    assert after["score_stddev"] == 0.0
    ranking = client.get(f"{API}/calls/{call.id}/ranking", headers=officer).json()["items"]
    assert [r["application_id"] for r in ranking] == [target["id"], other["id"]]  # 80 > 70
    target_row = ranking[0]
    assert (target_row["reviews_submitted"], target_row["reviews_expected"]) == (1, 1)
    assert target_row["mean_score"] == 80.0
    assert target_row["normalized_score"] == 80.0


def test_a_late_conflict_only_ends_assignments_of_that_organisation(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewer, reviewer_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, reviewer)
    conflicted_owner = applicant(factory)
    conflicted = under_review(client, call.id, conflicted_owner, officer)
    unrelated = under_review(client, call.id, applicant(factory), officer)
    assigned(client, conflicted["id"], reviewer, officer)
    assigned(client, unrelated["id"], reviewer, officer)

    declared = declare(client, officer, reviewer.id, conflicted_owner.organization.id)

    assert declared.json()["assignments_ended"] == 1
    queue = client.get(f"{API}/reviews/assigned", headers=reviewer_headers).json()
    assert [item["application_id"] for item in queue["items"]] == [unrelated["id"]]
    assert client.get(f"{API}/applications/{unrelated['id']}", headers=reviewer_headers).is_success


def test_suggested_conflicts_flag_a_shared_contact_email_domain_until_declared(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    insider, insider_headers = factory.login(Role.reviewer, email="ana.ruiz@andes-kids.org")
    webmail_user, _ = factory.login(Role.reviewer, email="luis.paz@gmail.com")
    outsider, _ = factory.login(Role.reviewer, email="rosa.quispe@independent-eval.org")
    call = factory.call()
    set_panel(client, call.id, officer, insider, webmail_user, outsider)
    andes = factory.organization("Andes Kids", contact_email="director@andes-kids.org")
    webmail_org = factory.organization("Selva Viva", contact_email="selvaviva@gmail.com")
    # Members write from webmail, so only the organisations' contact addresses can match.
    under_review(client, call.id, applicant(factory, andes, email="maria.andes@gmail.com"), officer)
    under_review(
        client, call.id, applicant(factory, webmail_org, email="jose.selva@gmail.com"), officer
    )

    suggested = client.get(f"{API}/calls/{call.id}/conflicts/suggested", headers=officer)

    assert suggested.status_code == 200, suggested.text
    assert [(s["reviewer_id"], s["organization_id"]) for s in suggested.json()] == [
        (str(insider.id), str(andes.id))
    ]
    assert "andes-kids.org" in suggested.json()[0]["reason"]
    assert declare(client, insider_headers, insider.id, andes.id).status_code == 201
    after = client.get(f"{API}/calls/{call.id}/conflicts/suggested", headers=officer)
    assert after.json() == []
