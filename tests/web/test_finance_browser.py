"""The finance officer's work in a real browser: a payment recorded with a double click and
sent again (one payment in the ledger), its reversal, a payment in full, the allocation
dashboard whose tables match the ledger, and the disbursement report downloaded from its
button. The award page and the dashboard are audited with axe-core and photographed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models import Role
from tests.awards.helpers import Awarded, disburse, lima_today
from tests.support.factories import DEFAULT_PASSWORD
from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import PHONE, LiveSite
from tests.web.finance_support import (
    approved_award,
    csv_rows,
    dollars,
    ledger_milestone_left,
    ledger_paid,
    ledger_uncommitted,
    payments,
)

pytestmark = pytest.mark.slow

REFERENCE_DOCUMENTS = ("proposal", "budget_detail", "registration")


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def _funded(live: LiveSite) -> tuple[Any, Awarded, Awarded]:
    """The reference programme with two awards, each with its first milestone approved, and
    one earlier payment (last month, on the Lima and Cusco award)."""
    call = live.reference_call()
    officer = live.factory.headers(live.factory.user(Role.program_officer))
    payer = live.factory.headers(live.factory.user(Role.finance_officer))
    with httpx.Client(base_url=live.url) as api:
        loreto = approved_award(
            api,
            live.factory,
            call.id,
            officer,
            "600000.00",
            ["150000.00", "250000.00", "200000.00"],
            regions=(("loreto", 100),),
            objectives=("prevention",),
            documents=REFERENCE_DOCUMENTS,
            organization="Red Amazónica por la Niñez",
            titles=("Inception report", "Year one results", "Final report"),
        )
        lima = approved_award(
            api,
            live.factory,
            call.id,
            officer,
            "400000.00",
            ["100000.00", "300000.00"],
            regions=(("lima", 60), ("cusco", 40)),
            objectives=("protection", "prosecution"),
            documents=REFERENCE_DOCUMENTS,
            organization="Asociación Niñez Segura",
            titles=("Shelters open", "Case management results"),
        )
        last_month = lima_today().replace(day=1).toordinal() - 1
        earlier = disburse(
            api,  # type: ignore[arg-type]
            lima.id,
            payer,
            lima.milestone(1),
            "100000.00",
            value_date=lima_today().fromordinal(last_month),
            reference="TRF-LIM-001",
        )
        assert earlier.status_code == 201, earlier.text
    return call, loreto, lima


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _answers(live: LiveSite, path: str, expected: int) -> int:
    """How many POSTs to the page route the server has answered with 303, by its own
    metrics, waiting up to 5 s for `expected` (a request whose client moved on is still
    answered, but it may finish after the one the browser waited for)."""
    labels = {"method": "POST", "route": path, "status": "303"}
    deadline = time.monotonic() + 5
    while True:
        value = live.app.state.metrics.registry.get_sample_value(
            "grants_http_requests_total", labels
        )
        if int(value or 0) >= expected or time.monotonic() > deadline:
            return int(value or 0)
        time.sleep(0.05)


def _double_click(page: Any, name: str) -> list[int]:
    """Two clicks on the button, the second made while the first one's answer is still on
    its way: the first answer is held back, as on a slow line, so the second click always
    comes first (Playwright's `dblclick` is one gesture, which Chromium submits once). Both
    POSTs reach the server; the page gets the second answer. The server's statuses, in order.
    """
    answers: list[int] = []

    def pass_on(route: Any) -> None:
        answer = route.fetch(max_redirects=0)
        answers.append(answer.status)
        if len(answers) > 1:
            route.fulfill(response=answer)

    page.route("**/disbursements", pass_on)
    button = page.get_by_role("button", name=name)
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    while not answers:
        page.wait_for_timeout(20)
    page.mouse.click(x, y)
    page.wait_for_selector(".flashes")
    page.unroute("**/disbursements")
    return answers


def _amount(page: Any, selector: str) -> int:
    return dollars(_text(page, selector))


def test_the_finance_officer_pays_reverses_and_reads_the_dashboard(live: LiveSite) -> None:
    call, loreto, lima = _funded(live)
    finance = live.factory.user(Role.finance_officer)
    page = live.new_page(timezone_id="America/Lima")
    route = "/finance/awards/{id}/disbursements"

    _sign_in(page, finance.email)
    page.wait_for_url("**/finance")
    page.get_by_role("link", name=f"Awards · {call.title}").click()
    page.get_by_role("link", name=loreto.award["reference"]).click()
    page.wait_for_url(f"**/finance/awards/{loreto.id}")
    first_milestone = f"#milestone-{loreto.milestone(1)}"
    assert "Approved" in _text(page, first_milestone)

    # 1. A double click: two POSTs reach the server, one payment is recorded, and the page
    # shows it once.
    page.get_by_label("Amount (USD)").fill("100000.00")
    page.get_by_label("Bank transfer reference").fill("TRF-LOR-001")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.method) if "disbursements" in r.url else None)
    assert _double_click(page, "Record payment") == [303, 303]
    assert _text(page, ".flashes") == (
        "Payment of US$ 100,000.00 for “Inception report” recorded (reference TRF-LOR-001)."
    )
    assert posts == ["POST", "POST"]
    assert _answers(live, route, 2) == 2
    assert payments(live.db, loreto.id) == [(10_000_000, None)]
    assert ledger_milestone_left(live.db, loreto.milestone(1)) == 5_000_000
    assert _amount(page, "#award-paid") == 10_000_000
    assert page.locator("#payments tbody tr").count() == 1

    # 2. Its reversal, with a reason.
    page.get_by_role("link", name="Reverse the payment TRF-LOR-001").click()
    page.get_by_label("Reason for the reversal").fill("The bank returned the transfer.")
    page.get_by_role("button", name="Reverse the payment").click()
    page.wait_for_url(f"**/finance/awards/{loreto.id}")
    assert _text(page, ".flashes") == (
        "The payment of US$ 100,000.00 (reference TRF-LOR-001) was reversed."
    )
    assert [amount for amount, _ in payments(live.db, loreto.id)] == [10_000_000, -10_000_000]
    assert ledger_milestone_left(live.db, loreto.milestone(1)) == 15_000_000
    assert page.get_by_role("link", name="Reverse the payment TRF-LOR-001").count() == 0

    # 3. The milestone paid in full; the answer is lost on the way back, the browser shows
    # its error page, and reloading it sends the same form (the same key) again.
    page.get_by_label("Amount (USD)").fill("150000.00")
    page.get_by_label("Bank transfer reference").fill("TRF-LOR-002")
    answered: list[int] = []

    def lose_the_answer(intercepted: Any) -> None:
        answered.append(intercepted.fetch(max_redirects=0).status)
        intercepted.abort("connectionreset")

    page.route("**/disbursements", lose_the_answer)
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url("chrome-error://**")
    page.unroute("**/disbursements")
    assert answered == [303]
    page.reload()
    page.wait_for_url(f"**/finance/awards/{loreto.id}")
    assert _text(page, ".flashes") == (
        "Payment of US$ 150,000.00 for “Inception report” recorded (reference TRF-LOR-002)."
    )
    assert _answers(live, route, 4) == 4
    assert [amount for amount, _ in payments(live.db, loreto.id)] == [
        10_000_000,
        -10_000_000,
        15_000_000,
    ]
    assert ledger_milestone_left(live.db, loreto.milestone(1)) == 0
    assert "Paid" in _text(page, first_milestone)
    assert_accessible(page)
    save_screenshot(page, "finance-award", full_page=True)

    # 4. The dashboard: charts, and tables that say what the ledger says.
    page.get_by_role("link", name=f"Awards of “{call.title}”").click()
    page.get_by_role("link", name="Allocation dashboard and reports").click()
    page.wait_for_url(f"**/finance/calls/{call.id}/dashboard")
    for name in (
        "Envelope, awarded and disbursed",
        "Awarded and disbursed by region",
        "Awarded and disbursed by objective",
        "Net disbursements by month",
    ):
        chart = page.get_by_role("img", name=name)
        assert chart.is_visible(), name
        assert chart.locator("rect").count() >= 1
    paid = ledger_paid(live.db, call.id)
    assert paid == 25_000_000  # Lima and Cusco's 100000.00, Loreto's 150000.00
    totals = "#table-totals tr[data-figure={}] td"
    assert _amount(page, totals.format("disbursed")) == paid
    assert _amount(page, totals.format("awarded")) == 500_000_000 - ledger_uncommitted(
        live.db, call.id
    )
    assert _amount(page, totals.format("uncommitted")) == ledger_uncommitted(live.db, call.id)
    regions = {
        code: (_amount(page, f"{row} td:nth-of-type(1)"), _amount(page, f"{row} td:nth-of-type(2)"))
        for code in ("lima", "cusco", "loreto", "other")
        for row in [f"#table-regions tr[data-code={code}]"]
    }
    # Loreto has all of its award; Lima and Cusco share theirs 60/40.
    assert regions == {
        "lima": (24_000_000, 6_000_000),
        "cusco": (16_000_000, 4_000_000),
        "loreto": (60_000_000, 15_000_000),
        "other": (0, 0),
    }
    assert sum(disbursed for _, disbursed in regions.values()) == paid
    month_rows = page.locator("#table-months tbody tr")
    assert month_rows.count() == 2
    nets = [dollars(month_rows.nth(i).locator("td").nth(2).inner_text()) for i in range(2)]
    assert nets == [10_000_000, 15_000_000]
    assert dollars(month_rows.nth(1).locator("td").nth(1).inner_text()) == -10_000_000
    assert dollars(month_rows.nth(1).locator("td").nth(3).inner_text()) == paid
    assert_accessible(page)
    save_screenshot(page, "finance-dashboard")

    # 5. The disbursement report, from its button.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Disbursements (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"disbursements-{call.id}.csv"
    rows = csv_rows(Path(download.path()).read_bytes())
    assert sorted((r["award_reference"], r["amount"], r["reference"]) for r in rows) == sorted(
        [
            (lima.award["reference"], "100000.00", "TRF-LIM-001"),
            (loreto.award["reference"], "100000.00", "TRF-LOR-001"),
            (loreto.award["reference"], "-100000.00", "TRF-LOR-001"),
            (loreto.award["reference"], "150000.00", "TRF-LOR-002"),
        ]
    )
    assert sum(int(r["amount"].replace(".", "")) for r in rows) == paid

    # 6. On a phone the dashboard reflows: the charts shrink, the tables scroll on their own.
    phone = live.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    _sign_in(phone, finance.email)
    phone.wait_for_url("**/finance")
    phone.goto(f"/finance/calls/{call.id}/dashboard")
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.get_by_role("img", name="Net disbursements by month").is_visible()
    assert_accessible(phone)
