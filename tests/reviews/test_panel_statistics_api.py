"""Panel statistics (SPEC §7): each reviewer against the panel, and Krippendorff's alpha,
checked against a 2-reviewer x 3-application example worked out by hand.

Review totals: t = 6 * approach + 8 * capacity (approach weight 60 / max 10, capacity 40 / 5).
"""

from __future__ import annotations

import math

from fastapi.testclient import TestClient

from app.models import Role
from tests.reviews.helpers import API, applicant, assigned, scored, set_panel, under_review
from tests.support.factories import Factory


def test_panel_statistics_match_a_hand_computed_example(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    _, admin = factory.login(Role.admin)
    lenient, lenient_headers = factory.login(Role.reviewer)
    severe, severe_headers = factory.login(Role.reviewer)
    call = factory.call()
    set_panel(client, call.id, officer, lenient, severe)
    first, second, third = (
        under_review(client, call.id, applicant(factory), officer) for _ in range(3)
    )
    for application in (first, second, third):
        assigned(client, application["id"], lenient, officer)
        assigned(client, application["id"], severe, officer)
    scored(client, first["id"], lenient_headers, 8, 4)  # 48 + 32 = 80
    scored(client, second["id"], lenient_headers, 6, 3)  # 36 + 24 = 60
    scored(client, third["id"], lenient_headers, 4, 2)  # 24 + 16 = 40
    scored(client, first["id"], severe_headers, 6, 3)  # 60
    scored(client, second["id"], severe_headers, 3, 4)  # 18 + 32 = 50
    scored(client, third["id"], severe_headers, 4, 2)  # 40

    response = client.get(f"{API}/calls/{call.id}/panel/statistics", headers=officer)

    assert response.status_code == 200, response.text
    stats = response.json()
    # Values 80, 60, 40 (lenient) and 60, 50, 40 (severe): panel mean 330 / 6 = 55.
    # Deviations 25, 5, -15, 5, -5, -15; squares 625 + 25 + 225 + 25 + 25 + 225 = 1150.
    panel_sigma = math.sqrt(1150 / 6)  # about 13.84
    assert stats["reviews"] == 6
    assert stats["panel_mean"] == 55.0
    assert stats["panel_stddev"] == round(panel_sigma, 2)
    by_reviewer = {r["reviewer_id"]: r for r in stats["reviewers"]}
    assert set(by_reviewer) == {str(lenient.id), str(severe.id)}
    # lenient: mean 60, stddev sqrt((20^2 + 0 + 20^2) / 3) = sqrt(800 / 3) (16.33), 60 - 55 = 5
    assert by_reviewer[str(lenient.id)] == {
        "reviewer_id": str(lenient.id),
        "reviewer_name": lenient.full_name,
        "reviews": 3,
        "mean": 60.0,
        "stddev": round(math.sqrt(800 / 3), 2),
        "mean_minus_panel": 5.0,
        "severity_z": round(5 / panel_sigma, 2),
    }
    # severe: mean 50, stddev sqrt((10^2 + 0 + 10^2) / 3) = sqrt(200 / 3) (8.16), 50 - 55 = -5
    assert by_reviewer[str(severe.id)] == {
        "reviewer_id": str(severe.id),
        "reviewer_name": severe.full_name,
        "reviews": 3,
        "mean": 50.0,
        "stddev": round(math.sqrt(200 / 3), 2),
        "mean_minus_panel": -5.0,
        "severity_z": round(-5 / panel_sigma, 2),
    }
    # Krippendorff's alpha, interval metric; units are applications (m_u = 2 each), n = 6.
    # D_o = 1/n * sum_u sum_{i != j in u} (v_i - v_j)^2 / (m_u - 1)
    #     = 1/6 * [(2 * (80 - 60)^2) + (2 * (60 - 50)^2) + (2 * (40 - 40)^2)] / 1
    #     = (800 + 200 + 0) / 6 = 1000 / 6
    # D_e = 1/(n(n - 1)) * sum_{i != j over all six values} (v_i - v_j)^2
    #     = 2 * n * sum (v - 55)^2 / (n(n - 1)) = 2 * 6 * 1150 / 30 = 460
    # alpha = 1 - D_o / D_e = 1 - (1000 / 6) / 460 (about 0.6377)
    d_o = 1000 / 6
    d_e = 2 * 6 * 1150 / (6 * 5)
    assert stats["krippendorff_alpha_interval"] == round(1 - d_o / d_e, 4)
    assert -1 <= stats["krippendorff_alpha_interval"] <= 1
    admin_view = client.get(f"{API}/calls/{call.id}/panel/statistics", headers=admin)
    assert admin_view.json() == stats


def test_panel_statistics_of_a_call_without_submitted_reviews_are_empty(
    client: TestClient, factory: Factory
) -> None:
    _, officer = factory.login(Role.program_officer)
    call = factory.call()

    response = client.get(f"{API}/calls/{call.id}/panel/statistics", headers=officer)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "call_id": str(call.id),
        "reviews": 0,
        "panel_mean": None,
        "panel_stddev": None,
        "krippendorff_alpha_interval": None,
        "reviewers": [],
    }
