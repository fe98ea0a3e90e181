"""IATI 2.03 export (SPEC §9): awards built through the API, the document generated directly
from the database, validated against the official schema and checked by hand."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from app.models import Call, Role
from app.reports.iati import (
    SCHEMA_PATH,
    iati_activities,
    organisation_ref,
    percentage,
    sector_shares,
)
from tests.awards.helpers import (
    END,
    START,
    amend,
    approved,
    award,
    awarded,
    disburse,
    get_award,
    kept,
    lima_today,
    person,
    reverse,
    under_review,
)

NINEZ = "Asociación Niñez"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


@pytest.fixture
def call(factory):
    return factory.call()


@pytest.fixture
def officer(factory):
    return person(factory, Role.program_officer)


@pytest.fixture
def finance(factory):
    return person(factory, Role.finance_officer)


def generate(db, settings, call_id, generated_at: datetime | None = None) -> list[bytes]:
    with db.transaction(read_only=True) as session:
        call = session.get(Call, call_id)
        moment = generated_at or datetime.now(UTC)
        return list(iati_activities(session, call, settings, generated_at=moment))


def parse(chunks: list[bytes], schema: etree.XMLSchema) -> Any:
    document = etree.fromstring(b"".join(chunks))
    schema.assertValid(document)
    return document


def by_identifier(document: Any) -> dict[str, Any]:
    return {a.findtext("iati-identifier"): a for a in document.findall("iati-activity")}


def transactions(activity: Any) -> list[tuple[str, str]]:
    return [
        (t.find("transaction-type").get("code"), t.findtext("value"))
        for t in activity.findall("transaction")
    ]


def sectors(activity: Any) -> dict[str, str]:
    return {s.get("code"): s.get("percentage") for s in activity.findall("sector")}


def narratives(activity: Any, path: str) -> list[str]:
    return [n.text for n in activity.findall(f"{path}/narrative")]


@pytest.fixture
def programme(client, factory, call, officer, finance):
    """Two awards, each over two regions (33.33 / 66.67) and two objectives: the first paid
    25000.00 + 35000.00 with the first payment reversed, the second raised then lowered."""
    ninez = factory.organization(NINEZ, uei="ABC123DEF456")
    first = awarded(
        client,
        factory,
        call.id,
        officer.headers,
        "100000.00",
        ["60000.00", "40000.00"],
        applicant=factory.headers(factory.user(Role.applicant, organization=ninez)),
        regions=(("lima", "33.33"), ("cusco", "66.67")),
        objectives=("prosecution", "protection"),
    )
    approved(client, first.milestone(1), first.applicant, officer.headers)
    paid = disburse(client, first.id, finance.headers, first.milestone(1), "25000.00")
    assert paid.status_code == 201, paid.text
    more = disburse(client, first.id, finance.headers, first.milestone(1), "35000.00")
    assert more.status_code == 201, more.text
    reversed_ = reverse(client, paid.json()["id"], finance.headers)
    assert reversed_.status_code == 201, reversed_.text

    local = factory.organization("Centro Loreto", registration_number="20512345678")
    second = awarded(
        client,
        factory,
        call.id,
        officer.headers,
        "80000.00",
        applicant=factory.headers(factory.user(Role.applicant, organization=local)),
        requested_amount="100000.00",
        regions=(("cusco", "33.33"), ("loreto", "66.67")),
        objectives=("protection", "prevention"),
    )
    (milestone,) = second.award["milestones"]
    extension = {
        "title": "Extension phase",
        "due_date": (END - timedelta(days=30)).isoformat(),
        "amount": "15000.50",
    }
    raised = amend(
        client, second.id, officer.headers, "95000.50", [kept(milestone, "80000.00"), extension]
    )
    assert raised.status_code == 201, raised.text
    added = raised.json()["award"]["milestones"][1]
    lowered = amend(
        client,
        second.id,
        officer.headers,
        "85000.00",
        [kept(milestone, "70000.00"), kept(added, "15000.00")],
    )
    assert lowered.status_code == 201, lowered.text
    return first, second


def test_the_awards_of_a_call_as_valid_iati_activities(
    client, db, settings, schema, call, programme, finance
):
    first, second = programme
    chunks = generate(db, settings, call.id)
    document = parse(chunks, schema)

    assert chunks[0].startswith(b"<?xml")
    # The programme (its opening, its list of awards), one chunk per award, the closing.
    assert len(chunks) >= 5
    assert document.tag == "iati-activities" and document.get("version") == "2.03"
    activities = by_identifier(document)
    prefix = settings.iati_reporting_org_ref
    programme_id = f"{prefix}-CALL-{call.id}"
    first_id = f"{prefix}-{first.award['reference']}"
    second_id = f"{prefix}-{second.award['reference']}"
    assert list(activities) == [programme_id, *sorted([first_id, second_id])]

    parent, one, two = activities[programme_id], activities[first_id], activities[second_id]
    assert [parent.get("hierarchy"), one.get("hierarchy"), two.get("hierarchy")] == ["1", "2", "2"]
    assert [r.get("ref") for r in parent.findall("related-activity")] == sorted(
        [first_id, second_id]
    )
    assert {r.get("type") for r in parent.findall("related-activity")} == {"2"}
    for child in (one, two):
        (link,) = child.findall("related-activity")
        assert (link.get("ref"), link.get("type")) == (programme_id, "1")

    # Money on the awards only: the commitment, then payments and the reversal (negative).
    assert transactions(parent) == []
    assert transactions(one) == [
        ("2", "100000.00"),
        ("3", "25000.00"),
        ("3", "35000.00"),
        ("3", "-25000.00"),
    ]
    # 80000.00, raised by 15000.50, lowered by 10000.50: the commitments sum to the award.
    assert transactions(two) == [("2", "80000.00"), ("2", "15000.50"), ("2", "-10000.50")]
    assert sum(Decimal(v) for _, v in transactions(two)) == Decimal(
        get_award(client, second.id, finance.headers)["amount"]
    )

    assert sectors(one) == {"15130": "50.00", "16010": "50.00"}
    assert sectors(two) == {"16010": "50.00", "15160": "50.00"}
    # The call's three objectives: 100 split 33.34 / 33.33 / 33.33.
    assert sectors(parent) == {"15130": "33.34", "16010": "33.33", "15160": "33.33"}
    for activity in (parent, one, two):
        assert {s.get("vocabulary") for s in activity.findall("sector")} == {"1"}
        assert sum(Decimal(p) for p in sectors(activity).values()) == 100
        (country,) = activity.findall("recipient-country")
        assert (country.get("code"), Decimal(country.get("percentage"))) == ("PE", 100)

    assert narratives(one, "location/name") == ["Metropolitan Lima", "Cusco"]
    assert narratives(one, "location/description") == [
        "33.33% of the activity",
        "66.67% of the activity",
    ]
    assert [r.get("code") for r in one.findall("location/location-reach")] == ["1", "1"]
    assert narratives(two, "location/name") == ["Cusco", "Loreto"]
    assert narratives(parent, "location/name") == ["Metropolitan Lima", "Cusco", "Loreto"]

    status = {
        a.findtext("iati-identifier"): a.find("activity-status").get("code")
        for a in (parent, one, two)
    }
    assert status == {programme_id: "2", first_id: "2", second_id: "2"}
    # The programme starts with the call's opening or its first award, whichever is earlier.
    assert parent.find("activity-date").get("iso-date") == START.isoformat()
    start = {d.get("type"): d.get("iso-date") for d in one.findall("activity-date")}
    assert start == {"2" if lima_today() >= START else "1": START.isoformat(), "3": END.isoformat()}


def test_dates_currencies_and_organisations_follow_the_iati_rules(
    db, settings, schema, call, programme
):
    first, second = programme
    raw = b"".join(generate(db, settings, call.id))
    document = parse([raw], schema)
    today = lima_today()

    for activity in document.findall("iati-activity"):
        assert activity.get("default-currency") == "USD"
        assert activity.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
        for value in activity.iter("value"):
            assert value.get("currency") == "USD"
            assert date.fromisoformat(value.get("value-date")) <= today
        for when in activity.iter("transaction-date"):
            assert date.fromisoformat(when.get("iso-date")) <= today
        for when in activity.findall("activity-date"):
            if when.get("type") in {"2", "4"}:  # actual dates
                assert date.fromisoformat(when.get("iso-date")) <= today

    activities = by_identifier(document)
    one = activities[f"{settings.iati_reporting_org_ref}-{first.award['reference']}"]
    two = activities[f"{settings.iati_reporting_org_ref}-{second.award['reference']}"]
    # The non-ASCII name survives, as UTF-8 text rather than character references.
    assert NINEZ.encode() in raw
    funding, implementing = one.findall("participating-org")
    assert (funding.get("role"), funding.get("ref"), funding.get("type")) == (
        "1",
        settings.iati_reporting_org_ref,
        "10",
    )
    assert (implementing.get("role"), implementing.get("ref"), implementing.get("type")) == (
        "4",
        "US-SAM-ABC123DEF456",
        "22",
    )
    assert narratives(one, "participating-org[@role='4']") == [NINEZ]
    assert set(narratives(one, "transaction/receiver-org")) == {NINEZ}
    assert set(narratives(one, "transaction/provider-org")) == {settings.iati_reporting_org_name}
    # A plain registration number names no identifier list: no ref rather than a made-up one.
    assert two.find("participating-org[@role='4']").get("ref") is None
    assert two.find("transaction/receiver-org").get("ref") is None
    assert narratives(one, "title") == ["Safe homes for children"]
    assert one.find("description").get("type") == "1"


def test_a_call_without_awards_is_still_a_valid_document(db, settings, schema, factory):
    empty = factory.call()
    custom = settings.model_copy(update={"iati_activity_prefix": "XM-EXAMPLE-TIP"})

    document = parse(generate(db, custom, empty.id), schema)

    (activity,) = document.findall("iati-activity")
    assert activity.findtext("iati-identifier") == f"XM-EXAMPLE-TIP-CALL-{empty.id}"
    assert activity.find("reporting-org").get("ref") == settings.iati_reporting_org_ref
    assert activity.find("activity-status").get("code") == "1"
    assert activity.findall("transaction") == activity.findall("related-activity") == []


def test_a_fully_paid_award_is_in_finalisation_and_a_future_start_is_planned(
    client, db, settings, schema, factory, call, officer, finance
):
    paid_off = awarded(client, factory, call.id, officer.headers, "50000.00")
    approved(client, paid_off.milestone(1), paid_off.applicant, officer.headers)
    response = disburse(client, paid_off.id, finance.headers, paid_off.milestone(1), "50000.00")
    assert response.status_code == 201, response.text
    later = lima_today() + timedelta(days=40)
    applicant = factory.login(Role.applicant)[1]
    application = under_review(client, call.id, applicant, officer.headers)
    planned = award(
        client,
        application["id"],
        officer.headers,
        "60000.00",
        start=later,
        end=later.replace(year=later.year + 1),
    )
    assert planned.status_code == 201, planned.text

    activities = by_identifier(parse(generate(db, settings, call.id), schema))

    prefix = settings.iati_reporting_org_ref
    done = activities[f"{prefix}-{paid_off.award['reference']}"]
    assert done.find("activity-status").get("code") == "3"
    # Finalised, but the award period has not ended: no actual end date yet.
    assert {d.get("type") for d in done.findall("activity-date")} <= {"1", "2", "3"}
    future = activities[f"{prefix}-{planned.json()['reference']}"]
    assert future.find("activity-status").get("code") == "2"
    dates = {d.get("type"): d.get("iso-date") for d in future.findall("activity-date")}
    assert dates["1"] == later.isoformat() and "2" not in dates
    # One award still has unpaid milestones, so the programme is being implemented.
    assert activities[f"{prefix}-CALL-{call.id}"].find("activity-status").get("code") == "2"


def test_a_document_generated_before_the_payments_leaves_them_out(
    db, settings, schema, call, programme, caplog
):
    before = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="app.reports.iati"):
        document = parse(generate(db, settings, call.id, generated_at=before), schema)

    assert document.get("generated-datetime") == "2026-01-01T12:00:00Z"
    assert document.findall(".//transaction") == []
    assert "after the generation date" in caplog.text
    for activity in document.findall("iati-activity")[1:]:
        types = {d.get("type") for d in activity.findall("activity-date")}
        assert types == {"1", "3"}  # the start, 2026-07-01, was still planned


def test_generated_at_must_be_timezone_aware(db, settings, call):
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(db, settings, call.id, generated_at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["prosecution"], [("15130", 10000)]),
        (
            ["prosecution", "protection", "prevention"],
            [("15130", 3334), ("16010", 3333), ("15160", 3333)],
        ),
        # Two objectives on one purpose code are summed: 33.34 + 33.33 for 15160.
        (["prevention", "protection", "partnership"], [("15160", 6667), ("16010", 3333)]),
    ],
)
def test_objectives_become_dac_purpose_codes_summing_to_100(codes, expected):
    shares = [(sector.code, share) for sector, share in sector_shares(codes)]
    assert shares == expected
    assert percentage(3333) == "33.33" and percentage(10000) == "100.00"


@pytest.mark.parametrize(
    ("uei", "registration", "expected"),
    [
        ("abc123def456", None, "US-SAM-ABC123DEF456"),
        (None, "GB-COH-06368740", "GB-COH-06368740"),
        (None, "20512345678", None),
        ("  ", "RUC 20512345678", None),
    ],
)
def test_the_implementing_organisation_ref(uei, registration, expected):
    assert organisation_ref(uei, registration) == expected


def test_the_route_streams_a_schema_valid_document(client, factory, call, programme, schema):
    response = client.get(
        "/api/v1/reports/iati",
        params={"call_id": str(call.id)},
        headers=factory.login(Role.finance_officer)[1],
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    document = etree.fromstring(response.content)
    schema.assertValid(document)
    # The call's parent activity plus one activity per award.
    assert len(document.findall("iati-activity")) == 3


def test_the_route_is_for_finance_and_programme_staff_only(client, factory, call):
    params = {"call_id": str(call.id)}
    for role, expected in (
        (Role.applicant, 403),
        (Role.reviewer, 403),
        (Role.program_officer, 200),
        (Role.admin, 200),
    ):
        response = client.get("/api/v1/reports/iati", params=params, headers=factory.login(role)[1])
        assert response.status_code == expected, role
