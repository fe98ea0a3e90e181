"""Client-side builders for the award tests: applications taken through the API from draft
to `under_review` and awarded, milestones reported and approved, payments recorded.

Everything goes through the HTTP API, so the tests exercise the same path as a client.
The factory's default call (`call_payload()`) lists regions lima, cusco, loreto and
objectives prosecution, protection, prevention, in that order; envelope 1000000.00, awards
between 50000.00 and 400000.00, dates shown in America/Lima.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update

from app.db import Database
from app.models import Role, User
from tests.support.factories import Factory
from tests.support.uploads import PDF, pdf_bytes, upload_files

API = "/api/v1"
Headers = dict[str, str]

# Every award in these tests runs over these two years; milestones fall due inside them.
START = date(2026, 7, 1)
END = date(2028, 6, 30)


def lima_today() -> date:
    """Today where the default call keeps its dates (value dates are checked there)."""
    return datetime.now(ZoneInfo("America/Lima")).date()


def cents(money: str) -> int:
    """ "1234.56" → 123456, for comparing API figures without floats."""
    units, _, fraction = money.partition(".")
    sign = -1 if units.startswith("-") else 1
    return sign * (abs(int(units)) * 100 + int(fraction.ljust(2, "0")))


def money(minor: int) -> str:
    """123456 → "1234.56"."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


# --- people -----------------------------------------------------------------------------


@dataclass
class Person:
    user: User
    headers: Headers


def person(factory: Factory, role: Role, **kw: Any) -> Person:
    user, headers = factory.login(role, **kw)
    return Person(user, headers)


def set_role(db: Database, user: User, role: Role) -> None:
    """Change a user's role directly in the database, as an administrator would."""
    with db.transaction() as session:
        session.execute(update(User).where(User.id == user.id).values(role=role))


def count(db: Database, model: Any, *where: Any) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- applications -----------------------------------------------------------------------


def application_body(
    requested_amount: str = "100000.00",
    *,
    regions: Sequence[tuple[str, Any]] = (("lima", 100),),
    objectives: Sequence[str] = ("protection",),
) -> dict[str, Any]:
    return {
        "title": "Safe homes for children",
        "summary": "Shelters and case management for child victims.",
        "requested_amount": requested_amount,
        "duration_months": 24,
        "objectives": list(objectives),
        "regions": [{"code": code, "share_pct": share} for code, share in regions],
    }


def submitted_application(
    client: TestClient, call_id: Any, applicant: Headers, **body: Any
) -> dict[str, Any]:
    """Drafted with every field, the required proposal uploaded, submitted."""
    created = client.post(
        f"{API}/calls/{call_id}/applications", json=application_body(**body), headers=applicant
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    uploaded = client.post(
        f"{API}/applications/{application_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=applicant,
    )
    assert uploaded.status_code == 201, uploaded.text
    submitted = client.post(f"{API}/applications/{application_id}/submit", headers=applicant)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


def under_review(
    client: TestClient, call_id: Any, applicant: Headers, officer: Headers, **body: Any
) -> dict[str, Any]:
    """An application taken from draft to `under_review` through the API."""
    application = submitted_application(client, call_id, applicant, **body)
    screened = client.post(
        f"{API}/applications/{application['id']}/screening",
        json={"eligible": True, "notes": ""},
        headers=officer,
    )
    assert screened.status_code == 200, screened.text
    assert screened.json()["status"] == "under_review"
    return screened.json()


# --- awards -----------------------------------------------------------------------------


def schedule(*amounts: str, start: date = START, step_days: int = 60) -> list[dict[str, Any]]:
    """Milestones of the given amounts, falling due every `step_days` inside the period."""
    return [
        {
            "title": f"Milestone {n}",
            "due_date": (start + timedelta(days=step_days * n)).isoformat(),
            "amount": amount,
        }
        for n, amount in enumerate(amounts, start=1)
    ]


def award_body(
    amount: str,
    milestones: Sequence[str] | None = None,
    *,
    start: date = START,
    end: date = END,
) -> dict[str, Any]:
    return {
        "amount": amount,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "milestones": schedule(*(milestones or [amount]), start=start),
    }


def award(
    client: TestClient,
    application_id: str,
    officer: Headers,
    amount: str,
    milestones: Sequence[str] | None = None,
    **kw: Any,
) -> Response:
    return client.post(
        f"{API}/applications/{application_id}/award",
        json=award_body(amount, milestones, **kw),
        headers=officer,
    )


@dataclass
class Awarded:
    award: dict[str, Any]
    application: dict[str, Any]
    applicant: Headers

    @property
    def id(self) -> str:
        return str(self.award["id"])

    def milestone(self, position: int) -> str:
        """The id of the n-th milestone (1-based), as awarded."""
        return str(self.award["milestones"][position - 1]["id"])


def awarded(
    client: TestClient,
    factory: Factory,
    call_id: Any,
    officer: Headers,
    amount: str,
    milestones: Sequence[str] | None = None,
    *,
    applicant: Headers | None = None,
    **body: Any,
) -> Awarded:
    """A new applicant organisation's application, screened eligible and awarded."""
    applicant = applicant or factory.login(Role.applicant)[1]
    body.setdefault("requested_amount", amount)
    application = under_review(client, call_id, applicant, officer, **body)
    response = award(client, application["id"], officer, amount, milestones)
    assert response.status_code == 201, response.text
    return Awarded(response.json(), application, applicant)


def amend(
    client: TestClient,
    award_id: str,
    officer: Headers,
    amount: str,
    milestones: Sequence[dict[str, Any]],
    reason: str | None = "Scope changed after the inception report",
) -> Response:
    body: dict[str, Any] = {"amount": amount, "milestones": list(milestones)}
    if reason is not None:
        body["reason"] = reason
    return client.post(f"{API}/awards/{award_id}/amendments", json=body, headers=officer)


def kept(milestone: dict[str, Any], amount: str) -> dict[str, Any]:
    """An existing milestone in an amended schedule, with a new amount."""
    return {
        "id": milestone["id"],
        "title": milestone["title"],
        "due_date": milestone["due_date"],
        "amount": amount,
    }


def get_award(client: TestClient, award_id: str, headers: Headers) -> dict[str, Any]:
    response = client.get(f"{API}/awards/{award_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def milestone_of(award: dict[str, Any], milestone_id: str) -> dict[str, Any]:
    return next(m for m in award["milestones"] if m["id"] == milestone_id)


# --- milestones -------------------------------------------------------------------------


def report(
    client: TestClient,
    milestone_id: str,
    applicant: Headers,
    narrative: str = "Shelter opened; 40 children received case management.",
    files: Sequence[tuple[str, bytes, str]] = (),
) -> Response:
    """POST the multipart report: a `narrative` field, then zero or more `files` parts."""
    parts: list[tuple[str, tuple[str | None, bytes | str, str] | tuple[None, str]]] = [
        ("narrative", (None, narrative))
    ]
    parts += [("files", (name, content, mime)) for name, content, mime in files]
    return client.post(f"{API}/milestones/{milestone_id}/report", files=parts, headers=applicant)


def approve(client: TestClient, milestone_id: str, officer: Headers) -> Response:
    return client.post(f"{API}/milestones/{milestone_id}/approve", headers=officer)


def approved(
    client: TestClient, milestone_id: str, applicant: Headers, officer: Headers
) -> dict[str, Any]:
    """Reported by the applicant (narrative only) and approved by the officer."""
    reported = report(client, milestone_id, applicant)
    assert reported.status_code == 200, reported.text
    response = approve(client, milestone_id, officer)
    assert response.status_code == 200, response.text
    return response.json()


def evidence_pdf(name: str = "evidence.pdf", padding: int = 3000) -> tuple[str, bytes, str]:
    return (name, pdf_bytes(padding), PDF)


# --- disbursements ----------------------------------------------------------------------


def disbursement_body(
    milestone_id: str, amount: Any, *, value_date: date | None = None, reference: str = "TRF-1"
) -> dict[str, Any]:
    return {
        "milestone_id": milestone_id,
        "amount": amount,
        "value_date": (value_date or lima_today()).isoformat(),
        "reference": reference,
    }


def disburse(
    client: TestClient,
    award_id: str,
    finance: Headers,
    milestone_id: str,
    amount: Any,
    *,
    key: str | None = None,
    **body: Any,
) -> Response:
    """Record a payment; a fresh Idempotency-Key unless one is given."""
    headers = {**finance, "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(
        f"{API}/awards/{award_id}/disbursements",
        json=disbursement_body(milestone_id, amount, **body),
        headers=headers,
    )


def reverse(
    client: TestClient, disbursement_id: str, finance: Headers, reason: str = "Bank returned it"
) -> Response:
    return client.post(
        f"{API}/disbursements/{disbursement_id}/reverse", json={"reason": reason}, headers=finance
    )


# --- the call's money -------------------------------------------------------------------


def allocation(client: TestClient, call_id: Any, headers: Headers) -> dict[str, Any]:
    response = client.get(f"{API}/calls/{call_id}/allocation", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def reconciliation(client: TestClient, call_id: Any, headers: Headers) -> dict[str, Any]:
    response = client.get(f"{API}/calls/{call_id}/reconciliation", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_reconciles(client: TestClient, call_id: Any, headers: Headers) -> dict[str, Any]:
    body = reconciliation(client, call_id, headers)
    assert body["ok"] is True, [c for c in body["checks"] if not c["ok"]]
    return body


def failing_checks(body: dict[str, Any]) -> set[str]:
    return {c["name"] for c in body["checks"] if not c["ok"]}
