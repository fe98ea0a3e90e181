"""The NGO's story in a real browser: public calls, registration, the application form with
a validation error, uploads with progress, the checklist emptying, submission, then the award
with its milestones and a milestone report with evidence. Each main page is audited with
axe-core and photographed for the README."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.models import Role
from tests.support.uploads import pdf_bytes, png_bytes, xlsx_bytes
from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import PHONE, LiveSite

pytestmark = pytest.mark.slow

PDF = "application/pdf"
MIB = 1024 * 1024
PASSWORD = "a-long-enough-password"
# Records every value and visibility change of the upload progress bars, across page loads.
PROGRESS_RECORDER = """
document.addEventListener("DOMContentLoaded", () => {
  for (const bar of document.querySelectorAll("progress")) {
    new MutationObserver(() => window.recordProgress(bar.hidden ? -1 : bar.value))
      .observe(bar, {attributes: true, attributeFilter: ["value", "hidden"]});
  }
});
"""


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def _menu(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def test_the_public_pages_show_open_calls_and_a_calls_terms(live: LiveSite) -> None:
    call = live.reference_call()
    page = live.new_page(timezone_id="Europe/Madrid")

    page.goto("/")
    assert page.locator("h1").inner_text() == "Open calls for proposals"
    assert "US$ 5,000,000.00" in _text(page, ".card")
    assert_accessible(page)
    save_screenshot(page, "public-home")

    page.get_by_role("link", name=call.title).click()
    page.wait_for_url(f"**/calls/{call.id}")
    # The first page told the server the browser's zone: the deadline is shown in Madrid's.
    assert "(Spain (Madrid) Time)" in _text(page, "#deadline")
    assert re.search(r"\d+ days and \d+ hours? left", _text(page, ".panel"))
    rubric = " ".join(page.get_by_role("table", name="Scoring rubric").inner_text().split())
    assert "Technical approach 30% 10" in rubric
    assert "A clear theory of change" in rubric
    documents = _text(page, "section:has(#documents-heading)")
    assert "Legal registration certificate Required PDF, JPEG image, PNG image 5 MB" in documents
    assert_accessible(page)
    save_screenshot(page, "public-call")

    phone = live.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(f"/calls/{call.id}")
    no_sideways_scroll = phone.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"
    )
    assert no_sideways_scroll
    assert_accessible(phone)
    save_screenshot(phone, "phone-call")


def test_an_ngo_registers_applies_uploads_and_submits(live: LiveSite) -> None:
    call = live.reference_call()
    page = live.new_page(timezone_id="America/Lima")
    progress: list[float] = []
    page.expose_function("recordProgress", lambda value: progress.append(value))  # noqa: PLW0108 - Playwright needs a Python function, not a bound builtin
    page.add_init_script(PROGRESS_RECORDER)

    # Registration, from the call's page.
    page.goto(f"/calls/{call.id}")
    page.get_by_role("link", name="register your organisation").click()
    assert_accessible(page)
    page.get_by_label("Full name").fill("Nadia Quispe")
    page.get_by_label("Email address").fill("nadia@ninez-segura.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Organisation name").fill("Asociación Niñez Segura")
    page.get_by_label("Country where it is registered").select_option("PE")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/applications")
    assert "Welcome! Your organisation's account is ready." in _text(page, ".flashes")
    assert "Your organisation has no applications yet." in _text(page, "main")

    # A draft, from the call's page.
    page.goto(f"/calls/{call.id}")
    page.get_by_role("button", name="Start an application").click()
    page.wait_for_url(re.compile(r"/applications/[0-9a-f-]{36}$"))
    assert re.search(r"Draft APP-\d{4}-\d{4} created", _text(page, ".flashes"))

    # The form, with a mistake in the amount: the error is shown next to the field.
    page.get_by_label("Title of the project").fill("Safe homes for children in Lima and Cusco")
    page.get_by_label("Summary").fill("Specialised shelters and case management.")
    page.get_by_label("Amount requested (USD)").fill("1.250.000")
    page.get_by_label("Duration in months").fill("36")
    page.get_by_label("Identify victims and provide comprehensive specialised services").check()
    page.get_by_label("Metropolitan Lima").fill("70")
    page.get_by_label("Cusco").fill("30")
    page.get_by_role("button", name="Save draft").click()
    amount = page.get_by_label("Amount requested (USD)")
    error = page.locator("#field-requested_amount-error")
    assert "Enter an amount such as 250000.00" in error.inner_text()
    assert amount.get_attribute("aria-invalid") == "true"
    assert "field-requested_amount-error" in (amount.get_attribute("aria-describedby") or "")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert page.get_by_label("Title of the project").input_value().startswith("Safe homes")
    assert_accessible(page)

    amount.fill("1250000.00")
    page.get_by_role("button", name="Save draft").click()
    assert "Draft saved." in _text(page, ".flashes")
    checklist = _text(page, "#checklist")
    assert "3 things are still missing" in checklist
    for label in ("Technical proposal", "Detailed budget", "Legal registration certificate"):
        assert f"Upload the document: {label}." in checklist
    assert_accessible(page)
    save_screenshot(page, "ngo-application-form")

    # The size rule is applied before anything is sent.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.set_input_files(
        "#file-registration",
        files=[{"name": "scan.pdf", "mimeType": PDF, "buffer": b"%PDF" + b"0" * (6 * MIB - 4)}],
    )
    message = _text(page, "#file-registration-message")
    assert message == "This file is 6 MB; the limit for this document is 5 MB."
    page.get_by_role("button", name="Upload Legal registration certificate").click()
    assert requests == []

    # Three uploads, each with its progress bar; a slow uplink (2 MiB/s, emulated by Chromium)
    # makes the 3 MB proposal take long enough to show intermediate progress.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 2 * MIB},
    )
    uploads = [
        ("proposal", "Technical proposal", "proposal.pdf", PDF, pdf_bytes(padding=3_000_000)),
        (
            "budget_detail",
            "Detailed budget",
            "budget.xlsx",
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
    ]
    for doc_type, label, name, mime, content in uploads:
        page.set_input_files(
            f"#file-{doc_type}", files=[{"name": name, "mimeType": mime, "buffer": content}]
        )
        with page.expect_navigation():
            page.get_by_role("button", name=f"Upload {label}").click()
        assert f"{name} uploaded." in _text(page, ".flashes")
        assert name in _text(page, f"#doc-{doc_type}")
    assert 100 in progress, "the progress bar never reached 100%"
    assert [v for v in progress if 0 < v < 100], f"no intermediate progress: {progress}"
    assert "Everything required is in place" in _text(page, "#checklist")

    page.get_by_role("button", name="Submit application").click()
    assert re.search(r"Application APP-\d{4}-\d{4} submitted\.", _text(page, ".flashes"))
    assert _text(page, "#application-status") == "Submitted"
    assert page.get_by_role("button", name="Save draft").count() == 0

    _menu(page, "My applications").click()
    row = _text(page, "tbody tr")
    assert "Safe homes for children in Lima and Cusco" in row
    assert "US$ 1,250,000.00" in row
    assert "Submitted" in row
    assert_accessible(page)
    save_screenshot(page, "ngo-applications")


def _awarded_application(live: LiveSite) -> tuple[str, dict[str, Any]]:
    """An applicant whose application was submitted, screened and awarded through the API."""
    call = live.reference_call()
    applicant = live.factory.user(Role.applicant)
    officer = live.factory.user(Role.program_officer)
    ngo, staff = live.factory.headers(applicant), live.factory.headers(officer)
    with httpx.Client(base_url=f"{live.url}/api/v1") as api:
        created = api.post(
            f"/calls/{call.id}/applications",
            headers=ngo,
            json={
                "title": "Community child-protection networks in Loreto",
                "summary": "Village committees trained to spot and report trafficking.",
                "requested_amount": "600000.00",
                "duration_months": 36,
                "objectives": ["prevention"],
                "regions": [{"code": "loreto", "share_pct": 100}],
            },
        ).json()
        for doc_type in ("proposal", "budget_detail", "registration"):
            sent = api.post(
                f"/applications/{created['id']}/documents",
                headers=ngo,
                files={"doc_type": (None, doc_type), "file": ("doc.pdf", pdf_bytes(), PDF)},
            )
            assert sent.status_code == 201, sent.text
        assert api.post(f"/applications/{created['id']}/submit", headers=ngo).status_code == 200
        screened = api.post(
            f"/applications/{created['id']}/screening",
            headers=staff,
            json={"eligible": True, "notes": "Meets the criteria."},
        )
        assert screened.status_code == 200, screened.text
        award = api.post(
            f"/applications/{created['id']}/award",
            headers=staff,
            json={
                "amount": "600000.00",
                "start_date": "2026-01-01",
                "end_date": "2028-12-31",
                "milestones": [
                    {"title": "Inception report", "due_date": "2026-03-31", "amount": "150000.00"},
                    {"title": "Year one results", "due_date": "2026-12-31", "amount": "250000.00"},
                    {"title": "Final report", "due_date": "2028-12-31", "amount": "200000.00"},
                ],
            },
        )
        assert award.status_code == 201, award.text
    return applicant.email, award.json()


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_award_with_milestones_and_a_milestone_report_with_evidence(live: LiveSite) -> None:
    from tests.support.factories import DEFAULT_PASSWORD  # noqa: PLC0415

    email, award = _awarded_application(live)
    page = live.new_page(timezone_id="America/Lima")
    _sign_in(page, email, DEFAULT_PASSWORD)

    _menu(page, "My awards").click()
    assert award["reference"] in _text(page, ".card")
    assert "3 milestones" in _text(page, ".card")
    page.get_by_role("link", name=award["reference"]).click()
    milestones = _text(page, "tbody")
    assert "Inception report 31 March 2026 US$ 150,000.00 US$ 0.00 Planned" in milestones
    assert "Final report 31 December 2028 US$ 200,000.00" in milestones
    assert "US$ 600,000.00" in _text(page, ".facts")
    assert_accessible(page)
    save_screenshot(page, "ngo-award")

    page.get_by_role("link", name="Report on Inception report").click()
    page.get_by_label("What was achieved").fill(
        "Twelve village committees trained in Loreto; referral protocol agreed with the police."
    )
    page.set_input_files(
        "#field-files",
        files=[
            {"name": "attendance.pdf", "mimeType": PDF, "buffer": pdf_bytes()},
            {"name": "workshop.png", "mimeType": "image/png", "buffer": png_bytes()},
        ],
    )
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    assert "Report on “Inception report” sent." in _text(page, ".flashes")
    assert "Inception report 31 March 2026 US$ 150,000.00 US$ 0.00 Reported" in _text(page, "tbody")

    page.get_by_role("link", name="See the report").first.click()
    report = _text(page, "main")
    assert "Twelve village committees trained in Loreto" in report
    assert "attendance.pdf" in report
    assert "workshop.png" in report
