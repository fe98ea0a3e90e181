"""The 360Giving export: valid against the official 1.4 package schema, exact to the cent.

The schemas are the local copies in `app/standards/360giving/`; the package schema names the
grant schema by its published URL, which is registered in a `referencing.Registry`, so no
network is used.
"""

from __future__ import annotations

import copy
import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import referencing.jsonschema
from fastapi.testclient import TestClient
from jsonschema import FormatChecker, validators
from jsonschema.protocols import Validator
from pydantic import ValidationError
from referencing import Registry

import app
from app.config import Settings
from app.db import Database
from app.models import Award, Call, Role
from app.reports import giving360
from app.reports.giving360 import giving360_package, money_number
from tests.awards.helpers import Awarded, approved, awarded, disburse, lima_today, reverse
from tests.support.factories import Factory

SCHEMAS = Path(app.__file__).parent / "standards" / "360giving"
GENERATED_AT = datetime(2026, 11, 30, 18, 45, 10, tzinfo=UTC)
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
UEI = "J7M2K4N9P3Q5"


# --- the validator ----------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _dialect(schema: dict[str, Any]) -> str:
    """The schemas write `http://json-schema.org/draft/2020-12/schema`; the published
    meta-schema URI is `https://…`: same dialect, so normalise before looking it up."""
    uri = schema["$schema"].rstrip("#")
    return "https://" + uri.removeprefix("http://").removeprefix("https://")


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time. Needed: the schema's dates are `oneOf [date-time, YYYY-MM-DD]`,
    and without a real date-time check every plain date would match both branches."""
    if not isinstance(value, str):
        return True
    if not RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def build_validator() -> Validator:
    package = _load("360-giving-package-schema.json")
    grant = _load("360-giving-schema.json")
    grant_url = package["properties"]["grants"]["items"]["$ref"]
    dialect = _dialect(package)
    cls = validators.validator_for({"$schema": dialect}, default=None)
    assert cls is validators.Draft202012Validator
    resource = referencing.jsonschema.specification_with(_dialect(grant)).create_resource(grant)
    # Under the URL the package refers to (1.4.2) and the grant schema's own `$id` (1.4.3).
    registry: Registry[Any] = Registry().with_resources(
        [(grant_url, resource), (grant["$id"], resource)]
    )
    cls.check_schema(package)
    cls.check_schema(grant)
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    return cls(package, registry=registry, format_checker=checker)


VALIDATOR = build_validator()


def errors(package: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(package)
    ]


# --- data -------------------------------------------------------------------------------


@pytest.fixture
def call(factory: Factory) -> Call:
    """The default published call: USD, regions lima/cusco/loreto, America/Lima."""
    return factory.call()


@dataclass
class Built:
    ninez: Awarded
    global_org: Awarded
    payment_id: str
    reversal_id: str
    second_payment_id: str
    paid_on: str
    reversed_on: str


def _headers(factory: Factory, role: Role, **kw: Any) -> dict[str, str]:
    return factory.login(role, **kw)[1]


@pytest.fixture
def built(client: TestClient, factory: Factory, call: Call) -> Built:
    officer = _headers(factory, Role.program_officer)
    finance = _headers(factory, Role.finance_officer)
    ninez_org = factory.organization("Asociación Niñez Segura", country="PE")
    global_org = factory.organization(
        "Global Child Rights Inc.", country="US", uei=UEI, website="https://gcr.example.org"
    )
    ninez = awarded(
        client,
        factory,
        call.id,
        officer,
        "100000.01",
        ["40000.00", "60000.01"],
        applicant=_headers(factory, Role.applicant, organization=ninez_org),
        requested_amount="120000.50",
        regions=(("lima", 100),),
        objectives=("protection",),
    )
    other = awarded(
        client,
        factory,
        call.id,
        officer,
        "250000.00",
        applicant=_headers(factory, Role.applicant, organization=global_org),
        regions=(("cusco", "66.67"), ("loreto", "33.33")),
        objectives=("prevention", "prosecution"),
    )
    approved(client, ninez.milestone(1), ninez.applicant, officer)
    paid_on = lima_today() - timedelta(days=2)
    first = disburse(client, ninez.id, finance, ninez.milestone(1), "40000.00", value_date=paid_on)
    assert first.status_code == 201, first.text
    reversal = reverse(client, first.json()["id"], finance)
    assert reversal.status_code == 201, reversal.text
    second = disburse(client, ninez.id, finance, ninez.milestone(1), "15000.25", value_date=paid_on)
    assert second.status_code == 201, second.text
    return Built(
        ninez,
        other,
        first.json()["id"],
        reversal.json()["id"],
        second.json()["id"],
        paid_on.isoformat(),
        reversal.json()["value_date"],
    )


def generate(
    db: Database, call: Call, settings: Settings, generated_at: datetime = GENERATED_AT
) -> list[bytes]:
    with db.transaction(read_only=True) as session:
        current = session.get(Call, call.id)
        assert current is not None
        return list(giving360_package(session, current, settings, generated_at=generated_at))


def package_of(chunks: list[bytes]) -> dict[str, Any]:
    return json.loads(b"".join(chunks).decode("utf-8"))


def by_id(package: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {grant["id"]: grant for grant in package["grants"]}


def award_row(db: Database, award_id: str) -> Award:
    with db.transaction(read_only=True) as session:
        award = session.get(Award, uuid.UUID(award_id))
        assert award is not None
        return award


# --- tests ------------------------------------------------------------------------------


def test_package_is_valid_streamed_and_broken_grants_fail(
    built: Built, db: Database, call: Call, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = generate(db, call, settings)
    # The opening, one chunk per grant, the closing.
    assert len(chunks) == 2 + 2
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert all(json.loads(chunk.lstrip(b",\n")) for chunk in chunks[1:-1])
    package = package_of(chunks)
    assert errors(package) == []
    # Read a page of awards at a time: pages of one give the same document.
    monkeypatch.setattr(giving360, "AWARD_PAGE", 1)
    assert generate(db, call, settings) == chunks

    for field in ("amountAwarded", "id", "awardDate", "recipientOrganization"):
        broken = copy.deepcopy(package)
        del broken["grants"][0][field]
        assert errors(broken), f"a grant without {field} passed validation"
    wrong_types = copy.deepcopy(package)
    wrong_types["grants"][1]["amountAwarded"] = "250000.00"
    assert any("amountAwarded" in e for e in errors(wrong_types))
    bad_date = copy.deepcopy(package)
    bad_date["grants"][0]["awardDate"] = "2026-13-01"
    assert errors(bad_date)
    bad_currency = copy.deepcopy(package)
    bad_currency["grants"][0]["currency"] = "usd"
    assert errors(bad_currency)


def test_grants_carry_exact_values(
    built: Built, db: Database, call: Call, settings: Settings
) -> None:
    package = package_of(generate(db, call, settings))
    ninez_ref = built.ninez.award["reference"]
    other_ref = built.global_org.award["reference"]
    assert package["version"] == "1.4"
    assert package["issued"] == "2026-11-30T18:45:10Z"
    assert package["publisher"] == {
        "identifier": "US-GOV-11",
        "name": "U.S. Department of State, Office to Monitor and Combat Trafficking in Persons",
    }
    grants = by_id(package)
    assert list(grants) == sorted([f"360G-grants-{ninez_ref}", f"360G-grants-{other_ref}"])
    ninez = grants[f"360G-grants-{ninez_ref}"]
    other = grants[f"360G-grants-{other_ref}"]
    lima = ZoneInfo("America/Lima")

    assert ninez["title"] == "Safe homes for children"
    assert ninez["description"] == "Shelters and case management for child victims."
    assert ninez["currency"] == other["currency"] == "USD"
    assert ninez["amountAwarded"] == 100000.01
    assert isinstance(ninez["amountAwarded"], float)
    assert ninez["amountAppliedFor"] == 120000.5
    assert other["amountAwarded"] == 250000
    assert isinstance(other["amountAwarded"], int)
    for award, grant in ((built.ninez, ninez), (built.global_org, other)):
        created = award_row(db, award.id).created_at
        assert grant["awardDate"] == created.astimezone(lima).date().isoformat()
        assert grant["plannedDates"] == [{"startDate": "2026-07-01", "endDate": "2028-06-30"}]
        assert grant["fundingOrganization"] == [
            {
                "id": "US-GOV-11",
                "name": "U.S. Department of State, Office to Monitor and Combat "
                "Trafficking in Persons",
            }
        ]
        assert grant["grantProgramme"] == [
            {"code": f"360G-grants-CALL-{call.id}", "title": "Child protection grants"}
        ]
        assert grant["fromOpenCall"] == "Yes"

    ninez_org_id = award_row(db, built.ninez.id).organization_id
    assert ninez["recipientOrganization"] == [
        {
            "id": f"360G-grants-ORG-{ninez_org_id}",
            "name": "Asociación Niñez Segura",
            "addressCountry": "PE",
        }
    ]
    assert other["recipientOrganization"] == [
        {
            "id": f"US-SAM-{UEI}",
            "name": "Global Child Rights Inc.",
            "addressCountry": "US",
            "url": "https://gcr.example.org",
        }
    ]
    assert ninez["beneficiaryLocation"] == [
        {"id": "lima", "name": "Metropolitan Lima", "description": "100.00 % of the grant"}
    ]
    assert other["beneficiaryLocation"] == [
        {"id": "cusco", "name": "Cusco", "description": "66.67 % of the grant"},
        {"id": "loreto", "name": "Loreto", "description": "33.33 % of the grant"},
    ]
    vocabulary = f"360G-grants-CALL-{call.id}-objectives"
    assert other["classifications"] == [
        {"vocabulary": vocabulary, "code": "prevention", "title": "Prevention"},
        {"vocabulary": vocabulary, "code": "prosecution", "title": "Prosecution"},
    ]

    # Payments net of the reversal; every entry is a transaction, the reversal negative.
    assert ninez["amountDisbursed"] == 15000.25
    assert other["amountDisbursed"] == 0
    assert "disbursementTransaction" not in other
    transactions = {t["id"]: t for t in ninez["disbursementTransaction"]}
    payment = f"360G-grants-DISB-{built.payment_id}"
    assert transactions == {
        payment: {
            "id": payment,
            "transactionDate": built.paid_on,
            "currency": "USD",
            "value": 40000,
            "description": "Payment for milestone: Milestone 1",
        },
        f"360G-grants-DISB-{built.reversal_id}": {
            "id": f"360G-grants-DISB-{built.reversal_id}",
            "transactionDate": built.reversed_on,
            "currency": "USD",
            "value": -40000,
            "description": f"Reversal of {payment}",
        },
        f"360G-grants-DISB-{built.second_payment_id}": {
            "id": f"360G-grants-DISB-{built.second_payment_id}",
            "transactionDate": built.paid_on,
            "currency": "USD",
            "value": 15000.25,
            "description": "Payment for milestone: Milestone 1",
        },
    }
    assert sum(round(t["value"] * 100) for t in transactions.values()) == 1500025

    # Accents travel as UTF-8 characters, not \u escapes.
    raw = b"".join(generate(db, call, settings))
    assert "Asociación Niñez Segura".encode() in raw

    # The identifiers follow the configured prefix and funder.
    custom = settings.model_copy(
        update={
            "giving360_id_prefix": "360G-tip",
            "funding_org_id": "XI-EXAMPLE-1",
            "funding_org_name": "Fondo Niñez",
        }
    )
    renamed = package_of(generate(db, call, custom))
    assert errors(renamed) == []
    assert sorted(by_id(renamed)) == sorted([f"360G-tip-{ninez_ref}", f"360G-tip-{other_ref}"])
    assert renamed["grants"][0]["fundingOrganization"] == [
        {"id": "XI-EXAMPLE-1", "name": "Fondo Niñez"}
    ]


def test_a_call_without_awards_gives_an_empty_package(
    db: Database, call: Call, settings: Settings
) -> None:
    chunks = generate(db, call, settings)
    assert len(chunks) == 2
    package = package_of(chunks)
    assert package["grants"] == []
    assert package["identifier"] == f"360G-grants-CALL-{call.id}"
    # Everything about it is valid except that the standard wants at least one grant.
    assert [e.validator for e in VALIDATOR.iter_errors(package)] == ["minItems"]


def test_generated_at_must_be_timezone_aware(db: Database, call: Call, settings: Settings) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(db, call, settings, generated_at=datetime(2026, 11, 30, 12, 0))


def test_money_numbers_print_back_as_the_exact_cents() -> None:
    rng = random.Random(360)
    samples = [1, 5, 10, 99, 100, 10000001, 99999999999999, 999999999999999, -4000000]
    samples += [rng.randrange(1, 10**15) for _ in range(20000)]
    for minor in samples:
        number = money_number(minor)
        text = json.dumps(number)
        units, cents = divmod(abs(minor), 100)
        sign = "-" if minor < 0 else ""
        exact = f"{sign}{units}" if cents == 0 else f"{sign}{units}.{cents:02d}".rstrip("0")
        assert text == exact, (minor, text)
        assert round(json.loads(text) * 100) == minor


def test_the_prefix_must_be_a_360giving_prefix() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, GIVING360_ID_PREFIX="grants")  # type: ignore[call-arg]
    assert Settings(_env_file=None).giving360_id_prefix == "360G-grants"  # type: ignore[call-arg]


def test_the_route_streams_the_same_valid_package(
    client: TestClient, factory: Factory, call: Call, built: Built
) -> None:
    finance = _headers(factory, Role.finance_officer)
    response = client.get(
        "/api/v1/reports/360giving", params={"call_id": str(call.id)}, headers=finance
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    package = response.json()
    assert errors(package) == []
    assert sorted(by_id(package)) == sorted(
        [
            f"360G-grants-{built.ninez.award['reference']}",
            f"360G-grants-{built.global_org.award['reference']}",
        ]
    )


def test_the_route_refuses_a_call_without_awards_and_other_roles(
    client: TestClient, factory: Factory, call: Call
) -> None:
    finance = _headers(factory, Role.finance_officer)
    params = {"call_id": str(call.id)}
    empty = client.get("/api/v1/reports/360giving", params=params, headers=finance)
    applicant = client.get(
        "/api/v1/reports/360giving", params=params, headers=_headers(factory, Role.applicant)
    )
    reviewer = client.get(
        "/api/v1/reports/360giving", params=params, headers=_headers(factory, Role.reviewer)
    )
    assert empty.status_code == 409
    assert empty.json()["code"] == "nothing_to_publish"
    assert (applicant.status_code, reviewer.status_code) == (403, 403)
