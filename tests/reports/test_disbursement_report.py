"""GET /api/v1/reports/disbursements (SPEC §9): one row per payment or reversal, by value date.

Every test builds the same ledger through the API (`ledger()`): two awards of one call, five
payments recorded in an order that differs from their value dates, and one reversal.

    award A  100000.00  org "Asociación Niñez Segura"  regions lima 100%
             milestones "Inception report" 60000.00, "=SUM(1)" 40000.00
    award B   80000.00  org '=HYPERLINK("http://evil.example","click")'  cusco 60%, loreto 40%
             milestones "+1" 50000.00, "Final report" 30000.00

    recorded  value date  award  milestone          amount     reference
    1st       2026-08-10  A      Inception report   20000.00   TRF-A1
    2nd       2026-08-20  B      +1                 15000.00   @cmd
    3rd       2026-09-15  A      Inception report   10000.00   TRF-A2
    4th       2026-08-15  A      =SUM(1)             5000.00   -2      (earlier date, later entry)
    5th       2026-09-01  B      +1                   250.50   TRF-B2
    6th       today       B      +1                  -250.50   TRF-B2  (reversal of the 5th)

By value date, the running totals per award (remaining = award amount − to date):

    2026-08-10  A  20000.00  A: 20000.00                        100000.00 − 20000.00 = 80000.00
    2026-08-15  A   5000.00  A: 20000.00 + 5000.00 = 25000.00   100000.00 − 25000.00 = 75000.00
    2026-08-20  B  15000.00  B: 15000.00                         80000.00 − 15000.00 = 65000.00
    2026-09-01  B    250.50  B: 15000.00 + 250.50 = 15250.50     80000.00 − 15250.50 = 64749.50
    2026-09-15  A  10000.00  A: 25000.00 + 10000.00 = 35000.00  100000.00 − 35000.00 = 65000.00
    today       B   -250.50  B: 15250.50 − 250.50 = 15000.00     80000.00 − 15000.00 = 65000.00
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
from fastapi.testclient import TestClient

from app.models import Call, Role
from tests.awards.helpers import (
    API,
    Awarded,
    Headers,
    approved,
    disburse,
    get_award,
    lima_today,
    reverse,
    under_review,
)
from tests.support.factories import Factory

HEADER = [
    "value_date",
    "disbursement_id",
    "award_reference",
    "application_reference",
    "organization",
    "milestone",
    "amount",
    "currency",
    "award_amount",
    "award_disbursed_to_date",
    "award_remaining",
    "regions",
    "objectives",
    "reference",
    "recorded_by",
    "recorded_at",
]
COL = {name: i for i, name in enumerate(HEADER)}

NINEZ = "Asociación Niñez Segura"
HYPERLINK = '=HYPERLINK("http://evil.example","click")'
LIMA_OFFSET = "-05:00"  # Peru keeps no daylight saving time


# --- building the ledger ------------------------------------------------------------------


def award_for(
    client: TestClient,
    factory: Factory,
    call_id: Any,
    officer: Headers,
    org_name: str,
    amount: str,
    milestones: list[tuple[str, str]],
    **application: Any,
) -> tuple[Awarded, str]:
    """An application of a new organisation called `org_name`, awarded with titled milestones."""
    organization = factory.organization(name=org_name)
    _, applicant = factory.login(Role.applicant, organization=organization)
    app = under_review(client, call_id, applicant, officer, requested_amount=amount, **application)
    body = {
        "amount": amount,
        "start_date": "2026-07-01",
        "end_date": "2028-06-30",
        "milestones": [
            {"title": title, "due_date": f"2027-0{n}-01", "amount": part}
            for n, (title, part) in enumerate(milestones, start=1)
        ],
    }
    response = client.post(f"{API}/applications/{app['id']}/award", json=body, headers=officer)
    assert response.status_code == 201, response.text
    return Awarded(response.json(), app, applicant), str(organization.id)


@dataclass
class Ledger:
    call: Call
    finance: Headers
    finance_email: str
    a: Awarded
    b: Awarded
    org_b: str
    ids: dict[str, str]  # disbursement id by label: a1, b1, a2, a3, b2, b2_reversal
    recorded_from: datetime
    recorded_to: datetime


def ledger(client: TestClient, factory: Factory) -> Ledger:
    call = factory.call()
    _, officer = factory.login(Role.program_officer)
    finance_user, finance = factory.login(Role.finance_officer)
    a, _ = award_for(
        client,
        factory,
        call.id,
        officer,
        NINEZ,
        "100000.00",
        [("Inception report", "60000.00"), ("=SUM(1)", "40000.00")],
        regions=[("lima", 100)],
        objectives=["protection"],
    )
    b, org_b = award_for(
        client,
        factory,
        call.id,
        officer,
        HYPERLINK,
        "80000.00",
        [("+1", "50000.00"), ("Final report", "30000.00")],
        regions=[("cusco", 60), ("loreto", 40)],
        objectives=["prosecution", "prevention"],
    )
    for awarded, n in ((a, 1), (a, 2), (b, 1)):
        approved(client, awarded.milestone(n), awarded.applicant, officer)

    def pay(awarded: Awarded, n: int, amount: str, value_date: str, reference: str) -> str:
        response = disburse(
            client,
            awarded.id,
            finance,
            awarded.milestone(n),
            amount,
            value_date=date.fromisoformat(value_date),
            reference=reference,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    recorded_from = datetime.now(UTC).replace(microsecond=0)
    ids = {
        "a1": pay(a, 1, "20000.00", "2026-08-10", "TRF-A1"),
        "b1": pay(b, 1, "15000.00", "2026-08-20", "@cmd"),
        "a2": pay(a, 1, "10000.00", "2026-09-15", "TRF-A2"),
        "a3": pay(a, 2, "5000.00", "2026-08-15", "-2"),
        "b2": pay(b, 1, "250.50", "2026-09-01", "TRF-B2"),
    }
    reversal = reverse(client, ids["b2"], finance)
    assert reversal.status_code == 201, reversal.text
    ids["b2_reversal"] = str(reversal.json()["id"])
    recorded_to = datetime.now(UTC) + timedelta(seconds=1)
    return Ledger(call, finance, finance_user.email, a, b, org_b, ids, recorded_from, recorded_to)


# --- reading reports ----------------------------------------------------------------------


def get_report(client: TestClient, headers: Headers, call_id: Any, **params: str) -> bytes:
    response = client.get(
        f"{API}/reports/disbursements", params={"call_id": str(call_id), **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.content


def csv_table(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), content[:10]
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def csv_report(client: TestClient, led: Ledger, **params: str) -> list[list[str]]:
    table = csv_table(get_report(client, led.finance, led.call.id, format="csv", **params))
    assert table[0] == HEADER
    return table[1:]


def picked(rows: list[list[str]], *names: str) -> list[tuple[str, ...]]:
    return [tuple(row[COL[name]] for name in names) for row in rows]


RUNNING = ("disbursement_id", "amount", "award_disbursed_to_date", "award_remaining")


# --- tests --------------------------------------------------------------------------------


def test_csv_has_one_row_per_payment_and_reversal_with_running_award_totals(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)
    today = lima_today().isoformat()
    ids = led.ids

    rows = csv_report(client, led)

    a_ref, b_ref = led.a.award["reference"], led.b.award["reference"]
    a_app, b_app = led.a.application["reference"], led.b.application["reference"]
    lima = "lima 100.00%"
    cusco_loreto = "cusco 60.00%; loreto 40.00%"
    a_objectives, b_objectives = "protection", "prosecution; prevention"
    org_b = "'" + HYPERLINK  # neutralised: the text stays, Excel shows it instead of running it
    expected = [
        # value_date, id, award, application, organisation, milestone, amount, currency,
        # award_amount, to date, remaining, regions, objectives, reference, recorded_by
        ["2026-08-10", ids["a1"], a_ref, a_app, NINEZ, "Inception report", "20000.00", "USD",
         "100000.00", "20000.00", "80000.00", lima, a_objectives, "TRF-A1", led.finance_email],
        ["2026-08-15", ids["a3"], a_ref, a_app, NINEZ, "'=SUM(1)", "5000.00", "USD",
         "100000.00", "25000.00", "75000.00", lima, a_objectives, "'-2", led.finance_email],
        ["2026-08-20", ids["b1"], b_ref, b_app, org_b, "'+1", "15000.00", "USD",
         "80000.00", "15000.00", "65000.00", cusco_loreto, b_objectives, "'@cmd",
         led.finance_email],
        ["2026-09-01", ids["b2"], b_ref, b_app, org_b, "'+1", "250.50", "USD",
         "80000.00", "15250.50", "64749.50", cusco_loreto, b_objectives, "TRF-B2",
         led.finance_email],
        ["2026-09-15", ids["a2"], a_ref, a_app, NINEZ, "Inception report", "10000.00", "USD",
         "100000.00", "35000.00", "65000.00", lima, a_objectives, "TRF-A2", led.finance_email],
        [today, ids["b2_reversal"], b_ref, b_app, org_b, "'+1", "-250.50", "USD",
         "80000.00", "15000.00", "65000.00", cusco_loreto, b_objectives, "TRF-B2",
         led.finance_email],
    ]  # fmt: skip
    assert [row[:-1] for row in rows] == expected


def test_amounts_add_up_to_each_awards_net_disbursed(client: TestClient, factory: Factory) -> None:
    led = ledger(client, factory)

    rows = csv_report(client, led)

    # A: 20000.00 + 5000.00 + 10000.00 = 35000.00; B: 15000.00 + 250.50 − 250.50 = 15000.00
    for awarded, expected in ((led.a, "35000.00"), (led.b, "15000.00")):
        reference = awarded.award["reference"]
        amounts = [
            Decimal(r[COL["amount"]]) for r in rows if r[COL["award_reference"]] == reference
        ]
        assert sum(amounts) == Decimal(expected)
        assert get_award(client, awarded.id, led.finance)["disbursed"] == expected
    assert sum(Decimal(r[COL["amount"]]) for r in rows) == Decimal("50000.00")


def test_recorded_at_is_shown_in_the_calls_time_zone(client: TestClient, factory: Factory) -> None:
    led = ledger(client, factory)

    rows = csv_report(client, led)

    for row in rows:
        shown = row[COL["recorded_at"]]
        assert shown.endswith(LIMA_OFFSET), shown
        moment = datetime.fromisoformat(shown)
        assert led.recorded_from <= moment <= led.recorded_to
    # Recorded in entry order: the 4th payment (value date 2026-08-15) after the 3rd (09-15).
    recorded = {r[COL["disbursement_id"]]: r[COL["recorded_at"]] for r in rows}
    assert recorded[led.ids["a2"]] <= recorded[led.ids["a3"]]


def test_filters_select_rows_but_running_totals_count_every_earlier_payment(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)
    ids = led.ids

    # 2026-08-15 … 2026-09-01: A's 5000.00 still shows 20000.00 + 5000.00 = 25000.00 to date,
    # counting the 2026-08-10 payment the filter leaves out.
    window = csv_report(client, led, **{"from": "2026-08-15", "to": "2026-09-01"})
    assert picked(window, *RUNNING) == [
        (ids["a3"], "5000.00", "25000.00", "75000.00"),
        (ids["b1"], "15000.00", "15000.00", "65000.00"),
        (ids["b2"], "250.50", "15250.50", "64749.50"),
    ]
    # From 2026-09-02 on: A's 10000.00 brings A to 35000.00, B's reversal brings B to 15000.00.
    later = csv_report(client, led, **{"from": "2026-09-02"})
    assert picked(later, *RUNNING) == [
        (ids["a2"], "10000.00", "35000.00", "65000.00"),
        (ids["b2_reversal"], "-250.50", "15000.00", "65000.00"),
    ]
    # Both bounds are inclusive.
    until = csv_report(client, led, to="2026-08-15")
    assert picked(until, "disbursement_id") == [(ids["a1"],), (ids["a3"],)]

    by_org = csv_report(client, led, organization_id=led.org_b)
    assert picked(by_org, "disbursement_id") == [(ids["b1"],), (ids["b2"],), (ids["b2_reversal"],)]
    # B works in cusco and loreto, A in lima only.
    loreto = csv_report(client, led, region="loreto")
    assert picked(loreto, "disbursement_id") == [(ids["b1"],), (ids["b2"],), (ids["b2_reversal"],)]
    lima = csv_report(client, led, region="lima")
    assert picked(lima, "disbursement_id") == [(ids["a1"],), (ids["a3"],), (ids["a2"],)]
    lima_from = csv_report(client, led, region="lima", **{"from": "2026-09-01"})
    assert picked(lima_from, *RUNNING) == [(ids["a2"], "10000.00", "35000.00", "65000.00")]

    # Nothing was paid in July 2026: the header alone.
    assert csv_report(client, led, **{"from": "2026-07-01", "to": "2026-07-31"}) == []
    org_a = str(led.a.award["organization_id"])
    assert csv_report(client, led, region="cusco", organization_id=org_a) == []


def test_a_call_without_payments_exports_the_header_only(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)  # another call, with six rows of its own
    quiet = factory.call()

    table = csv_table(get_report(client, led.finance, quiet.id, format="csv"))
    assert table == [HEADER]

    xlsx = get_report(client, led.finance, quiet.id, format="xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True))
    assert rows == [tuple(HEADER)]
    assert len(csv_report(client, led)) == 6


def test_xlsx_has_the_same_rows_with_numbers_as_numbers_and_text_as_text(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)

    content = get_report(client, led.finance, led.call.id, format="xlsx")

    assert content.startswith(b"PK")  # a zip container, not CSV
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]] == HEADER
    body = cells[1:]
    assert [r[COL["disbursement_id"]].value for r in body] == [
        led.ids[k] for k in ("a1", "a3", "b1", "b2", "a2", "b2_reversal")
    ]
    # value dates are date cells, in value-date order
    assert [r[COL["value_date"]].value for r in body[:5]] == [
        datetime(2026, 8, 10),
        datetime(2026, 8, 15),
        datetime(2026, 8, 20),
        datetime(2026, 9, 1),
        datetime(2026, 9, 15),
    ]
    assert body[5][COL["value_date"]].value == datetime.combine(lima_today(), datetime.min.time())
    # money columns are numeric cells; the reversal is a negative number
    for name in ("amount", "award_amount", "award_disbursed_to_date", "award_remaining"):
        assert {r[COL[name]].data_type for r in body} == {"n"}, name
    assert [r[COL["amount"]].value for r in body] == [20000, 5000, 15000, 250.5, 10000, -250.5]
    to_date = [20000, 25000, 15000, 15250.5, 35000, 15000]
    assert [r[COL["award_disbursed_to_date"]].value for r in body] == to_date
    remaining = [80000, 75000, 65000, 64749.5, 65000, 65000]
    assert [r[COL["award_remaining"]].value for r in body] == remaining
    # non-ASCII names intact; formula-like text stays a string cell, never a formula
    assert body[0][COL["organization"]].value == NINEZ
    sum_title = body[1][COL["milestone"]]
    assert sum_title.data_type == "s"
    assert sum_title.value.lstrip("'") == "=SUM(1)"
    for row in body:
        assert all(cell.data_type != "f" for cell in row)
    link = body[2][COL["organization"]]
    assert link.data_type == "s"
    assert link.value.lstrip("'") == HYPERLINK
    recorded_at = body[0][COL["recorded_at"]]
    assert recorded_at.data_type == "s"
    assert recorded_at.value.endswith(LIMA_OFFSET)


def test_csv_is_utf8_with_bom_and_formula_safe_with_numbers_left_plain(
    client: TestClient, factory: Factory
) -> None:
    led = ledger(client, factory)

    content = get_report(client, led.finance, led.call.id, format="csv")

    # UTF-8 with a BOM; the name's bytes are UTF-8 (ó = C3 B3), not Latin-1 (ó = F3)
    assert content.startswith(b"\xef\xbb\xbfvalue_date,disbursement_id,")
    assert NINEZ.encode() in content
    assert NINEZ.encode("latin-1") not in content
    text = content.decode("utf-8-sig")
    # Text a spreadsheet would run gets a leading apostrophe…
    assert '"\'=HYPERLINK(""http://evil.example"",""click"")"' in text
    assert ",'+1," in text
    assert ",'=SUM(1)," in text
    assert ",'@cmd," in text
    assert ",'-2," in text
    # …while the negative reversal and every other number stay plain numbers.
    assert ",-250.50,USD,80000.00,15000.00,65000.00," in text
    assert "'-250.50" not in text
    assert ",250.50,USD,80000.00,15250.50,64749.50," in text
    rows = csv_table(content)[1:]
    assert {r[COL["organization"]] for r in rows} == {NINEZ, "'" + HYPERLINK}


def test_only_finance_programme_staff_and_admins_may_export(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    url = f"{API}/reports/disbursements"
    params = {"call_id": str(call.id)}

    assert client.get(url, params=params).status_code == 401
    for role in (Role.applicant, Role.reviewer):
        headers = factory.login(role)[1]
        for fmt in ("csv", "xlsx"):
            response = client.get(url, params={**params, "format": fmt}, headers=headers)
            assert response.status_code == 403, (role, fmt, response.text)
    for role in (Role.finance_officer, Role.program_officer, Role.admin):
        headers = factory.login(role)[1]
        for fmt in ("csv", "xlsx"):
            response = client.get(url, params={**params, "format": fmt}, headers=headers)
            assert response.status_code == 200, (role, fmt, response.text)
    headers = factory.login(Role.finance_officer)[1]
    unknown = client.get(
        url, params={"call_id": "00000000-0000-4000-8000-000000000000"}, headers=headers
    )
    assert unknown.status_code == 404
    assert client.get(url, headers=headers).status_code == 422
