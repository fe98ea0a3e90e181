"""Benchmark reviewer auto-assignment on a large call.

2,000 applications, a panel of 60, 3 reviewers per application, about 2% of (reviewer,
application) pairs conflicted, fixed seed. Runs the planner 5 times on a fresh call and 5 times on
one where 20% of the applications already have a reviewer (and the panel has uneven existing
loads), and prints median and minimum wall time, the spread of final loads and the number of
applications that could not be fully staffed.

    .venv/bin/python -m bench.bench_assignment [--applications N] [--reviewers N]
        [--per-application N] [--conflicts FRACTION] [--runs N] [--seed N]

(`.venv/bin/python bench/bench_assignment.py` works too: this script imports nothing from `bench`.)
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from dataclasses import dataclass

from app.reviews.assignment import AssignmentPlan, AssignmentProblem, plan_assignments


def build(
    rng: random.Random,
    applications: int,
    reviewers: int,
    per_application: int,
    conflict_rate: float,
    existing_rate: float,
) -> AssignmentProblem:
    panel = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(reviewers)]
    apps = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(applications)]
    conflicted = {(r, a) for a in apps for r in panel if rng.random() < conflict_rate}
    existing: dict[uuid.UUID, set[uuid.UUID]] = {}
    load = dict.fromkeys(panel, 0)
    for a in apps:
        if rng.random() < existing_rate:
            eligible = [r for r in panel if (r, a) not in conflicted]
            chosen = set(rng.sample(eligible, min(len(eligible), rng.randint(1, per_application))))
            existing[a] = chosen
            for r in chosen:
                load[r] += 1
    return AssignmentProblem(
        reviewers=panel,
        applications=apps,
        per_application=per_application,
        existing=existing,
        conflicted=conflicted,
        existing_load=load,
    )


@dataclass(frozen=True)
class PlanTiming:
    label: str
    median_ms: float
    min_ms: float
    existing_pairs: int
    existing_load_spread: int
    new_pairs: int
    load_min: int
    load_max: int
    unstaffed: int

    def line(self) -> str:
        return (
            f"{self.label:<19}: median {self.median_ms:.1f} ms, min {self.min_ms:.1f} ms; "
            f"existing {self.existing_pairs} pairs (load spread {self.existing_load_spread}); "
            f"new {self.new_pairs}; loads {self.load_min}..{self.load_max} "
            f"(max-min {self.load_max - self.load_min}); unstaffed {self.unstaffed}"
        )


@dataclass(frozen=True)
class AssignmentResult:
    applications: int
    reviewers: int
    per_application: int
    conflicts: float
    runs: int
    fresh: PlanTiming
    partial: PlanTiming

    def lines(self) -> list[str]:
        return [
            f"{self.applications} applications x {self.reviewers} reviewers x "
            f"{self.per_application} per application, {self.conflicts:.0%} conflicts, "
            f"{self.runs} runs each",
            self.fresh.line(),
            self.partial.line(),
        ]


def time_plan(label: str, problem: AssignmentProblem, runs: int) -> PlanTiming:
    times = []
    plan: AssignmentPlan | None = None
    for _ in range(runs):
        start = time.perf_counter()
        plan = plan_assignments(problem)
        times.append(time.perf_counter() - start)
    assert plan is not None
    loads = plan.loads.values()
    before = problem.existing_load.values()
    return PlanTiming(
        label=label,
        median_ms=statistics.median(times) * 1000,
        min_ms=min(times) * 1000,
        existing_pairs=sum(len(s) for s in problem.existing.values()),
        existing_load_spread=max(before) - min(before),
        new_pairs=len(plan.new),
        load_min=min(loads),
        load_max=max(loads),
        unstaffed=len(plan.unstaffed),
    )


def run(
    *,
    applications: int = 2000,
    reviewers: int = 60,
    per_application: int = 3,
    conflicts: float = 0.02,
    runs: int = 5,
    seed: int = 20240601,
) -> AssignmentResult:
    shape = (applications, reviewers, per_application, conflicts)
    fresh = build(random.Random(seed), *shape, existing_rate=0.0)
    partial = build(random.Random(seed), *shape, existing_rate=0.2)
    return AssignmentResult(
        applications=applications,
        reviewers=reviewers,
        per_application=per_application,
        conflicts=conflicts,
        runs=runs,
        fresh=time_plan("fresh call", fresh, runs),
        partial=time_plan("20% already staffed", partial, runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=60)
    parser.add_argument("--per-application", type=int, default=3)
    parser.add_argument("--conflicts", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    result = run(
        applications=args.applications,
        reviewers=args.reviewers,
        per_application=args.per_application,
        conflicts=args.conflicts,
        runs=args.runs,
        seed=args.seed,
    )
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
