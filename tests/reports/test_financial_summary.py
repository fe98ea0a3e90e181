"""GET /api/v1/reports/financial-summary: SF-425-style lines for a quarter, a month or a year.

`ledger()` builds, through the API, in a call with an envelope of 1000000.00 USD (L is last year
in Lima, so every value date below is in the past and the reversal, dated today, falls in L + 1):

    award A 100000.00 (M1 60000.00, M2 40000.00)   award B 80000.00 (M1 80000.00)
    L-07-15  A  10000.00        L-10-05  B  30000.00        L-12-10  B  7000.00
    L-08-20  A  20000.00        L-10-20  A   5000.00        today    A −5000.00 (reversal)
    co-funding, in PEN: Government of Peru pledged 8000000.00 on L-03-01, paid 1500000.00 on
    L-08-01 and 500000.00 on L-11-15; Municipalidad de Lima pledged 250000.00 today.
    another call: an award of 70000.00, which no total may include.

Authorised: 100000.00 + 80000.00 = 180000.00; unobligated: 1000000.00 − 180000.00 = 820000.00.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from app.models import Call, Role
from tests.awards.helpers import (
    API,
    Awarded,
    Headers,
    approved,
    disburse,
    lima_today,
    reverse,
    under_review,
)
from tests.support.factories import Factory

SUMMARY_HEADER = [
    "line",
    "award_reference",
    "organization",
    "currency",
    "federal_funds_authorized",
    "disbursements_in_period",
    "cumulative_disbursements",
    "unliquidated_obligations",
    "unobligated_balance",
]
GOVERNMENT = "Government of Peru"
MUNICIPALITY = "Municipalidad de Lima"


def award_for(
    client: TestClient,
    factory: Factory,
    call_id: Any,
    officer: Headers,
    org_name: str,
    amount: str,
    milestones: list[str],
    year: int,
) -> Awarded:
    organization = factory.organization(name=org_name)
    _, applicant = factory.login(Role.applicant, organization=organization)
    app = under_review(client, call_id, applicant, officer, requested_amount=amount)
    body = {
        "amount": amount,
        "start_date": f"{year}-01-01",
        "end_date": f"{year + 2}-12-31",
        "milestones": [
            {"title": f"Milestone {n}", "due_date": f"{year + 1}-0{n}-01", "amount": part}
            for n, part in enumerate(milestones, start=1)
        ],
    }
    response = client.post(f"{API}/applications/{app['id']}/award", json=body, headers=officer)
    assert response.status_code == 201, response.text
    return Awarded(response.json(), app, applicant)


@dataclass
class Ledger:
    call: Call
    finance: Headers
    last: int  # L, last year in Lima
    a: Awarded
    b: Awarded


def ledger(client: TestClient, factory: Factory) -> Ledger:
    call = factory.call()
    other_call = factory.call()
    _, officer = factory.login(Role.program_officer)
    _, finance = factory.login(Role.finance_officer)
    last = lima_today().year - 1
    a = award_for(
        client, factory, call.id, officer, "Asociación Niñez Segura", "100000.00",
        ["60000.00", "40000.00"], last,
    )  # fmt: skip
    b = award_for(client, factory, call.id, officer, "Red Loreto", "80000.00", ["80000.00"], last)
    award_for(client, factory, other_call.id, officer, "Elsewhere", "70000.00", ["70000.00"], last)
    for awarded, n in ((a, 1), (a, 2), (b, 1)):
        approved(client, awarded.milestone(n), awarded.applicant, officer)

    def pay(awarded: Awarded, n: int, amount: str, value_date: str) -> str:
        response = disburse(
            client,
            awarded.id,
            finance,
            awarded.milestone(n),
            amount,
            value_date=date.fromisoformat(f"{last}-{value_date}"),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    pay(a, 1, "10000.00", "07-15")
    pay(a, 1, "20000.00", "08-20")
    pay(b, 1, "30000.00", "10-05")
    returned = pay(a, 2, "5000.00", "10-20")
    pay(b, 1, "7000.00", "12-10")
    assert reverse(client, returned, finance).status_code == 201

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"{API}{url}", json=body, headers=finance)
        assert response.status_code == 201, response.text
        return response.json()

    pledge = post(
        f"/calls/{call.id}/cofunding",
        {"funder": GOVERNMENT, "currency": "PEN", "amount": "8000000.00",
         "pledged_on": f"{last}-03-01"},
    )  # fmt: skip
    for amount, day in (("1500000.00", "08-01"), ("500000.00", "11-15")):
        post(
            f"/cofunding/{pledge['id']}/contributions",
            {"amount": amount, "contributed_on": f"{last}-{day}"},
        )
    post(
        f"/calls/{call.id}/cofunding",
        {"funder": MUNICIPALITY, "currency": "PEN", "amount": "250000.00",
         "pledged_on": lima_today().isoformat()},
    )  # fmt: skip
    return Ledger(call, finance, last, a, b)


def summary(client: TestClient, led: Ledger, period: str, fmt: str = "json") -> Any:
    response = client.get(
        f"{API}/reports/financial-summary",
        params={"call_id": str(led.call.id), "period": period, "format": fmt},
        headers=led.finance,
    )
    assert response.status_code == 200, response.text
    return response.json() if fmt == "json" else response.content


def award_lines(body: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(reference, authorised, in period, cumulative, unliquidated) per award."""
    return [
        (
            a["award_reference"],
            a["federal_funds_authorized"],
            a["disbursements_in_period"],
            a["cumulative_disbursements"],
            a["unliquidated_obligations"],
        )
        for a in body["awards"]
    ]


def test_a_quarter_splits_payments_in_the_period_from_the_cumulative_total(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)
    a, b = led.a.award["reference"], led.b.award["reference"]

    body = summary(client, led, f"{led.last}-Q3")

    assert body["period"] == f"{led.last}-Q3"
    assert body["period_start"] == f"{led.last}-07-01"
    assert body["period_end"] == f"{led.last}-09-30"
    assert body["currency"] == "USD"
    # Q3 = July to September: A 10000.00 + 20000.00 = 30000.00; B nothing yet.
    assert award_lines(body) == [
        (a, "100000.00", "30000.00", "30000.00", "70000.00"),  # 100000.00 − 30000.00
        (b, "80000.00", "0.00", "0.00", "80000.00"),
    ]
    assert [x["organization"] for x in body["awards"]] == ["Asociación Niñez Segura", "Red Loreto"]
    assert body["totals"] == {
        "envelope": "1000000.00",
        "federal_funds_authorized": "180000.00",  # 100000.00 + 80000.00, not the other call's
        "disbursements_in_period": "30000.00",
        "cumulative_disbursements": "30000.00",
        "unliquidated_obligations": "150000.00",  # 180000.00 − 30000.00
        "unobligated_balance": "820000.00",  # 1000000.00 − 180000.00
    }
    # Co-funding in its own currency, contributed to the period's end: 1500000.00 (08-01).
    # The municipality pledged after the period: not listed.
    assert body["cofunding"] == [
        {"funder": GOVERNMENT, "currency": "PEN", "pledged": "8000000.00",
         "contributed": "1500000.00"},
    ]  # fmt: skip


def test_a_month_and_a_year_count_in_period_and_cumulative_to_their_own_end(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)
    a, b = led.a.award["reference"], led.b.award["reference"]
    last = led.last

    # October of L: A 5000.00 (10-20), B 30000.00 (10-05).
    # Cumulative to 10-31: A 30000.00 + 5000.00 = 35000.00, B 30000.00.
    october = summary(client, led, f"{last}-10")
    assert (october["period_start"], october["period_end"]) == (f"{last}-10-01", f"{last}-10-31")
    assert award_lines(october) == [
        (a, "100000.00", "5000.00", "35000.00", "65000.00"),  # 100000.00 − 35000.00
        (b, "80000.00", "30000.00", "30000.00", "50000.00"),  # 80000.00 − 30000.00
    ]
    totals = october["totals"]
    assert totals["disbursements_in_period"] == "35000.00"  # 5000.00 + 30000.00
    assert totals["cumulative_disbursements"] == "65000.00"  # 35000.00 + 30000.00
    assert totals["unliquidated_obligations"] == "115000.00"  # 180000.00 − 65000.00
    assert totals["unobligated_balance"] == "820000.00"
    assert [c["contributed"] for c in october["cofunding"]] == ["1500000.00"]

    # The year L: A 10000.00 + 20000.00 + 5000.00 = 35000.00 (its reversal is dated L + 1),
    # B 30000.00 + 7000.00 = 37000.00; all of it both in the period and cumulative.
    year = summary(client, led, str(last))
    assert (year["period_start"], year["period_end"]) == (f"{last}-01-01", f"{last}-12-31")
    assert award_lines(year) == [
        (a, "100000.00", "35000.00", "35000.00", "65000.00"),
        (b, "80000.00", "37000.00", "37000.00", "43000.00"),  # 80000.00 − 37000.00
    ]
    assert year["totals"]["disbursements_in_period"] == "72000.00"  # 35000.00 + 37000.00
    assert year["totals"]["cumulative_disbursements"] == "72000.00"
    assert year["totals"]["unliquidated_obligations"] == "108000.00"  # 180000.00 − 72000.00
    # 1500000.00 + 500000.00 = 2000000.00 contributed during L
    assert [c["contributed"] for c in year["cofunding"]] == ["2000000.00"]

    # The year L + 1 holds only the reversal: −5000.00 in the period, A back to 30000.00.
    this = summary(client, led, str(last + 1))
    assert award_lines(this) == [
        (a, "100000.00", "-5000.00", "30000.00", "70000.00"),
        (b, "80000.00", "0.00", "37000.00", "43000.00"),
    ]
    assert this["totals"]["disbursements_in_period"] == "-5000.00"
    assert this["totals"]["cumulative_disbursements"] == "67000.00"  # 30000.00 + 37000.00
    assert this["totals"]["unliquidated_obligations"] == "113000.00"  # 180000.00 − 67000.00
    # Both pledges now, by funder; the PEN never reach the USD totals.
    assert this["cofunding"] == [
        {"funder": GOVERNMENT, "currency": "PEN", "pledged": "8000000.00",
         "contributed": "2000000.00"},
        {"funder": MUNICIPALITY, "currency": "PEN", "pledged": "250000.00",
         "contributed": "0.00"},
    ]  # fmt: skip
    assert this["totals"]["federal_funds_authorized"] == "180000.00"
    assert this["totals"]["envelope"] == "1000000.00"


def test_csv_and_xlsx_list_awards_then_the_call_then_cofunding_apart(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)
    a, b = led.a.award["reference"], led.b.award["reference"]
    period = f"{led.last}-Q3"

    content = summary(client, led, period, "csv")

    assert content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    # Same Q3 figures as the JSON; the co-funding line keeps PEN and its outstanding
    # 8000000.00 − 1500000.00 = 6500000.00, and is not part of the call line.
    assert table == [
        SUMMARY_HEADER,
        ["award", a, "Asociación Niñez Segura", "USD",
         "100000.00", "30000.00", "30000.00", "70000.00", ""],
        ["award", b, "Red Loreto", "USD", "80000.00", "0.00", "0.00", "80000.00", ""],
        ["call", "", "", "USD", "180000.00", "30000.00", "30000.00", "150000.00", "820000.00"],
        ["cofunding", GOVERNMENT, "", "PEN", "8000000.00", "", "1500000.00", "6500000.00", ""],
    ]  # fmt: skip

    xlsx = summary(client, led, period, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert list(sheet.iter_rows(values_only=True)) == [
        tuple(SUMMARY_HEADER),
        ("award", a, "Asociación Niñez Segura", "USD", 100000, 30000, 30000, 70000, None),
        ("award", b, "Red Loreto", "USD", 80000, 0, 0, 80000, None),
        ("call", "", "", "USD", 180000, 30000, 30000, 150000, 820000),
        ("cofunding", GOVERNMENT, "", "PEN", 8000000, None, 1500000, 6500000, None),
    ]
    (call_line,) = sheet.iter_rows(min_row=4, max_row=4)
    assert [c.data_type for c in call_line[4:]] == ["n"] * 5


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_a_period_that_is_not_a_quarter_month_or_year_is_refused(
    client: TestClient, factory: Factory, fmt: str
) -> None:
    call = factory.call()
    _, finance = factory.login(Role.finance_officer)

    refused = (
        *("2027-Q5", "2027-Q0", "27-Q1", "2027-13", "2027-00", "2027-3", "Q1-2027", ""),
        # no year 0 in the calendar (was a 500)
        *("0000", "0000-Q1", "0000-01"),
        # digits other than ASCII, and whitespace, which the CSV/XLSX file name would carry
        # into the Content-Disposition header (was a 500 for the Arabic-Indic digits)
        *("\u0662\u0660\u0662\u0667", "\uff12\uff10\uff12\uff17-Q1", " 2027", "2027\n"),
    )
    for period in refused:
        response = client.get(
            f"{API}/reports/financial-summary",
            params={"call_id": str(call.id), "period": period, "format": fmt},
            headers=finance,
        )
        assert response.status_code == 422, (period, response.text)
    for good in ("2027-Q1", "2027-03", "2027"):
        response = client.get(
            f"{API}/reports/financial-summary",
            params={"call_id": str(call.id), "period": good, "format": fmt},
            headers=finance,
        )
        assert response.status_code == 200, (good, response.text)


def test_a_call_without_awards_sums_to_zero_and_keeps_the_whole_envelope_unobligated(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    _, finance = factory.login(Role.finance_officer)

    response = client.get(
        f"{API}/reports/financial-summary",
        params={"call_id": str(call.id), "period": "2027-Q1"},
        headers=finance,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["awards"] == []
    assert body["cofunding"] == []
    assert body["totals"] == {
        "envelope": "1000000.00",
        "federal_funds_authorized": "0.00",
        "disbursements_in_period": "0.00",
        "cumulative_disbursements": "0.00",
        "unliquidated_obligations": "0.00",
        "unobligated_balance": "1000000.00",
    }


def test_only_finance_programme_staff_and_admins_may_read_the_summary(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    url = f"{API}/reports/financial-summary"
    params = {"call_id": str(call.id), "period": "2027-Q1"}

    assert client.get(url, params=params).status_code == 401
    for role in (Role.applicant, Role.reviewer):
        headers = factory.login(role)[1]
        for fmt in ("json", "csv", "xlsx"):
            response = client.get(url, params={**params, "format": fmt}, headers=headers)
            assert response.status_code == 403, (role, fmt, response.text)
    for role in (Role.finance_officer, Role.program_officer, Role.admin):
        headers = factory.login(role)[1]
        for fmt in ("json", "csv", "xlsx"):
            response = client.get(url, params={**params, "format": fmt}, headers=headers)
            assert response.status_code == 200, (role, fmt, response.text)
    headers = factory.login(Role.admin)[1]
    unknown = {**params, "call_id": "00000000-0000-4000-8000-000000000000"}
    assert client.get(url, params=unknown, headers=headers).status_code == 404
    assert client.get(url, params={"period": "2027-Q1"}, headers=headers).status_code == 422
