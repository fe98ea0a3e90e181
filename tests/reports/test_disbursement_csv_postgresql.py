"""On PostgreSQL the disbursement CSV is written by the query (`app/reports/pg_csv.py`).

It must be the same document, byte for byte, as the Python writer (`app/tabular.py` over
`queries.disbursement_rows`) produces from the same rows — including quoting, formula
neutralisation, negative amounts, empty cells and UTC offsets that are not whole hours.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db import Database
from app.models import Role
from app.reports import pg_csv, queries
from app.tabular import csv_blocks
from tests.awards.helpers import API, approved, disburse, reverse
from tests.reports.test_disbursement_report import award_for, ledger
from tests.support.factories import Factory

pytestmark = pytest.mark.postgres

TRICKY_ORG = 'Fundación "Luz, Agua y Vida", Perú'
TRICKY_MILESTONE = "Informe final, con anexos \"A\" y 'B'\nSegunda línea"


def python_csv(db: Database, flt: queries.DisbursementFilter, zone: str) -> bytes:
    rows = queries.disbursement_rows(db, flt, zone)
    return b"".join(block.encode() for block in csv_blocks(queries.DISBURSEMENT_COLUMNS, rows))


def postgresql_csv(db: Database, flt: queries.DisbursementFilter, zone: str) -> bytes:
    return b"".join(pg_csv.disbursement_csv(db, flt, zone))


def test_the_reference_ledger_is_written_identically(
    client: TestClient, factory: Factory, db: Database
) -> None:
    led = ledger(client, factory)
    for flt in (
        queries.DisbursementFilter(led.call.id),
        queries.DisbursementFilter(led.call.id, date(2026, 8, 15), date(2026, 9, 1)),
        queries.DisbursementFilter(led.call.id, region="cusco"),
        queries.DisbursementFilter(led.call.id, date(2030, 1, 1)),  # no rows: header only
    ):
        expected = python_csv(db, flt, "America/Lima")
        assert postgresql_csv(db, flt, "America/Lima") == expected
    # The reference data really exercises the rules (the comparison above is not vacuous).
    full = postgresql_csv(db, queries.DisbursementFilter(led.call.id), "America/Lima")
    assert b",-250.50," in full
    assert b'"\'=HYPERLINK(""http://evil.example"",""click"")"' in full
    assert full.count(b"\r\n") == 7  # header + six rows


@pytest.mark.parametrize(
    "zone", ["Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "UTC", "America/Lima"]
)
def test_quoting_empty_cells_and_offsets_match_the_python_writer(
    client: TestClient, factory: Factory, db: Database, zone: str
) -> None:
    call = factory.call(timezone=zone)
    _, officer = factory.login(Role.program_officer)
    _, finance = factory.login(Role.finance_officer)
    awarded, _ = award_for(
        client,
        factory,
        call.id,
        officer,
        TRICKY_ORG,
        "100000.00",
        [(TRICKY_MILESTONE, "100000.00")],
        regions=[("lima", "33.33"), ("loreto", "66.67")],
        objectives=["prevention"],
    )
    approved(client, awarded.milestone(1), awarded.applicant, officer)
    for amount, reference in (("0.01", "=1+2"), ("99999.98", 'Ref, "quoted"')):
        response = disburse(
            client,
            awarded.id,
            finance,
            awarded.milestone(1),
            amount,
            value_date=date(2026, 7, 1),
            reference=reference,
        )
        assert response.status_code == 201, response.text
    reversed_ = reverse(client, response.json()["id"], finance)
    assert reversed_.status_code == 201, reversed_.text

    flt = queries.DisbursementFilter(call.id)
    produced = postgresql_csv(db, flt, zone)
    assert produced == python_csv(db, flt, zone)
    text = produced.decode("utf-8-sig")
    assert '"Fundación ""Luz, Agua y Vida"", Perú"' in text
    assert ",0.01,USD,100000.00,0.01,99999.99," in text
    assert ",-99999.98," in text
    assert ",'=1+2," in text
    assert "lima 33.33%; loreto 66.67%" in text
    assert '"Informe final, con anexos ""A"" y \'B\'\nSegunda línea"' in text

    # And it is what the report route serves on PostgreSQL.
    served = client.get(
        f"{API}/reports/disbursements", params={"call_id": str(call.id)}, headers=finance
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/csv; charset=utf-8"
    assert served.content == produced


def test_the_session_settings_it_changes_are_restored_on_the_shared_connection(
    client: TestClient, factory: Factory, db: Database
) -> None:
    """The rollback tier shares one connection: the export's local settings must not leak."""
    led = ledger(client, factory)

    def settings() -> tuple[str, str]:
        with db.transaction(read_only=True) as session:
            row = session.execute(
                text("SELECT current_setting('TimeZone'), current_setting('enable_nestloop')")
            ).one()
            return row[0], row[1]

    before = settings()
    document = postgresql_csv(db, queries.DisbursementFilter(led.call.id), "Asia/Kolkata")
    assert b"+05:30\r\n" in document
    assert settings() == before == ("UTC", "on")
