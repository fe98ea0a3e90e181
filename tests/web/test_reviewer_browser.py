"""The reviewer's work in a real browser, on the reference programme (a blind call): the
queue with its progress, the scoring page with each criterion's guidance beside its score, a
document opened in the browser, a draft saved, a submission refused until complete and then
accepted — with nothing on any page that identifies the organisation. Each main page is
audited with axe-core and photographed for the README, on a desktop and on a phone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.reviews.helpers import applicant
from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import PHONE, LiveSite
from tests.web.staff_support import (
    FILENAME,
    TITLE,
    assign,
    leaks,
    review,
    review_setup,
    sign_in_page,
    under_review_with_documents,
)

pytestmark = pytest.mark.slow

CRITERIA = ("approach", "victim_centred", "capacity", "monitoring", "cost")
SCORES = {
    "Technical approach": "8",
    "Victim-centred, trauma-informed design": "7.5",
    "Organisational capacity": "9",
    "Monitoring and evaluation": "6",
    "Budget and cost-effectiveness": "7",
}


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def test_a_reviewer_scores_blind_saves_a_draft_and_submits(live: LiveSite) -> None:
    call = live.reference_call()
    with httpx.Client(base_url=live.url) as api:
        setup = review_setup(api, live.factory, blind=True, call=call, requested_amount="900000.00")
        # Two more applications in the queue: one reviewed already, one with a draft.
        reviewer = live.factory.headers(setup.reviewer)
        for title, scores, done in (
            ("Safe houses in Cusco", dict.fromkeys(CRITERIA, 7), True),
            ("Hotline for children in Lima", {"approach": 5}, False),
        ):
            other, _ = under_review_with_documents(
                api,
                call,
                applicant(live.factory),
                setup.officer_headers,
                title=title,
                requested_amount="600000.00",
            )
            assign(api, other["id"], setup.reviewer, setup.officer_headers)
            review(api, other["id"], reviewer, scores, "fund" if done else None, submit=done)
    page = live.new_page(timezone_id="America/Lima")
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in_page(page, setup.reviewer.email)
    page.wait_for_url("**/review")
    assert page.get_by_role("link", name="My reviews").get_attribute("aria-current") == "page"
    assert _text(page, "#overall-progress") == "1 of 3 reviews submitted"
    queue = _text(page, ".queue")
    assert f"{setup.application['reference']} : {TITLE} Not started" in queue
    assert "Safe houses in Cusco Submitted" in queue
    assert "Hotline for children in Lima Draft saved" in queue
    assert leaks(page.content(), setup.organization) == []
    assert_accessible(page)
    save_screenshot(page, "reviewer-queue")

    page.get_by_role("link", name=setup.application["reference"]).click()
    page.wait_for_url(f"**/review/applications/{setup.application['id']}")
    # The guidance sits beside its score and describes the input.
    approach = page.get_by_label("Technical approach")
    described = approach.get_attribute("aria-describedby") or ""
    guidance = page.locator(f"#{described.split()[1]}").inner_text()
    assert guidance == "A clear theory of change from activities to the 3P aims."
    assert "Weight 30%. Score from 0 to 10." in _text(page, ".criterion")
    assert "Blind review" in _text(page, ".facts")

    # The proposal opens in the browser, under its blind-safe name.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="proposal.pdf").click()
    tab = opened.value
    tab.wait_for_url(f"**/documents/{setup.document['id']}/view")
    tab.close()
    served = page.request.get(f"/documents/{setup.document['id']}/view")
    assert served.headers["content-disposition"].startswith("inline;")
    assert served.headers["content-disposition"].endswith("''proposal.pdf")
    assert served.body().startswith(b"%PDF")

    # A draft with two criteria still blank.
    page.get_by_label("Technical approach").fill("8")
    page.get_by_label("Organisational capacity").fill("9")
    page.get_by_label("Comment for the panel").fill("Strong referral network; thin M&E plan.")
    page.get_by_role("button", name="Save draft").click()
    assert "Draft saved." in _text(page, ".flashes")
    assert page.get_by_label("Technical approach").input_value() == "8"
    assert _text(page, "#review-status") == "Draft saved"
    assert leaks(page.content(), setup.organization) == []
    assert_accessible(page)
    save_screenshot(page, "reviewer-scoring", full_page=True)

    # Submitting without the rest is refused: each gap is shown next to its field.
    page.get_by_role("button", name="Submit review").click()
    assert "There is a problem" in _text(page, ".error-summary")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    monitoring = page.get_by_label("Monitoring and evaluation")
    assert monitoring.get_attribute("aria-invalid") == "true"
    assert _text(page, "#field-scores-monitoring-error") == (
        "Error: Give a score for this criterion."
    )
    assert _text(page, "#field-recommendation-error") == "Error: Choose a recommendation."
    assert_accessible(page)

    for label, score in SCORES.items():
        page.get_by_label(label).fill(score)
    page.get_by_label("Fund with changes").check()
    page.get_by_role("button", name="Submit review").click()
    page.wait_for_url("**/review")
    assert f"Your review of {setup.application['reference']} is submitted. Thank you." in _text(
        page, ".flashes"
    )
    assert _text(page, "#overall-progress") == "2 of 3 reviews submitted"
    assert f"{TITLE} Submitted" in _text(page, ".queue")

    page.get_by_role("link", name=setup.application["reference"]).click()
    # 8*3 + 7.5*2 + 9*2 + 6*1.5 + 7*1.5 = 24 + 15 + 18 + 9 + 10.5
    assert _text(page, "#review-total") == "76.5 of 100"
    assert page.get_by_role("button", name="Save draft").count() == 0
    assert leaks(page.content(), setup.organization) == []
    assert FILENAME not in page.content()


def test_the_scoring_page_works_on_a_phone(live: LiveSite) -> None:
    call = live.reference_call()
    with httpx.Client(base_url=live.url) as api:
        setup = review_setup(api, live.factory, blind=True, call=call, requested_amount="900000.00")
    phone = live.new_page(viewport=PHONE, is_mobile=True, has_touch=True)

    sign_in_page(phone, setup.reviewer.email)
    phone.wait_for_url("**/review")
    phone.goto(f"/review/applications/{setup.application['id']}")

    no_sideways_scroll = phone.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"
    )
    assert no_sideways_scroll
    assert_accessible(phone)

    # With the keyboard alone: each score in turn, a recommendation, a comment, then save.
    phone.get_by_label("Technical approach").focus()
    for score in ("6", "7", "8", "5", "9"):
        phone.keyboard.type(score)
        phone.keyboard.press("Tab")
    assert phone.evaluate("() => document.activeElement.value") == "fund"
    phone.keyboard.press("Space")
    phone.keyboard.press("Tab")
    assert phone.evaluate("() => document.activeElement.id") == "field-comment"
    phone.keyboard.type("Typed without a mouse.")
    phone.keyboard.press("Tab")
    assert phone.evaluate("() => document.activeElement.textContent.trim()") == "Save draft"
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"**/review/applications/{setup.application['id']}")
    assert "Draft saved." in _text(phone, ".flashes")
    assert [phone.locator(f"#field-scores-{key}").input_value() for key in CRITERIA] == [
        "6",
        "7",
        "8",
        "5",
        "9",
    ]
    assert phone.get_by_label("Fund", exact=True).is_checked()


def test_a_reviewer_declares_a_conflict_from_the_queue(live: LiveSite) -> None:
    call = live.reference_call()
    with httpx.Client(base_url=live.url) as api:
        setup = review_setup(api, live.factory, blind=True, call=call, requested_amount="900000.00")
    page = live.new_page()

    sign_in_page(page, setup.reviewer.email)
    page.get_by_role("link", name=f"Declare a conflict for {call.title}").click()
    assert_accessible(page)
    page.get_by_label("Organisation").select_option(label=setup.organization.name)
    page.get_by_label("Reason").fill("I was on its board until last year.")
    page.get_by_role("button", name="Declare the conflict").click()

    page.wait_for_url("**/review")
    assert "1 assignment ended: it has left your queue." in _text(page, ".flashes")
    assert "Nothing is assigned to you at the moment." in _text(page, "main")
