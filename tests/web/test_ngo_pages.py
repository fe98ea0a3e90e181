"""The applicant's pages without a browser: the same services, rules, visibility and audit
events as the API, with errors shown next to the fields and in the visitor's language."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.models import Role, User
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, windows_executable_bytes
from tests.web.pages import (
    application_form,
    audit_actions,
    csrf_token,
    field_error,
    post_form,
    sign_in,
    upload,
)

API = "/api/v1"
HTML = {"accept": "text/html"}
SPANISH = {"accept-language": "es"}


@pytest.fixture
def applicant(client: TestClient, factory: Factory) -> User:
    user = factory.user(Role.applicant)
    sign_in(client, user.email)
    return user


def _start(client: TestClient, call_id: Any) -> str:
    response = post_form(client, f"/calls/{call_id}", f"/calls/{call_id}/apply")
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _api_view(client: TestClient, factory: Factory, user: User, page: str) -> dict[str, Any]:
    response = client.get(f"{API}{page}", headers=factory.headers(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_starting_an_application_creates_a_draft_through_the_service(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    call = factory.call(publish=True)

    page = _start(client, call.id)

    draft = _api_view(client, factory, applicant, page)
    assert draft["status"] == "draft"
    assert draft["call_id"] == str(call.id)
    assert audit_actions(db, "application") == ["application.created"]
    shown = client.get(page)
    assert f"Draft {draft['reference']} created." in shown.text


def test_a_second_application_to_the_same_call_is_refused_with_the_services_rule(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    _start(client, call.id)

    again = post_form(client, f"/calls/{call.id}", f"/calls/{call.id}/apply")

    assert again.headers["location"] == f"/calls/{call.id}"
    assert "already has an application for this call" in client.get(again.headers["location"]).text


def test_saving_the_form_stores_every_field_like_the_api(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)

    saved = post_form(client, page, page, application_form())

    assert saved.status_code == 303
    stored = _api_view(client, factory, applicant, page)
    assert stored["title"] == "Safe homes for children in Lima and Cusco"
    assert stored["requested_amount"] == "100000.00"
    assert stored["duration_months"] == 24
    assert stored["objectives"] == ["protection", "prevention"]
    assert stored["regions"] == [
        {"code": "lima", "share_pct": 60},
        {"code": "cusco", "share_pct": 40},
    ]
    assert [line["amount"] for line in stored["budget"]] == ["60000.00", "40000.00"]
    assert stored["cost_share"] is None
    assert audit_actions(db, "application")[-1] == "application.updated"
    assert "Draft saved." in client.get(page).text


def test_invalid_fields_are_explained_next_to_each_field_and_nothing_is_saved(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)

    response = post_form(
        client,
        page,
        page,
        application_form(
            requested_amount="12,5",
            duration_months="0",
            **{"region-lima": "50", "region-cusco": "20", "cost_share.currency": "XYZ1"},
        ),
    )

    assert response.status_code == 422
    html = response.text
    assert field_error(html, "field-requested_amount") == (
        "Enter an amount such as 250000.00: digits, and at most two decimals."
    )
    assert field_error(html, "field-duration_months") == "Enter 1 or more."
    assert "Give each region a share; the shares must add up to 100." in html
    assert field_error(html, "field-cost_share-currency") == "Enter at most 3 characters."
    # What was typed is shown again, for correction.
    assert 'value="12,5"' in html
    assert 'name="region-lima" value="50"' in html
    assert 'value="Safe homes for children in Lima and Cusco"' in html
    assert _api_view(client, factory, applicant, page)["title"] is None


def test_field_errors_are_in_spanish_for_a_spanish_visitor(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)

    response = post_form(
        client, page, page, application_form(requested_amount="mil"), headers=SPANISH
    )

    assert response.status_code == 422
    assert field_error(response.text, "field-requested_amount") == (
        "Indique un importe como 250000.00: dígitos y como máximo dos decimales."
    )
    assert "Hay un problema" in response.text


def test_the_checklist_lists_what_submission_still_needs(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)
    post_form(client, page, page, application_form(requested_amount="900000.00", summary=""))

    html = client.get(page).text

    assert "Give a summary." in html
    assert "The amount requested must be between US$ 50,000.00 and US$ 400,000.00." in html
    assert "The budget lines must add up to the amount requested." in html
    assert "Upload the document: Technical proposal." in html
    assert 'href="#doc-proposal"' in html
    # The optional budget document is not asked for.
    assert "Upload the document: Budget." not in html


def test_an_upload_through_the_page_is_stored_by_the_document_service(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)

    response = upload(client, page, "proposal", pdf_bytes(), "Propuesta técnica.pdf")

    assert response.status_code == 201, response.text
    assert response.json()["redirect"] == f"{page}#documents"
    documents = _api_view(client, factory, applicant, f"{page}/documents")
    assert [(d["doc_type"], d["filename"], d["content_type"]) for d in documents] == [
        ("proposal", "Propuesta técnica.pdf", "application/pdf")
    ]
    assert audit_actions(db, "document") == ["document.uploaded"]
    html = client.get(page).text
    assert "Propuesta técnica.pdf uploaded." in html
    assert "Upload the document: Technical proposal." not in html


def test_a_refused_upload_answers_the_script_with_a_translated_reason(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)
    token_page = client.get(page, headers=SPANISH)
    assert token_page.status_code == 200

    disguised = upload(client, page, "proposal", windows_executable_bytes(), "proposal.pdf")
    client.headers.update(SPANISH)
    oversized = upload(client, page, "proposal", pdf_bytes(padding=1_100_000), "big.pdf")

    assert disguised.status_code == 415
    assert disguised.json() == {
        "detail": "The file's content is not one of the accepted types.",
        "code": "unsupported_file_type",
    }
    assert oversized.status_code == 413
    assert oversized.json()["detail"] == (
        "El archivo supera el tamaño permitido para este tipo de documento."
    )
    assert _api_view(client, factory, applicant, f"{page}/documents") == []


def test_a_document_is_deleted_through_the_page(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)
    upload(client, page, "proposal", pdf_bytes(), "proposal.pdf")
    document_id = _api_view(client, factory, applicant, f"{page}/documents")[0]["id"]

    response = post_form(client, page, f"/documents/{document_id}/delete")

    assert response.status_code == 303
    assert _api_view(client, factory, applicant, f"{page}/documents") == []
    assert audit_actions(db, "document") == ["document.uploaded", "document.deleted"]


def test_submitting_an_incomplete_application_lists_everything_missing(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)

    response = post_form(client, page, f"{page}/submit")

    assert response.status_code == 422
    assert "The application is incomplete: see the list of what is missing." in response.text
    for missing in ("Give a title.", "Give the amount requested.", "Technical proposal"):
        assert missing in response.text
    assert _api_view(client, factory, applicant, page)["status"] == "draft"


def test_a_complete_application_is_submitted_and_its_status_shown(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)
    post_form(client, page, page, application_form())
    upload(client, page, "proposal", pdf_bytes(), "proposal.pdf")

    response = post_form(client, page, f"{page}/submit")

    assert response.status_code == 303
    assert _api_view(client, factory, applicant, page)["status"] == "submitted"
    assert audit_actions(db, "application")[-1] == "application.submitted"
    html = client.get(page).text
    assert 'id="application-status">Submitted<' in html
    assert "Save draft" not in html
    listing = client.get("/applications").text
    assert "Submitted" in listing
    assert "US$ 100,000.00" in listing


def test_a_submitted_application_cannot_be_saved_as_a_draft_again(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    page = _start(client, call.id)
    post_form(client, page, page, application_form())
    upload(client, page, "proposal", pdf_bytes(), "proposal.pdf")
    post_form(client, page, f"{page}/submit")

    response = post_form(client, page, page, application_form(title="Changed"))

    assert response.status_code == 409
    assert "Only a draft application can be changed." in response.text
    assert _api_view(client, factory, applicant, page)["title"] != "Changed"


# --- visibility --------------------------------------------------------------------------


def test_another_organisations_application_is_a_404_page(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    call = factory.call(publish=True)
    other = factory.user(Role.applicant)
    other_headers = factory.headers(other)
    created = client.post(
        f"{API}/calls/{call.id}/applications", json={"title": "Theirs"}, headers=other_headers
    )
    theirs = created.json()["id"]
    uploaded = client.post(
        f"{API}/applications/{theirs}/documents",
        files={"doc_type": (None, "proposal"), "file": ("p.pdf", pdf_bytes(), "application/pdf")},
        headers=other_headers,
    )
    document = uploaded.json()["id"]

    for path in (f"/applications/{theirs}", f"/documents/{document}/download"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "There is nothing here, or you do not have access to it." in response.text
    saved = post_form(client, "/applications", f"/applications/{theirs}", {"title": "Mine now"})
    assert saved.status_code == 404
    deleted = post_form(client, "/applications", f"/documents/{document}/delete")
    assert deleted.status_code == 404
    assert "Theirs" not in client.get("/applications").text
    assert _api_view(client, factory, other, f"/applications/{theirs}")["title"] == "Theirs"


def test_a_draft_call_is_not_public(client: TestClient, factory: Factory) -> None:
    draft = factory.call(publish=False)

    assert client.get(f"/calls/{draft.id}", headers=HTML).status_code == 404
    assert draft.title not in client.get("/").text


# --- awards and milestone reports --------------------------------------------------------


def _awarded(client: TestClient, factory: Factory, applicant: User) -> dict[str, Any]:
    """An application submitted through the pages, then screened and awarded through the API."""
    call = factory.call(publish=True)
    page = _start(client, call.id)
    post_form(client, page, page, application_form())
    upload(client, page, "proposal", pdf_bytes(), "proposal.pdf")
    post_form(client, page, f"{page}/submit")
    application_id = page.rsplit("/", 1)[1]
    officer = factory.user(Role.program_officer)
    headers = factory.headers(officer)
    screened = client.post(
        f"{API}/applications/{application_id}/screening",
        json={"eligible": True, "notes": ""},
        headers=headers,
    )
    assert screened.status_code == 200, screened.text
    awarded = client.post(
        f"{API}/applications/{application_id}/award",
        json={
            "amount": "100000.00",
            "start_date": "2026-01-01",
            "end_date": "2027-12-31",
            "milestones": [
                {"title": "Inception report", "due_date": "2026-03-31", "amount": "30000.00"},
                {"title": "Final report", "due_date": "2027-12-31", "amount": "70000.00"},
            ],
        },
        headers=headers,
    )
    assert awarded.status_code == 201, awarded.text
    return awarded.json()  # type: ignore[no-any-return]


def test_an_award_and_its_milestones_are_shown_to_the_organisation(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    award = _awarded(client, factory, applicant)

    listing = client.get("/awards").text
    page = client.get(f"/awards/{award['id']}").text
    spanish = client.get(f"/awards/{award['id']}", headers=SPANISH).text

    assert award["reference"] in listing
    assert "2 milestones" in listing
    assert "Inception report" in page
    assert "US$ 30,000.00" in page
    assert "US$ 70,000.00" in page
    assert "31 March 2026" in page
    assert "Planned" in page
    assert "US$ 30.000,00" in spanish
    assert "31 de marzo de 2026" in spanish
    assert "Previsto" in spanish


def test_another_organisations_award_is_a_404_page(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    award = _awarded(client, factory, applicant)
    client.cookies.clear()
    sign_in(client, factory.user(Role.applicant).email)

    response = client.get(f"/awards/{award['id']}", headers=HTML)

    assert response.status_code == 404
    assert client.get(f"/milestones/{award['milestones'][0]['id']}/report").status_code == 404


def test_a_milestone_report_with_evidence_goes_through_the_report_service(
    client: TestClient, factory: Factory, applicant: User, db: Database
) -> None:
    award = _awarded(client, factory, applicant)
    milestone = award["milestones"][0]
    page = f"/milestones/{milestone['id']}/report"
    token = csrf_token(client.get(page).text)

    response = client.post(
        page,
        files=[
            ("narrative", (None, "Shelters opened in Lima and Cusco; 42 children supported.")),
            ("files", ("attendance.pdf", pdf_bytes(), "application/pdf")),
            ("files", ("photos.pdf", pdf_bytes(padding=3000), "application/pdf")),
        ],
        headers={"x-csrf-token": token, "accept": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["redirect"] == f"/awards/{award['id']}"
    reported = _api_view(client, factory, applicant, f"/milestones/{milestone['id']}")
    assert reported["status"] == "reported"
    assert reported["narrative"].startswith("Shelters opened")
    evidence = _api_view(client, factory, applicant, f"/milestones/{milestone['id']}/evidence")
    assert sorted(e["filename"] for e in evidence) == ["attendance.pdf", "photos.pdf"]
    assert audit_actions(db, "milestone") == ["milestone.reported"]
    shown = client.get(page).text
    assert "42 children supported" in shown
    assert "attendance.pdf" in shown


def test_a_milestone_report_without_a_narrative_is_refused_with_its_reason(
    client: TestClient, factory: Factory, applicant: User
) -> None:
    award = _awarded(client, factory, applicant)
    page = f"/milestones/{award['milestones'][0]['id']}/report"
    token = csrf_token(client.get(page).text)

    response = client.post(
        page,
        files=[("narrative", (None, "  "))],
        headers={"x-csrf-token": token, "accept": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "narrative"
    assert response.json()["detail"] == "Describe what was achieved (up to 20,000 characters)."
