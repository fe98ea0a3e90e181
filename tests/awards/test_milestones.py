"""Milestones: the applicant's report with evidence (multipart), the officer's approval or
rejection, and who may do what."""

from __future__ import annotations

import hashlib

import pytest

from app.models import Document, Role
from tests.awards.helpers import (
    API,
    approve,
    awarded,
    count,
    evidence_pdf,
    get_award,
    milestone_of,
    report,
)
from tests.support.uploads import PDF, pdf_bytes, windows_executable_bytes


@pytest.fixture
def granted(client, factory, call, officer):
    return awarded(client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"])


def _milestone(client, milestone_id, headers):
    response = client.get(f"{API}/milestones/{milestone_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _stored_keys(storage):
    return {o.key for o in storage.iter_objects()}


def test_a_report_with_evidence_marks_the_milestone_reported_and_keeps_the_files(
    client, granted, officer
):
    first = pdf_bytes(3000)
    second = pdf_bytes(5000)
    milestone_id = granted.milestone(1)

    response = report(
        client,
        milestone_id,
        granted.applicant,
        narrative="Shelter opened in Cusco.",
        files=[("inception.pdf", first, PDF), ("../../attendance.pdf", second, PDF)],
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["narrative"]) == (
        milestone_id,
        "reported",
        "Shelter opened in Cusco.",
    )
    assert body["reported_at"] is not None
    listed = client.get(f"{API}/milestones/{milestone_id}/evidence", headers=officer.headers)
    assert listed.status_code == 200, listed.text
    evidence = sorted(listed.json(), key=lambda d: d["size"])
    assert [(d["filename"], d["content_type"], d["size"], d["sha256"]) for d in evidence] == [
        ("inception.pdf", PDF, len(first), hashlib.sha256(first).hexdigest()),
        ("attendance.pdf", PDF, len(second), hashlib.sha256(second).hexdigest()),
    ]
    assert all(d["doc_type"] == "evidence" for d in evidence)
    for document, content in zip(evidence, (first, second), strict=True):
        for headers in (granted.applicant, officer.headers):
            downloaded = client.get(f"{API}/documents/{document['id']}/content", headers=headers)
            assert downloaded.status_code == 200, downloaded.text
            assert downloaded.content == content
    # The officer sees the report on the award too.
    seen = milestone_of(get_award(client, granted.id, officer.headers), milestone_id)
    assert (seen["status"], seen["narrative"]) == ("reported", "Shelter opened in Cusco.")


def test_a_report_without_files_is_accepted(client, granted):
    response = report(client, granted.milestone(2), granted.applicant, narrative="Done.")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "reported"
    listed = client.get(
        f"{API}/milestones/{granted.milestone(2)}/evidence", headers=granted.applicant
    )
    assert listed.json() == []


def test_a_report_needs_a_narrative(client, granted):
    response = report(client, granted.milestone(1), granted.applicant, narrative="   ")

    assert response.status_code == 422, response.text
    assert _milestone(client, granted.milestone(1), granted.applicant)["status"] == "planned"


def test_another_organisation_can_neither_report_nor_see_the_milestone(
    client, factory, db, granted
):
    stranger = factory.login(Role.applicant)[1]
    milestone_id = granted.milestone(1)

    reported = report(client, milestone_id, stranger, files=[evidence_pdf()])

    assert reported.status_code == 404, reported.text
    for url in (
        f"{API}/milestones/{milestone_id}",
        f"{API}/milestones/{milestone_id}/evidence",
        f"{API}/awards/{granted.id}",
    ):
        assert client.get(url, headers=stranger).status_code == 404, url
    assert _milestone(client, milestone_id, granted.applicant)["status"] == "planned"
    assert count(db, Document, Document.milestone_id.is_not(None)) == 0


def test_only_a_planned_milestone_can_be_reported(client, granted, officer):
    milestone_id = granted.milestone(1)
    assert report(client, milestone_id, granted.applicant).status_code == 200

    again = report(client, milestone_id, granted.applicant, files=[evidence_pdf()])
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "invalid_state"

    assert approve(client, milestone_id, officer.headers).status_code == 200
    after_approval = report(client, milestone_id, granted.applicant)
    assert after_approval.status_code == 409, after_approval.text


def test_a_disguised_executable_is_refused_and_nothing_is_kept(client, db, storage, granted):
    milestone_id = granted.milestone(1)
    before = _stored_keys(storage)

    # A genuine PDF first, then an executable named and declared as a PDF: the whole report
    # is refused, and the PDF already streamed to storage is removed with it.
    response = report(
        client,
        milestone_id,
        granted.applicant,
        files=[evidence_pdf("minutes.pdf"), ("report.pdf", windows_executable_bytes(), PDF)],
    )

    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_file_type"
    assert _milestone(client, milestone_id, granted.applicant)["status"] == "planned"
    assert _stored_keys(storage) == before
    assert count(db, Document, Document.milestone_id.is_not(None)) == 0
    # A clean report afterwards goes through.
    assert report(client, milestone_id, granted.applicant).status_code == 200


def test_an_officer_approves_a_reported_milestone(client, granted, officer):
    milestone_id = granted.milestone(1)
    planned = approve(client, milestone_id, officer.headers)
    assert planned.status_code == 409, planned.text
    assert planned.json()["code"] == "invalid_state"
    assert report(client, milestone_id, granted.applicant).status_code == 200

    response = approve(client, milestone_id, officer.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert body["approved_by_id"] == str(officer.user.id)
    assert body["approved_at"] is not None
    twice = approve(client, milestone_id, officer.headers)
    assert twice.status_code == 409, twice.text


def test_a_rejected_milestone_goes_back_to_planned_with_the_reason(client, granted, officer):
    milestone_id = granted.milestone(2)
    assert report(client, milestone_id, granted.applicant).status_code == 200
    url = f"{API}/milestones/{milestone_id}/reject"

    no_reason = client.post(url, json={}, headers=officer.headers)
    response = client.post(
        url, json={"reason": "Attendance lists are missing."}, headers=officer.headers
    )

    assert no_reason.status_code == 422, no_reason.text
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "planned"
    seen = _milestone(client, milestone_id, granted.applicant)
    assert (seen["status"], seen["rejection_reason"]) == (
        "planned",
        "Attendance lists are missing.",
    )
    # Rejecting a planned milestone is a state error; reporting again is allowed and clears
    # the reason.
    assert client.post(url, json={"reason": "Again"}, headers=officer.headers).status_code == 409
    again = report(client, milestone_id, granted.applicant)
    assert again.status_code == 200, again.text
    assert again.json()["rejection_reason"] is None


@pytest.mark.parametrize(
    "role", [Role.finance_officer, Role.admin, Role.reviewer, Role.applicant], ids=str
)
def test_only_a_program_officer_approves_or_rejects(client, factory, granted, role):
    milestone_id = granted.milestone(1)
    assert report(client, milestone_id, granted.applicant).status_code == 200
    headers = granted.applicant if role is Role.applicant else factory.login(role)[1]

    approving = approve(client, milestone_id, headers)
    rejecting = client.post(
        f"{API}/milestones/{milestone_id}/reject", json={"reason": "No"}, headers=headers
    )

    assert (approving.status_code, rejecting.status_code) == (403, 403)
    assert _milestone(client, milestone_id, granted.applicant)["status"] == "reported"


@pytest.mark.parametrize("role", [Role.finance_officer, Role.program_officer], ids=str)
def test_only_the_applicant_reports(client, factory, granted, role):
    response = report(client, granted.milestone(1), factory.login(role)[1])

    assert response.status_code == 403, response.text
