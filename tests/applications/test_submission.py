"""Submitting an application: everything missing at once, the call's window, the locked result."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from app.db import Database
from app.models import Role
from app.models.base import utcnow
from tests.applications.helpers import (
    API,
    create_application,
    set_call_window,
    submit,
    submitted_application,
    upload_pdf,
)
from tests.support.factories import Factory


def test_submit_lists_every_missing_item_at_once(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)  # min_award 50000.00, requires a "proposal" document
    response = client.post(
        f"{API}/calls/{call.id}/applications",
        json={
            "title": "Partial proposal",
            "requested_amount": "1000.00",  # below min_award 50000.00
            "objectives": ["prevention"],
            "regions": [{"code": "loreto", "share_pct": 100}],
            "budget": [{"category": "personnel", "amount": "900.00"}],  # 900.00 != 1000.00
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    application = response.json()

    refused = submit(client, application["id"], headers)

    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "incomplete"
    assert isinstance(body["detail"], str)
    assert sorted(m["item"] for m in body["missing"]) == sorted(
        ["summary", "duration_months", "requested_amount", "budget", "proposal"]
    )
    assert {m["item"]: m["kind"] for m in body["missing"]} == {
        "summary": "field",
        "duration_months": "field",
        "requested_amount": "amount",
        "budget": "budget",
        "proposal": "document",
    }
    assert all(m["message"] for m in body["missing"])
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert (stored["status"], stored["submitted_at"]) == ("draft", None)


def test_an_empty_draft_lists_every_required_field_and_document(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    response = client.post(f"{API}/calls/{call.id}/applications", json={}, headers=headers)
    assert response.status_code == 201, response.text

    refused = submit(client, response.json()["id"], headers)

    assert refused.status_code == 422
    # The optional "budget_detail" document is not asked for; no budget means no budget check.
    assert sorted(m["item"] for m in refused.json()["missing"]) == sorted(
        [
            "title",
            "summary",
            "requested_amount",
            "duration_months",
            "objectives",
            "regions",
            "proposal",
        ]
    )


def test_an_amount_above_max_award_is_the_only_thing_missing(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)  # max_award 400000.00
    application = create_application(
        client,
        call.id,
        headers,
        requested_amount="400000.01",
        budget=[{"category": "personnel", "amount": "400000.01"}],
    )
    assert upload_pdf(client, application["id"], headers).status_code == 201

    refused = submit(client, application["id"], headers)

    assert refused.status_code == 422
    assert [(m["item"], m["kind"]) for m in refused.json()["missing"]] == [
        ("requested_amount", "amount")
    ]


def test_a_complete_application_submits(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)
    uploaded = upload_pdf(client, application["id"], headers)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["doc_type"] == "proposal"
    assert uploaded.json()["content_type"] == "application/pdf"
    before = utcnow()

    response = submit(client, application["id"], headers)

    assert response.status_code == 200, response.text
    submitted = response.json()
    assert submitted["status"] == "submitted"
    submitted_at = datetime.fromisoformat(submitted["submitted_at"])
    assert submitted_at.tzinfo is not None
    assert before - timedelta(seconds=5) <= submitted_at <= utcnow() + timedelta(seconds=5)
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert stored["status"] == "submitted"


def test_amounts_exactly_at_min_and_max_award_submit(client: TestClient, factory: Factory) -> None:
    _, low_org = factory.login(Role.applicant)
    _, high_org = factory.login(Role.applicant)
    call = factory.call(publish=True)  # 50000.00 .. 400000.00 inclusive

    low = create_application(
        client,
        call.id,
        low_org,
        requested_amount="50000.00",
        budget=[{"category": "personnel", "amount": 50000}],
    )
    high = create_application(client, call.id, high_org, requested_amount="400000", budget=None)
    for application, headers in ((low, low_org), (high, high_org)):
        assert upload_pdf(client, application["id"], headers).status_code == 201
        response = submit(client, application["id"], headers)
        assert response.status_code == 200, response.text


def test_submitting_before_the_call_opens_is_409(client: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.applicant)
    now = utcnow().replace(microsecond=0)
    call = factory.call(
        publish=True,
        opens_at=(now + timedelta(days=1)).isoformat(),
        closes_at=(now + timedelta(days=30)).isoformat(),
    )
    application = create_application(client, call.id, headers)
    assert upload_pdf(client, application["id"], headers).status_code == 201

    response = submit(client, application["id"], headers)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "call_not_open"
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert stored["status"] == "draft"


def test_submitting_after_the_deadline_is_409(
    client: TestClient, factory: Factory, db: Database
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)
    assert upload_pdf(client, application["id"], headers).status_code == 201
    now = utcnow()
    set_call_window(
        db, call.id, opens_at=now - timedelta(days=30), closes_at=now - timedelta(seconds=1)
    )

    response = submit(client, application["id"], headers)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "call_not_open"
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert stored["status"] == "draft"


def test_submitting_to_a_call_closed_by_hand_is_409(client: TestClient, factory: Factory) -> None:
    _, officer = factory.login(Role.program_officer)
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = create_application(client, call.id, headers)
    assert upload_pdf(client, application["id"], headers).status_code == 201
    assert client.post(f"{API}/calls/{call.id}/close", headers=officer).status_code == 200

    response = submit(client, application["id"], headers)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "call_not_open"


def test_a_submitted_application_can_no_longer_be_edited_or_resubmitted(
    client: TestClient, factory: Factory
) -> None:
    _, headers = factory.login(Role.applicant)
    call = factory.call(publish=True)
    application = submitted_application(client, call.id, headers)

    patched = client.patch(
        f"{API}/applications/{application['id']}", json={"title": "Too late"}, headers=headers
    )
    resubmitted = submit(client, application["id"], headers)
    uploaded = upload_pdf(client, application["id"], headers)

    assert patched.status_code == 409, patched.text
    assert patched.json()["code"] == "not_editable"
    assert resubmitted.status_code == 409, resubmitted.text
    assert uploaded.status_code == 409, uploaded.text
    stored = client.get(f"{API}/applications/{application['id']}", headers=headers).json()
    assert stored["title"] == application["title"]
    assert stored["submitted_at"] == application["submitted_at"]
    documents = client.get(f"{API}/applications/{application['id']}/documents", headers=headers)
    assert len(documents.json()) == 1
