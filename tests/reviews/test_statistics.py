"""Panel statistics: review totals, severity normalisation, per-application and per-reviewer
figures, and Krippendorff's alpha (interval), with the arithmetic worked by hand."""

from __future__ import annotations

import math
import statistics
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.reviews.statistics import (
    AppScore,
    ReviewerStats,
    ScoredReview,
    application_scores,
    krippendorff_alpha_interval,
    normalized_totals,
    review_total,
    reviewer_statistics,
)


def U(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


A1, A2, A3, A4 = U(1), U(2), U(3), U(4)
R1, R2, R3, R4 = U(101), U(102), U(103), U(104)

# The worked panel.
#   R1: 60 (A1), 70 (A2), 80 (A3)   three reviews, spread -> rescaled
#   R2: 50 (A1), 50 (A2), 50 (A3)   three reviews, all equal (sigma_r = 0) -> shifted
#   R3: 90 (A1), 40 (A3)            two reviews -> kept as they are
#   R4: 75 (A4)                     one review  -> kept; A4 has a single review
ROWS = [
    (A1, R1, 60.0),
    (A2, R1, 70.0),
    (A3, R1, 80.0),
    (A1, R2, 50.0),
    (A2, R2, 50.0),
    (A3, R2, 50.0),
    (A1, R3, 90.0),
    (A3, R3, 40.0),
    (A4, R4, 75.0),
]
# Panel: n = 9, sum = 210 + 150 + 130 + 75 = 565, mu = 565/9 = 62.7778.
# Sum of squares = 14900 + 7500 + 9700 + 5625 = 37725;
# variance = (9 * 37725 - 565^2) / 81 = (339525 - 319225) / 81 = 20300/81 = 250.6173,
# sigma = sqrt(20300)/9 = 142.4781/9 = 15.8309.
MU = 565 / 9
SIGMA = math.sqrt(20300) / 9
# R1: mu_r = 70, sigma_r = sqrt((100 + 0 + 100)/3) = sqrt(200/3) = 8.1650, so
# (t - mu_r)/sigma_r = -10/8.1650 = -sqrt(3/2) = -1.2247 for 60, 0 for 70, +1.2247 for 80.
K = math.sqrt(3 / 2)


def test_the_worked_panel_by_hand() -> None:
    assert round(MU, 4) == 62.7778
    assert round(SIGMA, 4) == 15.8309
    assert math.isclose(K, 10 / math.sqrt(200 / 3))


def test_review_total_weights_each_criterion() -> None:
    @dataclass
    class Criterion:
        key: str
        weight: float
        max_score: float

    criteria = [Criterion("quality", 50, 10), Criterion("feasibility", 30, 5)]
    criteria.append(Criterion("impact", 20, 100))
    # 7/10*50 + 4/5*30 + 55/100*20 = 35 + 24 + 11 = 70
    assert review_total({"quality": 7, "feasibility": 4, "impact": 55}, criteria) == 70
    # Full marks give the sum of the weights, 100; zeros give 0.
    assert review_total({"quality": 10, "feasibility": 5, "impact": 100}, criteria) == 100
    assert review_total({"quality": 0, "feasibility": 0, "impact": 0}, criteria) == 0


def test_review_total_accepts_a_stored_rubric_and_decimals() -> None:
    rubric = [
        {"key": "merit", "weight": Decimal("62.5"), "max_score": 4},
        {"key": "budget", "weight": 37.5, "max_score": Decimal("2.5")},
    ]
    # 3/4*62.5 + 1.5/2.5*37.5 = 46.875 + 22.5 = 69.375; an extra key is ignored.
    assert review_total({"merit": 3, "budget": 1.5, "note": 9}, rubric) == 69.375


def test_review_total_requires_every_criterion() -> None:
    rubric = [{"key": "merit", "weight": 100, "max_score": 5}]
    with pytest.raises(ValueError, match="merit"):
        review_total({}, rubric)
    with pytest.raises(ValueError, match="max_score"):
        review_total({"merit": 1}, [{"key": "merit", "weight": 100, "max_score": 0}])


def test_normalized_totals_by_hand() -> None:
    adjusted = normalized_totals(ROWS)
    assert set(adjusted) == {(a, r) for a, r, _ in ROWS}
    # R1 (3 reviews, sigma_r > 0): mu + (t - mu_r)/sigma_r * sigma
    assert adjusted[(A1, R1)] == pytest.approx(MU - K * SIGMA)  # 62.7778 - 19.3888 = 43.3890
    assert adjusted[(A1, R1)] == pytest.approx(43.3890, abs=1e-4)
    assert adjusted[(A2, R1)] == pytest.approx(MU)  # t = mu_r
    assert adjusted[(A3, R1)] == pytest.approx(82.1666, abs=1e-4)  # 62.7778 + 19.3888
    # R2 (3 reviews, all 50, sigma_r = 0): t - mu_r + mu = 50 - 50 + 62.7778
    for a in (A1, A2, A3):
        assert adjusted[(a, R2)] == pytest.approx(MU)
    # R3 (2 reviews) and R4 (1 review) keep their totals exactly.
    assert adjusted[(A1, R3)] == 90.0
    assert adjusted[(A3, R3)] == 40.0
    assert adjusted[(A4, R4)] == 75.0


def test_normalization_ties_within_a_reviewer() -> None:
    # R1 gives 60, 60, 90 (a tie); R2 gives 40, 40, 40. All six: sum 330, mu = 55;
    # deviations 5, 5, 35, -15, -15, -15 -> squares 25 + 25 + 1225 + 3*225 = 1950,
    # variance = 1950/6 = 325, sigma = 18.0278.
    # R1: mu_r = 70, sigma_r = sqrt((100 + 100 + 400)/3) = sqrt(200) = 14.1421;
    # 60 -> 55 + (-10/14.1421) * 18.0278 = 55 - 12.7475 = 42.2525 (both tied reviews alike),
    # 90 -> 55 + (20/14.1421) * 18.0278 = 55 + 25.4951 = 80.4951.
    # R2: sigma_r = 0 -> 40 - 40 + 55 = 55.
    rows = [(A1, R1, 60.0), (A2, R1, 60.0), (A3, R1, 90.0)]
    rows += [(A1, R2, 40.0), (A2, R2, 40.0), (A3, R2, 40.0)]
    adjusted = normalized_totals(rows)
    sigma = math.sqrt(325)
    assert adjusted[(A1, R1)] == adjusted[(A2, R1)]
    assert adjusted[(A1, R1)] == pytest.approx(55 - 10 / math.sqrt(200) * sigma)
    assert adjusted[(A1, R1)] == pytest.approx(42.2525, abs=1e-4)
    assert adjusted[(A3, R1)] == pytest.approx(80.4951, abs=1e-4)
    assert [adjusted[(a, R2)] for a in (A1, A2, A3)] == [55.0, 55.0, 55.0]


def test_application_scores_by_hand() -> None:
    scores = application_scores(ROWS)
    assert set(scores) == {A1, A2, A3, A4}
    # A1: totals 60, 50, 90 -> mean 200/3 = 66.6667; deviations -6.667, -16.667, 23.333,
    # squares 44.444 + 277.778 + 544.444 = 866.667, /3 = 288.889, stddev 16.9967 > 15.
    # normalized: (43.3890 + 62.7778 + 90)/3 = 65.3889
    a1 = scores[A1]
    assert a1.mean_score == pytest.approx(200 / 3)
    assert a1.score_stddev == pytest.approx(math.sqrt(2600 / 9))
    assert a1.score_stddev == pytest.approx(16.9967, abs=1e-4)
    assert a1.disagreement is True
    assert a1.normalized_score == pytest.approx((MU - K * SIGMA + MU + 90) / 3)
    assert a1.normalized_score == pytest.approx(65.3889, abs=1e-4)
    assert a1.reviews == 3
    # A2: 70, 50 -> mean 60, stddev 10; both adjusted to mu -> normalized 62.7778.
    assert scores[A2] == AppScore(
        mean_score=60.0,
        normalized_score=pytest.approx(MU),  # type: ignore[arg-type]
        score_stddev=10.0,
        disagreement=False,
        reviews=2,
    )
    # A3: 80, 50, 40 -> mean 170/3 = 56.6667, same spread as A1 (mirror image): 16.9967.
    # normalized: (82.1666 + 62.7778 + 40)/3 = 61.6481
    a3 = scores[A3]
    assert a3.mean_score == pytest.approx(170 / 3)
    assert a3.score_stddev == pytest.approx(a1.score_stddev)
    assert a3.disagreement is True
    assert a3.normalized_score == pytest.approx(61.6481, abs=1e-4)
    # A4: a single review of 75: stddev 0, no disagreement, normalized = 75 (R4 has < 3).
    assert scores[A4] == AppScore(75.0, 75.0, 0.0, False, 1)


def test_disagreement_means_strictly_above_15() -> None:
    # 50 and 80: mean 65, deviations +-15, stddev exactly 15 -> not a disagreement.
    # 50 and 80.5: stddev 15.25 -> a disagreement.
    scores = application_scores([(A1, R1, 50.0), (A1, R2, 80.0), (A2, R1, 50.0), (A2, R2, 80.5)])
    assert scores[A1].score_stddev == 15.0
    assert scores[A1].disagreement is False
    assert scores[A2].score_stddev == 15.25
    assert scores[A2].disagreement is True


def test_tied_applications_score_alike() -> None:
    rows = [(A1, R1, 70.0), (A1, R2, 80.0), (A2, R2, 70.0), (A2, R1, 80.0), (A3, R3, 75.0)]
    scores = application_scores(rows)
    assert scores[A1] == scores[A2]
    assert scores[A1].mean_score == scores[A3].mean_score == 75.0


def test_reviewer_statistics_by_hand() -> None:
    stats = reviewer_statistics(ROWS)
    assert [s.reviewer_id for s in stats] == [R1, R2, R3, R4]
    by_id = {s.reviewer_id: s for s in stats}
    # R1: mean 70, stddev sqrt(200/3) = 8.1650, 70 - 62.7778 = 7.2222, z = 7.2222/15.8309 = 0.4562
    r1 = by_id[R1]
    assert (r1.reviews, r1.mean) == (3, 70.0)
    assert r1.stddev == pytest.approx(math.sqrt(200 / 3))
    assert r1.mean_minus_panel == pytest.approx(70 - MU)
    assert r1.z_severity == pytest.approx(0.4562, abs=1e-4)
    # R2: mean 50, stddev 0, 50 - 62.7778 = -12.7778, z = -0.8071 (severe)
    assert by_id[R2] == ReviewerStats(
        R2,
        3,
        50.0,
        0.0,
        pytest.approx(50 - MU),  # type: ignore[arg-type]
        pytest.approx(-0.8071, abs=1e-4),  # type: ignore[arg-type]
    )
    # R3: 90, 40 -> mean 65, stddev 25, z = 2.2222/15.8309 = 0.1404
    assert (by_id[R3].mean, by_id[R3].stddev) == (65.0, 25.0)
    assert by_id[R3].z_severity == pytest.approx(0.1404, abs=1e-4)
    # R4: 75 -> stddev 0, z = 12.2222/15.8309 = 0.7720
    assert by_id[R4].z_severity == pytest.approx(0.7720, abs=1e-4)


def test_reviewer_statistics_when_the_panel_agrees() -> None:
    stats = reviewer_statistics([(A1, R1, 70.0), (A2, R2, 70.0)])
    assert [(s.mean_minus_panel, s.z_severity) for s in stats] == [(0.0, None), (0.0, None)]


def test_empty_input() -> None:
    assert normalized_totals([]) == {}
    assert application_scores([]) == {}
    assert reviewer_statistics([]) == []
    assert krippendorff_alpha_interval([]) is None


def test_two_reviews_of_one_application_by_one_reviewer_are_rejected() -> None:
    with pytest.raises(ValueError, match="two reviews"):
        application_scores([(A1, R1, 70.0), (A1, R1, 80.0)])


def test_named_rows_are_accepted() -> None:
    rows = [ScoredReview(a, r, t) for a, r, t in ROWS]
    assert application_scores(rows) == application_scores(ROWS)


rows_strategy = st.lists(
    st.tuples(
        st.integers(1, 6).map(U),
        st.integers(101, 105).map(U),
        st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 2)),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda row: (row[0], row[1]),
)


@settings(max_examples=150, database=None, deadline=None, derandomize=True)
@given(rows_strategy)
def test_properties_against_the_standard_library(rows: list[tuple[uuid.UUID, uuid.UUID, float]]):
    scores = application_scores(rows)
    adjusted = normalized_totals(rows)
    totals = [t for _, _, t in rows]
    mu, sigma = statistics.fmean(totals), statistics.pstdev(totals)
    for application, score in scores.items():
        own = [t for a, _, t in rows if a == application]
        assert score.reviews == len(own)
        assert score.mean_score == pytest.approx(statistics.fmean(own), abs=1e-9)
        assert score.score_stddev == pytest.approx(statistics.pstdev(own), abs=1e-9)
        assert score.disagreement == (score.score_stddev > 15)
        own_adjusted = [adjusted[(a, r)] for a, r, _ in rows if a == application]
        assert score.normalized_score == pytest.approx(statistics.fmean(own_adjusted), abs=1e-9)
    for reviewer in {r for _, r, _ in rows}:
        own = [t for _, r, t in rows if r == reviewer]
        corrected = [adjusted[(a, r)] for a, r, _ in rows if r == reviewer]
        if len(own) < 3:
            assert corrected == own
        elif statistics.pstdev(own) == 0:
            # Shifted onto the panel mean.
            assert corrected == pytest.approx([mu] * len(own))
        else:
            # Rescaled: the reviewer's corrected totals have the panel's mean and spread.
            assert statistics.fmean(corrected) == pytest.approx(mu, abs=1e-7)
            assert statistics.pstdev(corrected) == pytest.approx(sigma, abs=1e-7)
    for stat in reviewer_statistics(rows):
        assert stat.mean_minus_panel == pytest.approx(stat.mean - mu, abs=1e-9)


# --- Krippendorff's alpha ---------------------------------------------------------------------


def naive_alpha(rows: list[tuple[uuid.UUID, uuid.UUID, float]]) -> float | None:
    """Straight from the definition: coincidences over ordered pairs, O(n^2)."""
    units: dict[uuid.UUID, list[float]] = {}
    for a, _, t in rows:
        units.setdefault(a, []).append(t)
    pairable = [values for values in units.values() if len(values) >= 2]
    everything = [v for values in pairable for v in values]
    n = len(everything)
    if n < 2:
        return None
    observed = 0.0
    for values in pairable:
        m = len(values)
        for i in range(m):
            for j in range(m):
                if i != j:
                    observed += (values[i] - values[j]) ** 2 / (m - 1)
    observed /= n
    expected = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                expected += (everything[i] - everything[j]) ** 2
    expected /= n * (n - 1)
    if expected == 0:
        return None
    return 1 - observed / expected


def test_alpha_by_hand() -> None:
    # Unit 1: 1, 2; unit 2: 3, 3; unit 3: 5 alone (not pairable, dropped). n = 4.
    # D_o = 1/4 * [ ((1-2)^2 + (2-1)^2)/(2-1) + 0 ] = 2/4 = 0.5
    # D_e = 1/(4*3) * sum over ordered pairs of 1, 2, 3, 3:
    #   unordered: (1,2) 1, (1,3) 4, (1,3) 4, (2,3) 1, (2,3) 1, (3,3) 0 = 11, ordered 22
    #   D_e = 22/12 = 1.8333
    # alpha = 1 - 0.5/1.8333 = 1 - 3/11 = 8/11 = 0.7273
    rows = [(A1, R1, 1.0), (A1, R2, 2.0), (A2, R1, 3.0), (A2, R3, 3.0), (A3, R1, 5.0)]
    assert krippendorff_alpha_interval(rows) == pytest.approx(8 / 11)
    assert naive_alpha(rows) == pytest.approx(8 / 11)


def test_alpha_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers x 12 units
    # with missing values (None); interval alpha = 0.849.
    data = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    rows = [
        (U(u + 1), U(100 + k), float(v))
        for k, values in enumerate(data.values())
        for u, v in enumerate(values)
        if v is not None
    ]
    alpha = krippendorff_alpha_interval(rows)
    assert alpha is not None
    assert round(alpha, 3) == 0.849
    assert alpha == pytest.approx(naive_alpha(rows))


def test_alpha_edge_cases() -> None:
    # Perfect agreement with variation between units: 1.
    assert (
        krippendorff_alpha_interval(
            [(A1, R1, 10.0), (A1, R2, 10.0), (A2, R1, 90.0), (A2, R2, 90.0)]
        )
        == 1.0
    )
    # No unit with two values: None. Every pairable value equal (no expected disagreement): None.
    assert krippendorff_alpha_interval([(A1, R1, 10.0), (A2, R2, 20.0)]) is None
    assert krippendorff_alpha_interval([(A1, R1, 50.0), (A1, R2, 50.0), (A2, R3, 10.0)]) is None
    # Systematic disagreement is worse than chance: negative.
    worse = [(A1, R1, 0.0), (A1, R2, 100.0), (A2, R1, 100.0), (A2, R2, 0.0)]
    assert krippendorff_alpha_interval(worse) == pytest.approx(naive_alpha(worse))
    assert krippendorff_alpha_interval(worse) < 0  # type: ignore[operator]


def test_alpha_is_stable_for_large_values() -> None:
    # Totals near 1e8 with unit spreads of 1: the centred sums do not cancel.
    base = 1e8
    rows = [(A1, R1, base + 1), (A1, R2, base + 2), (A2, R1, base + 3), (A2, R2, base + 3)]
    # Same as the hand example shifted (alpha is shift-invariant): units {1, 2}, {3, 3}.
    # D_o = 2/4 = 0.5; ordered-pair sum over 1, 2, 3, 3 = 22, D_e = 22/12; alpha = 8/11.
    assert krippendorff_alpha_interval(rows) == pytest.approx(8 / 11)


@settings(max_examples=150, database=None, deadline=None, derandomize=True)
@given(rows_strategy)
def test_alpha_matches_the_naive_definition(rows: list[tuple[uuid.UUID, uuid.UUID, float]]):
    fast, slow = krippendorff_alpha_interval(rows), naive_alpha(rows)
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert fast == pytest.approx(slow, rel=1e-9, abs=1e-9)
