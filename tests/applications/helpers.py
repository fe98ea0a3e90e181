"""Client-side helpers for the application and call tests: bodies, uploads, submission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from app.db import Database
from app.models import Call
from tests.support.uploads import pdf_bytes, upload_files

API = "/api/v1"


def complete_body(**overrides: Any) -> dict[str, Any]:
    """An application body that passes every submission check of `call_payload()`'s call.

    Requested 100000.00 lies within min_award 50000.00 .. max_award 400000.00, and the two
    budget lines add up to it: 60000.00 + 40000.00 = 100000.00.
    """
    body: dict[str, Any] = {
        "title": "Safe homes for children in Lima and Cusco",
        "summary": "Specialised shelters and case management for child victims.",
        "requested_amount": "100000.00",
        "duration_months": 24,
        "objectives": ["protection"],
        "regions": [{"code": "lima", "share_pct": 60}, {"code": "cusco", "share_pct": 40}],
        "budget": [
            {"category": "personnel", "description": "Case workers", "amount": "60000.00"},
            {
                "category": "operations",
                "description": "Shelter running costs",
                "amount": "40000.00",
            },
        ],
    }
    body.update(overrides)
    return body


def create_application(
    client: TestClient, call_id: Any, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = client.post(
        f"{API}/calls/{call_id}/applications", json=complete_body(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload_pdf(
    client: TestClient, application_id: str, headers: dict[str, str], doc_type: str = "proposal"
) -> Response:
    return client.post(
        f"{API}/applications/{application_id}/documents",
        files=upload_files(doc_type, pdf_bytes()),
        headers=headers,
    )


def submit(client: TestClient, application_id: str, headers: dict[str, str]) -> Response:
    return client.post(f"{API}/applications/{application_id}/submit", headers=headers)


def submitted_application(
    client: TestClient, call_id: Any, headers: dict[str, str]
) -> dict[str, Any]:
    """A complete application with its proposal uploaded, submitted through the API."""
    application = create_application(client, call_id, headers)
    uploaded = upload_pdf(client, application["id"], headers)
    assert uploaded.status_code == 201, uploaded.text
    response = submit(client, application["id"], headers)
    assert response.status_code == 200, response.text
    return response.json()


def set_call_window(db: Database, call_id: Any, *, opens_at: datetime, closes_at: datetime) -> None:
    """Move a call's window directly in the database (e.g. into the past), as time passing would."""
    with db.transaction() as session:
        session.execute(
            update(Call).where(Call.id == call_id).values(opens_at=opens_at, closes_at=closes_at)
        )
