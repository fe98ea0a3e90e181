"""The programme officer's work in a real browser: a call created (rows added and removed by
script, a rule refused next to its field) and published; then, on the reference programme,
the panel chosen, applications screened, reviewers assigned automatically, the ranking read
with its funding line and disagreement flag, an award made with a milestone schedule, and a
milestone report approved. Each main page is audited with axe-core; the calls and the ranking
are photographed for the README."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.reviews.helpers import API, Applicant, applicant
from tests.support.uploads import PDF, pdf_bytes
from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import PHONE, LiveSite
from tests.web.staff_support import review, sign_in_page, under_review_with_documents

pytestmark = pytest.mark.slow

CRITERIA = ("approach", "victim_centred", "capacity", "monitoring", "cost")


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def _dollars(text: str) -> Decimal:
    """`US$ 1,200,000.00` → 1200000.00"""
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_an_officer_creates_and_publishes_a_call(live: LiveSite) -> None:
    reference = live.reference_call()
    officer = live.factory.user(Role.program_officer)
    live.factory.call(
        publish=False, actor=officer, title="Research on child labour (in preparation)"
    )
    with httpx.Client(base_url=live.url) as api:
        for amount in ("900000.00", "1200000.00"):
            under_review_with_documents(
                api,
                reference,
                applicant(live.factory),
                live.factory.headers(officer),
                requested_amount=amount,
            )
    page = live.new_page(timezone_id="America/Lima")
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in_page(page, officer.email)
    page.wait_for_url("**/officer/calls")
    page.get_by_role("link", name="New call").click()
    assert_accessible(page)

    page.get_by_label("Title", exact=True).fill("Community prevention grants 2027")
    page.get_by_label("Description").fill("Small grants for community-based prevention.")
    page.get_by_label("Envelope").fill("800000.00")
    page.get_by_label("Smallest award").fill("50000.00")
    page.get_by_label("Largest award").fill("200000.00")
    page.get_by_label("Opens").fill("2026-01-05T09:00")
    page.get_by_label("Deadline").fill("2030-06-30T17:00")
    page.get_by_label("Time zone").fill("America/Lima")
    page.get_by_label("Blind review").check()
    page.fill("#field-objectives-0-code", "prevention")
    page.fill("#field-objectives-0-label", "Community-based prevention")
    # Rows are added by script: the new row is numbered after the last and takes the focus.
    page.get_by_role("button", name="Add an objective").click()
    assert page.evaluate("() => document.activeElement.id") == "field-objectives-3-code"
    page.fill("#field-objectives-3-code", "protection")
    page.fill("#field-objectives-3-label", "Specialised protection")
    page.get_by_role("button", name="Add an objective").click()
    page.get_by_role("button", name="Remove Objective 5").click()
    assert page.locator("#field-objectives-4-code").count() == 0
    page.fill("#field-regions-0-code", "loreto")
    page.fill("#field-regions-0-label", "Loreto")
    page.fill("#field-documents-0-type", "proposal")
    page.fill("#field-documents-0-label", "Technical proposal")
    page.fill("#field-documents-0-max_size_mb", "10")
    page.check("#field-documents-0-allowed_types")  # PDF
    page.fill("#field-criteria-0-key", "approach")
    page.fill("#field-criteria-0-label", "Approach")
    page.fill("#field-criteria-0-weight", "60")
    page.fill("#field-criteria-0-max_score", "10")
    page.fill("#field-criteria-0-guidance", "A credible path from activities to results.")
    page.fill("#field-criteria-1-key", "capacity")
    page.fill("#field-criteria-1-label", "Capacity")
    page.fill("#field-criteria-1-weight", "30")
    page.fill("#field-criteria-1-max_score", "5")
    page.get_by_role("button", name="Create the call as a draft").click()

    # The weights add up to 90: refused, explained next to the rubric, nothing lost.
    assert _text(page, "#field-rubric-error") == "Error: The weights must add up to 100."
    assert page.locator("#field-objectives-3-code").input_value() == "protection"
    assert_accessible(page)
    page.fill("#field-criteria-1-weight", "40")
    page.get_by_role("button", name="Create the call as a draft").click()

    page.wait_for_url(re.compile(r"/officer/calls/[0-9a-f-]{36}$"))
    assert "Call created as a draft." in _text(page, ".flashes")
    assert _text(page, "#call-status") == "Draft"
    page.get_by_role("button", name="Publish the call").click()
    assert "The call is published: applicants can see it." in _text(page, ".flashes")
    assert _text(page, "#call-status") == "Open"
    assert_accessible(page)

    call_id = page.url.rsplit("/", 1)[1]
    with httpx.Client(base_url=live.url) as api:
        stored = api.get(f"{API}/calls/{call_id}", headers=live.factory.headers(officer)).json()
    assert [o["code"] for o in stored["objectives"]] == ["prevention", "protection"]
    assert stored["blind_review"] is True
    assert stored["opens_at"].startswith("2026-01-05T14:00:00")  # 09:00 in Lima

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Calls", exact=True
    ).click()
    listing = _text(page, "tbody")
    assert "Community prevention grants 2027 Open" in listing
    assert "US$ 800,000.00" in listing
    assert "Research on child labour (in preparation) Draft" in listing
    assert f"{reference.title} Open" in listing
    assert_accessible(page)
    save_screenshot(page, "officer-calls")


def _score(total: int) -> dict[str, int]:
    """Every criterion at total/10: the review's total is then `total` (weights add to 100)."""
    return dict.fromkeys(CRITERIA, total // 10)


def test_an_officer_screens_assigns_ranks_awards_and_approves(live: LiveSite) -> None:
    call = live.reference_call()
    officer = live.factory.user(Role.program_officer)
    staff = live.factory.headers(officer)
    reviewers = [live.factory.user(Role.reviewer) for _ in range(3)]
    requested = ["1500000.00", "1200000.00", "1400000.00", "1300000.00"]
    titles = [
        "Specialised shelters in Lima",
        "Prosecutor training in Cusco",
        "Border monitoring in Loreto",
        "School prevention clubs",
    ]
    applicants: dict[str, Applicant] = {}
    references: dict[str, str] = {}
    with httpx.Client(base_url=live.url) as api:
        for title, amount in zip(titles, requested, strict=True):
            who = applicant(live.factory)
            created = api.post(
                f"{API}/calls/{call.id}/applications",
                headers=who.headers,
                json={
                    "title": title,
                    "summary": "Work with children at risk.",
                    "requested_amount": amount,
                    "duration_months": 36,
                    "objectives": ["protection"],
                    "regions": [{"code": "lima", "share_pct": 100}],
                },
            ).json()
            for rule in call.required_documents:
                if rule["required"]:
                    sent = api.post(
                        f"{API}/applications/{created['id']}/documents",
                        headers=who.headers,
                        files={
                            "doc_type": (None, rule["type"]),
                            "file": ("d.pdf", pdf_bytes(), PDF),
                        },
                    )
                    assert sent.status_code == 201, sent.text
            assert api.post(
                f"{API}/applications/{created['id']}/submit", headers=who.headers
            ).is_success
            applicants[created["id"]] = who
            references[title] = created["reference"]

    page = live.new_page(timezone_id="America/Lima")
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in_page(page, officer.email)
    page.get_by_role("link", name=call.title).click()

    # The panel.
    for reviewer in reviewers:
        page.get_by_label(re.compile(re.escape(reviewer.full_name))).check()
    page.get_by_role("button", name="Save the panel").click()
    assert "Panel saved: 3 reviewers." in _text(page, ".flashes")
    assert_accessible(page)

    # Screening, from the call's list of applications.
    for number, title in enumerate(titles):
        page.get_by_role("link", name=f"Screen {references[title]}").click()
        if number == 0:
            assert_accessible(page)
        page.get_by_label("Eligible: send it to review").check()
        page.get_by_label("Notes for staff").fill("Registration and documents in order.")
        page.get_by_role("button", name="Record the screening").click()
        assert "is eligible: it is now under review." in _text(page, ".flashes")
        assert _text(page, "#application-status") == "Under review"
        page.get_by_role("link", name=call.title).click()
    assert_accessible(page)

    # No conflict is declared; the page offers the form to declare one.
    page.get_by_role("link", name="Conflicts of interest").click()
    assert "None yet." in _text(page, "main")
    assert_accessible(page)

    # Automatic assignment: 4 applications × 2 reviewers over 3 panel members.
    page.get_by_role("link", name="Assignments").click()
    page.get_by_role("button", name="Assign automatically").click()
    assert _text(page, ".flashes") == "8 assignments made."
    loads = sorted(int(n) for n in re.findall(r": (\d) applications?", _text(page, "#panel-load")))
    assert loads == [2, 3, 3]
    assert_accessible(page)

    # The panel scores: everyone agrees, except on the border project.
    totals = {
        "Specialised shelters in Lima": (90, 90),
        "Prosecutor training in Cusco": (70, 70),
        "Border monitoring in Loreto": (100, 10),
        "School prevention clubs": (50, 50),
    }
    ids = {v: k for k, v in references.items()}
    with httpx.Client(base_url=live.url) as api:
        assignments = api.get(
            f"{API}/assignments", params={"call_id": str(call.id), "limit": 50}, headers=staff
        ).json()["items"]
        apps = {
            a["id"]: a["reference"]
            for a in api.get(
                f"{API}/applications", params={"call_id": str(call.id)}, headers=staff
            ).json()["items"]
        }
        seen: dict[str, int] = {}
        for assignment in assignments:
            title = ids[apps[assignment["application_id"]]]
            turn = seen.get(title, 0)
            seen[title] = turn + 1
            reviewer = next(r for r in reviewers if str(r.id) == assignment["reviewer_id"])
            headers = live.factory.headers(reviewer)
            review(api, assignment["application_id"], headers, _score(totals[title][turn]))

    # The ranking, with the funding line where the cumulative request passes US$ 5,000,000.
    page.get_by_role("link", name="Ranking").click()
    rows = page.locator("#ranking tbody tr")
    texts = [" ".join(rows.nth(i).inner_text().split()) for i in range(rows.count())]
    line = next(i for i, t in enumerate(texts) if t.startswith("Funding line"))
    assert line == 3, texts
    assert "US$ 5,000,000.00 is reached" in texts[line]
    cumulative = [
        _dollars(rows.nth(i).locator("td").nth(2).inner_text())
        for i in range(len(texts))
        if i != line
    ]
    assert all(c <= Decimal("5000000") for c in cumulative[:3])
    assert cumulative[3] == Decimal("5400000.00")
    border = next(t for t in texts if references["Border monitoring in Loreto"] in t)
    assert "45.00 Reviewers disagree" in border  # totals 100 and 10
    assert sum("Reviewers disagree" in t for t in texts) == 1
    assert_accessible(page)
    save_screenshot(page, "officer-ranking", full_page=True)

    page.get_by_role("link", name=re.compile(references["Border monitoring in Loreto"])).click()
    breakdown = _text(page, "#breakdown")
    assert "100.00" in breakdown
    assert "10.00" in breakdown
    assert_accessible(page)

    page.goto(f"/officer/calls/{call.id}/statistics")
    assert _text(page, "#review-count") == "8"
    assert_accessible(page)

    # The award, from the top-ranked application, with a schedule edited by script.
    page.goto(f"/officer/calls/{call.id}/ranking")
    top = page.locator("#ranking tbody tr").first.locator("th a")
    top_reference = top.inner_text().split(":")[0].strip()
    top_id = top.get_attribute("href").split("/")[3]  # type: ignore[union-attr]
    page.goto(f"/officer/applications/{top_id}")
    page.get_by_role("link", name="Award a grant").click()
    assert page.get_by_label("Award amount (USD)").input_value() == "1500000.00"
    page.get_by_label("Award amount (USD)").fill("1400000.00")
    page.get_by_label("Start date").fill("2026-02-01")
    page.get_by_label("End date").fill("2030-01-31")
    schedule = [
        ("Inception report", "2026-04-30", "300000.00"),
        ("Year one results", "2027-01-31", "500000.00"),
        ("Final report", "2030-01-31", "600000.00"),
    ]
    for index, (title, due, amount) in enumerate(schedule):
        page.fill(f"#field-milestones-{index}-title", title)
        page.fill(f"#field-milestones-{index}-due_date", due)
        page.fill(f"#field-milestones-{index}-amount", amount)
    assert (
        _text(page, ".milestone-total") == "The milestones add up to 1,400,000.00 of 1,400,000.00."
    )
    page.get_by_role("button", name="Add a milestone").click()
    page.fill("#field-milestones-3-amount", "1.00")
    total = page.locator(".milestone-total")
    expect(total).to_contain_text("1,400,001.00 of 1,400,000.00")
    page.get_by_role("button", name="Remove Milestone 4").click()
    expect(total).to_contain_text("1,400,000.00 of 1,400,000.00")
    assert_accessible(page)
    page.get_by_role("button", name="Make the award").click()

    page.wait_for_url(re.compile(r"/officer/awards/[0-9a-f-]{36}$"))
    assert re.search(r"Award AWD-\d{4}-\d{4} made, with 3 milestones\.", _text(page, ".flashes"))
    assert _text(page, "#award-amount") == "US$ 1,400,000.00"
    assert "Inception report 30 April 2026 US$ 300,000.00 US$ 0.00 Planned" in _text(
        page, "#milestones"
    )
    award_id = page.url.rsplit("/", 1)[1]
    assert_accessible(page)

    # The organisation reports on the first milestone; the officer approves it.
    with httpx.Client(base_url=live.url) as api:
        award = api.get(f"{API}/awards/{award_id}", headers=staff).json()
        assert award["application_reference"] == top_reference
        reported = api.post(
            f"{API}/milestones/{award['milestones'][0]['id']}/report",
            files=[
                ("narrative", (None, "Two shelters opened; 38 children received care plans.")),
                ("files", ("care-plans.pdf", pdf_bytes(), PDF)),
            ],
            headers=applicants[top_id].headers,
        )
        assert reported.status_code == 200, reported.text

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Milestone reports"
    ).click()
    assert_accessible(page)
    page.get_by_role("link", name="Inception report").click()
    assert "38 children received care plans" in _text(page, "#narrative")
    assert "care-plans.pdf" in _text(page, ".files")
    assert_accessible(page)
    page.get_by_role("button", name="Approve the milestone").click()
    assert "Milestone “Inception report” approved: it can now be paid." in _text(page, ".flashes")
    assert "No report is waiting for a decision." in _text(page, "main")
    page.goto(f"/officer/awards/{award_id}")
    assert "Inception report 30 April 2026 US$ 300,000.00 US$ 0.00 Approved" in _text(
        page, "#milestones"
    )


def test_the_ranking_fits_a_phone(live: LiveSite) -> None:
    call = live.reference_call()
    officer = live.factory.user(Role.program_officer)
    with httpx.Client(base_url=live.url) as api:
        under_review_with_documents(
            api,
            call,
            applicant(live.factory),
            live.factory.headers(officer),
            requested_amount="900000.00",
        )
    phone = live.new_page(viewport=PHONE, is_mobile=True, has_touch=True)

    sign_in_page(phone, officer.email)
    phone.goto(f"/officer/calls/{call.id}/ranking")

    # The wide table scrolls inside its own region, not the page.
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(phone)
