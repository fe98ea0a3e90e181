"""GET /api/v1/reports/awards (SPEC §9): the award register, one row per award of the call.

`register()` builds three awards through the API; T is today in the call's zone (America/Lima),
and every award runs from T − 200 days to T + 400 days.

    X 100000.00  M1 40000.00 due T−100  paid      (40000.00)
                 M2 30000.00 due T−1    approved  (5000.00, reversed, then 2500.00)
                 M3 20000.00 due T+30   reported
                 M4 10000.00 due T+60   planned
                 disbursed 40000.00 + 5000.00 − 5000.00 + 2500.00 = 42500.00
                 remaining 100000.00 − 42500.00 = 57500.00
                 next due  M2 (earliest not paid) = T−1 < T → overdue
    Y  60000.00  M1 20000.00 due T−10   paid      (20000.00)
                 M2 40000.00 due T      planned
                 disbursed 20000.00, remaining 60000.00 − 20000.00 = 40000.00
                 next due  M2 = T, due today is not yet overdue
    Z  50000.00  M1 50000.00 due T−5    paid      (50000.00)
                 disbursed 50000.00, remaining 0.00, nothing left to fall due → not overdue

An award of another call (nothing paid) must not appear.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    lima_today,
    report,
    reverse,
    under_review,
)
from tests.support.factories import Factory

HEADER = [
    "award_reference",
    "application_reference",
    "organization",
    "currency",
    "amount",
    "start_date",
    "end_date",
    "milestones",
    "milestones_planned",
    "milestones_reported",
    "milestones_approved",
    "milestones_paid",
    "disbursed",
    "remaining",
    "next_due_date",
    "overdue",
]


def award_for(
    client: TestClient,
    factory: Factory,
    call_id: Any,
    officer: Headers,
    org_name: str,
    amount: str,
    milestones: list[tuple[str, date]],
    *,
    start: date,
    end: date,
) -> Awarded:
    """A new organisation's application, awarded with milestones of (amount, due date)."""
    organization = factory.organization(name=org_name)
    _, applicant = factory.login(Role.applicant, organization=organization)
    app = under_review(client, call_id, applicant, officer, requested_amount=amount)
    body = {
        "amount": amount,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "milestones": [
            {"title": f"Milestone {n}", "due_date": due.isoformat(), "amount": part}
            for n, (part, due) in enumerate(milestones, start=1)
        ],
    }
    response = client.post(f"{API}/applications/{app['id']}/award", json=body, headers=officer)
    assert response.status_code == 201, response.text
    return Awarded(response.json(), app, applicant)


@dataclass
class Register:
    call: Call
    finance: Headers
    today: date
    start: date
    end: date
    x: Awarded
    y: Awarded
    z: Awarded


def register(client: TestClient, factory: Factory) -> Register:
    call = factory.call()
    other_call = factory.call()
    _, officer = factory.login(Role.program_officer)
    _, finance = factory.login(Role.finance_officer)
    t = lima_today()
    start, end = t - timedelta(days=200), t + timedelta(days=400)

    def make(call_id: Any, name: str, amount: str, *milestones: tuple[str, int]) -> Awarded:
        dues = [(part, t + timedelta(days=offset)) for part, offset in milestones]
        return award_for(
            client, factory, call_id, officer, name, amount, dues, start=start, end=end
        )

    x = make(
        call.id,
        "Asociación Niñez Segura",
        "100000.00",
        ("40000.00", -100),
        ("30000.00", -1),
        ("20000.00", 30),
        ("10000.00", 60),
    )
    y = make(call.id, "Fundación Camino", "60000.00", ("20000.00", -10), ("40000.00", 0))
    z = make(call.id, "Red Loreto", "50000.00", ("50000.00", -5))
    make(other_call.id, "Elsewhere", "70000.00", ("70000.00", -3))

    def pay(awarded: Awarded, n: int, amount: str) -> str:
        response = disburse(client, awarded.id, finance, awarded.milestone(n), amount)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    for awarded, n in ((x, 1), (x, 2), (y, 1), (z, 1)):
        approved(client, awarded.milestone(n), awarded.applicant, officer)
    reported = report(client, x.milestone(3), x.applicant)
    assert reported.status_code == 200, reported.text
    pay(x, 1, "40000.00")
    returned = pay(x, 2, "5000.00")
    assert reverse(client, returned, finance).status_code == 201
    pay(x, 2, "2500.00")
    pay(y, 1, "20000.00")
    pay(z, 1, "50000.00")
    return Register(call, finance, t, start, end, x, y, z)


def get_register(client: TestClient, headers: Headers, call_id: Any, fmt: str) -> bytes:
    response = client.get(
        f"{API}/reports/awards", params={"call_id": str(call_id), "format": fmt}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.content


def csv_table(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_one_row_per_award_with_status_counts_money_and_next_due_date(
    client: TestClient, factory: Factory
) -> None:
    reg = register(client, factory)
    t = reg.today

    table = csv_table(get_register(client, reg.finance, reg.call.id, "csv"))

    assert table[0] == HEADER

    def fixed(a: Awarded, org: str, amount: str) -> list[str]:
        ref, app_ref = a.award["reference"], a.application["reference"]
        return [ref, app_ref, org, "USD", amount, reg.start.isoformat(), reg.end.isoformat()]

    assert table[1:] == [
        # milestones, planned, reported, approved, paid, disbursed, remaining, next due, overdue
        [*fixed(reg.x, "Asociación Niñez Segura", "100000.00"),
         "4", "1", "1", "1", "1", "42500.00", "57500.00", (t - timedelta(days=1)).isoformat(),
         "true"],
        [*fixed(reg.y, "Fundación Camino", "60000.00"),
         "2", "1", "0", "0", "1", "20000.00", "40000.00", t.isoformat(), "false"],
        [*fixed(reg.z, "Red Loreto", "50000.00"),
         "1", "0", "0", "0", "1", "50000.00", "0.00", "", "false"],
    ]  # fmt: skip


def test_xlsx_register_has_typed_cells_for_counts_money_dates_and_overdue(
    client: TestClient, factory: Factory
) -> None:
    reg = register(client, factory)

    content = get_register(client, reg.finance, reg.call.id, "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day)

    start, end = midnight(reg.start), midnight(reg.end)
    x, y, z = (a.award["reference"] for a in (reg.x, reg.y, reg.z))
    x_app, y_app, z_app = (a.application["reference"] for a in (reg.x, reg.y, reg.z))
    assert rows[1:] == [
        (x, x_app, "Asociación Niñez Segura", "USD", 100000, start, end,
         4, 1, 1, 1, 1, 42500, 57500, midnight(reg.today - timedelta(days=1)), True),
        (y, y_app, "Fundación Camino", "USD", 60000, start, end,
         2, 1, 0, 0, 1, 20000, 40000, midnight(reg.today), False),
        (z, z_app, "Red Loreto", "USD", 50000, start, end,
         1, 0, 0, 0, 1, 50000, 0, None, False),
    ]  # fmt: skip
    cells = list(sheet.iter_rows(min_row=2))
    assert [c.data_type for c in cells[0]] == ["s"] * 4 + ["n"] + ["d"] * 2 + ["n"] * 7 + [
        "d",
        "b",
    ]


def test_a_call_without_awards_exports_the_header_only(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    _, finance = factory.login(Role.finance_officer)

    assert csv_table(get_register(client, finance, call.id, "csv")) == [HEADER]
    sheet = openpyxl.load_workbook(io.BytesIO(get_register(client, finance, call.id, "xlsx")))
    assert list(sheet.active.iter_rows(values_only=True)) == [tuple(HEADER)]


def test_only_finance_programme_staff_and_admins_may_read_the_register(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call()
    url = f"{API}/reports/awards"
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
    headers = factory.login(Role.program_officer)[1]
    unknown = {"call_id": "00000000-0000-4000-8000-000000000000"}
    assert client.get(url, params=unknown, headers=headers).status_code == 404
    assert client.get(url, headers=headers).status_code == 422
