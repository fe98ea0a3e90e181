"""A database failure in the middle of a disbursement leaves nothing behind: no payment, no
ledger entry, no audit event, and the idempotency key free for the retry."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from app.models import AuditEvent, Disbursement, IdempotencyKey, LedgerTransfer, Role, TransferKind
from tests.awards.helpers import (
    API,
    allocation,
    approved,
    assert_reconciles,
    awarded,
    count,
    disbursement_body,
    get_award,
    milestone_of,
    person,
)

# A PL/pgSQL trigger fails the ledger insert mid-transaction: PostgreSQL only.
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REFUSE_DISBURSE = """
CREATE FUNCTION test_refuse_disburse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'disburse' THEN
        RAISE EXCEPTION 'injected fault: ledger write refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_disburse BEFORE INSERT ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION test_refuse_disburse();
"""
DROP = """
DROP TRIGGER IF EXISTS test_refuse_disburse ON ledger_transfers;
DROP FUNCTION IF EXISTS test_refuse_disburse();
"""


def test_a_failed_ledger_write_leaves_no_payment_and_frees_the_key(
    committed_app_factory, committed_factory, committed_db
):
    officer = person(committed_factory, Role.program_officer)
    finance = person(committed_factory, Role.finance_officer)
    call = committed_factory.call()
    body = disbursement_body(str(uuid.uuid4()), "2500.00")
    headers = {**finance.headers, "Idempotency-Key": "fails-then-succeeds"}
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        granted = awarded(client, committed_factory, call.id, officer.headers, "50000.00")
        approved(client, granted.milestone(1), granted.applicant, officer.headers)
        body["milestone_id"] = granted.milestone(1)
        url = f"{API}/awards/{granted.id}/disbursements"
        figures = allocation(client, call.id, finance.headers)
        events = count(committed_db, AuditEvent)
        with committed_db.engine.begin() as conn:
            conn.exec_driver_sql(REFUSE_DISBURSE)
        try:
            failed = client.post(url, json=body, headers=headers)
            after_failure = {
                "payments": count(committed_db, Disbursement),
                "disburse transfers": count(
                    committed_db, LedgerTransfer, LedgerTransfer.kind == TransferKind.disburse
                ),
                "keys": count(committed_db, IdempotencyKey),
                "audit events": count(committed_db, AuditEvent),
            }
        finally:
            with committed_db.engine.begin() as conn:
                conn.exec_driver_sql(DROP)

        assert failed.status_code == 503, failed.text
        assert failed.json()["code"] == "database_unavailable"
        assert after_failure == {
            "payments": 0,
            "disburse transfers": 0,
            "keys": 0,
            "audit events": events,
        }
        assert allocation(client, call.id, finance.headers) == figures
        milestone = milestone_of(
            get_award(client, granted.id, finance.headers), granted.milestone(1)
        )
        assert (milestone["status"], milestone["disbursed"]) == ("approved", "0.00")

        retried = client.post(url, json=body, headers=headers)

        assert retried.status_code == 201, retried.text
        assert retried.headers.get("Idempotent-Replayed") is None
        assert count(committed_db, Disbursement) == 1
        # One event for the payment that finally went through, none for the failed attempt.
        assert count(committed_db, AuditEvent) == events + 1
        assert get_award(client, granted.id, finance.headers)["disbursed"] == "2500.00"
        assert_reconciles(client, call.id, finance.headers)
