"""Scores and ranking (SPEC §7) against numbers worked out by hand, the CSV export, and a
ranking whose cost in SQL statements does not grow with the number of applications.

The default call's rubric is approach (weight 60, max 10) and capacity (weight 40, max 5), so
a review's total is t = approach / 10 * 60 + capacity / 5 * 40 = 6 * approach + 8 * capacity.
Its envelope is 1,000,000.00.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from app.models import (
    Application,
    ApplicationStatus,
    Assignment,
    Call,
    Review,
    ReviewStatus,
    Role,
    User,
)
from app.models.base import utcnow
from tests.reviews.helpers import (
    API,
    Applicant,
    Headers,
    applicant,
    assigned,
    draft,
    scored,
    screen,
    set_panel,
    set_status,
    submit,
    submitted,
    under_review,
    upload_proposal,
)
from tests.support.factories import Factory

RANKING_COLUMNS = [
    "rank",
    "application_id",
    "reference",
    "title",
    "organization",
    "requested_amount",
    "reviews_submitted",
    "reviews_expected",
    "mean_score",
    "normalized_score",
    "score_stddev",
    "disagreement",
    "cumulative_requested",
    "within_envelope",
    "status",
]
FORMULA_TITLE = "=SUM(A1:A9)"


def ranking(client: TestClient, call_id: Any, headers: Headers) -> list[dict[str, Any]]:
    response = client.get(f"{API}/calls/{call_id}/ranking", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_the_ranking_matches_scores_worked_out_by_hand(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    _, admin = factory.login(Role.admin)
    a, a_headers = factory.login(Role.reviewer)  # 3 varied reviews: normalised
    b, b_headers = factory.login(Role.reviewer)  # 2 reviews: kept as they are
    c, c_headers = factory.login(Role.reviewer)  # 3 equal reviews: sigma_r = 0
    call = factory.call()
    set_panel(client, call.id, officer, a, b, c)

    def apply(name: str, amount: str, **body: Any) -> dict[str, Any]:
        who = applicant(factory, factory.organization(f"Org {name}"))
        return under_review(client, call.id, who, officer, requested_amount=amount, **body)

    # Created (and submitted) out of ranking order, so no order of creation can pass for it.
    p3 = apply("P3", "300000.00")
    p5 = apply("P5", "50000.00", title=FORMULA_TITLE)
    p1 = apply("P1", "400000.00")
    p4 = apply("P4", "100000.00")
    p2 = apply("P2", "300000.00")
    ineligible = submitted(client, call.id, applicant(factory))
    assert screen(client, ineligible["id"], officer, eligible=False).status_code == 200
    quitter = applicant(factory)
    withdrawn = under_review(client, call.id, quitter, officer)
    assert client.post(
        f"{API}/applications/{withdrawn['id']}/withdraw", headers=quitter.headers
    ).is_success
    for application, reviewers in [
        (p1, [a, c]),
        (p2, [a, b, c]),
        (p3, [a, b]),
        (p4, [c]),
        (p5, [a]),  # assigned, never reviewed
    ]:
        for reviewer in reviewers:
            assigned(client, application["id"], reviewer, officer)
    scored(client, p1["id"], a_headers, 8, 4)  # A: 48 + 32 = 80
    scored(client, p2["id"], a_headers, 6, 3)  # A: 36 + 24 = 60
    scored(client, p3["id"], a_headers, 4, 2)  # A: 24 + 16 = 40
    scored(client, p2["id"], b_headers, 5, 5)  # B: 30 + 40 = 70
    scored(client, p3["id"], b_headers, 9, 3)  # B: 54 + 24 = 78
    scored(client, p1["id"], c_headers, 3, 4)  # C: 18 + 32 = 50
    scored(client, p2["id"], c_headers, 3, 4)  # C: 50
    scored(client, p4["id"], c_headers, 3, 4)  # C: 50
    # Decided applications stay ranked (awards are built elsewhere: set directly).
    set_status(factory.db, p2["id"], ApplicationStatus.awarded)
    set_status(factory.db, p4["id"], ApplicationStatus.declined)

    rows = ranking(client, call.id, officer)

    # The 8 totals 80, 60, 40, 70, 78, 50, 50, 50 sum to 478: mu = 478 / 8 = 59.75.
    # Deviations 20.25, 0.25, -19.75, 10.25, 18.25, -9.75 x 3; squares 410.0625, 0.0625,
    # 390.0625, 105.0625, 333.0625, 95.0625 x 3 = 285.1875; sum 1523.5: sigma^2 = 190.4375.
    # A: mu_A = (80 + 60 + 40) / 3 = 60, sigma_A^2 = (20^2 + 0 + 20^2) / 3 = 800 / 3, so A's
    # totals map to 59.75 + (t - 60) * k with k = sigma / sigma_A:
    #   80 -> 59.75 + 20k, 60 -> 59.75, 40 -> 59.75 - 20k.
    # C: mu_C = 50, sigma_C = 0, so each 50 maps to 50 - 50 + 59.75 = 59.75.
    # B: two reviews (< 3), kept: 70 and 78.
    k = math.sqrt(190.4375 / (800 / 3))  # about 0.84507
    expected = {
        # P1: A 80, C 50. mean 65; normalised (59.75 + 20k + 59.75) / 2 = 59.75 + 10k (68.20);
        # stddev |80 - 50| / 2 = 15, which does not exceed 15.
        p1["id"]: (2, 2, 65.0, round(59.75 + 10 * k, 2), 15.0, False),
        # P2: A 60, B 70, C 50. mean 60; normalised (59.75 + 70 + 59.75) / 3 = 189.5 / 3
        # (63.17); stddev sqrt((0^2 + 10^2 + 10^2) / 3) = sqrt(200 / 3) (8.16).
        p2["id"]: (3, 3, 60.0, round(189.5 / 3, 2), round(math.sqrt(200 / 3), 2), False),
        # P3: A 40, B 78. mean 59; normalised (59.75 - 20k + 78) / 2 = 68.875 - 10k (60.42);
        # stddev |78 - 40| / 2 = 19 > 15: disagreement.
        p3["id"]: (2, 2, 59.0, round(68.875 - 10 * k, 2), 19.0, True),
        # P4: C's single 50. mean 50, normalised 59.75, stddev 0.
        p4["id"]: (1, 1, 50.0, 59.75, 0.0, False),
        # P5: assigned to A, no submitted review.
        p5["id"]: (0, 1, None, None, None, False),
    }
    assert [r["application_id"] for r in rows] == [p1["id"], p2["id"], p3["id"], p4["id"], p5["id"]]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert {
        r["application_id"]: (
            r["reviews_submitted"],
            r["reviews_expected"],
            r["mean_score"],
            r["normalized_score"],
            r["score_stddev"],
            r["disagreement"],
        )
        for r in rows
    } == expected
    # Requested 400,000 + 300,000 + 300,000 + 100,000 + 50,000 down the ranking, against an
    # envelope of 1,000,000: exactly at the envelope still fits.
    assert [(r["cumulative_requested"], r["within_envelope"]) for r in rows] == [
        ("400000.00", True),
        ("700000.00", True),
        ("1000000.00", True),
        ("1100000.00", False),
        ("1150000.00", False),
    ]
    assert [r["status"] for r in rows] == [
        "under_review",
        "awarded",
        "under_review",
        "declined",
        "under_review",
    ]
    assert [r["organization"] for r in rows] == ["Org P1", "Org P2", "Org P3", "Org P4", "Org P5"]
    assert [r["requested_amount"] for r in rows] == [
        "400000.00",
        "300000.00",
        "300000.00",
        "100000.00",
        "50000.00",
    ]
    assert rows[4]["title"] == FORMULA_TITLE
    # The same numbers per application on the scores route.
    p3_scores = client.get(f"{API}/applications/{p3['id']}/scores", headers=officer).json()
    assert (p3_scores["mean_score"], p3_scores["normalized_score"]) == (59.0, expected[p3["id"]][3])
    assert ranking(client, call.id, admin) == rows

    export = client.get(f"{API}/calls/{call.id}/ranking", params={"format": "csv"}, headers=officer)

    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert table[0] == RANKING_COLUMNS
    assert len(table) == 1 + len(rows)

    def as_csv(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    for line, row in zip(table[1:], rows, strict=True):
        cells = dict(zip(RANKING_COLUMNS, line, strict=True))
        for column in RANKING_COLUMNS:
            if column == "title":
                continue
            if column in ("mean_score", "normalized_score", "score_stddev") and cells[column]:
                assert float(cells[column]) == row[column], column
            else:
                assert cells[column] == as_csv(row[column]), column
    titles = [dict(zip(RANKING_COLUMNS, line, strict=True))["title"] for line in table[1:]]
    assert titles[:4] == [r["title"] for r in rows[:4]]
    assert titles[4] == "'" + FORMULA_TITLE

    for role in (Role.applicant, Role.reviewer, Role.finance_officer):
        _, headers = factory.login(role)
        for params in ({}, {"format": "csv"}):
            refused = client.get(f"{API}/calls/{call.id}/ranking", params=params, headers=headers)
            assert refused.status_code == 403, (role, params)


def test_ties_are_broken_by_mean_score_then_by_earlier_submission(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    solo, solo_headers = factory.login(Role.reviewer)  # 1 review: kept as it is
    pair, pair_headers = factory.login(Role.reviewer)  # 2 reviews: kept as they are
    flat, flat_headers = factory.login(Role.reviewer)  # 3 equal reviews: shifted to mu
    call = factory.call()
    set_panel(client, call.id, officer, solo, pair, flat)
    applicants = [applicant(factory) for _ in range(5)]
    y1, y2, x1, x2, z = (draft(client, call.id, who) for who in applicants)
    for application, who in zip((y1, y2, x1, x2, z), applicants, strict=True):
        upload_proposal(client, application["id"], who)
    # Submitted against the order of their references: x2, x1, y2, y1, z.
    for application, who in [(x2, applicants[3]), (x1, applicants[2]), (y2, applicants[1])]:
        submit(client, application["id"], who)
    submit(client, y1["id"], applicants[0])
    submit(client, z["id"], applicants[4])
    for application in (y1, y2, x1, x2, z):
        assert screen(client, application["id"], officer).status_code == 200
    for application, reviewer in [
        (z, solo),
        (z, flat),
        (x1, flat),
        (x2, flat),
        (y1, pair),
        (y2, pair),
    ]:
        assigned(client, application["id"], reviewer, officer)
    scored(client, z["id"], solo_headers, 8, 4)  # 48 + 32 = 80
    scored(client, z["id"], flat_headers, 4, 2)  # 24 + 16 = 40
    scored(client, x1["id"], flat_headers, 4, 2)  # 40
    scored(client, x2["id"], flat_headers, 4, 2)  # 40
    scored(client, y1["id"], pair_headers, 3, 4)  # 18 + 32 = 50
    scored(client, y2["id"], pair_headers, 3, 4)  # 50

    rows = ranking(client, call.id, officer)

    # Totals 80, 40, 40, 40, 50, 50: mu = 300 / 6 = 50. flat's three 40s (sigma_r = 0) map
    # to 40 - 40 + 50 = 50; solo's 80 and pair's 50s are kept.
    #   z:      normalised (80 + 50) / 2 = 65, mean (80 + 40) / 2 = 60, stddev 20 > 15
    #   y1, y2: normalised 50, mean 50
    #   x1, x2: normalised 50, mean 40
    # y* before x* on mean_score; within each pair, the earlier submission first.
    assert [r["application_id"] for r in rows] == [z["id"], y2["id"], y1["id"], x2["id"], x1["id"]]
    assert [(r["normalized_score"], r["mean_score"]) for r in rows] == [
        (65.0, 60.0),
        (50.0, 50.0),
        (50.0, 50.0),
        (50.0, 40.0),
        (50.0, 40.0),
    ]
    assert [r["disagreement"] for r in rows] == [True, False, False, False, False]
    assert rows[0]["score_stddev"] == 20.0  # |80 - 40| / 2


# --- query count ------------------------------------------------------------------------


def _add_reviewed_applications(
    factory: Factory, call: Call, reviewers: list[User], count: int
) -> None:
    """`count` applications under review, each with a submitted review by every reviewer,
    written straight to the database: only the ranking's reads are being measured."""
    now = utcnow()
    for _ in range(count):
        owner: Applicant = applicant(factory)
        with factory.db.transaction() as session:
            application = Application(
                reference=f"APP-2099-{uuid.uuid4().int % 10**8:08d}",
                call_id=call.id,
                organization_id=owner.organization.id,
                created_by_id=owner.user.id,
                status=ApplicationStatus.under_review,
                title="Bulk proposal",
                requested_amount=10_000_000,
                submitted_at=now - timedelta(minutes=1),
            )
            session.add(application)
            session.flush()
            for n, reviewer in enumerate(reviewers):
                session.add(
                    Assignment(
                        call_id=call.id,
                        application_id=application.id,
                        reviewer_id=reviewer.id,
                        assigned_by_id=reviewer.id,
                    )
                )
                session.add(
                    Review(
                        call_id=call.id,
                        application_id=application.id,
                        reviewer_id=reviewer.id,
                        status=ReviewStatus.submitted,
                        scores={"approach": 5 + n, "capacity": 3},
                        recommendation="fund",
                        submitted_at=now,
                    )
                )


def test_the_ranking_costs_the_same_number_of_statements_for_3_or_12_applications(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _, officer = factory.login(Role.program_officer)
    reviewers = [factory.user(Role.reviewer) for _ in range(3)]
    call = factory.call()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def statements_for_ranking(expected_rows: int) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            rows = ranking(client, call.id, officer)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(rows) == expected_rows
        assert all(r["reviews_submitted"] == 3 for r in rows)
        return len(statements)

    _add_reviewed_applications(factory, call, reviewers, 3)
    with_3 = statements_for_ranking(3)
    _add_reviewed_applications(factory, call, reviewers, 9)
    with_12 = statements_for_ranking(12)

    assert with_3 == with_12, statements
    assert with_3 > 0
