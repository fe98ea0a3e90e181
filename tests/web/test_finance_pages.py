"""The finance pages without a browser: awards and milestones, payments through the API's
idempotent disbursement service (one payment per form, however often it is sent), reversals,
the allocation dashboard's figures against the ledger, the report downloads, the roles that
may open them, and the forms' CSRF and validation."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from lxml import etree
from sqlalchemy import select, update

from app.db import Database
from app.models import Disbursement, IdempotencyKey, Role, User
from tests.awards.helpers import Awarded, Person, disburse, lima_today, person, reverse
from tests.support.factories import Factory
from tests.web.finance_support import (
    approved_award,
    csv_rows,
    hidden_fields,
    ledger_milestone_left,
    ledger_paid,
    payments,
)
from tests.web.pages import audit_actions, field_error, post_form, sign_in

# Whole page flows (seconds per module): in the full suite, not the fast tier.
pytestmark = pytest.mark.slow

HTML = {"accept": "text/html"}
SPANISH = {"accept-language": "es"}


@pytest.fixture
def officer(factory: Factory) -> Person:
    return person(factory, Role.program_officer)


@pytest.fixture
def finance(client: TestClient, factory: Factory) -> User:
    user = factory.user(Role.finance_officer)
    sign_in(client, user.email)
    return user


@pytest.fixture
def granted(client: TestClient, factory: Factory, officer: Person) -> Awarded:
    """100000.00 in two milestones, 60000.00 (approved) and 40000.00 (planned); Lima only,
    objective protection; the factory's call (envelope 1000000.00)."""
    call = factory.call()
    return approved_award(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )


def _page(granted: Awarded) -> str:
    return f"/finance/awards/{granted.id}"


def _form(client: TestClient, granted: Awarded, **fields: str) -> dict[str, str]:
    """The payment form as the browser would send it, from a freshly opened award page."""
    opened = client.get(_page(granted))
    assert opened.status_code == 200, opened.text
    hidden = hidden_fields(opened.text)
    return {
        "csrf_token": hidden["csrf_token"],
        "idempotency_key": hidden["idempotency_key"],
        "milestone_id": granted.milestone(1),
        "amount": "25000.00",
        "value_date": lima_today().isoformat(),
        "reference": "TRF-2026-001",
        **fields,
    }


def _send(client: TestClient, granted: Awarded, form: dict[str, str], **kw: Any) -> Response:
    return client.post(f"{_page(granted)}/disbursements", data=form, follow_redirects=False, **kw)


# --- the award page ----------------------------------------------------------------------


def test_the_award_page_shows_each_milestone_with_what_is_paid_and_remains(
    client: TestClient, factory: Factory, granted: Awarded, finance: User
) -> None:
    disburse(client, granted.id, factory.headers(finance), granted.milestone(1), "15000.00")

    english = client.get(_page(granted)).text
    spanish = client.get(_page(granted), headers=SPANISH).text

    row = _row(english, f"milestone-{granted.milestone(1)}")
    # 60000.00 approved, 15000.00 paid, 45000.00 left; the second milestone is still planned.
    assert "Milestone 1" in row
    assert "Approved" in row
    assert _amounts(row) == ["US$ 60,000.00", "US$ 15,000.00", "US$ 45,000.00"]
    second = _row(english, f"milestone-{granted.milestone(2)}")
    assert "Planned" in second
    assert _amounts(second) == ["US$ 40,000.00", "US$ 0.00", "US$ 40,000.00"]
    assert "Remaining US$ 85,000.00" in _plain(english)
    assert "US$ 45.000,00" in spanish
    assert "Aprobado" in spanish
    # Only the approved milestone is offered for payment, with what is left on it.
    assert "Milestone 1 (US$ 45,000.00 to pay)" in english
    assert "Milestone 2 (" not in english


def _row(html: str, row_id: str) -> str:
    start = html.index(f'<tr id="{row_id}"')
    return html[start : html.index("</tr>", start)]


def _amounts(row: str) -> list[str]:
    """The amounts in a table row's number cells, as shown (markup removed)."""
    return [_plain(cell) for cell in re.findall(r'<td class="num">(.*?)</td>', row, re.S)]


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- recording a payment -----------------------------------------------------------------


def test_a_payment_from_the_form_goes_through_the_disbursement_service(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    response = _send(client, granted, _form(client, granted))

    assert response.status_code == 303
    assert response.headers["location"] == _page(granted)
    assert payments(db, granted.id) == [(2_500_000, None)]
    assert ledger_milestone_left(db, granted.milestone(1)) == 3_500_000
    assert audit_actions(db, "disbursement") == ["disbursement.recorded"]
    shown = client.get(_page(granted)).text
    assert "Payment of US$ 25,000.00 for “Milestone 1” recorded (reference TRF-2026-001)." in shown
    assert "TRF-2026-001" in shown


def test_the_same_form_sent_twice_records_one_payment_and_answers_the_same(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    form = _form(client, granted)

    first = _send(client, granted, form)
    first_page = client.get(first.headers["location"]).text
    again = _send(client, granted, form)
    again_page = client.get(again.headers["location"]).text

    assert (first.status_code, again.status_code) == (303, 303)
    assert first.headers["location"] == again.headers["location"]
    message = "Payment of US$ 25,000.00 for “Milestone 1” recorded (reference TRF-2026-001)."
    assert message in first_page
    assert message in again_page
    assert payments(db, granted.id) == [(2_500_000, None)]
    assert audit_actions(db, "disbursement") == ["disbursement.recorded"]
    # The key is the API's: claimed once, for this user and the page's route.
    with db.transaction(read_only=True) as session:
        keys = session.execute(select(IdempotencyKey.route, IdempotencyKey.key)).all()
    assert keys == [(f"{_page(granted)}/disbursements", form["idempotency_key"])]


def test_each_opening_of_the_page_gives_the_form_a_new_key(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    first = _form(client, granted)
    second = _form(client, granted)

    assert first["idempotency_key"] != second["idempotency_key"]
    assert len(first["idempotency_key"]) >= 32
    _send(client, granted, first)
    _send(client, granted, second)
    # Two forms are two intended payments.
    assert payments(db, granted.id) == [(2_500_000, None), (2_500_000, None)]


def test_the_same_key_with_other_values_is_refused_and_the_form_renewed(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    form = _form(client, granted)
    _send(client, granted, form)

    changed = _send(client, granted, {**form, "amount": "30000.00"})

    assert changed.status_code == 422
    assert "This form was already used for another payment." in changed.text
    renewed = hidden_fields(changed.text)["idempotency_key"]
    assert renewed != form["idempotency_key"]
    assert payments(db, granted.id) == [(2_500_000, None)]
    # The renewed form records the new payment.
    sent = _send(client, granted, {**form, "amount": "30000.00", "idempotency_key": renewed})
    assert sent.status_code == 303
    assert payments(db, granted.id) == [(2_500_000, None), (3_000_000, None)]


def test_an_amount_past_what_remains_is_explained_next_to_the_amount(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    form = _form(client, granted, amount="60000.01")

    response = _send(client, granted, form)

    assert response.status_code == 409
    assert field_error(response.text, "field-amount") == (
        "The amount is more than what remains to be paid."
    )
    assert "At most US$ 60,000.00 remains to be paid on “Milestone 1”." in _plain(response.text)
    assert 'value="60000.01"' in response.text
    assert payments(db, granted.id) == []
    # The refused attempt did not spend the key: corrected, the same form goes through.
    assert hidden_fields(response.text)["idempotency_key"] == form["idempotency_key"]
    corrected = _send(client, granted, {**form, "amount": "60000.00"})
    assert corrected.status_code == 303
    assert payments(db, granted.id) == [(6_000_000, None)]
    assert "Paid" in _row(client.get(_page(granted)).text, f"milestone-{granted.milestone(1)}")


def test_the_over_large_amount_is_explained_in_spanish_too(
    client: TestClient, granted: Awarded, finance: User
) -> None:
    response = _send(client, granted, _form(client, granted, amount="70000.00"), headers=SPANISH)

    assert response.status_code == 409
    assert field_error(response.text, "field-amount") == (
        "El importe supera lo que queda por pagar."
    )
    assert "Quedan como máximo US$ 60.000,00 por pagar en «Milestone 1»." in _plain(response.text)


@pytest.mark.parametrize(
    ("fields", "field", "message", "status"),
    [
        (
            {"amount": "12,5"},
            "field-amount",
            "Enter an amount such as 250000.00: digits, and at most two decimals.",
            422,
        ),
        ({"amount": "0"}, "field-amount", "Enter an amount greater than zero.", 422),
        ({"reference": ""}, "field-reference", "Enter the reference of the bank transfer.", 422),
        (
            {"milestone_id": ""},
            "field-milestone_id",
            "Choose the milestone this payment is for.",
            422,
        ),
        ({"value_date": "31/03/2026"}, "field-value_date", "Enter a date such as 2026-03-31.", 422),
    ],
)
def test_invalid_fields_are_explained_next_to_each_field(
    client: TestClient,
    db: Database,
    granted: Awarded,
    finance: User,
    fields: dict[str, str],
    field: str,
    message: str,
    status: int,
) -> None:
    response = _send(client, granted, _form(client, granted, **fields))

    assert response.status_code == status
    assert field_error(response.text, field) == message
    assert payments(db, granted.id) == []


def test_a_future_value_date_is_refused_by_the_service_next_to_the_date(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    tomorrow = (lima_today() + timedelta(days=1)).isoformat()

    response = _send(client, granted, _form(client, granted, value_date=tomorrow))

    assert response.status_code == 422
    assert field_error(response.text, "field-value_date") == (
        "The value date cannot be in the future."
    )
    assert payments(db, granted.id) == []


def test_a_milestone_not_yet_approved_cannot_be_paid(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    response = _send(client, granted, _form(client, granted, milestone_id=granted.milestone(2)))

    assert response.status_code == 409
    assert field_error(response.text, "field-milestone_id") == (
        "Only an approved milestone can be paid."
    )
    assert payments(db, granted.id) == []


def test_a_payment_form_without_its_csrf_token_is_refused(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    form = _form(client, granted)
    del form["csrf_token"]

    response = _send(client, granted, form, headers=HTML)

    assert response.status_code == 403
    assert "This form has expired or did not come from this site" in response.text
    assert payments(db, granted.id) == []


def test_a_payment_form_without_its_key_is_a_bad_request(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    form = _form(client, granted)

    missing = _send(client, granted, {**form, "idempotency_key": ""}, headers=HTML)
    too_long = _send(client, granted, {**form, "idempotency_key": "k" * 256}, headers=HTML)

    assert (missing.status_code, too_long.status_code) == (400, 400)
    assert payments(db, granted.id) == []


@pytest.mark.slow
def test_the_same_form_sent_at_once_to_several_workers_pays_once(
    committed_app_factory: Callable[..., FastAPI],
    committed_factory: Factory,
    committed_db: Database,
) -> None:
    """Eight copies of one form, released together over four app instances (four workers
    with their own connection pools) on a committed database: one payment, eight answers."""
    officer = committed_factory.headers(committed_factory.user(Role.program_officer))
    finance = committed_factory.user(Role.finance_officer)
    call = committed_factory.call()
    with TestClient(committed_app_factory()) as first:
        granted = approved_award(
            first, committed_factory, call.id, officer, "100000.00", ["60000.00", "40000.00"]
        )
        sign_in(first, finance.email)
        form = _form(first, granted)
        cookies = dict(first.cookies)
    apps = [committed_app_factory() for _ in range(4)]
    barrier = threading.Barrier(8)
    with ExitStack() as stack:
        clients = [stack.enter_context(TestClient(apps[i % 4], cookies=cookies)) for i in range(8)]

        def send(client: TestClient) -> Response:
            barrier.wait(timeout=60)
            return _send(client, granted, form)

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(send, clients))

    assert [r.status_code for r in responses] == [303] * 8
    assert {r.headers["location"] for r in responses} == {_page(granted)}
    assert payments(committed_db, granted.id) == [(2_500_000, None)]
    assert audit_actions(committed_db, "disbursement") == ["disbursement.recorded"]
    assert ledger_milestone_left(committed_db, granted.milestone(1)) == 3_500_000


# --- reversals ---------------------------------------------------------------------------


def _paid(client: TestClient, db: Database, granted: Awarded) -> str:
    _send(client, granted, _form(client, granted))
    with db.transaction(read_only=True) as session:
        return str(session.scalar(select(Disbursement.id)))


def test_a_payment_is_reversed_once_with_a_reason(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    payment = _paid(client, db, granted)
    page = f"/finance/disbursements/{payment}/reverse"
    assert f'href="{page}"' in client.get(_page(granted)).text

    reversed_ = post_form(client, page, page, {"reason": "The bank returned the transfer."})

    assert reversed_.status_code == 303
    assert reversed_.headers["location"] == _page(granted)
    rows = payments(db, granted.id)
    assert [amount for amount, _ in rows] == [2_500_000, -2_500_000]
    assert rows[0][1] is None
    assert str(rows[1][1]) == payment
    assert ledger_milestone_left(db, granted.milestone(1)) == 6_000_000
    assert audit_actions(db, "disbursement") == ["disbursement.recorded", "disbursement.reversed"]
    shown = client.get(_page(granted)).text
    assert "The payment of US$ 25,000.00 (reference TRF-2026-001) was reversed." in shown
    assert "-US$ 25,000.00" in shown
    assert "The bank returned the transfer." in shown
    assert f'href="{page}"' not in shown


def test_a_second_reversal_of_the_same_payment_is_refused(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    payment = _paid(client, db, granted)
    page = f"/finance/disbursements/{payment}/reverse"
    token = hidden_fields(client.get(page).text)["csrf_token"]
    first = client.post(page, data={"csrf_token": token, "reason": "Returned by the bank"})
    assert first.status_code == 200  # followed to the award page

    # The same form sent again (a double click): the service's 409, on the reversal page.
    again = client.post(
        page,
        data={"csrf_token": token, "reason": "Returned by the bank"},
        headers=HTML,
        follow_redirects=False,
    )

    assert again.status_code == 409
    assert "This payment has already been reversed." in again.text
    assert "This payment was reversed on" in again.text
    assert "Returned by the bank" in again.text
    assert len(payments(db, granted.id)) == 2


def test_a_reversal_cannot_itself_be_reversed(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    payment = _paid(client, db, granted)
    page = f"/finance/disbursements/{payment}/reverse"
    post_form(client, page, page, {"reason": "Returned by the bank"})
    with db.transaction(read_only=True) as session:
        reversal = session.scalar(select(Disbursement.id).where(Disbursement.amount < 0))
    reversal_page = f"/finance/disbursements/{reversal}/reverse"

    shown = client.get(reversal_page)
    refused = post_form(client, _page(granted), reversal_page, {"reason": "Undo the undo"})

    assert "This entry is itself a reversal: it cannot be reversed." in shown.text
    assert "Reason for the reversal" not in shown.text
    assert refused.status_code == 409
    assert "A reversal cannot itself be reversed." in refused.text
    assert len(payments(db, granted.id)) == 2


def test_a_reversal_needs_a_reason(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    payment = _paid(client, db, granted)
    page = f"/finance/disbursements/{payment}/reverse"

    response = post_form(client, page, page, {"reason": " "})

    assert response.status_code == 422
    assert field_error(response.text, "field-reason") == "Say why the payment is reversed."
    assert len(payments(db, granted.id)) == 1


def test_a_reversal_without_its_csrf_token_is_refused(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    payment = _paid(client, db, granted)

    response = client.post(
        f"/finance/disbursements/{payment}/reverse",
        data={"reason": "No token"},
        headers=HTML,
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert len(payments(db, granted.id)) == 1


# --- who may open what -------------------------------------------------------------------


def _money_pages(call_id: Any, award_id: str) -> list[str]:
    return [
        "/finance",
        f"/finance/calls/{call_id}/awards",
        f"/finance/awards/{award_id}",
        f"/finance/calls/{call_id}/dashboard",
        f"/finance/calls/{call_id}/reports/disbursements?format=csv",
        f"/finance/calls/{call_id}/reports/awards?format=xlsx",
        f"/finance/calls/{call_id}/reports/financial-summary?period=2026",
        f"/finance/calls/{call_id}/reports/iati",
        f"/finance/calls/{call_id}/reports/360giving",
    ]


@pytest.mark.parametrize("role", [Role.applicant, Role.reviewer])
def test_roles_that_never_handle_money_get_the_403_page(
    client: TestClient, factory: Factory, db: Database, granted: Awarded, role: Role
) -> None:
    sign_in(client, factory.user(role).email)
    call_id = granted.award["call_id"]

    for path in _money_pages(call_id, granted.id):
        response = client.get(path, headers=HTML)
        assert response.status_code == 403, path
        assert "You may not do this" in response.text
    form = {"milestone_id": granted.milestone(1), "amount": "1.00", "reference": "X"}
    refused = post_form(client, "/", f"{_page(granted)}/disbursements", form)
    assert refused.status_code == 403
    assert payments(db, granted.id) == []


@pytest.mark.parametrize("role", [Role.program_officer, Role.admin])
def test_staff_who_read_money_see_the_pages_but_cannot_pay_or_reverse(
    client: TestClient, factory: Factory, db: Database, granted: Awarded, role: Role
) -> None:
    payer = factory.user(Role.finance_officer)
    paid = disburse(client, granted.id, factory.headers(payer), granted.milestone(1), "100.00")
    sign_in(client, factory.user(role).email)

    for path in _money_pages(granted.award["call_id"], granted.id):
        assert client.get(path, headers=HTML).status_code == 200, path
    award_page = client.get(_page(granted)).text
    assert "Record a payment" not in award_page
    assert "/reverse" not in award_page
    form = {
        "milestone_id": granted.milestone(1),
        "amount": "1.00",
        "value_date": lima_today().isoformat(),
        "reference": "X",
        "idempotency_key": "k1",
    }
    assert (
        post_form(client, _page(granted), f"{_page(granted)}/disbursements", form).status_code
        == 403
    )
    reversal = f"/finance/disbursements/{paid.json()['id']}/reverse"
    assert client.get(reversal, headers=HTML).status_code == 403
    assert post_form(client, _page(granted), reversal, {"reason": "Not mine"}).status_code == 403
    assert payments(db, granted.id) == [(10_000, None)]


def test_a_visitor_who_has_not_signed_in_is_sent_to_sign_in(
    client: TestClient, granted: Awarded
) -> None:
    response = client.get(_page(granted), follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=%2Ffinance%2Fawards%2F")


def test_unknown_awards_calls_and_payments_are_404_pages(
    client: TestClient, factory: Factory, finance: User
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    draft = factory.call(publish=False)

    for path in (
        f"/finance/awards/{unknown}",
        "/finance/awards/not-an-id",
        f"/finance/calls/{unknown}/dashboard",
        f"/finance/calls/{unknown}/awards",
        f"/finance/calls/{unknown}/reports/disbursements",
        f"/finance/disbursements/{unknown}/reverse",
        # A draft call is not visible to a finance officer, as in the API.
        f"/finance/calls/{draft.id}/dashboard",
    ):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "There is nothing here" in response.text


def test_a_finance_officer_lands_on_the_finance_pages_with_a_menu_entry(
    client: TestClient, factory: Factory, granted: Awarded
) -> None:
    user = factory.user(Role.finance_officer)

    signed_in = sign_in(client, user.email)

    assert signed_in.headers["location"] == "/finance"
    home = client.get("/finance").text
    assert '<a href="/finance" aria-current="page">Awards and payments</a>' in home
    assert f'href="/finance/calls/{granted.award["call_id"]}/dashboard"' in home


def test_the_awards_of_a_call_are_listed_with_what_is_approved_and_unpaid(
    client: TestClient, granted: Awarded, finance: User
) -> None:
    html = client.get(f"/finance/calls/{granted.award['call_id']}/awards").text

    assert granted.award["reference"] in html
    assert f'href="/finance/awards/{granted.id}"' in html
    # 100000.00 awarded, nothing paid, the approved 60000.00 waiting to be paid.
    assert _amounts(_row(html, f"award-{granted.id}")) == [
        "US$ 100,000.00",
        "US$ 0.00",
        "US$ 100,000.00",
        "US$ 60,000.00",
    ]
    assert "1 award" in html


# --- the allocation dashboard ------------------------------------------------------------


def _cells(html: str, table_id: str) -> dict[str, list[str]]:
    """A dashboard table's rows (by `data-*` key) and their amounts."""
    start = html.index(f'<table id="{table_id}"')
    table = html[start : html.index("</table>", start)]
    rows = re.findall(r'<tr data-[a-z]+="([^"]+)">(.*?)</tr>', table, re.S)
    return {key: _amounts(row) for key, row in rows}


def test_the_dashboard_figures_are_the_ledgers(
    client: TestClient,
    factory: Factory,
    db: Database,
    officer: Person,
    finance: User,
) -> None:
    call = factory.call()
    lima = approved_award(
        client, factory, call.id, officer.headers, "100000.00", ["60000.00", "40000.00"]
    )
    shared = approved_award(
        client,
        factory,
        call.id,
        officer.headers,
        "200000.00",
        ["200000.00"],
        regions=(("cusco", 70), ("loreto", 30)),
        objectives=("prosecution", "prevention"),
    )
    headers = factory.headers(finance)
    disburse(client, lima.id, headers, lima.milestone(1), "60000.00")
    last_month = lima_today().replace(day=1) - timedelta(days=1)
    paid = disburse(
        client, shared.id, headers, shared.milestone(1), "50000.01", value_date=last_month
    )
    assert reverse(client, paid.json()["id"], headers).status_code == 201
    disburse(client, shared.id, headers, shared.milestone(1), "20000.00")

    html = client.get(f"/finance/calls/{call.id}/dashboard").text

    paid_total = ledger_paid(db, call.id)
    assert paid_total == 8_000_000  # 60000.00 + 20000.00; the reversed 50000.01 is not paid
    totals = _cells(html, "table-totals")
    assert totals == {
        "envelope": ["US$ 1,000,000.00"],
        "awarded": ["US$ 300,000.00"],
        "uncommitted": ["US$ 700,000.00"],
        "disbursed": ["US$ 80,000.00"],
        "undisbursed": ["US$ 220,000.00"],
    }
    # Regions by share: Lima 100% of the first; Cusco 70% and Loreto 30% of the second.
    assert _cells(html, "table-regions") == {
        "lima": ["US$ 100,000.00", "US$ 60,000.00"],
        "cusco": ["US$ 140,000.00", "US$ 14,000.00"],
        "loreto": ["US$ 60,000.00", "US$ 6,000.00"],
    }
    # Objectives equally: protection has the first; prosecution and prevention share the second.
    assert _cells(html, "table-objectives") == {
        "prosecution": ["US$ 100,000.00", "US$ 10,000.00"],
        "protection": ["US$ 100,000.00", "US$ 60,000.00"],
        "prevention": ["US$ 100,000.00", "US$ 10,000.00"],
    }
    # By month: last month's payment, this month's payments and the reversal (value-dated
    # today), the running total ending at the ledger's figure.
    months = _cells(html, "table-months")
    assert months == {
        last_month.isoformat()[:7]: [
            "US$ 50,000.01",
            "US$ 0.00",
            "US$ 50,000.01",
            "US$ 50,000.01",
        ],
        lima_today().isoformat()[:7]: [
            "US$ 80,000.00",
            "-US$ 50,000.01",
            "US$ 29,999.99",
            "US$ 80,000.00",
        ],
    }
    # Four charts, each an image with a name and a description, each with its table.
    assert html.count('role="img"') == 4
    for chart in ("totals", "regions", "objectives", "months"):
        assert f'<table id="table-{chart}">' in html
        start = html.index('<svg class="chart"', html.index(f"{chart}-heading"))
        svg = etree.fromstring(html[start : html.index("</svg>", start) + 6])  # well-formed
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") == f"chart-{chart}-title chart-{chart}-desc"
        names = {child.get("id"): child.text for child in svg if child.get("id")}
        assert names[f"chart-{chart}-title"]
        assert names[f"chart-{chart}-desc"]
        assert svg.findall("{http://www.w3.org/2000/svg}rect")


def test_months_without_payments_are_shown_between_the_first_and_the_last(
    client: TestClient, factory: Factory, officer: Person, finance: User
) -> None:
    call = factory.call()
    granted = approved_award(client, factory, call.id, officer.headers, "100000.00", ["100000.00"])
    headers = factory.headers(finance)
    today = lima_today()
    earlier = today.month - 3
    three_months_ago = date(today.year - (earlier < 1), (earlier - 1) % 12 + 1, 1)
    disburse(
        client, granted.id, headers, granted.milestone(1), "1000.00", value_date=three_months_ago
    )
    disburse(client, granted.id, headers, granted.milestone(1), "2000.00")

    months = _cells(client.get(f"/finance/calls/{call.id}/dashboard").text, "table-months")

    keys = list(months)
    assert keys[0] == three_months_ago.isoformat()[:7]
    assert keys[-1] == today.isoformat()[:7]
    assert [row[2] for row in months.values()] == [
        "US$ 1,000.00",
        "US$ 0.00",
        "US$ 0.00",
        "US$ 2,000.00",
    ]
    assert [row[3] for row in months.values()][-1] == "US$ 3,000.00"


def test_the_dashboard_of_a_call_without_payments_says_so(
    client: TestClient, factory: Factory, finance: User
) -> None:
    call = factory.call()

    html = client.get(f"/finance/calls/{call.id}/dashboard").text

    assert "No payment has been recorded for this call yet." in html
    assert 'id="chart-months"' not in html
    assert "The 360Giving package is available once the call has an award." in html
    assert f'href="/finance/calls/{call.id}/reports/360giving"' not in html


def test_the_dashboard_writes_amounts_for_the_visitors_language(
    client: TestClient, granted: Awarded, finance: User
) -> None:
    html = client.get(f"/finance/calls/{granted.award['call_id']}/dashboard", headers=SPANISH).text

    assert "Panel de asignación" in html
    assert "US$ 1.000.000,00" in html
    assert "US$ 100.000,00" in html


# --- report downloads --------------------------------------------------------------------


def test_the_report_downloads_are_the_api_reports(
    client: TestClient, factory: Factory, granted: Awarded, finance: User
) -> None:
    headers = factory.headers(finance)
    disburse(client, granted.id, headers, granted.milestone(1), "12345.67", reference="TRF-77")
    base = f"/finance/calls/{granted.award['call_id']}/reports"

    disbursements = client.get(f"{base}/disbursements?format=csv")
    api = client.get(
        f"/api/v1/reports/disbursements?call_id={granted.award['call_id']}", headers=headers
    )
    register = client.get(f"{base}/awards?format=xlsx")
    summary = client.get(f"{base}/financial-summary?period={lima_today().year}&format=json")
    summary_csv = client.get(f"{base}/financial-summary?period={lima_today().year}&format=csv")
    iati = client.get(f"{base}/iati")
    giving = client.get(f"{base}/360giving")

    assert disbursements.status_code == 200
    assert disbursements.headers["content-disposition"].startswith("attachment;")
    rows = csv_rows(disbursements.content)
    assert [(r["award_reference"], r["amount"], r["reference"]) for r in rows] == [
        (granted.award["reference"], "12345.67", "TRF-77")
    ]
    assert csv_rows(api.content) == rows
    assert register.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert register.content[:2] == b"PK"
    assert summary.headers["content-disposition"] == (
        f'attachment; filename="financial-summary-{lima_today().year}.json"'
    )
    assert json.loads(summary.content)["totals"]["disbursements_in_period"] == "12345.67"
    assert summary_csv.headers["content-type"].startswith("text/csv")
    assert etree.fromstring(iati.content).tag == "iati-activities"
    assert json.loads(giving.content)["grants"][0]["amountAwarded"] == 100000


def test_a_period_the_summary_refuses_is_explained_on_the_dashboard(
    client: TestClient, granted: Awarded, finance: User
) -> None:
    response = client.get(
        f"/finance/calls/{granted.award['call_id']}/reports/financial-summary"
        "?period=2026-Q5&format=csv"
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert field_error(response.text, "field-period") == (
        "Enter a quarter (2027-Q1), a month (2027-03) or a year (2027)."
    )
    assert 'value="2026-Q5"' in response.text


def test_the_dashboard_offers_every_report(
    client: TestClient, granted: Awarded, finance: User
) -> None:
    call_id = granted.award["call_id"]
    html = client.get(f"/finance/calls/{call_id}/dashboard").text

    base = f"/finance/calls/{call_id}/reports"
    for link in (
        f"{base}/disbursements?format=csv",
        f"{base}/disbursements?format=xlsx",
        f"{base}/awards?format=csv",
        f"{base}/awards?format=xlsx",
        f"{base}/iati",
        f"{base}/360giving",
    ):
        assert f'href="{link}"' in html
        assert client.get(link).status_code == 200, link
    assert f'action="{base}/financial-summary"' in html
    for fmt in ("json", "csv", "xlsx"):
        assert f'name="format" value="{fmt}"' in html


def test_a_deactivated_finance_officer_cannot_download(
    client: TestClient, db: Database, granted: Awarded, finance: User
) -> None:
    with db.transaction() as session:
        session.execute(update(User).where(User.id == finance.id).values(is_active=False))

    response = client.get(
        f"/finance/calls/{granted.award['call_id']}/reports/disbursements",
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
