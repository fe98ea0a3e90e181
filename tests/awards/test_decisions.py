"""Award and decline decisions (SPEC §8): schedule and limit checks, the envelope, roles and
segregation of duties."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.models import Award, Role
from tests.awards.helpers import (
    API,
    END,
    START,
    allocation,
    assert_reconciles,
    award,
    award_body,
    awarded,
    count,
    person,
    set_role,
    submitted_application,
    under_review,
)


def _application_status(client, application_id, headers):
    response = client.get(f"{API}/applications/{application_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["status"]


def test_an_award_is_created_with_its_reference_milestones_and_nothing_disbursed(
    client, factory, call, officer, finance
):
    applicant = factory.login(Role.applicant)[1]
    application = under_review(client, call.id, applicant, officer.headers)

    response = award(
        client, application["id"], officer.headers, "100000.00", ["60000.00", "40000.00"]
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(rf"AWD-{datetime.now(UTC).year}-\d{{4}}", body["reference"])
    assert body["application_id"] == application["id"]
    assert body["application_reference"] == application["reference"]
    assert (body["amount"], body["disbursed"], body["remaining"]) == (
        "100000.00",
        "0.00",
        "100000.00",
    )
    assert body["currency"] == "USD"
    assert (body["start_date"], body["end_date"]) == (START.isoformat(), END.isoformat())
    assert [
        (m["position"], m["amount"], m["disbursed"], m["remaining"], m["status"])
        for m in body["milestones"]
    ] == [
        (1, "60000.00", "0.00", "60000.00", "planned"),
        (2, "40000.00", "0.00", "40000.00", "planned"),
    ]
    assert _application_status(client, application["id"], applicant) == "awarded"
    # The award is the only commitment: 1000000.00 - 100000.00 = 900000.00 stays uncommitted.
    figures = allocation(client, call.id, finance.headers)
    assert (figures["awarded"], figures["uncommitted"]) == ("100000.00", "900000.00")
    assert client.get(f"{API}/awards/{body['id']}", headers=applicant).json() == body
    assert_reconciles(client, call.id, finance.headers)


def test_milestones_that_do_not_add_up_to_the_amount_are_refused(
    client, factory, db, call, officer
):
    application = under_review(client, call.id, factory.login(Role.applicant)[1], officer.headers)

    # 60000.00 + 39999.99 = 99999.99, one cent short of 100000.00.
    response = award(
        client, application["id"], officer.headers, "100000.00", ["60000.00", "39999.99"]
    )

    assert response.status_code == 422, response.text
    assert count(db, Award) == 0


@pytest.mark.parametrize(
    "due_date",
    [START - timedelta(days=1), END + timedelta(days=1)],
    ids=["before_start", "after_end"],
)
def test_a_milestone_due_outside_the_award_period_is_refused(
    client, factory, db, call, officer, due_date
):
    application = under_review(client, call.id, factory.login(Role.applicant)[1], officer.headers)
    body = award_body("100000.00", ["60000.00", "40000.00"])
    body["milestones"][1]["due_date"] = due_date.isoformat()

    response = client.post(
        f"{API}/applications/{application['id']}/award", json=body, headers=officer.headers
    )

    assert response.status_code == 422, response.text
    assert count(db, Award) == 0


@pytest.mark.parametrize(
    ("requested", "amount", "says"),
    [
        ("100000.00", "49999.99", "between 50000.00 and 400000.00"),
        ("400000.00", "400000.01", "between 50000.00 and 400000.00"),
        ("100000.00", "100000.01", "100000.00 requested"),
    ],
    ids=["below_min_award", "above_max_award", "above_the_request"],
)
def test_an_amount_outside_the_limits_or_above_the_request_is_refused(
    client, factory, db, call, officer, requested, amount, says
):
    applicant = factory.login(Role.applicant)[1]
    application = under_review(
        client, call.id, applicant, officer.headers, requested_amount=requested
    )

    response = award(client, application["id"], officer.headers, amount)

    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert count(db, Award) == 0
    assert _application_status(client, application["id"], applicant) == "under_review"


def test_only_an_application_under_review_can_be_decided(client, factory, call, officer):
    applicant = factory.login(Role.applicant)[1]
    submitted = submitted_application(client, call.id, applicant)

    not_screened = award(client, submitted["id"], officer.headers, "100000.00")
    decline_unscreened = client.post(
        f"{API}/applications/{submitted['id']}/decline",
        json={"reason": "Out of scope"},
        headers=officer.headers,
    )
    done = awarded(client, factory, call.id, officer.headers, "100000.00")
    awarded_twice = award(client, done.application["id"], officer.headers, "100000.00")
    declined_after_award = client.post(
        f"{API}/applications/{done.application['id']}/decline",
        json={"reason": "Changed our mind"},
        headers=officer.headers,
    )

    for response in (not_screened, decline_unscreened, awarded_twice, declined_after_award):
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "invalid_state"


def test_an_award_past_the_envelope_is_refused_and_changes_nothing(
    client, factory, db, call, officer, finance
):
    awarded(client, factory, call.id, officer.headers, "400000.00")
    awarded(client, factory, call.id, officer.headers, "400000.00")
    applicant = factory.login(Role.applicant)[1]
    late = under_review(client, call.id, applicant, officer.headers, requested_amount="300000.00")
    before = allocation(client, call.id, finance.headers)

    # 1000000.00 - 2 * 400000.00 = 200000.00 remains; 200000.01 is one cent too many.
    response = award(client, late["id"], officer.headers, "200000.01")

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "envelope_exceeded"
    assert allocation(client, call.id, finance.headers) == before
    assert (before["awarded"], before["uncommitted"]) == ("800000.00", "200000.00")
    assert count(db, Award) == 2
    assert _application_status(client, late["id"], applicant) == "under_review"
    assert client.get(f"{API}/awards", headers=applicant).json()["total"] == 0
    assert_reconciles(client, call.id, finance.headers)


def test_awards_may_fill_the_envelope_to_the_cent_and_not_one_cent_more(
    client, factory, call_factory_small_limits, officer, finance
):
    call = call_factory_small_limits
    awarded(client, factory, call.id, officer.headers, "400000.00")
    awarded(client, factory, call.id, officer.headers, "400000.00")
    awarded(client, factory, call.id, officer.headers, "199999.99")
    # 1000000.00 - 400000.00 - 400000.00 - 199999.99 = 0.01 remains.
    applicant = factory.login(Role.applicant)[1]
    last = under_review(client, call.id, applicant, officer.headers, requested_amount="0.02")

    assert award(client, last["id"], officer.headers, "0.02").json()["code"] == (
        "envelope_exceeded"
    )
    exact = award(client, last["id"], officer.headers, "0.01")
    assert exact.status_code == 201, exact.text
    figures = allocation(client, call.id, finance.headers)
    assert (figures["awarded"], figures["uncommitted"]) == ("1000000.00", "0.00")

    one_more = under_review(
        client, call.id, factory.login(Role.applicant)[1], officer.headers, requested_amount="0.01"
    )
    refused = award(client, one_more["id"], officer.headers, "0.01")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "envelope_exceeded"
    assert_reconciles(client, call.id, finance.headers)


@pytest.fixture
def call_factory_small_limits(factory):
    """Envelope 1000000.00 with awards from one cent, so the envelope can be filled exactly."""
    return factory.call(min_award="0.01", max_award="400000.00")


def test_a_declined_applicant_sees_the_reason(client, factory, call, officer):
    applicant = factory.login(Role.applicant)[1]
    application = under_review(client, call.id, applicant, officer.headers)
    url = f"{API}/applications/{application['id']}/decline"

    missing = client.post(url, json={}, headers=officer.headers)
    response = client.post(
        url, json={"reason": "The budget does not match the activities."}, headers=officer.headers
    )

    assert missing.status_code == 422, missing.text
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "declined"
    seen = client.get(f"{API}/applications/{application['id']}", headers=applicant).json()
    assert seen["status"] == "declined"
    assert seen["decline_reason"] == "The budget does not match the activities."
    assert award(client, application["id"], officer.headers, "100000.00").status_code == 409


def test_a_program_officer_who_reviewed_an_application_may_not_decide_it(
    client, factory, db, call, officer
):
    application = under_review(client, call.id, factory.login(Role.applicant)[1], officer.headers)
    reviewer = person(factory, Role.reviewer)
    panel = client.put(
        f"{API}/calls/{call.id}/panel",
        json={"reviewer_ids": [str(reviewer.user.id)]},
        headers=officer.headers,
    )
    assert panel.status_code == 200, panel.text
    assigned = client.post(
        f"{API}/assignments",
        json={"application_id": application["id"], "reviewer_id": str(reviewer.user.id)},
        headers=officer.headers,
    )
    assert assigned.status_code == 201, assigned.text
    review_url = f"{API}/applications/{application['id']}/review"
    saved = client.put(
        review_url,
        json={"scores": {"approach": 8, "capacity": 4}, "recommendation": "fund", "comment": ""},
        headers=reviewer.headers,
    )
    assert saved.status_code == 200, saved.text
    assert client.post(f"{review_url}/submit", headers=reviewer.headers).status_code == 200
    set_role(db, reviewer.user, Role.program_officer)

    awarding = award(client, application["id"], reviewer.headers, "100000.00")
    declining = client.post(
        f"{API}/applications/{application['id']}/decline",
        json={"reason": "Weak capacity"},
        headers=reviewer.headers,
    )

    for response in (awarding, declining):
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "segregation_of_duties"
    assert count(db, Award) == 0
    # Another officer, who did not review it, may decide it.
    assert award(client, application["id"], officer.headers, "100000.00").status_code == 201


@pytest.mark.parametrize(
    "role", [Role.finance_officer, Role.applicant, Role.reviewer, Role.admin], ids=str
)
def test_only_a_program_officer_decides(client, factory, db, call, officer, role):
    applicant = factory.login(Role.applicant)[1]
    application = under_review(client, call.id, applicant, officer.headers)
    # The application's own applicant, for the applicant case: the role decides, not visibility.
    headers = applicant if role is Role.applicant else factory.login(role)[1]

    awarding = award(client, application["id"], headers, "100000.00")
    declining = client.post(
        f"{API}/applications/{application['id']}/decline",
        json={"reason": "Not a priority"},
        headers=headers,
    )

    for response in (awarding, declining):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden_role"
    assert count(db, Award) == 0
    assert _application_status(client, application["id"], applicant) == "under_review"
