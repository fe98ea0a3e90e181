"""GET /calls/{id}/allocation: totals, and splits by region and by objective worked out by
hand with the largest-remainder rule (ties to the code that comes first in the call's list).

The call lists regions lima, cusco, loreto and objectives prosecution, protection,
prevention. Amounts are in cents below; a share of 33.33 % is the weight 3333 of 10000.
"""

from __future__ import annotations

import pytest

from app.models import Role
from tests.awards.helpers import (
    API,
    allocation,
    approved,
    assert_reconciles,
    awarded,
    cents,
    disburse,
    reverse,
)


def _split(body, key, field):
    return [(part["code"], part[field]) for part in body[key]]


def _assert_parts_add_up(body):
    for key in ("by_region", "by_objective"):
        for field in ("awarded", "disbursed"):
            assert sum(cents(p[field]) for p in body[key]) == cents(body[field]), (key, field)


@pytest.fixture
def two_awards(client, factory, call, officer):
    """Award A 123456.03 over lima/cusco/loreto 33.33/33.33/33.34 and two objectives;
    award B 87654.35 over loreto/lima 50/50 and all three objectives (listed out of the
    call's order, which must not matter)."""
    a = awarded(
        client,
        factory,
        call.id,
        officer.headers,
        "123456.03",
        ["60000.00", "63456.03"],
        requested_amount="130000.00",
        regions=[("lima", "33.33"), ("cusco", "33.33"), ("loreto", "33.34")],
        objectives=["prevention", "protection"],
    )
    b = awarded(
        client,
        factory,
        call.id,
        officer.headers,
        "87654.35",
        ["50000.00", "37654.35"],
        requested_amount="90000.00",
        regions=[("loreto", 50), ("lima", 50)],
        objectives=["prevention", "prosecution", "protection"],
    )
    approved(client, a.milestone(1), a.applicant, officer.headers)
    approved(client, b.milestone(1), b.applicant, officer.headers)
    return a, b


# Awarded, by hand.
#
# A = 12345603 cents by region (weights 3333, 3333, 3334 of 10000):
#   lima   12345603 * 3333 = 41147894799 -> 4114789, remainder 4799
#   cusco  the same                      -> 4114789, remainder 4799
#   loreto 12345603 * 3334 = 41160240402 -> 4116024, remainder  402
#   floors 4114789 + 4114789 + 4116024 = 12345602: one cent left, to the largest remainder,
#   4799, tied between lima and cusco -> lima (first in the call's list).
#   lima 41147.90, cusco 41147.89, loreto 41160.24.
# A by objective, halves of 12345603: 6172801 remainder 1 each; one cent left, tied between
#   protection and prevention -> protection (before prevention in the call's list).
#   protection 61728.02, prevention 61728.01.
# B = 8765435 cents by region, halves: 4382717 remainder 5000 each; one cent left, tied
#   between lima and loreto -> lima. lima 43827.18, loreto 43827.17.
# B by objective, thirds: 8765435 = 3 * 2921811 + 2; all remainders tie, two cents left ->
#   prosecution and protection. prosecution 29218.12, protection 29218.12, prevention 29218.11.
AWARDED_BY_REGION = [
    ("lima", "84975.08"),  # 41147.90 + 43827.18
    ("cusco", "41147.89"),  # 41147.89 + 0
    ("loreto", "84987.41"),  # 41160.24 + 43827.17
]
AWARDED_BY_OBJECTIVE = [
    ("prosecution", "29218.12"),  # 0 + 29218.12
    ("protection", "90946.14"),  # 61728.02 + 29218.12
    ("prevention", "90946.12"),  # 61728.01 + 29218.11
]
# 123456.03 + 87654.35 = 211110.38 awarded; 1000000.00 - 211110.38 = 788889.62 uncommitted.


def test_the_allocation_splits_awards_and_payments_to_the_cent(
    client, call, two_awards, finance, officer
):
    a, b = two_awards
    before = allocation(client, call.id, finance.headers)
    assert (before["envelope"], before["awarded"], before["uncommitted"]) == (
        "1000000.00",
        "211110.38",
        "788889.62",
    )
    assert _split(before, "by_region", "awarded") == AWARDED_BY_REGION
    assert _split(before, "by_objective", "awarded") == AWARDED_BY_OBJECTIVE
    assert _split(before, "by_region", "disbursed") == [
        ("lima", "0.00"),
        ("cusco", "0.00"),
        ("loreto", "0.00"),
    ]

    # Payment 1, on A: 1000001 cents. Regions: 1000001 * 3333 = 3333003333 -> 333300 r 3333
    # (lima, cusco); 1000001 * 3334 = 3334003334 -> 333400 r 3334 (loreto); one cent left,
    # largest remainder loreto: 3333.00 / 3333.00 / 3334.01. Objectives: halves 500000 r 1,
    # tie -> protection 5000.01, prevention 5000.00.
    assert disburse(client, a.id, finance.headers, a.milestone(1), "10000.01").status_code == 201
    # Payment 2, on B: 2000000 cents. Regions: lima 10000.00, loreto 10000.00. Objectives:
    # 2000000 = 3 * 666666 + 2 -> prosecution 6666.67, protection 6666.67, prevention 6666.66.
    assert disburse(client, b.id, finance.headers, b.milestone(1), "20000.00").status_code == 201
    # Payment 3, on B: 500005 cents. Regions: halves 250002 r 5000, tie -> lima 2500.03,
    # loreto 2500.02. Objectives: 500005 = 3 * 166668 + 1, tie -> prosecution 1666.69,
    # protection 1666.68, prevention 1666.68.
    third = disburse(client, b.id, finance.headers, b.milestone(1), "5000.05")
    assert third.status_code == 201, third.text

    during = allocation(client, call.id, finance.headers)
    # 10000.01 + 20000.00 + 5000.05 = 35000.06 paid; 211110.38 - 35000.06 = 176110.32 left.
    assert (during["disbursed"], during["undisbursed"]) == ("35000.06", "176110.32")
    assert _split(during, "by_region", "disbursed") == [
        ("lima", "15833.03"),  # 3333.00 + 10000.00 + 2500.03
        ("cusco", "3333.00"),  # 3333.00
        ("loreto", "15834.03"),  # 3334.01 + 10000.00 + 2500.02
    ]
    assert _split(during, "by_objective", "disbursed") == [
        ("prosecution", "8333.36"),  # 0 + 6666.67 + 1666.69
        ("protection", "13333.36"),  # 5000.01 + 6666.67 + 1666.68
        ("prevention", "13333.34"),  # 5000.00 + 6666.66 + 1666.68
    ]
    _assert_parts_add_up(during)

    # The reversal of payment 3 is split like the payment it reverses, so it cancels part
    # by part: back to the figures of payments 1 and 2 alone.
    assert reverse(client, third.json()["id"], finance.headers).status_code == 201

    after = allocation(client, call.id, finance.headers)
    # 10000.01 + 20000.00 = 30000.01 paid; 211110.38 - 30000.01 = 181110.37 left.
    assert (after["envelope"], after["awarded"], after["uncommitted"]) == (
        "1000000.00",
        "211110.38",
        "788889.62",
    )
    assert (after["disbursed"], after["undisbursed"]) == ("30000.01", "181110.37")
    assert _split(after, "by_region", "awarded") == AWARDED_BY_REGION
    assert _split(after, "by_objective", "awarded") == AWARDED_BY_OBJECTIVE
    assert _split(after, "by_region", "disbursed") == [
        ("lima", "13333.00"),  # 3333.00 + 10000.00
        ("cusco", "3333.00"),
        ("loreto", "13334.01"),  # 3334.01 + 10000.00
    ]
    assert _split(after, "by_objective", "disbursed") == [
        ("prosecution", "6666.67"),  # 0 + 6666.67
        ("protection", "11666.68"),  # 5000.01 + 6666.67
        ("prevention", "11666.66"),  # 5000.00 + 6666.66
    ]
    _assert_parts_add_up(after)
    assert cents(after["awarded"]) + cents(after["uncommitted"]) == cents(after["envelope"])
    assert cents(after["disbursed"]) <= cents(after["awarded"])
    assert after["currency"] == "USD"
    assert_reconciles(client, call.id, finance.headers)


def test_a_cofunding_pledge_in_soles_is_reported_beside_the_dollars_never_added(
    client, call, two_awards, finance, officer
):
    before = allocation(client, call.id, finance.headers)

    pledged = client.post(
        f"{API}/calls/{call.id}/cofunding",
        json={
            "funder": "Government of Peru",
            "currency": "PEN",
            "amount": "8000000.00",
            "pledged_on": "2026-03-01",
        },
        headers=officer.headers,
    )
    assert pledged.status_code == 201, pledged.text
    contributed = client.post(
        f"{API}/cofunding/{pledged.json()['id']}/contributions",
        json={"amount": "1250000.00", "contributed_on": "2026-06-01"},
        headers=finance.headers,
    )
    assert contributed.status_code == 201, contributed.text

    after = allocation(client, call.id, finance.headers)

    # 8000000.00 - 1250000.00 = 6750000.00 outstanding, in soles.
    assert [
        (p["funder"], p["currency"], p["pledged"], p["contributed"], p["outstanding"])
        for p in after["cofunding"]
    ] == [("Government of Peru", "PEN", "8000000.00", "1250000.00", "6750000.00")]
    # Every dollar figure is exactly what it was before the pledge.
    assert {k: v for k, v in after.items() if k != "cofunding"} == {
        k: v for k, v in before.items() if k != "cofunding"
    }
    assert (after["currency"], after["envelope"], after["awarded"]) == (
        "USD",
        "1000000.00",
        "211110.38",
    )
    assert_reconciles(client, call.id, finance.headers)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.program_officer, 200),
        (Role.finance_officer, 200),
        (Role.admin, 200),
        (Role.reviewer, 403),
        (Role.applicant, 403),
    ],
    ids=str,
)
def test_who_may_read_the_allocation_and_reconciliation(client, factory, call, role, status):
    headers = factory.login(role)[1]

    for path in ("allocation", "reconciliation"):
        response = client.get(f"{API}/calls/{call.id}/{path}", headers=headers)
        assert response.status_code == status, (path, response.text)
