"""Builders and readers for the finance page tests.

Awards are made through the API (`tests/awards/helpers.py`: applied, screened, awarded, a
milestone reported and approved), with any httpx client: the rolled-back tier's TestClient or
a client of the live server. What the pages show is compared with the database itself: the
payment rows and the ledger's accounts, read here without the services the pages use.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db import Database
from app.models import AccountKind, Disbursement, LedgerAccount, Role
from tests.awards.helpers import API, Awarded, application_body, award_body, report
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def approved_award(
    client: httpx.Client,
    factory: Factory,
    call_id: Any,
    officer: dict[str, str],
    amount: str,
    milestones: Sequence[str],
    *,
    approve: Sequence[int] = (1,),
    regions: Sequence[tuple[str, Any]] = (("lima", 100),),
    objectives: Sequence[str] = ("protection",),
    documents: Sequence[str] = ("proposal",),
    organization: str | None = None,
    titles: Sequence[str] = (),
) -> Awarded:
    """A new organisation's application (with a PDF for each of `documents`) submitted,
    screened and awarded `amount` in `milestones` (named `titles`, else "Milestone n"), and
    the milestones at positions `approve` reported by the applicant and approved by the
    officer: all through the API."""
    member = factory.user(Role.applicant, organization=factory.organization(organization))
    applicant = factory.headers(member)
    body = application_body(amount, regions=regions, objectives=objectives)
    created = client.post(f"{API}/calls/{call_id}/applications", json=body, headers=applicant)
    assert created.status_code == 201, created.text
    application = created.json()["id"]
    for doc_type in documents:
        sent = client.post(
            f"{API}/applications/{application}/documents",
            files=upload_files(doc_type, pdf_bytes()),
            headers=applicant,
        )
        assert sent.status_code == 201, sent.text
    submitted = client.post(f"{API}/applications/{application}/submit", headers=applicant)
    assert submitted.status_code == 200, submitted.text
    screened = client.post(
        f"{API}/applications/{application}/screening",
        json={"eligible": True, "notes": ""},
        headers=officer,
    )
    assert screened.status_code == 200, screened.text
    decision = award_body(amount, list(milestones))
    for milestone, title in zip(decision["milestones"], titles, strict=False):
        milestone["title"] = title
    decided = client.post(f"{API}/applications/{application}/award", json=decision, headers=officer)
    assert decided.status_code == 201, decided.text
    granted = Awarded(decided.json(), screened.json(), applicant)
    for position in approve:
        reported = report(client, granted.milestone(position), applicant)  # type: ignore[arg-type]
        assert reported.status_code == 200, reported.text
        approval = client.post(
            f"{API}/milestones/{granted.milestone(position)}/approve", headers=officer
        )
        assert approval.status_code == 200, approval.text
    return granted


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's forms (the CSRF token, the payment key), by name."""
    return dict(_HIDDEN.findall(html))


def payments(db: Database, award_id: Any) -> list[tuple[int, uuid.UUID | None]]:
    """The award's payment rows (amount in cents, what they reverse), oldest first."""
    with db.transaction(read_only=True) as session:
        rows = session.execute(
            select(Disbursement.amount, Disbursement.reverses_id)
            .where(Disbursement.award_id == uuid.UUID(str(award_id)))
            .order_by(Disbursement.recorded_at, Disbursement.id)
        ).all()
    return [(int(amount), reverses) for amount, reverses in rows]


def ledger_paid(db: Database, call_id: Any) -> int:
    """What the ledger says the call's awards have been paid: the sum of their `paid`
    accounts' balances, in cents."""
    with db.transaction(read_only=True) as session:
        total = session.scalar(
            select(
                func.coalesce(
                    func.sum(LedgerAccount.credits_posted - LedgerAccount.debits_posted), 0
                )
            ).where(
                LedgerAccount.call_id == uuid.UUID(str(call_id)),
                LedgerAccount.kind == AccountKind.paid,
            )
        )
    return int(total or 0)


def ledger_uncommitted(db: Database, call_id: Any) -> int:
    """The call's envelope account's balance: what is not yet awarded, in cents."""
    with db.transaction(read_only=True) as session:
        account = session.scalar(
            select(LedgerAccount).where(
                LedgerAccount.kind == AccountKind.envelope,
                LedgerAccount.owner_id == uuid.UUID(str(call_id)),
            )
        )
    assert account is not None
    return account.credits_posted - account.debits_posted


def ledger_milestone_left(db: Database, milestone_id: Any) -> int:
    """The milestone account's balance: what remains to be paid on it, in cents."""
    with db.transaction(read_only=True) as session:
        account = session.scalar(
            select(LedgerAccount).where(
                LedgerAccount.kind == AccountKind.milestone,
                LedgerAccount.owner_id == uuid.UUID(str(milestone_id)),
            )
        )
    assert account is not None
    return account.credits_posted - account.debits_posted


def csv_rows(content: bytes) -> list[dict[str, str]]:
    """A downloaded CSV report (UTF-8 with a BOM) as dictionaries by column."""
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def dollars(text: str) -> int:
    """`US$ 1,250,000.00` or `-US$ 100.00` (as the English pages write them) → cents."""
    match = re.fullmatch(r"(-?)US\$\s([\d,]+)\.(\d{2})", text.strip())
    assert match, f"not an amount in US dollars: {text!r}"
    cents = int(match[2].replace(",", "")) * 100 + int(match[3])
    return -cents if match[1] else cents
