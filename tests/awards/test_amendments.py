"""Amendments (POST /awards/{id}/amendments): a new amount and schedule with a reason, never
below what is paid, never past the envelope; the allocation and the ledger follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import AwardAmendment, Role
from tests.awards.helpers import (
    API,
    END,
    allocation,
    amend,
    approved,
    assert_reconciles,
    awarded,
    count,
    disburse,
    get_award,
    kept,
)


def _new_milestone(amount: str) -> dict[str, str]:
    return {
        "title": "Extension phase",
        "due_date": (END - timedelta(days=30)).isoformat(),
        "amount": amount,
    }


def test_raising_and_lowering_an_award_moves_the_allocation_with_it(
    client, factory, call, officer, finance
):
    granted = awarded(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )
    first, second = granted.award["milestones"]

    # Raise: 60000.00 + 40000.00 + 50000.50 = 150000.50.
    raised = amend(
        client,
        granted.id,
        officer.headers,
        "150000.50",
        [kept(first, "60000.00"), kept(second, "40000.00"), _new_milestone("50000.50")],
    )

    assert raised.status_code == 201, raised.text
    body = raised.json()
    assert (body["previous_amount"], body["new_amount"]) == ("100000.00", "150000.50")
    assert body["reason"] == "Scope changed after the inception report"
    assert body["award"]["amount"] == "150000.50"
    assert [(m["amount"], m["remaining"]) for m in body["award"]["milestones"]] == [
        ("60000.00", "60000.00"),
        ("40000.00", "40000.00"),
        ("50000.50", "50000.50"),
    ]
    added = body["award"]["milestones"][2]
    # 1000000.00 - 150000.50 = 849999.50
    figures = allocation(client, call.id, finance.headers)
    assert (figures["awarded"], figures["uncommitted"]) == ("150000.50", "849999.50")
    assert_reconciles(client, call.id, finance.headers)

    # Lower: 45000.00 + 35000.00 = 80000.00, and the added milestone is cancelled.
    lowered = amend(
        client,
        granted.id,
        officer.headers,
        "80000.00",
        [kept(first, "45000.00"), kept(second, "35000.00")],
    )

    assert lowered.status_code == 201, lowered.text
    assert (lowered.json()["previous_amount"], lowered.json()["new_amount"]) == (
        "150000.50",
        "80000.00",
    )
    now = get_award(client, granted.id, granted.applicant)
    assert now["amount"] == "80000.00"
    assert [(m["id"], m["amount"]) for m in now["milestones"]] == [
        (first["id"], "45000.00"),
        (second["id"], "35000.00"),
    ]
    gone = client.get(f"{API}/milestones/{added['id']}", headers=officer.headers)
    assert gone.status_code == 404, gone.text
    # 1000000.00 - 80000.00 = 920000.00
    figures = allocation(client, call.id, finance.headers)
    assert (figures["awarded"], figures["uncommitted"]) == ("80000.00", "920000.00")
    assert_reconciles(client, call.id, finance.headers)


def test_an_amendment_never_takes_a_milestone_below_what_is_paid_on_it(
    client, factory, db, call, officer, finance
):
    granted = awarded(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )
    first, second = granted.award["milestones"]
    approved(client, first["id"], granted.applicant, officer.headers)
    paid = disburse(client, granted.id, finance.headers, first["id"], "25000.00")
    assert paid.status_code == 201, paid.text
    before = allocation(client, call.id, finance.headers)

    # 24999.99 + 75000.00 = 99999.99: one cent below the 25000.00 paid on the first.
    below = amend(
        client,
        granted.id,
        officer.headers,
        "99999.99",
        [kept(first, "24999.99"), kept(second, "75000.00")],
    )
    dropped = amend(client, granted.id, officer.headers, "100000.00", [kept(second, "100000.00")])

    for response in (below, dropped):
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "below_disbursed"
    assert allocation(client, call.id, finance.headers) == before
    assert count(db, AwardAmendment) == 0

    # Exactly what is paid: 25000.00 + 40000.00 = 65000.00; nothing remains on the first,
    # so it is paid.
    to_paid = amend(
        client,
        granted.id,
        officer.headers,
        "65000.00",
        [kept(first, "25000.00"), kept(second, "40000.00")],
    )
    assert to_paid.status_code == 201, to_paid.text
    milestone = to_paid.json()["award"]["milestones"][0]
    assert (milestone["status"], milestone["disbursed"], milestone["remaining"]) == (
        "paid",
        "25000.00",
        "0.00",
    )
    assert (to_paid.json()["award"]["disbursed"], to_paid.json()["award"]["remaining"]) == (
        "25000.00",
        "40000.00",
    )
    assert_reconciles(client, call.id, finance.headers)

    # Raised again to 30000.00, 5000.00 remains: approved again, and payable.
    reopened = amend(
        client,
        granted.id,
        officer.headers,
        "70000.00",
        [kept(first, "30000.00"), kept(second, "40000.00")],
    )
    assert reopened.status_code == 201, reopened.text
    milestone = reopened.json()["award"]["milestones"][0]
    assert (milestone["status"], milestone["remaining"]) == ("approved", "5000.00")
    assert disburse(client, granted.id, finance.headers, first["id"], "5000.01").status_code == 409
    assert disburse(client, granted.id, finance.headers, first["id"], "5000.00").status_code == 201
    assert get_award(client, granted.id, finance.headers)["milestones"][0]["status"] == "paid"
    assert_reconciles(client, call.id, finance.headers)


def test_raising_an_award_past_the_envelope_is_refused_and_changes_nothing(
    client, factory, db, call, officer, finance
):
    granted = awarded(client, factory, call.id, officer.headers, "400000.00")
    awarded(client, factory, call.id, officer.headers, "400000.00")
    (only,) = granted.award["milestones"]
    before_award = get_award(client, granted.id, finance.headers)
    before = allocation(client, call.id, finance.headers)

    # 200000.00 remains; 400000.00 + 200000.01 = 600000.01 is one cent too many.
    refused = amend(client, granted.id, officer.headers, "600000.01", [kept(only, "600000.01")])

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "envelope_exceeded"
    assert get_award(client, granted.id, finance.headers) == before_award
    assert allocation(client, call.id, finance.headers) == before
    assert count(db, AwardAmendment) == 0
    assert_reconciles(client, call.id, finance.headers)

    filled = amend(client, granted.id, officer.headers, "600000.00", [kept(only, "600000.00")])
    assert filled.status_code == 201, filled.text
    figures = allocation(client, call.id, finance.headers)
    assert (figures["awarded"], figures["uncommitted"]) == ("1000000.00", "0.00")
    assert_reconciles(client, call.id, finance.headers)


@pytest.mark.parametrize(
    ("reason", "amounts"),
    [
        (None, ("60000.00", "40000.00")),
        ("  ", ("60000.00", "40000.00")),
        ("Budget revision", ("60000.00", "39999.99")),
    ],
    ids=["no_reason", "blank_reason", "schedule_not_adding_up"],
)
def test_an_amendment_needs_a_reason_and_a_schedule_that_adds_up(
    client, factory, db, call, officer, reason, amounts
):
    granted = awarded(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )
    first, second = granted.award["milestones"]

    response = amend(
        client,
        granted.id,
        officer.headers,
        "100000.00",
        [kept(first, amounts[0]), kept(second, amounts[1])],
        reason=reason,
    )

    assert response.status_code == 422, response.text
    assert count(db, AwardAmendment) == 0


@pytest.mark.parametrize("role", [Role.finance_officer, Role.admin, Role.applicant], ids=str)
def test_only_a_program_officer_amends(client, factory, db, call, officer, role):
    granted = awarded(client, factory, call.id, officer.headers, "100000.00")
    headers = granted.applicant if role is Role.applicant else factory.login(role)[1]

    response = amend(
        client, granted.id, headers, "90000.00", [kept(granted.award["milestones"][0], "90000.00")]
    )

    assert response.status_code == 403, response.text
    assert count(db, AwardAmendment) == 0
