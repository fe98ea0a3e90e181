"""The whole story of SPEC §1 in a real browser, each person in their own browser context
(their own cookies), every step through the pages: an NGO registers, applies with its
documents and submits; the programme officer chooses the panel, screens the application and
assigns two reviewers automatically; both reviewers score and submit; the officer opens the
ranking and awards from it with a milestone schedule; the NGO reports on the first milestone
with evidence; the officer approves it; the finance officer records the payment and downloads
the disbursement report. Only the staff accounts and the published call are made beforehand.
At the end the database is asked whether the audit chain holds and the call's money
reconciles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models import Role
from tests.awards.helpers import lima_today
from tests.reviews.helpers import API
from tests.support.uploads import pdf_bytes, png_bytes, xlsx_bytes
from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import LiveSite
from tests.web.finance_support import (
    csv_rows,
    dollars,
    ledger_milestone_left,
    ledger_paid,
    ledger_uncommitted,
    payments,
)
from tests.web.pages import audit_actions
from tests.web.staff_support import sign_in_page

pytestmark = pytest.mark.slow

PDF = "application/pdf"
PASSWORD = "a-long-enough-password"
NGO_EMAIL = "rosa@red-andina.example.org"
NGO_NAME = "Red Andina de Protección Infantil"
TITLE = "Child-safe referral networks in Cusco"
REQUESTED = "800000.00"
# (title, due date, amount): adds up to the award, US$ 800,000.00.
SCHEDULE = (
    ("Inception report", "2027-03-31", "300000.00"),
    ("Final report", "2030-12-31", "500000.00"),
)
# The reference rubric weighs approach 30, victim_centred 20, capacity 20, monitoring 15 and
# cost 15, each scored out of 10: a review's total is the weighted mean times ten.
PANEL_SCORES = (
    {  # 8*3 + 7.5*2 + 9*2 + 6*1.5 + 7*1.5 = 76.5
        "Technical approach": "8",
        "Victim-centred, trauma-informed design": "7.5",
        "Organisational capacity": "9",
        "Monitoring and evaluation": "6",
        "Budget and cost-effectiveness": "7",
    },
    {  # 9*3 + 8*2 + 8*2 + 7*1.5 + 8*1.5 = 81.5
        "Technical approach": "9",
        "Victim-centred, trauma-informed design": "8",
        "Organisational capacity": "8",
        "Monitoring and evaluation": "7",
        "Budget and cost-effectiveness": "8",
    },
)
PAYMENT_REFERENCE = "TRF-CUS-0001"
# The audit events of the story's steps, in the order the story takes them.
STORY_ACTIONS = {
    "user.registered",
    "application.created",
    "application.updated",
    "document.uploaded",
    "application.submitted",
    "call.panel_set",
    "application.screened",
    "call.auto_assigned",
    "review.submitted",
    "award.created",
    "milestone.reported",
    "milestone.approved",
    "disbursement.recorded",
}


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def _menu(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _ngo_registers_applies_and_submits(page: Any, call_id: Any) -> str:
    """Registration from the call's page, the form, three uploads, submission: the
    application's reference."""
    page.goto(f"/calls/{call_id}")
    page.get_by_role("link", name="register your organisation").click()
    page.get_by_label("Full name").fill("Rosa Huamán")
    page.get_by_label("Email address").fill(NGO_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Organisation name").fill(NGO_NAME)
    page.get_by_label("Country where it is registered").select_option("PE")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/applications")
    assert "Welcome! Your organisation's account is ready." in _text(page, ".flashes")

    page.goto(f"/calls/{call_id}")
    page.get_by_role("button", name="Start an application").click()
    page.wait_for_url(re.compile(r"/applications/[0-9a-f-]{36}$"))
    page.get_by_label("Title of the project").fill(TITLE)
    page.get_by_label("Summary").fill("Community referral networks for child victims in Cusco.")
    page.get_by_label("Amount requested (USD)").fill(REQUESTED)
    page.get_by_label("Duration in months").fill("48")
    page.get_by_label("Identify victims and provide comprehensive specialised services").check()
    page.get_by_label("Cusco").fill("100")
    page.get_by_role("button", name="Save draft").click()
    assert "Draft saved." in _text(page, ".flashes")
    assert "3 things are still missing" in _text(page, "#checklist")

    for doc_type, label, name, mime, content in (
        ("proposal", "Technical proposal", "propuesta.pdf", PDF, pdf_bytes()),
        (
            "budget_detail",
            "Detailed budget",
            "presupuesto.xlsx",
            "application/octet-stream",
            xlsx_bytes(),
        ),
        (
            "registration",
            "Legal registration certificate",
            "registro.png",
            "image/png",
            png_bytes(),
        ),
    ):
        page.set_input_files(
            f"#file-{doc_type}", files=[{"name": name, "mimeType": mime, "buffer": content}]
        )
        with page.expect_navigation():
            page.get_by_role("button", name=f"Upload {label}").click()
        assert f"{name} uploaded." in _text(page, ".flashes")
    assert "Everything required is in place" in _text(page, "#checklist")

    page.get_by_role("button", name="Submit application").click()
    submitted = re.search(r"Application (APP-\d{4}-\d{4}) submitted\.", _text(page, ".flashes"))
    assert submitted, _text(page, ".flashes")
    assert _text(page, "#application-status") == "Submitted"
    return submitted[1]


def _officer_screens_and_assigns(
    page: Any, call_title: str, reference: str, reviewers: list[Any]
) -> None:
    """The panel, the screening and the automatic assignment, from the call's pages."""
    page.wait_for_url("**/officer/calls")
    page.get_by_role("link", name=call_title).click()
    for reviewer in reviewers:
        page.get_by_label(re.compile(re.escape(reviewer.full_name))).check()
    page.get_by_role("button", name="Save the panel").click()
    assert "Panel saved: 2 reviewers." in _text(page, ".flashes")

    page.get_by_role("link", name=f"Screen {reference}").click()
    page.get_by_label("Eligible: send it to review").check()
    page.get_by_label("Notes for staff").fill("Registered in Peru; every document in order.")
    page.get_by_role("button", name="Record the screening").click()
    assert "is eligible: it is now under review." in _text(page, ".flashes")
    assert _text(page, "#application-status") == "Under review"

    page.get_by_role("link", name=call_title).click()
    page.get_by_role("link", name="Assignments").click()
    page.get_by_role("button", name="Assign automatically").click()
    # One application, two reviewers per application (the reference call), a panel of two.
    assert _text(page, ".flashes") == "2 assignments made."
    loads = sorted(int(n) for n in re.findall(r": (\d) applications?", _text(page, "#panel-load")))
    assert loads == [1, 1]


def _reviewer_scores(page: Any, reference: str, scores: dict[str, str], total: str) -> None:
    page.wait_for_url("**/review")
    assert f"{reference} : {TITLE} Not started" in _text(page, ".queue")
    page.get_by_role("link", name=reference).click()
    for label, score in scores.items():
        page.get_by_label(label).fill(score)
    page.get_by_label("Fund", exact=True).check()
    page.get_by_label("Comment for the panel").fill("A credible referral network.")
    # The call is blind: the scoring page never names the organisation.
    assert NGO_NAME not in page.content()
    assert NGO_EMAIL not in page.content()
    page.get_by_role("button", name="Submit review").click()
    page.wait_for_url("**/review")
    assert f"Your review of {reference} is submitted. Thank you." in _text(page, ".flashes")
    assert _text(page, "#overall-progress") == "1 of 1 review submitted"
    page.get_by_role("link", name=reference).click()
    assert _text(page, "#review-total") == f"{total} of 100"


def _officer_awards_from_the_ranking(page: Any, call_id: Any, reference: str) -> str:
    """The ranking, its row's scores, the application, the award form: the award's id."""
    page.goto(f"/officer/calls/{call_id}")
    page.get_by_role("link", name="Ranking").click()
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 1
    row = " ".join(rows.first.inner_text().split())
    # Requested and cumulative US$ 800,000.00; both reviews in; mean of 76.5 and 81.5.
    assert f"{reference} : scores by reviewer" in row
    assert row.count("US$ 800,000.00") == 2, row
    assert "2 of 2" in row
    assert "79.00" in row
    assert "Every ranked application fits within the envelope of US$ 5,000,000.00." in _text(
        page, "#funding-note"
    )

    page.get_by_role("link", name=re.compile(re.escape(reference))).click()
    breakdown = _text(page, "#breakdown")
    assert "76.5" in breakdown
    assert "81.5" in breakdown
    page.locator(".breadcrumbs").get_by_role("link", name=reference).click()
    page.get_by_role("link", name="Award a grant").click()
    assert page.get_by_label("Award amount (USD)").input_value() == REQUESTED
    page.get_by_label("Start date").fill("2027-01-01")
    page.get_by_label("End date").fill("2030-12-31")
    for index, (title, due, amount) in enumerate(SCHEDULE):
        page.fill(f"#field-milestones-{index}-title", title)
        page.fill(f"#field-milestones-{index}-due_date", due)
        page.fill(f"#field-milestones-{index}-amount", amount)
    assert _text(page, ".milestone-total") == "The milestones add up to 800,000.00 of 800,000.00."
    page.evaluate("() => document.activeElement.blur()")
    assert_accessible(page)
    save_screenshot(page, "story-award", full_page=True)
    page.get_by_role("button", name="Make the award").click()

    page.wait_for_url(re.compile(r"/officer/awards/[0-9a-f-]{36}$"))
    assert re.search(r"Award AWD-\d{4}-\d{4} made, with 2 milestones\.", _text(page, ".flashes"))
    assert _text(page, "#award-amount") == "US$ 800,000.00"
    schedule = _text(page, "#milestones")
    assert "Inception report 31 March 2027 US$ 300,000.00 US$ 0.00 Planned" in schedule
    assert "Final report 31 December 2030 US$ 500,000.00 US$ 0.00 Planned" in schedule
    return str(page.url.rsplit("/", 1)[1])


def _ngo_reports_the_first_milestone(page: Any, award_reference: str) -> None:
    _menu(page, "My awards").click()
    page.get_by_role("link", name=award_reference).click()
    assert "US$ 800,000.00" in _text(page, ".facts")
    page.get_by_role("link", name="Report on Inception report").click()
    page.get_by_label("What was achieved").fill(
        "Referral protocol signed with the Cusco prosecutor's office; 14 case workers trained."
    )
    page.set_input_files(
        "#field-files",
        files=[
            {"name": "protocolo-firmado.pdf", "mimeType": PDF, "buffer": pdf_bytes()},
            {"name": "taller.png", "mimeType": "image/png", "buffer": png_bytes()},
        ],
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    assert "Report on “Inception report” sent." in _text(page, ".flashes")
    assert "Inception report 31 March 2027 US$ 300,000.00 US$ 0.00 Reported" in _text(page, "tbody")


def _officer_approves(page: Any, award_id: str) -> None:
    _menu(page, "Milestone reports").click()
    page.get_by_role("link", name="Inception report").click()
    assert "14 case workers trained" in _text(page, "#narrative")
    evidence = _text(page, ".files")
    assert "protocolo-firmado.pdf" in evidence
    assert "taller.png" in evidence
    page.get_by_role("button", name="Approve the milestone").click()
    assert "Milestone “Inception report” approved: it can now be paid." in _text(page, ".flashes")
    page.goto(f"/officer/awards/{award_id}")
    assert "Inception report 31 March 2027 US$ 300,000.00 US$ 0.00 Approved" in _text(
        page, "#milestones"
    )


def _finance_pays_and_downloads(
    page: Any, call: Any, award_id: str, award_reference: str
) -> list[dict[str, str]]:
    """The payment from the award's page, then the disbursement report from the dashboard:
    the report's rows."""
    page.wait_for_url("**/finance")
    page.get_by_role("link", name=f"Awards · {call.title}").click()
    page.get_by_role("link", name=award_reference).click()
    page.wait_for_url(f"**/finance/awards/{award_id}")
    assert (
        page.get_by_label("Milestone")
        .locator("option:checked")
        .inner_text()
        .startswith("Inception report")
    )
    page.get_by_label("Amount (USD)").fill("300000.00")
    page.get_by_label("Value date").fill(lima_today().isoformat())
    page.get_by_label("Bank transfer reference").fill(PAYMENT_REFERENCE)
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url(f"**/finance/awards/{award_id}")
    assert _text(page, ".flashes") == (
        f"Payment of US$ 300,000.00 for “Inception report” recorded "
        f"(reference {PAYMENT_REFERENCE})."
    )
    assert dollars(_text(page, "#award-paid")) == 30_000_000
    assert dollars(_text(page, "#award-remaining")) == 50_000_000

    page.get_by_role("link", name=f"Awards of “{call.title}”").click()
    page.get_by_role("link", name="Allocation dashboard and reports").click()
    page.wait_for_url(f"**/finance/calls/{call.id}/dashboard")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Disbursements (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"disbursements-{call.id}.csv"
    return csv_rows(Path(download.path()).read_bytes())


def test_the_whole_story_from_registration_to_the_disbursement_report(live: LiveSite) -> None:
    call = live.reference_call()
    officer = live.factory.user(Role.program_officer)
    reviewers = [live.factory.user(Role.reviewer) for _ in range(2)]
    finance = live.factory.user(Role.finance_officer)
    admin = live.factory.user(Role.admin)

    def person(email: str | None = None) -> Any:
        page = live.new_page(timezone_id="America/Lima")
        page.on("dialog", lambda dialog: dialog.accept())
        if email is not None:
            sign_in_page(page, email)
        return page

    # 1. The NGO: registration, the application with its documents, submission.
    ngo = person()
    reference = _ngo_registers_applies_and_submits(ngo, call.id)

    # 2. The programme officer: panel, screening, automatic assignment.
    desk = person(officer.email)
    _officer_screens_and_assigns(desk, call.title, reference, reviewers)

    # 3. The two reviewers score and submit, each in their own browser.
    for reviewer, scores, total in zip(reviewers, PANEL_SCORES, ("76.5", "81.5"), strict=True):
        _reviewer_scores(person(reviewer.email), reference, scores, total)

    # 4. The officer awards from the ranking.
    award_id = _officer_awards_from_the_ranking(desk, call.id, reference)
    award_reference = re.search(r"AWD-\d{4}-\d{4}", _text(desk, "h1"))
    assert award_reference, _text(desk, "h1")

    # 5. The NGO reports on the first milestone; 6. the officer approves it.
    _ngo_reports_the_first_milestone(ngo, award_reference[0])
    _officer_approves(desk, award_id)

    # 7. The finance officer pays it and downloads the disbursement report.
    rows = _finance_pays_and_downloads(person(finance.email), call, award_id, award_reference[0])
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["amount"] == "300000.00"
    assert row["currency"] == "USD"
    assert row["award_reference"] == award_reference[0]
    assert row["application_reference"] == reference
    assert row["organization"] == NGO_NAME
    assert row["milestone"] == "Inception report"
    assert row["reference"] == PAYMENT_REFERENCE
    assert row["award_amount"] == "800000.00"
    assert row["award_disbursed_to_date"] == "300000.00"
    assert row["award_remaining"] == "500000.00"
    assert row["value_date"] == lima_today().isoformat()

    # 8. The database: one payment row, a ledger that agrees, the call reconciled, the audit
    # chain intact and recording the story's steps.
    assert payments(live.db, award_id) == [(30_000_000, None)]
    assert ledger_paid(live.db, call.id) == 30_000_000
    assert ledger_uncommitted(live.db, call.id) == 500_000_000 - 80_000_000
    with httpx.Client(base_url=live.url) as api:
        reconciled = api.get(
            f"{API}/calls/{call.id}/reconciliation", headers=live.factory.headers(finance)
        )
        assert reconciled.status_code == 200, reconciled.text
        figures = reconciled.json()
        award = api.get(f"{API}/awards/{award_id}", headers=live.factory.headers(officer)).json()
        verified = api.get(f"{API}/audit/verify", headers=live.factory.headers(admin))
    assert figures["ok"] is True, figures["checks"]
    assert all(check["ok"] for check in figures["checks"]), figures["checks"]
    assert (figures["envelope"], figures["awarded"], figures["disbursed"]) == (
        "5000000.00",
        "800000.00",
        "300000.00",
    )
    assert figures["uncommitted"] == "4200000.00"
    assert ledger_milestone_left(live.db, award["milestones"][0]["id"]) == 0
    assert ledger_milestone_left(live.db, award["milestones"][1]["id"]) == 50_000_000
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()
    actions = audit_actions(live.db)
    assert verified.json()["events"] == len(actions)
    story = [a for a in actions if a in STORY_ACTIONS]
    assert story == [
        "user.registered",
        "application.created",
        "application.updated",
        *["document.uploaded"] * 3,
        "application.submitted",
        "call.panel_set",
        "application.screened",
        "call.auto_assigned",
        *["review.submitted"] * 2,
        "award.created",
        "milestone.reported",
        "milestone.approved",
        "disbursement.recorded",
    ], story
