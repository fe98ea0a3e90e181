"""GET /calls/{id}/reconciliation: every balance recomputed from the ledger entries. A mixed
history reconciles; a database corrupted behind the service's back is caught, by name."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, update

from app.models import AccountKind, LedgerAccount, LedgerTransfer, Role, TransferKind
from tests.awards.helpers import (
    START,
    amend,
    approved,
    assert_reconciles,
    award,
    awarded,
    disburse,
    failing_checks,
    kept,
    reconciliation,
    reverse,
    under_review,
)


@pytest.fixture
def history(client, factory, call, officer, finance):
    """Awards, a refused award, an amendment, payments, a refused payment and a reversal."""
    a = awarded(client, factory, call.id, officer.headers, "300000.00", ["100000.00", "200000.00"])
    b = awarded(client, factory, call.id, officer.headers, "400000.00")
    late = under_review(
        client,
        call.id,
        factory.login(Role.applicant)[1],
        officer.headers,
        requested_amount="400000.00",
    )
    # 1000000.00 - 700000.00 = 300000.00 remains: 300000.01 is refused.
    assert award(client, late["id"], officer.headers, "300000.01").status_code == 409
    first, second = a.award["milestones"]
    approved(client, first["id"], a.applicant, officer.headers)
    approved(client, b.milestone(1), b.applicant, officer.headers)
    paid = disburse(client, a.id, finance.headers, first["id"], "33333.33").json()
    assert disburse(client, a.id, finance.headers, first["id"], "66666.68").status_code == 409
    assert disburse(client, b.id, finance.headers, b.milestone(1), "0.01").status_code == 201
    assert reverse(client, paid["id"], finance.headers).status_code == 201
    assert disburse(client, a.id, finance.headers, first["id"], "100000.00").status_code == 201
    # 100000.00 + 150000.50 + 49999.50 = 300000.00; the second milestone lowered.
    assert (
        amend(
            client,
            a.id,
            officer.headers,
            "300000.00",
            [
                kept(first, "100000.00"),
                kept(second, "150000.50"),
                {
                    "title": "Closing",
                    "due_date": START.replace(year=2027).isoformat(),
                    "amount": "49999.50",
                },
            ],
        ).status_code
        == 201
    )
    return a, b


def test_a_mixed_history_reconciles(client, call, history, finance):
    body = assert_reconciles(client, call.id, finance.headers)

    # 300000.00 + 400000.00 awarded; 100000.00 + 0.01 paid.
    assert (body["envelope"], body["awarded"], body["uncommitted"], body["disbursed"]) == (
        "1000000.00",
        "700000.00",
        "300000.00",
        "100000.01",
    )
    assert {c["name"] for c in body["checks"]} >= {
        "posted_balances_match_entries",
        "no_account_overdrawn",
        "awarded_plus_uncommitted_is_envelope",
        "disbursed_within_awarded",
        "awards_match_ledger",
        "milestones_match_payments",
        "every_payment_posted",
    }


def test_an_account_total_changed_behind_the_ledgers_back_is_caught(
    client, db, call, history, finance
):
    a, _ = history
    with db.transaction() as session:
        session.execute(
            update(LedgerAccount)
            .where(
                LedgerAccount.kind == AccountKind.milestone,
                LedgerAccount.owner_id == uuid.UUID(a.milestone(1)),
            )
            .values(credits_posted=LedgerAccount.credits_posted + 1)
        )

    body = reconciliation(client, call.id, finance.headers)

    assert body["ok"] is False
    # The account no longer equals its transfers, and the milestone's ledger balance no
    # longer matches its payments (one cent "unpaid").
    assert failing_checks(body) == {"posted_balances_match_entries", "milestones_match_payments"}


def test_a_deleted_ledger_transfer_is_caught(client, db, call, history, finance):
    with db.transaction() as session:
        victim = session.scalar(
            select(LedgerTransfer.id)
            .where(LedgerTransfer.call_id == call.id, LedgerTransfer.kind == TransferKind.disburse)
            .limit(1)
        )
        session.execute(delete(LedgerTransfer).where(LedgerTransfer.id == victim))

    body = reconciliation(client, call.id, finance.headers)

    assert body["ok"] is False
    assert {"posted_balances_match_entries", "every_payment_posted"} <= failing_checks(body)
