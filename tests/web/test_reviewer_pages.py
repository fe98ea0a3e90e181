"""The reviewer's pages without a browser: the queue, the scoring page with the rubric's
guidance, draft and submission through the review service, blind review in the rendered HTML,
documents viewed in the browser, conflict declarations, and who may open what."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.models import Document, Role, User
from tests.reviews.helpers import API, applicant, assigned, scored, set_panel, under_review
from tests.support.factories import Factory
from tests.support.uploads import XLSX, pdf_bytes, xlsx_bytes
from tests.web.pages import audit_actions, csrf_token, field_error, post_form, sign_in
from tests.web.staff_support import FILENAME, ORG_NAME, TITLE, ReviewSetup, leaks, review_setup

# Whole page flows (seconds per module): in the full suite, not the fast tier.
pytestmark = pytest.mark.slow

HTML = {"accept": "text/html"}
SPANISH = {"accept-language": "es"}


@pytest.fixture
def setup(client: TestClient, factory: Factory) -> ReviewSetup:
    """A blind call; the reviewer signed in on the page client."""
    built = review_setup(client, factory, blind=True)
    sign_in(client, built.reviewer.email)
    return built


def _page(setup: ReviewSetup) -> str:
    return f"/review/applications/{setup.application['id']}"


def _api_review(client: TestClient, factory: Factory, setup: ReviewSetup) -> Any:
    return client.get(
        f"{API}/applications/{setup.application['id']}/review",
        headers=factory.headers(setup.reviewer),
    )


def _scores_form(**overrides: str) -> dict[str, str]:
    form = {
        "scores.approach": "7",
        "scores.capacity": "4.5",
        "recommendation": "fund_with_changes",
        "comment": "Strong community links; the budget for training is thin.",
    }
    form.update(overrides)
    return form


# --- the queue ---------------------------------------------------------------------------


def test_the_queue_lists_what_is_assigned_with_progress(
    client: TestClient, factory: Factory, setup: ReviewSetup
) -> None:
    # A second application of the same call, assigned and reviewed already.
    other = under_review(client, setup.call.id, applicant(factory), setup.officer_headers)
    assigned(client, other["id"], setup.reviewer, setup.officer_headers)
    scored(client, other["id"], factory.headers(setup.reviewer), 8, 4)
    # And one the reviewer is not assigned to.
    hidden = under_review(
        client, setup.call.id, applicant(factory), setup.officer_headers, title="Not yours"
    )

    html = client.get("/review").text

    assert "1 of 2 reviews submitted" in html
    assert '<progress class="progress" max="2" value="1"' in html
    assert setup.application["reference"] in html
    assert TITLE in html
    assert other["reference"] in html
    assert hidden["reference"] not in html
    assert "Not yours" not in html
    assert "Not started" in html
    assert "Submitted" in html
    assert f'href="/review/applications/{setup.application["id"]}"' in html
    assert f'href="/review/calls/{setup.call.id}/conflicts"' in html


def test_an_empty_queue_says_so(client: TestClient, factory: Factory) -> None:
    sign_in(client, factory.user(Role.reviewer).email)

    html = client.get("/review").text

    assert "Nothing is assigned to you at the moment." in html


def test_a_reviewer_lands_on_the_queue_after_signing_in(
    client: TestClient, factory: Factory
) -> None:
    reviewer = factory.user(Role.reviewer)

    response = sign_in(client, reviewer.email)

    assert response.headers["location"] == "/review"
    assert 'href="/review" aria-current="page"' in client.get("/review").text


# --- the scoring page --------------------------------------------------------------------


def test_the_scoring_page_shows_the_application_and_each_criterions_guidance(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call(
        blind_review=True,
        rubric={
            "criteria": [
                {
                    "key": "approach",
                    "label": "Technical approach",
                    "weight": 60,
                    "max_score": 10,
                    "guidance": "A clear theory of change from activities to results.",
                },
                {
                    "key": "capacity",
                    "label": "Organisational capacity",
                    "weight": 40,
                    "max_score": 5,
                    "guidance": "Staff, systems and a record of similar work.",
                },
            ]
        },
    )
    built = review_setup(client, factory, blind=True, call=call)
    sign_in(client, built.reviewer.email)

    html = client.get(_page(built)).text

    assert f"{built.application['reference']}: {TITLE}" in html
    assert "US$ 100,000.00" in html
    assert "Village committees trained to spot and report trafficking." in html
    # Each score input is described by its range and its guidance, shown beside it.
    assert '<label for="field-scores-approach" class="criterion__label">Technical approach' in html
    assert "Weight 60%. Score from 0 to 10." in html
    assert (
        '<p class="hint" id="field-scores-approach-hint">'
        "A clear theory of change from activities to results.</p>"
    ) in html
    assert 'aria-describedby="field-scores-capacity-range field-scores-capacity-hint"' in html
    assert "Staff, systems and a record of similar work." in html
    assert f'href="/documents/{built.document["id"]}/view"' in html
    assert "Save draft" in html
    assert "Submit review" in html


def test_saving_a_draft_stores_it_through_the_review_service(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    page = _page(setup)

    response = post_form(client, page, page, _scores_form(**{"scores.capacity": ""}))

    assert response.status_code == 303
    assert response.headers["location"] == page
    stored = _api_review(client, factory, setup).json()
    assert stored["status"] == "draft"
    assert stored["scores"] == {"approach": 7}
    assert stored["recommendation"] == "fund_with_changes"
    assert stored["comment"].startswith("Strong community links")
    assert audit_actions(db, "review") == ["review.saved"]
    html = client.get(page).text
    assert "Draft saved." in html
    assert 'name="scores.approach" type="text" inputmode="decimal"' in html
    assert 'value="7"' in html
    assert 'value="fund_with_changes" id="recommendation-fund_with_changes" checked' in html


def test_a_score_that_is_not_a_number_is_explained_next_to_its_field(
    client: TestClient, factory: Factory, setup: ReviewSetup
) -> None:
    page = _page(setup)

    response = post_form(
        client, page, page, _scores_form(**{"scores.approach": "seven", "scores.capacity": "-1"})
    )

    assert response.status_code == 422
    assert field_error(response.text, "field-scores-approach") == "Enter a number."
    assert field_error(response.text, "field-scores-capacity") == "Enter a score of 0 or more."
    assert 'value="seven"' in response.text
    assert _api_review(client, factory, setup).status_code == 404


def test_a_score_above_the_criterions_maximum_is_refused_by_the_service(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    page = _page(setup)

    response = post_form(client, page, page, _scores_form(**{"scores.capacity": "6"}))

    assert response.status_code == 422
    assert "Each score must lie between 0 and the criterion&#39;s maximum score." in response.text
    assert _api_review(client, factory, setup).status_code == 404
    assert audit_actions(db, "review") == []


def test_submitting_an_incomplete_review_lists_what_is_missing_next_to_each_field(
    client: TestClient, factory: Factory, setup: ReviewSetup
) -> None:
    page = _page(setup)
    post_form(client, page, page, _scores_form(**{"scores.capacity": ""}))

    response = post_form(
        client,
        page,
        f"{page}/submit",
        _scores_form(**{"scores.capacity": "", "recommendation": ""}),
    )

    assert response.status_code == 422
    assert "The review is incomplete" in response.text
    assert field_error(response.text, "field-scores-capacity") == (
        "Give a score for this criterion."
    )
    assert field_error(response.text, "field-scores-approach") is None
    assert field_error(response.text, "field-recommendation") == "Choose a recommendation."
    # The refused submission changed nothing: the stored draft keeps its recommendation.
    stored = _api_review(client, factory, setup).json()
    assert stored["status"] == "draft"
    assert stored["recommendation"] == "fund_with_changes"


def test_submitting_a_complete_review_locks_it_and_shows_its_total(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    page = _page(setup)

    response = post_form(client, page, f"{page}/submit", _scores_form())

    assert response.status_code == 303
    assert response.headers["location"] == "/review"
    stored = _api_review(client, factory, setup).json()
    assert stored["status"] == "submitted"
    # 7/10 * 60 + 4.5/5 * 40 = 42 + 36
    assert stored["total"] == 78.0
    assert audit_actions(db, "review") == ["review.saved", "review.submitted"]
    queue = client.get("/review").text
    assert f"Your review of {setup.application['reference']} is submitted. Thank you." in queue
    assert "1 of 1 review submitted" in queue
    html = client.get(page).text
    assert '<dd id="review-total">78 of 100</dd>' in html
    assert "4.5 of 5" in html
    assert "Fund with changes" in html
    assert "Save draft" not in html
    again = post_form(client, page, page, _scores_form(**{"scores.approach": "1"}))
    assert again.status_code == 409
    assert "This review is submitted and can no longer change." in again.text
    assert _api_review(client, factory, setup).json()["scores"]["approach"] == 7


def test_the_scoring_page_is_in_spanish_for_a_spanish_visitor(
    client: TestClient, setup: ReviewSetup
) -> None:
    html = client.get(_page(setup), headers=SPANISH).text

    assert '<html lang="es">' in html
    assert "Guardar borrador" in html
    assert "Enviar evaluación" in html
    assert "Ponderación 60 %. Puntúe de 0 a 10." in html
    assert "US$ 100.000,00" in html


# --- blind review ------------------------------------------------------------------------


def test_a_blind_reviewers_pages_carry_nothing_that_identifies_the_organisation(
    client: TestClient, factory: Factory, setup: ReviewSetup
) -> None:
    page = _page(setup)
    draft = post_form(client, page, page, _scores_form(**{"scores.capacity": ""}))
    invalid = post_form(client, page, page, _scores_form(**{"scores.approach": "x"}))
    # The upload really carried the organisation's name.
    assert setup.document["filename"] == FILENAME

    pages = {
        "queue": client.get("/review"),
        "scoring": client.get(page),
        "draft saved": client.get(draft.headers["location"]),
        "form with errors": invalid,
        "spanish": client.get(page, headers=SPANISH),
        "document": client.get(f"/documents/{setup.document['id']}/view"),
    }

    assert {name: r.status_code for name, r in pages.items()} == {
        "queue": 200,
        "scoring": 200,
        "draft saved": 200,
        "form with errors": 422,
        "spanish": 200,
        "document": 200,
    }
    found = {
        name: leaks(
            (r.text if name != "document" else "")
            + "\n".join(f"{k}: {v}" for k, v in r.headers.items()),
            setup.organization,
        )
        for name, r in pages.items()
    }
    assert found == {name: [] for name in pages}
    assert "proposal.pdf" in pages["scoring"].text
    assert pages["document"].headers["content-disposition"].endswith("''proposal.pdf")


def test_a_reviewer_of_an_open_call_sees_the_organisation_and_the_file_name(
    client: TestClient, factory: Factory
) -> None:
    built = review_setup(client, factory, blind=False)
    sign_in(client, built.reviewer.email)

    html = client.get(_page(built)).text

    assert f'<dd id="applicant-name">{ORG_NAME}</dd>' in html
    assert "technical proposal (final).pdf" in html
    assert leaks(html, built.organization) != []


# --- documents in the browser ------------------------------------------------------------


def test_a_pdf_opens_in_the_browser_with_the_apis_bytes(
    client: TestClient, factory: Factory
) -> None:
    built = review_setup(client, factory, blind=True)
    sign_in(client, built.reviewer.email)

    pdf = client.get(f"/documents/{built.document['id']}/view")

    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    assert pdf.headers["content-security-policy"].startswith("sandbox")
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.content.startswith(b"%PDF")
    assert (
        pdf.content
        == client.get(
            f"{API}/documents/{built.document['id']}/content",
            headers=factory.headers(built.reviewer),
        ).content
    )


def test_a_workbook_is_downloaded_not_shown(client: TestClient, factory: Factory) -> None:
    officer = factory.user(Role.program_officer)
    headers = factory.headers(officer)
    reviewer = factory.user(Role.reviewer)
    call = factory.call(actor=officer)
    set_panel(client, call.id, headers, reviewer)
    who = applicant(factory)
    created = client.post(
        f"{API}/calls/{call.id}/applications",
        json={
            "title": "Shelters",
            "summary": "Shelters for children.",
            "requested_amount": "100000.00",
            "duration_months": 24,
            "objectives": ["protection"],
            "regions": [{"code": "lima", "share_pct": 100}],
        },
        headers=who.headers,
    ).json()
    for doc_type, name, content, mime in (
        ("proposal", "proposal.pdf", pdf_bytes(), "application/pdf"),
        ("budget_detail", "budget.xlsx", xlsx_bytes(), XLSX),
    ):
        sent = client.post(
            f"{API}/applications/{created['id']}/documents",
            files={"doc_type": (None, doc_type), "file": (name, content, mime)},
            headers=who.headers,
        )
        assert sent.status_code == 201, sent.text
    workbook_id = sent.json()["id"]
    assert client.post(f"{API}/applications/{created['id']}/submit", headers=who.headers).is_success
    client.post(
        f"{API}/applications/{created['id']}/screening",
        json={"eligible": True, "notes": ""},
        headers=headers,
    )
    assigned(client, created["id"], reviewer, headers)
    sign_in(client, reviewer.email)

    response = client.get(f"/documents/{workbook_id}/view")

    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "budget.xlsx" in response.headers["content-disposition"]


def test_a_document_is_a_404_for_a_reviewer_who_is_not_assigned(
    client: TestClient, factory: Factory
) -> None:
    built = review_setup(client, factory, blind=True)
    outsider = factory.user(Role.reviewer)
    sign_in(client, outsider.email)

    for path in (f"/documents/{built.document['id']}/view", _page(built)):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "There is nothing here, or you do not have access to it." in response.text
    saved = post_form(client, "/review", _page(built), _scores_form())
    assert saved.status_code == 404


def test_a_document_whose_bytes_are_missing_is_a_404_page_not_an_error(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    with db.transaction(read_only=True) as session:
        stored = session.get(Document, uuid.UUID(setup.document["id"]))
        assert stored is not None
        key = stored.storage_key
    storage = client.app.state.storage  # type: ignore[attr-defined]
    storage.delete(key)

    response = client.get(f"/documents/{setup.document['id']}/view", headers=HTML)

    assert response.status_code == 404
    assert "There is nothing here" in response.text


# --- conflicts of interest ---------------------------------------------------------------


def test_declaring_a_conflict_from_the_page_ends_the_assignment(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    page = f"/review/calls/{setup.call.id}/conflicts"
    form = client.get(page).text
    # The organisations that applied, by name, with nothing linking them to applications.
    assert f'<option value="{setup.organization.id}">{ORG_NAME}</option>' in form
    assert setup.application["reference"] not in form

    response = post_form(
        client,
        page,
        page,
        {"organization_id": str(setup.organization.id), "reason": "I advised them last year."},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/review"
    queue = client.get("/review").text
    assert "Conflict of interest declared. 1 assignment ended: it has left your queue." in queue
    assert setup.application["reference"] not in queue
    assert ORG_NAME in queue  # listed among the reviewer's own declarations
    assert audit_actions(db, "conflict") == ["conflict.declared"]
    for path in (_page(setup), f"/documents/{setup.document['id']}/view"):
        assert client.get(path, headers=HTML).status_code == 404
    conflicts = client.get(f"{API}/conflicts", headers=factory.headers(setup.reviewer)).json()
    assert [(c["organization_id"], c["reason"]) for c in conflicts["items"]] == [
        (str(setup.organization.id), "I advised them last year.")
    ]


def test_a_conflict_needs_an_organisation_and_a_reason(
    client: TestClient, setup: ReviewSetup, db: Database
) -> None:
    page = f"/review/calls/{setup.call.id}/conflicts"

    response = post_form(client, page, page, {"organization_id": "", "reason": "no"})

    assert response.status_code == 422
    assert field_error(response.text, "field-organization_id") == (
        "Choose one of the organisations listed."
    )
    assert field_error(response.text, "field-reason") == "Enter at least 3 characters."
    assert audit_actions(db, "conflict") == []


# --- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.applicant, Role.program_officer, Role.finance_officer])
def test_other_roles_get_the_403_page(client: TestClient, factory: Factory, role: Role) -> None:
    built = review_setup(client, factory, blind=True)
    sign_in(client, factory.user(role).email)

    for path in ("/review", _page(built), f"/review/calls/{built.call.id}/conflicts"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 403, path
        assert "You may not do this" in response.text


def test_the_review_form_without_its_csrf_token_is_refused(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    page = _page(setup)
    foreign = _scores_form()

    missing = client.post(page, data=foreign, follow_redirects=False)
    wrong = client.post(
        f"{page}/submit", data={**foreign, "csrf_token": "forged"}, follow_redirects=False
    )
    conflict = client.post(
        f"/review/calls/{setup.call.id}/conflicts",
        data={"organization_id": str(setup.organization.id), "reason": "Forged request."},
        follow_redirects=False,
    )

    for response in (missing, wrong, conflict):
        assert response.status_code == 403
        assert "This form has expired or did not come from this site." in response.text
    assert _api_review(client, factory, setup).status_code == 404
    assert audit_actions(db, "review") == []
    assert audit_actions(db, "conflict") == []
    assert csrf_token(client.get(page).text)


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/review", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Freview"


def test_a_deactivated_reviewer_loses_the_pages(
    client: TestClient, factory: Factory, setup: ReviewSetup, db: Database
) -> None:
    with db.transaction() as session:
        stored = session.get(User, setup.reviewer.id)
        assert stored is not None
        stored.is_active = False

    response = client.get("/review", follow_redirects=False)

    assert response.status_code == 303
