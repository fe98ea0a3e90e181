"""The programme officer's pages without a browser: calls (create, publish, close, panel),
screening, conflicts, assignment, the ranking with its funding line, scores by reviewer, panel
statistics, award decisions with milestones and milestone approvals, all through the API's
services and audit; errors next to their fields; who may open and send what."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Role, User
from tests.reviews.helpers import (
    API,
    Applicant,
    Headers,
    applicant,
    assigned,
    scored,
    set_panel,
    submitted,
    under_review,
)
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes
from tests.web.pages import audit_actions, field_error, post_form, sign_in
from tests.web.staff_support import visible_text

# Whole page flows (seconds per module): in the full suite, not the fast tier.
pytestmark = pytest.mark.slow

HTML = {"accept": "text/html"}
SPANISH = {"accept-language": "es"}


@pytest.fixture
def officer(client: TestClient, factory: Factory) -> User:
    user = factory.user(Role.program_officer)
    sign_in(client, user.email)
    return user


def _api(client: TestClient, factory: Factory, user: User, path: str) -> Any:
    response = client.get(f"{API}{path}", headers=factory.headers(user))
    assert response.status_code == 200, response.text
    return response.json()


def _flash(client: TestClient, location: str) -> str:
    html = client.get(location).text
    match = re.search(r'<p class="flash flash--\w+">([^<]*)</p>', html)
    return match.group(1) if match else ""


# --- calls -------------------------------------------------------------------------------


def _call_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "title": "Child protection grants 2027",
        "description": "Grants for NGOs working with children in Peru.",
        "currency": "usd",
        "envelope_amount": "5000000.00",
        "min_award": "250000.00",
        "max_award": "1500000.00",
        "opens_at": "2026-01-05T09:00",
        "closes_at": "2030-03-31T17:00",
        "timezone": "America/Lima",
        "reviewers_per_application": "3",
        "blind_review": "yes",
        "objectives_rows": "3",
        "objectives-0-code": "protection",
        "objectives-0-label": "Protection",
        "objectives-1-code": "",
        "objectives-1-label": "",
        "objectives-2-code": "prevention",
        "objectives-2-label": "Prevention",
        "regions_rows": "1",
        "regions-0-code": "lima",
        "regions-0-label": "Metropolitan Lima",
        "documents_rows": "1",
        "documents-0-type": "proposal",
        "documents-0-label": "Technical proposal",
        "documents-0-max_size_mb": "20",
        "documents-0-required": "yes",
        "documents-0-allowed_types": ["application/pdf", "image/png"],
        "criteria_rows": "2",
        "criteria-0-key": "approach",
        "criteria-0-label": "Technical approach",
        "criteria-0-weight": "60",
        "criteria-0-max_score": "10",
        "criteria-0-guidance": "A clear theory of change.",
        "criteria-1-key": "capacity",
        "criteria-1-label": "Capacity",
        "criteria-1-weight": "40",
        "criteria-1-max_score": "5",
        "criteria-1-guidance": "",
    }
    form.update(overrides)
    return form


def test_a_call_created_through_the_form_is_the_apis_draft_call(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    response = post_form(client, "/officer/calls/new", "/officer/calls/new", _call_form())

    assert response.status_code == 303, response.text
    call_id = response.headers["location"].rsplit("/", 1)[1]
    call = _api(client, factory, officer, f"/calls/{call_id}")
    assert call["status"] == "draft"
    assert call["currency"] == "USD"
    assert call["envelope_amount"] == "5000000.00"
    assert (call["min_award"], call["max_award"]) == ("250000.00", "1500000.00")
    # 09:00 in Lima (UTC−5) is 14:00 UTC.
    assert datetime.fromisoformat(call["opens_at"]) == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert call["timezone"] == "America/Lima"
    assert call["reviewers_per_application"] == 3
    assert call["blind_review"] is True
    assert call["objectives"] == [
        {"code": "protection", "label": "Protection"},
        {"code": "prevention", "label": "Prevention"},
    ]
    assert call["required_documents"] == [
        {
            "type": "proposal",
            "label": "Technical proposal",
            "required": True,
            "max_size_mb": 20,
            "allowed_types": ["application/pdf", "image/png"],
        }
    ]
    assert [(c["key"], c["weight"], c["max_score"]) for c in call["rubric"]["criteria"]] == [
        ("approach", 60, 10),
        ("capacity", 40, 5),
    ]
    assert audit_actions(db, "call") == ["call.created"]
    assert _flash(client, response.headers["location"]) == (
        "Call created as a draft. Publish it when it is ready."
    )


def test_call_form_errors_are_shown_next_to_their_fields_and_nothing_is_created(
    client: TestClient, officer: User, db: Database
) -> None:
    response = post_form(
        client,
        "/officer/calls/new",
        "/officer/calls/new",
        _call_form(
            title="",
            envelope_amount="5.000.000",
            closes_at="2025-12-31T17:00",
            **{
                "objectives-2-code": "Prevention!",
                "criteria-1-weight": "30",
                "documents-0-allowed_types": [],
            },
        ),
    )

    assert response.status_code == 422
    html = response.text
    assert field_error(html, "field-title") == "This field is required."
    assert field_error(html, "field-envelope_amount") == (
        "Enter an amount such as 250000.00: digits, and at most two decimals."
    )
    assert field_error(html, "field-objectives-2-code") == (
        "Use lower-case letters, digits and _, starting with a letter."
    )
    assert field_error(html, "field-documents-0-allowed_types") == "Choose at least one format."
    assert field_error(html, "field-rubric") == "The weights must add up to 100."
    # What was typed comes back, in the rows it was typed in.
    assert 'name="objectives-2-code" type="text" value="Prevention!"' in html
    assert 'value="5.000.000"' in html
    assert audit_actions(db, "call") == []


def test_a_deadline_before_the_opening_is_explained_next_to_the_deadline(
    client: TestClient, officer: User
) -> None:
    response = post_form(
        client,
        "/officer/calls/new",
        "/officer/calls/new",
        _call_form(opens_at="2030-04-01T09:00", closes_at="2030-03-31T17:00"),
    )

    assert response.status_code == 422
    assert field_error(response.text, "field-closes_at") == (
        "The deadline must be after the opening time."
    )


def test_publishing_and_closing_a_call_go_through_the_call_service(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    call = factory.call(publish=False, actor=officer)
    page = f"/officer/calls/{call.id}"
    listing = client.get("/officer/calls").text
    assert call.title in listing
    assert "Draft" in listing

    published = post_form(client, page, f"{page}/publish")
    assert published.status_code == 303
    assert _api(client, factory, officer, f"/calls/{call.id}")["status"] == "published"
    assert "The call is published: applicants can see it." in client.get(page).text
    again = post_form(client, page, f"{page}/publish")
    assert _flash(client, again.headers["location"]) == (
        "This cannot be done in the current state."
    )

    closed = post_form(client, page, f"{page}/close")
    assert closed.status_code == 303
    assert _api(client, factory, officer, f"/calls/{call.id}")["status"] == "closed"
    assert audit_actions(db, "call") == ["call.created", "call.published", "call.closed"]


def test_the_panel_is_chosen_on_the_calls_page(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call = factory.call(actor=officer)
    first, second = factory.user(Role.reviewer), factory.user(Role.reviewer)
    page = f"/officer/calls/{call.id}"
    assert first.full_name in client.get(page).text

    response = post_form(
        client, page, f"{page}/panel", {"reviewer_ids": [str(first.id), str(second.id)]}
    )

    assert response.status_code == 303
    panel = _api(client, factory, officer, f"/calls/{call.id}/panel")
    assert sorted(panel["reviewer_ids"]) == sorted([str(first.id), str(second.id)])
    assert _flash(client, response.headers["location"]) == "Panel saved: 2 reviewers."


# --- screening, assignment, conflicts ------------------------------------------------------


def test_screening_from_the_application_page(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    call = factory.call(actor=officer)
    eligible = submitted(client, call.id, applicant(factory))
    ineligible = submitted(client, call.id, applicant(factory))
    page = f"/officer/applications/{eligible['id']}"
    html = client.get(page).text
    assert "Is the application eligible?" in html
    assert 'href="/documents/' in html

    missing = post_form(client, page, f"{page}/screening", {"notes": "Looks fine."})
    assert missing.status_code == 422
    assert field_error(missing.text, "field-eligible") == (
        "Choose whether the application is eligible."
    )
    yes = post_form(client, page, f"{page}/screening", {"eligible": "yes", "notes": "Fine."})
    other = f"/officer/applications/{ineligible['id']}"
    no = post_form(client, other, f"{other}/screening", {"eligible": "no", "notes": ""})

    assert yes.status_code == no.status_code == 303
    assert _api(client, factory, officer, f"/applications/{eligible['id']}")["status"] == (
        "under_review"
    )
    assert _api(client, factory, officer, f"/applications/{ineligible['id']}")["status"] == (
        "ineligible"
    )
    assert audit_actions(db, "application").count("application.screened") == 2
    assert "Screened on" in client.get(page).text


def _under_review_call(
    client: TestClient, factory: Factory, officer: User, *, applications: int, reviewers: int
) -> tuple[Any, list[dict[str, Any]], list[User], Headers]:
    headers = factory.headers(officer)
    call = factory.call(actor=officer)
    panel = [factory.user(Role.reviewer) for _ in range(reviewers)]
    set_panel(client, call.id, headers, *panel)
    apps = [under_review(client, call.id, applicant(factory), headers) for _ in range(applications)]
    return call, apps, panel, headers


def test_automatic_assignment_from_the_page_staffs_every_application_evenly(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, _apps, panel, _ = _under_review_call(
        client, factory, officer, applications=3, reviewers=3
    )
    page = f"/officer/calls/{call.id}/assignments"

    response = post_form(client, page, f"{page}/auto")

    assert response.status_code == 303
    active = _api(client, factory, officer, f"/assignments?call_id={call.id}")["items"]
    assert len(active) == 6  # 3 applications × 2 reviewers
    loads = sorted(sum(a["reviewer_id"] == str(r.id) for a in active) for r in panel)
    assert loads == [2, 2, 2]
    html = client.get(page).text
    assert "6 assignments made." in html
    for member in panel:
        assert f"{member.full_name}: 2 applications" in html
    again = post_form(client, page, f"{page}/auto")
    assert _flash(client, again.headers["location"]) == "0 assignments made."


def test_automatic_assignment_reports_what_it_could_not_staff(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    page = f"/officer/calls/{call.id}/assignments"

    response = post_form(client, page, f"{page}/auto")

    assert _flash(client, response.headers["location"]) == (
        f"1 assignment made. Not enough reviewers for: {apps[0]['reference']} (1 reviewer missing)."
    )


def test_assigning_and_unassigning_by_hand(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    call, apps, panel, _ = _under_review_call(client, factory, officer, applications=1, reviewers=2)
    page = f"/officer/calls/{call.id}/assignments"

    made = post_form(
        client,
        page,
        f"/officer/calls/{call.id}/assignments",
        {"application_id": apps[0]["id"], "reviewer_id": str(panel[0].id)},
    )
    assert _flash(client, made.headers["location"]) == (
        f"Reviewer assigned to {apps[0]['reference']}."
    )
    twice = post_form(
        client,
        page,
        f"/officer/calls/{call.id}/assignments",
        {"application_id": apps[0]["id"], "reviewer_id": str(panel[0].id)},
    )

    assert _flash(client, twice.headers["location"]) == (
        "The reviewer is already assigned to this application."
    )
    (assignment,) = _api(client, factory, officer, f"/assignments?call_id={call.id}")["items"]
    ended = post_form(client, page, f"/officer/assignments/{assignment['id']}/end")
    assert ended.status_code == 303
    assert _api(client, factory, officer, f"/assignments?call_id={call.id}")["items"] == []
    assert audit_actions(db, "assignment") == ["assignment.created", "assignment.ended"]


def test_declaring_a_conflict_for_a_panel_member_ends_their_assignment(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, apps, panel, headers = _under_review_call(
        client, factory, officer, applications=1, reviewers=2
    )
    assigned(client, apps[0]["id"], panel[0], headers)
    page = f"/officer/calls/{call.id}/conflicts"
    organization_id = apps[0]["organization_id"]

    response = post_form(
        client,
        page,
        page,
        {
            "reviewer_id": str(panel[0].id),
            "organization_id": organization_id,
            "reason": "Former employee.",
        },
    )

    assert response.status_code == 303
    assert _flash(client, response.headers["location"]) == (
        "Conflict of interest declared. 1 assignment ended."
    )
    assert _api(client, factory, officer, f"/assignments?call_id={call.id}")["items"] == []
    html = client.get(page).text
    assert "Former employee." in html
    assert panel[0].full_name in html
    refused = post_form(
        client,
        f"/officer/calls/{call.id}/assignments",
        f"/officer/calls/{call.id}/assignments",
        {"application_id": apps[0]["id"], "reviewer_id": str(panel[0].id)},
    )
    assert _flash(client, refused.headers["location"]) == (
        "The reviewer has a conflict of interest with the applicant."
    )


def test_a_likely_conflict_is_suggested_by_email_domain(
    client: TestClient, factory: Factory, officer: User
) -> None:
    headers = factory.headers(officer)
    call = factory.call(actor=officer)
    organization = factory.organization("Niños del Sur", contact_email="info@ninosdelsur.org")
    insider = factory.user(Role.reviewer, email="ana@ninosdelsur.org")
    set_panel(client, call.id, headers, insider)
    submitted(client, call.id, applicant(factory, organization))

    html = client.get(f"/officer/calls/{call.id}/conflicts").text

    assert "Likely conflicts to check" in html
    assert "Niños del Sur" in html
    assert "ana@ninosdelsur.org shares the domain ninosdelsur.org" in html


# --- ranking, scores, statistics ---------------------------------------------------------


def _ranked_call(
    client: TestClient, factory: Factory, officer: User
) -> tuple[Any, dict[str, dict[str, Any]], list[User]]:
    """Three applications of 400,000.00 each in an envelope of 1,000,000.00, each scored by
    the same two reviewers (totals 6 * approach + 8 * capacity):

    - A: 80 and 80; B: 66 and 60; C: 100 and 20 (spread 40: the reviewers disagree).

    Each reviewer has three reviews, so the severity correction applies (SPEC §7). Over all
    six totals mu = 67.667, sigma = 24.777; reviewer 1: mean 82, sd 13.952; reviewer 2:
    mean 53.333, sd 24.944. Normalised: A 79.13, C 67.09, B 56.77 — so the order is A, C, B,
    and the cumulative 400k, 800k, 1.2M passes the envelope at B.
    """
    headers = factory.headers(officer)
    call = factory.call(actor=officer, envelope_amount="1000000.00")
    first, second = factory.user(Role.reviewer), factory.user(Role.reviewer)
    set_panel(client, call.id, headers, first, second)
    apps = {
        name: under_review(
            client, call.id, applicant(factory), headers, requested_amount="400000.00", title=name
        )
        for name in ("A", "B", "C")
    }
    scores = {"A": ((8, 4), (8, 4)), "B": ((7, 3), (6, 3)), "C": ((10, 5), (2, 1))}
    for name, (one, two) in scores.items():
        for reviewer, (approach, capacity) in ((first, one), (second, two)):
            assigned(client, apps[name]["id"], reviewer, headers)
            scored(client, apps[name]["id"], factory.headers(reviewer), approach, capacity)
    return call, apps, [first, second]


def test_the_ranking_draws_the_funding_line_where_the_envelope_is_passed(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, apps, _ = _ranked_call(client, factory, officer)

    html = client.get(f"/officer/calls/{call.id}/ranking").text

    body = html[html.index("<tbody>") : html.index("</tbody>")]
    order = [
        ("line" if "funding-line" in row else re.search(r"APP-\d{4}-\d{4}", row).group(0))  # type: ignore[union-attr]
        for row in body.split("<tr")[1:]
    ]
    assert order == [apps["A"]["reference"], apps["C"]["reference"], "line", apps["B"]["reference"]]
    assert (
        "Funding line: the envelope of US$ 1,000,000.00 is reached. "
        "The applications below it do not fit."
    ) in visible_text(html)
    rows = {ref: row for row in body.split("<tr")[1:] if (ref := _ref(row))}
    assert "US$ 800,000.00" in rows[apps["C"]["reference"]]
    assert "US$ 1,200,000.00" in rows[apps["B"]["reference"]]
    assert "Reviewers disagree" in rows[apps["C"]["reference"]]
    assert "Reviewers disagree" not in rows[apps["A"]["reference"]]
    assert "80.00" in rows[apps["A"]["reference"]]  # the mean
    assert "79.13" in rows[apps["A"]["reference"]]  # the normalised score
    assert "40.00" in rows[apps["C"]["reference"]]  # the spread
    assert f'href="/officer/applications/{apps["B"]["id"]}/scores"' in html


def test_the_ranking_downloads_as_the_apis_csv(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, apps, _ = _ranked_call(client, factory, officer)

    page = client.get(f"/officer/calls/{call.id}/ranking.csv")
    api = client.get(
        f"{API}/calls/{call.id}/ranking", params={"format": "csv"}, headers=factory.headers(officer)
    )

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/csv")
    assert page.headers["content-disposition"].startswith("attachment;")
    lines = page.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("rank,application_id,reference,title,organization")
    assert [line.split(",")[2] for line in lines[1:]] == [
        apps["A"]["reference"],
        apps["C"]["reference"],
        apps["B"]["reference"],
    ]
    assert page.content == api.content
    assert 'href="/officer/calls/' in client.get(f"/officer/calls/{call.id}/ranking").text


def _ref(row: str) -> str | None:
    match = re.search(r"APP-\d{4}-\d{4}", row)
    return match.group(0) if match else None


def test_when_everything_fits_no_line_is_drawn(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, _apps, _, _ = _under_review_call(client, factory, officer, applications=2, reviewers=1)

    html = client.get(f"/officer/calls/{call.id}/ranking").text

    assert 'id="funding-line"' not in html
    assert "Every ranked application fits within the envelope of US$ 1,000,000.00." in (
        visible_text(html)
    )


def test_the_scores_page_breaks_an_application_down_by_reviewer(
    client: TestClient, factory: Factory, officer: User
) -> None:
    _call, apps, (first, second) = _ranked_call(client, factory, officer)

    html = client.get(f"/officer/applications/{apps['C']['id']}/scores").text

    table = html[html.index('<table id="breakdown">') : html.index("</table>")]
    assert first.full_name in table
    assert second.full_name in table
    assert re.search(r"<td class=\"num\">10</td>\s*<td class=\"num\">5</td>", table)
    assert re.search(r"<td class=\"num\">2</td>\s*<td class=\"num\">1</td>", table)
    assert "100.00" in table
    assert "20.00" in table
    assert "Reviewers disagree" in html


def test_the_panel_statistics_page(client: TestClient, factory: Factory, officer: User) -> None:
    call, _, (first, _second) = _ranked_call(client, factory, officer)

    html = client.get(f"/officer/calls/{call.id}/statistics").text

    assert '<dd id="review-count">6</dd>' in html
    assert '<dd id="panel-mean">67.67</dd>' in html
    table = html[html.index('<table id="reviewer-statistics">') : html.index("</table>")]
    assert first.full_name in table
    assert "82.00" in table  # reviewer 1's mean
    assert "53.33" in table  # reviewer 2's mean
    assert "14.33" in table  # 82 − 67.67


# --- awards and milestones ---------------------------------------------------------------


def _award_form(**overrides: str) -> dict[str, str]:
    form = {
        "amount": "90000.00",
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "milestones_rows": "3",
        "milestones-0-title": "Inception report",
        "milestones-0-due_date": "2026-03-31",
        "milestones-0-amount": "30000.00",
        "milestones-1-title": "",
        "milestones-1-due_date": "",
        "milestones-1-amount": "",
        "milestones-2-title": "Final report",
        "milestones-2-due_date": "2027-12-31",
        "milestones-2-amount": "60000.00",
    }
    form.update(overrides)
    return form


def test_an_award_with_its_milestone_schedule_is_made_through_the_award_service(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    _call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    page = f"/officer/applications/{apps[0]['id']}/award"
    form = client.get(page).text
    assert 'name="amount" type="text" value="100000.00"' in form  # the amount requested

    response = post_form(client, page, page, _award_form())

    assert response.status_code == 303
    award_id = response.headers["location"].rsplit("/", 1)[1]
    award = _api(client, factory, officer, f"/awards/{award_id}")
    assert award["amount"] == "90000.00"
    assert [(m["title"], m["due_date"], m["amount"]) for m in award["milestones"]] == [
        ("Inception report", "2026-03-31", "30000.00"),
        ("Final report", "2027-12-31", "60000.00"),
    ]
    assert audit_actions(db, "award") == ["award.created"]
    html = client.get(response.headers["location"]).text
    assert f"Award {award['reference']} made, with 2 milestones." in html
    assert "Inception report" in html
    assert _api(client, factory, officer, f"/applications/{apps[0]['id']}")["status"] == "awarded"


def test_award_form_errors_are_shown_next_to_the_fields_and_rows(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    _call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    page = f"/officer/applications/{apps[0]['id']}/award"

    bad_row = post_form(
        client,
        page,
        page,
        _award_form(**{"milestones-2-due_date": "31/12/2027", "milestones-2-amount": "60.000"}),
    )
    bad_sum = post_form(client, page, page, _award_form(**{"milestones-2-amount": "50000.00"}))
    too_much = post_form(
        client, page, page, _award_form(amount="150000.00", **{"milestones-2-amount": "120000.00"})
    )

    assert bad_row.status_code == 422
    assert field_error(bad_row.text, "field-milestones-2-due_date") == "Enter a date."
    assert field_error(bad_row.text, "field-milestones-2-amount") == (
        "Enter an amount such as 250000.00: digits, and at most two decimals."
    )
    assert field_error(bad_row.text, "field-milestones-0-amount") is None
    assert bad_sum.status_code == 422
    assert "The milestone amounts must add up to the award amount." in bad_sum.text
    assert too_much.status_code == 422
    assert field_error(too_much.text, "field-amount") == (
        "The award must be between US$ 50,000.00 and US$ 400,000.00, and not above the "
        "US$ 100,000.00 requested."
    )
    assert audit_actions(db, "award") == []


def test_an_award_past_the_envelope_is_refused_next_to_the_amount(
    client: TestClient, factory: Factory, officer: User
) -> None:
    headers = factory.headers(officer)
    call = factory.call(actor=officer, envelope_amount="400000.00", max_award="400000.00")
    first = under_review(client, call.id, applicant(factory), headers, requested_amount="300000.00")
    second = under_review(
        client, call.id, applicant(factory), headers, requested_amount="300000.00"
    )
    schedule = {
        "amount": "300000.00",
        "milestones-0-amount": "300000.00",
        "milestones_rows": "1",
    }
    post_form(
        client,
        f"/officer/applications/{first['id']}/award",
        f"/officer/applications/{first['id']}/award",
        _award_form(**schedule),
    )
    page = f"/officer/applications/{second['id']}/award"

    response = post_form(client, page, page, _award_form(**schedule))

    assert response.status_code == 409
    assert field_error(response.text, "field-amount") == (
        "This award would take the call&#39;s awards past its envelope."
    )


def test_declining_needs_a_reason_the_applicant_will_see(
    client: TestClient, factory: Factory, officer: User
) -> None:
    _call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    page = f"/officer/applications/{apps[0]['id']}"

    empty = post_form(client, page, f"{page}/decline", {"reason": ""})
    done = post_form(client, page, f"{page}/decline", {"reason": "Outside the call's regions."})

    assert empty.status_code == 422
    assert field_error(empty.text, "field-reason") == "Enter at least 3 characters."
    assert done.status_code == 303
    declined = _api(client, factory, officer, f"/applications/{apps[0]['id']}")
    assert declined["status"] == "declined"
    assert declined["decline_reason"] == "Outside the call's regions."


def _reported_milestone(
    client: TestClient, factory: Factory, officer: User
) -> tuple[dict[str, Any], Applicant]:
    _call, apps, _, headers = _under_review_call(
        client, factory, officer, applications=1, reviewers=1
    )
    awarded = client.post(
        f"{API}/applications/{apps[0]['id']}/award",
        json={
            "amount": "100000.00",
            "start_date": "2026-01-01",
            "end_date": "2027-12-31",
            "milestones": [
                {"title": "Inception report", "due_date": "2026-03-31", "amount": "40000.00"},
                {"title": "Final report", "due_date": "2027-12-31", "amount": "60000.00"},
            ],
        },
        headers=headers,
    )
    assert awarded.status_code == 201, awarded.text
    award = awarded.json()
    owner = client.get(f"{API}/applications/{apps[0]['id']}", headers=headers).json()
    with factory.db.transaction(read_only=True) as session:
        member = session.scalar(
            select(User).where(User.organization_id == uuid.UUID(owner["organization_id"]))
        )
        assert member is not None
        organization = member.organization
        assert organization is not None
    who = Applicant(member, factory.headers(member), organization)
    reported = client.post(
        f"{API}/milestones/{award['milestones'][0]['id']}/report",
        files=[
            ("narrative", (None, "Twelve committees trained; 340 children reached.")),
            ("files", ("attendance.pdf", pdf_bytes(), "application/pdf")),
        ],
        headers=who.headers,
    )
    assert reported.status_code == 200, reported.text
    return award, who


def test_a_reported_milestone_is_approved_from_its_page(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    award, _ = _reported_milestone(client, factory, officer)
    milestone = award["milestones"][0]
    queue = client.get("/officer/milestones").text
    assert "Inception report" in queue
    assert award["reference"] in queue
    page = f"/officer/milestones/{milestone['id']}"
    html = client.get(page).text
    assert "Twelve committees trained; 340 children reached." in html
    assert "attendance.pdf" in html

    response = post_form(client, page, f"{page}/approve")

    assert response.status_code == 303
    assert _api(client, factory, officer, f"/milestones/{milestone['id']}")["status"] == (
        "approved"
    )
    assert audit_actions(db, "milestone")[-1] == "milestone.approved"
    assert "No report is waiting for a decision." in client.get("/officer/milestones").text


def test_a_report_is_sent_back_with_a_reason(
    client: TestClient, factory: Factory, officer: User
) -> None:
    award, who = _reported_milestone(client, factory, officer)
    milestone = award["milestones"][0]
    page = f"/officer/milestones/{milestone['id']}"

    empty = post_form(client, page, f"{page}/reject", {"reason": ""})
    sent_back = post_form(client, page, f"{page}/reject", {"reason": "Attach the attendance list."})

    assert empty.status_code == 422
    assert field_error(empty.text, "field-reason") == "Enter at least 3 characters."
    assert sent_back.status_code == 303
    stored = client.get(f"{API}/milestones/{milestone['id']}", headers=who.headers).json()
    assert stored["status"] == "planned"
    assert stored["rejection_reason"] == "Attach the attendance list."


def test_the_ranking_page_is_in_spanish_for_a_spanish_visitor(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call, _, _ = _ranked_call(client, factory, officer)

    html = client.get(f"/officer/calls/{call.id}/ranking", headers=SPANISH).text

    assert '<html lang="es">' in html
    assert "Clasificación" in html
    assert "US$ 1.000.000,00" in html
    assert "Los evaluadores discrepan" in html


# --- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.reviewer, Role.applicant, Role.finance_officer])
def test_other_roles_get_the_403_page(client: TestClient, factory: Factory, role: Role) -> None:
    officer = factory.user(Role.program_officer)
    call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    sign_in(client, factory.user(role).email)

    for path in (
        "/officer/calls",
        "/officer/calls/new",
        f"/officer/calls/{call.id}",
        f"/officer/calls/{call.id}/ranking",
        f"/officer/calls/{call.id}/statistics",
        f"/officer/calls/{call.id}/assignments",
        f"/officer/applications/{apps[0]['id']}",
        f"/officer/applications/{apps[0]['id']}/award",
        "/officer/milestones",
    ):
        response = client.get(path, headers=HTML)
        assert response.status_code == 403, path
        assert "You may not do this" in response.text


def test_an_admin_reads_the_ranking_but_may_not_decide(
    client: TestClient, factory: Factory
) -> None:
    officer = factory.user(Role.program_officer)
    call, apps, _, _ = _under_review_call(client, factory, officer, applications=1, reviewers=1)
    sign_in(client, factory.user(Role.admin).email)

    assert client.get(f"/officer/calls/{call.id}/ranking").status_code == 200
    page = client.get(f"/officer/applications/{apps[0]['id']}")
    assert page.status_code == 200
    assert "Award a grant" not in page.text
    award = post_form(
        client,
        f"/officer/applications/{apps[0]['id']}",
        f"/officer/applications/{apps[0]['id']}/award",
        _award_form(),
    )
    assert award.status_code == 403
    assert (
        client.get(f"/officer/applications/{apps[0]['id']}/award", headers=HTML).status_code == 403
    )


def test_what_an_officer_may_not_see_is_a_404_page(
    client: TestClient, factory: Factory, officer: User
) -> None:
    call = factory.call(actor=officer)
    draft = client.post(
        f"{API}/calls/{call.id}/applications",
        json={"title": "Still a draft"},
        headers=applicant(factory).headers,
    ).json()

    for path in (
        f"/officer/applications/{draft['id']}",
        f"/officer/applications/{draft['id']}/scores",
        f"/officer/applications/{draft['id']}/award",
        "/officer/calls/not-an-id",
        f"/officer/awards/{call.id}",
        f"/officer/milestones/{call.id}",
    ):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "There is nothing here" in response.text
    screened = post_form(
        client,
        "/officer/calls",
        f"/officer/applications/{draft['id']}/screening",
        {"eligible": "yes"},
    )
    assert screened.status_code == 404


def test_officer_forms_without_their_csrf_token_are_refused(
    client: TestClient, factory: Factory, officer: User, db: Database
) -> None:
    headers = factory.headers(officer)
    draft_call = factory.call(actor=officer, publish=False)
    call = factory.call(actor=officer)
    waiting = submitted(client, call.id, applicant(factory))
    reviewing = under_review(client, call.id, applicant(factory), headers)
    before = audit_actions(db)

    attempts = {
        "create": client.post("/officer/calls/new", data=_call_form()),
        "publish": client.post(f"/officer/calls/{draft_call.id}/publish"),
        "screening": client.post(
            f"/officer/applications/{waiting['id']}/screening",
            data={"eligible": "yes", "csrf_token": "forged"},
        ),
        "auto-assign": client.post(f"/officer/calls/{call.id}/assignments/auto"),
        "award": client.post(f"/officer/applications/{reviewing['id']}/award", data=_award_form()),
    }

    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert all("did not come from this site" in r.text for r in attempts.values())
    assert audit_actions(db) == before


def test_an_officer_lands_on_the_calls_after_signing_in(
    client: TestClient, factory: Factory
) -> None:
    response = sign_in(client, factory.user(Role.program_officer).email)

    assert response.headers["location"] == "/officer/calls"
    html = client.get("/officer/calls").text
    assert 'href="/officer/calls" aria-current="page"' in html
    assert 'href="/officer/milestones"' in html
