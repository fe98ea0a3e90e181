"""Disbursements and reversals (SPEC §8): the Idempotency-Key contract, limits, value dates,
segregation of duties, milestone status, award figures and who sees what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.models import Disbursement, IdempotencyKey, Role
from tests.awards.helpers import (
    API,
    approved,
    assert_reconciles,
    awarded,
    count,
    disburse,
    disbursement_body,
    get_award,
    lima_today,
    milestone_of,
    person,
    reverse,
    set_role,
)


@pytest.fixture
def granted(client, factory, call, officer):
    """100000.00 in two milestones, 60000.00 and 40000.00; the first approved."""
    granted = awarded(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )
    approved(client, granted.milestone(1), granted.applicant, officer.headers)
    return granted


def _post(client, award_id, headers, body):
    return client.post(f"{API}/awards/{award_id}/disbursements", json=body, headers=headers)


def test_a_payment_is_recorded_against_an_approved_milestone(client, call, granted, finance):
    response = disburse(
        client, granted.id, finance.headers, granted.milestone(1), "12345.67", reference="TRF-9"
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["award_id"], body["milestone_id"], body["amount"], body["currency"]) == (
        granted.id,
        granted.milestone(1),
        "12345.67",
        "USD",
    )
    assert (body["value_date"], body["reference"], body["reverses_id"]) == (
        lima_today().isoformat(),
        "TRF-9",
        None,
    )
    assert body["recorded_by_id"] == str(finance.user.id)
    # 100000.00 - 12345.67 = 87654.33 on the award; 60000.00 - 12345.67 = 47654.33 on the
    # milestone, which stays approved while something remains.
    award = get_award(client, granted.id, granted.applicant)
    assert (award["disbursed"], award["remaining"]) == ("12345.67", "87654.33")
    milestone = milestone_of(award, granted.milestone(1))
    assert (milestone["disbursed"], milestone["remaining"], milestone["status"]) == (
        "12345.67",
        "47654.33",
        "approved",
    )
    assert_reconciles(client, call.id, finance.headers)


def test_a_payment_without_an_idempotency_key_is_refused(client, db, granted, finance):
    response = _post(
        client, granted.id, finance.headers, disbursement_body(granted.milestone(1), "100.00")
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"
    assert count(db, Disbursement) == 0


def test_a_milestone_that_is_not_approved_cannot_be_paid(client, db, granted, finance):
    response = disburse(client, granted.id, finance.headers, granted.milestone(2), "100.00")

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "milestone_not_approved"
    assert count(db, Disbursement) == 0


def test_a_payment_may_not_exceed_what_remains_on_the_milestone(client, db, granted, finance):
    milestone_id = granted.milestone(1)

    too_much = disburse(client, granted.id, finance.headers, milestone_id, "60000.01")
    assert too_much.status_code == 409, too_much.text
    assert too_much.json()["code"] == "exceeds_remaining"

    assert disburse(client, granted.id, finance.headers, milestone_id, "50000.00").status_code == (
        201
    )
    # 60000.00 - 50000.00 = 10000.00 remains.
    over = disburse(client, granted.id, finance.headers, milestone_id, "10000.01")
    assert over.status_code == 409, over.text
    assert count(db, Disbursement) == 1
    rest = disburse(client, granted.id, finance.headers, milestone_id, "10000.00")
    assert rest.status_code == 201, rest.text
    milestone = milestone_of(get_award(client, granted.id, finance.headers), milestone_id)
    assert (milestone["status"], milestone["disbursed"], milestone["remaining"]) == (
        "paid",
        "60000.00",
        "0.00",
    )
    paid_off = disburse(client, granted.id, finance.headers, milestone_id, "0.01")
    assert paid_off.status_code == 409, paid_off.text


def test_a_value_date_in_the_future_of_the_calls_timezone_is_refused(client, db, granted, finance):
    # The call keeps its dates in America/Lima (UTC-5): tomorrow there is refused even in
    # the hours when it is already that date in UTC.
    tomorrow = disburse(
        client,
        granted.id,
        finance.headers,
        granted.milestone(1),
        "100.00",
        value_date=lima_today() + timedelta(days=1),
    )
    today = disburse(
        client,
        granted.id,
        finance.headers,
        granted.milestone(1),
        "100.00",
        value_date=lima_today(),
    )
    last_year = disburse(
        client,
        granted.id,
        finance.headers,
        granted.milestone(1),
        "100.00",
        value_date=lima_today() - timedelta(days=365),
    )

    assert tomorrow.status_code == 422, tomorrow.text
    assert tomorrow.json()["code"] == "future_value_date"
    assert (today.status_code, last_year.status_code) == (201, 201)
    assert count(db, Disbursement) == 2


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", "1.001", 1.5, "1e3", "NaN"])
def test_an_amount_that_is_not_a_positive_money_value_is_refused(
    client, db, granted, finance, amount
):
    response = disburse(client, granted.id, finance.headers, granted.milestone(1), amount)

    assert response.status_code == 422, response.text
    assert count(db, Disbursement) == 0
    assert count(db, IdempotencyKey) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("", "application/json"), ("amount=10", "text/plain"), ("{not json", "application/json")],
    ids=["empty", "text", "malformed"],
)
def test_a_body_that_is_not_json_is_refused_not_a_crash(
    client, db, granted, finance, content, content_type
):
    response = client.post(
        f"{API}/awards/{granted.id}/disbursements",
        content=content,
        headers={**finance.headers, "Idempotency-Key": "k", "Content-Type": content_type},
    )

    assert response.status_code == 422, response.text
    assert count(db, Disbursement) == 0


def test_a_retry_with_the_same_key_and_body_returns_the_first_response(
    client, db, granted, finance
):
    body = disbursement_body(granted.milestone(1), "2500.00", reference="TRF-77")
    headers = {**finance.headers, "Idempotency-Key": "payment-77"}

    first = _post(client, granted.id, headers, body)
    # The same JSON with its keys in another order and other spacing is the same request.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    second = client.post(
        f"{API}/awards/{granted.id}/disbursements",
        content=reordered,
        headers={**headers, "Content-Type": "application/json"},
    )

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert second.content == first.content
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert count(db, Disbursement) == 1
    assert get_award(client, granted.id, finance.headers)["disbursed"] == "2500.00"


def test_the_same_key_with_another_body_is_refused(client, db, granted, finance):
    headers = {**finance.headers, "Idempotency-Key": "payment-78"}
    first = _post(client, granted.id, headers, disbursement_body(granted.milestone(1), "2500.00"))

    other = _post(client, granted.id, headers, disbursement_body(granted.milestone(1), "2500.01"))

    assert first.status_code == 201, first.text
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert count(db, Disbursement) == 1


def test_idempotency_keys_belong_to_the_user_who_sent_them(client, factory, db, granted, finance):
    colleague = person(factory, Role.finance_officer)
    body = disbursement_body(granted.milestone(1), "1000.00")

    mine = _post(client, granted.id, {**finance.headers, "Idempotency-Key": "k-1"}, body)
    theirs = _post(client, granted.id, {**colleague.headers, "Idempotency-Key": "k-1"}, body)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["recorded_by_id"] == str(colleague.user.id)
    assert count(db, Disbursement) == 2
    # 2 * 1000.00 = 2000.00 paid.
    assert get_award(client, granted.id, finance.headers)["disbursed"] == "2000.00"


def test_a_failed_request_does_not_consume_its_key(client, db, officer, granted, finance):
    headers = {**finance.headers, "Idempotency-Key": "retry-after-409"}
    body = disbursement_body(granted.milestone(2), "1000.00")

    refused = _post(client, granted.id, headers, body)
    assert refused.status_code == 409, refused.text
    # Once the second milestone is approved, the same key and body go through.
    approved(client, granted.milestone(2), granted.applicant, officer.headers)
    accepted = _post(client, granted.id, headers, body)

    assert accepted.status_code == 201, accepted.text
    assert count(db, Disbursement) == 1


def test_whoever_approved_a_milestone_may_not_record_its_payment(
    client, factory, db, call, officer
):
    granted = awarded(client, factory, call.id, officer.headers, "100000.00")
    approver = person(factory, Role.program_officer)
    approved(client, granted.milestone(1), granted.applicant, approver.headers)
    set_role(db, approver.user, Role.finance_officer)

    response = disburse(client, granted.id, approver.headers, granted.milestone(1), "100.00")

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "segregation_of_duties"
    assert count(db, Disbursement) == 0


def test_a_reversal_reopens_a_paid_milestone_and_happens_once(client, call, db, granted, finance):
    milestone_id = granted.milestone(1)
    payment = disburse(client, granted.id, finance.headers, milestone_id, "60000.00").json()
    assert (
        milestone_of(get_award(client, granted.id, finance.headers), milestone_id)["status"]
        == "paid"
    )

    response = reverse(client, payment["id"], finance.headers, reason="Wrong beneficiary")

    assert response.status_code == 201, response.text
    reversal = response.json()
    assert (reversal["amount"], reversal["reverses_id"], reversal["reason"]) == (
        "-60000.00",
        payment["id"],
        "Wrong beneficiary",
    )
    assert reversal["milestone_id"] == milestone_id
    award = get_award(client, granted.id, finance.headers)
    assert (award["disbursed"], award["remaining"]) == ("0.00", "100000.00")
    milestone = milestone_of(award, milestone_id)
    assert (milestone["status"], milestone["remaining"]) == ("approved", "60000.00")
    listed = client.get(f"{API}/awards/{granted.id}/disbursements", headers=finance.headers)
    assert [(d["amount"], d["reversed_by_id"]) for d in listed.json()] == [
        ("60000.00", reversal["id"]),
        ("-60000.00", None),
    ]

    twice = reverse(client, payment["id"], finance.headers)
    of_reversal = reverse(client, reversal["id"], finance.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_reversed")
    assert (of_reversal.status_code, of_reversal.json()["code"]) == (409, "is_reversal")
    assert count(db, Disbursement) == 2
    assert_reconciles(client, call.id, finance.headers)

    # Reopened: it can be paid again, and a reversal needs a reason.
    again = disburse(client, granted.id, finance.headers, milestone_id, "60000.00")
    assert again.status_code == 201, again.text
    no_reason = client.post(
        f"{API}/disbursements/{again.json()['id']}/reverse", json={}, headers=finance.headers
    )
    assert no_reason.status_code == 422, no_reason.text


def test_the_award_shows_exact_disbursed_and_remaining_amounts(
    client, call, officer, granted, finance
):
    approved(client, granted.milestone(2), granted.applicant, officer.headers)
    paid = [
        disburse(client, granted.id, finance.headers, granted.milestone(1), "12345.67"),
        disburse(client, granted.id, finance.headers, granted.milestone(1), "0.01"),
        disburse(client, granted.id, finance.headers, granted.milestone(2), "39999.99"),
        disburse(client, granted.id, finance.headers, granted.milestone(2), "0.01"),
    ]
    assert [p.status_code for p in paid] == [201] * 4
    assert reverse(client, paid[1].json()["id"], finance.headers).status_code == 201

    award = get_award(client, granted.id, granted.applicant)

    # Milestone 1: 12345.67 + 0.01 - 0.01 = 12345.67 paid; 60000.00 - 12345.67 = 47654.33.
    # Milestone 2: 39999.99 + 0.01 = 40000.00 paid, nothing remains: paid.
    # Award: 12345.67 + 40000.00 = 52345.67 paid; 100000.00 - 52345.67 = 47654.33 remains.
    assert (award["disbursed"], award["remaining"]) == ("52345.67", "47654.33")
    assert [(m["disbursed"], m["remaining"], m["status"]) for m in award["milestones"]] == [
        ("12345.67", "47654.33", "approved"),
        ("40000.00", "0.00", "paid"),
    ]
    assert_reconciles(client, call.id, finance.headers)


def test_applicants_see_only_their_own_awards(client, factory, call, officer, granted):
    other = awarded(client, factory, call.id, officer.headers, "50000.00")

    mine = client.get(f"{API}/awards", headers=granted.applicant)
    theirs = client.get(f"{API}/awards/{other.id}", headers=granted.applicant)
    their_payments = client.get(f"{API}/awards/{other.id}/disbursements", headers=granted.applicant)

    assert mine.status_code == 200, mine.text
    assert [a["id"] for a in mine.json()["items"]] == [granted.id]
    assert mine.json()["total"] == 1
    assert (theirs.status_code, their_payments.status_code) == (404, 404)
    assert client.get(f"{API}/awards/{granted.id}", headers=granted.applicant).status_code == 200


def test_reviewers_may_not_read_awards(client, factory, granted):
    reviewer = factory.login(Role.reviewer)[1]

    # The role never reads awards: 403 before any visibility check (SPEC §2).
    for url in (
        f"{API}/awards",
        f"{API}/awards/{granted.id}",
        f"{API}/awards/{granted.id}/disbursements",
        f"{API}/milestones/{granted.milestone(1)}",
        f"{API}/milestones/{granted.milestone(1)}/evidence",
    ):
        response = client.get(url, headers=reviewer)
        assert response.status_code == 403, (url, response.text)


@pytest.mark.parametrize("role", [Role.program_officer, Role.admin, Role.applicant], ids=str)
def test_only_a_finance_officer_records_or_reverses_payments(
    client, factory, db, granted, finance, role
):
    payment = disburse(client, granted.id, finance.headers, granted.milestone(1), "10.00").json()
    headers = granted.applicant if role is Role.applicant else factory.login(role)[1]

    recording = disburse(client, granted.id, headers, granted.milestone(1), "10.00")
    reversing = reverse(client, payment["id"], headers)

    assert (recording.status_code, reversing.status_code) == (403, 403)
    assert count(db, Disbursement) == 1
