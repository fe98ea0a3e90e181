"""Panel statistics over submitted review totals (SPEC §7).

Every function here takes the submitted reviews of one call as rows
``(application_id, reviewer_id, total)`` (a plain tuple or a ``ScoredReview``), at most one per
application and reviewer. Callers leave out reviews that are excluded from scoring (conflicts
declared after assignment). Results are unrounded; the API rounds to 2 decimals.

Standard deviations are population standard deviations throughout. Means and sums use
``math.fsum``, and a set of identical values has a mean equal to that value and a deviation of
exactly 0, so the ``sigma_r == 0`` case of the severity correction is recognised exactly.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, SupportsFloat

__all__ = [
    "DISAGREEMENT_THRESHOLD",
    "MIN_REVIEWS_FOR_NORMALIZATION",
    "AppScore",
    "CriterionLike",
    "ReviewerStats",
    "ScoredReview",
    "application_scores",
    "krippendorff_alpha_interval",
    "normalized_totals",
    "review_total",
    "reviewer_statistics",
]

#: An application's reviews disagree when their population standard deviation exceeds this.
DISAGREEMENT_THRESHOLD = 15.0
#: A reviewer's totals are corrected for severity from this many submitted reviews on.
MIN_REVIEWS_FOR_NORMALIZATION = 3


class CriterionLike(Protocol):
    """A rubric criterion: its key in a review's scores, its weight and its maximum score."""

    @property
    def key(self) -> str: ...

    @property
    def weight(self) -> SupportsFloat: ...

    @property
    def max_score(self) -> SupportsFloat: ...


class ScoredReview(NamedTuple):
    application_id: uuid.UUID
    reviewer_id: uuid.UUID
    total: float


@dataclass(frozen=True)
class AppScore:
    mean_score: float
    normalized_score: float
    score_stddev: float
    disagreement: bool
    reviews: int


@dataclass(frozen=True)
class ReviewerStats:
    reviewer_id: uuid.UUID
    reviews: int
    mean: float
    stddev: float
    mean_minus_panel: float
    z_severity: float | None  # (mean - panel mean) / panel stddev; None when the panel agrees


ReviewRow = tuple[uuid.UUID, uuid.UUID, float]


def review_total(
    scores: Mapping[str, SupportsFloat],
    criteria: Sequence[CriterionLike | Mapping[str, Any]],
) -> float:
    """``t = sum(score_i / max_score_i * weight_i)`` over the rubric's criteria.

    A criterion is an object with ``key``, ``weight`` and ``max_score`` attributes, or a mapping
    with those keys (a rubric as stored in JSON). Every criterion must be scored (a submitted
    review is complete); keys that are not criteria are ignored.
    """
    terms = []
    for criterion in criteria:
        if isinstance(criterion, Mapping):
            key, weight, max_score = criterion["key"], criterion["weight"], criterion["max_score"]
        else:
            key, weight, max_score = criterion.key, criterion.weight, criterion.max_score
        if key not in scores:
            raise ValueError(f"criterion {key!r} is not scored")
        if float(max_score) <= 0:
            raise ValueError(f"criterion {key!r} has a non-positive max_score")
        terms.append(float(scores[key]) / float(max_score) * float(weight))
    return math.fsum(terms)


def normalized_totals(
    rows: Iterable[ReviewRow],
) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    """Each review total corrected for its reviewer's severity, keyed by (application, reviewer).

    With ``mu``, ``sigma`` the mean and population standard deviation of all totals, and
    ``mu_r``, ``sigma_r`` those of reviewer r's totals, a reviewer with at least
    ``MIN_REVIEWS_FOR_NORMALIZATION`` reviews has each total ``t`` mapped to
    ``mu + (t - mu_r) / sigma_r * sigma``, or to ``t - mu_r + mu`` when ``sigma_r == 0``;
    other reviewers' totals are kept as they are.
    """
    table = _table(rows)
    if not table:
        return {}
    mu, sigma = _mean_pstdev(list(table.values()))
    by_reviewer = _group(table, by_reviewer=True)
    adjusted: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for reviewer, totals in by_reviewer.items():
        if len(totals) < MIN_REVIEWS_FOR_NORMALIZATION:
            for application, t in totals.items():
                adjusted[(application, reviewer)] = t
            continue
        mu_r, sigma_r = _mean_pstdev(list(totals.values()))
        for application, t in totals.items():
            if sigma_r == 0:
                adjusted[(application, reviewer)] = t - mu_r + mu
            else:
                adjusted[(application, reviewer)] = mu + (t - mu_r) / sigma_r * sigma
    return adjusted


def application_scores(rows: Iterable[ReviewRow]) -> dict[uuid.UUID, AppScore]:
    """Per application: mean and normalised score, spread, disagreement flag, review count.

    Applications without a submitted review do not appear.
    """
    table = _table(rows)
    adjusted = normalized_totals((a, r, t) for (a, r), t in table.items())
    scores: dict[uuid.UUID, AppScore] = {}
    for application, totals in _group(table, by_reviewer=False).items():
        mean, stddev = _mean_pstdev(list(totals.values()))
        normalized = _mean([adjusted[(application, r)] for r in totals])
        scores[application] = AppScore(
            mean_score=mean,
            normalized_score=normalized,
            score_stddev=stddev,
            disagreement=stddev > DISAGREEMENT_THRESHOLD,
            reviews=len(totals),
        )
    return scores


def reviewer_statistics(rows: Iterable[ReviewRow]) -> list[ReviewerStats]:
    """Each reviewer's mean and spread against the panel, ordered by reviewer id.

    ``mean_minus_panel = mu_r - mu``; ``z_severity = (mu_r - mu) / sigma`` when ``sigma > 0``
    (negative for a severe reviewer, positive for a lenient one), else None.
    """
    table = _table(rows)
    if not table:
        return []
    mu, sigma = _mean_pstdev(list(table.values()))
    stats = []
    for reviewer, totals in sorted(_group(table, by_reviewer=True).items()):
        mu_r, sigma_r = _mean_pstdev(list(totals.values()))
        stats.append(
            ReviewerStats(
                reviewer_id=reviewer,
                reviews=len(totals),
                mean=mu_r,
                stddev=sigma_r,
                mean_minus_panel=mu_r - mu,
                z_severity=(mu_r - mu) / sigma if sigma > 0 else None,
            )
        )
    return stats


def krippendorff_alpha_interval(rows: Iterable[ReviewRow]) -> float | None:
    """Krippendorff's alpha, interval metric: units = applications, coders = reviewers.

    Following Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), with
    ``delta(c, k)^2 = (c - k)^2``, ``m_u`` the number of values in unit ``u`` and ``n`` the total
    number of pairable values (units with ``m_u < 2`` are dropped)::

        D_o = 1/n                * sum_u  sum_{i != j in u} (v_i - v_j)^2 / (m_u - 1)
        D_e = 1/(n (n - 1))      * sum_{i != j over all pairable values} (v_i - v_j)^2
        alpha = 1 - D_o / D_e

    Sums over ordered pairs are computed in O(m) from sums:
    ``sum_{i, j} (v_i - v_j)^2 = 2 (m * sum v^2 - (sum v)^2) = 2 m * sum (v - mean)^2``; the
    centred form is used because it does not cancel catastrophically. So
    ``D_o = (2/n) sum_u m_u SS_u / (m_u - 1)`` and ``D_e = 2 SS / (n - 1)``, where ``SS_u`` and
    ``SS`` are sums of squared deviations from the unit's and from the overall mean.

    Returns None when there are fewer than 2 pairable values or no expected disagreement
    (``D_e == 0``: every pairable value is the same).
    """
    table = _table(rows)
    units = [
        list(totals.values())
        for totals in _group(table, by_reviewer=False).values()
        if len(totals) >= 2
    ]
    values = [v for unit in units for v in unit]
    n = len(values)
    if n < 2:
        return None
    expected = 2 * _squared_deviations(values) / (n - 1)
    if expected == 0:
        return None
    observed = 2 / n * math.fsum(len(u) * _squared_deviations(u) / (len(u) - 1) for u in units)
    return 1 - observed / expected


def _table(rows: Iterable[ReviewRow]) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    table: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for application, reviewer, total in rows:
        if (application, reviewer) in table:
            raise ValueError(f"two reviews of {application} by {reviewer}")
        table[(application, reviewer)] = float(total)
    return table


def _group(
    table: Mapping[tuple[uuid.UUID, uuid.UUID], float], *, by_reviewer: bool
) -> dict[uuid.UUID, dict[uuid.UUID, float]]:
    """{reviewer: {application: total}} or {application: {reviewer: total}}, in input order."""
    groups: dict[uuid.UUID, dict[uuid.UUID, float]] = {}
    for (application, reviewer), total in table.items():
        if by_reviewer:
            groups.setdefault(reviewer, {})[application] = total
        else:
            groups.setdefault(application, {})[reviewer] = total
    return groups


def _mean(values: Sequence[float]) -> float:
    first = values[0]
    if all(v == first for v in values):
        return first
    return math.fsum(values) / len(values)


def _squared_deviations(values: Sequence[float]) -> float:
    mean = _mean(values)
    return math.fsum((v - mean) ** 2 for v in values)


def _mean_pstdev(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation of a non-empty sequence."""
    mean = _mean(values)
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
