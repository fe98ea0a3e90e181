"""Benchmark reviewer auto-assignment on a large call.

2,000 applications, a panel of 60, 3 reviewers per application, about 2% of (reviewer,
application) pairs conflicted, fixed seed. Runs the planner 5 times on a fresh call and 5 times on
one where 20% of the applications already have a reviewer (and the panel has uneven existing
loads), and prints median and minimum wall time, the spread of final loads and the number of
applications that could not be fully staffed.

    .venv/bin/python bench/bench_assignment.py [--applications N] [--reviewers N]
        [--per-application N] [--conflicts FRACTION] [--runs N] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

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


def run(label: str, problem: AssignmentProblem, runs: int) -> AssignmentPlan:
    times = []
    plan = None
    for _ in range(runs):
        start = time.perf_counter()
        plan = plan_assignments(problem)
        times.append(time.perf_counter() - start)
    assert plan is not None
    loads = plan.loads.values()
    before = problem.existing_load.values()
    print(
        f"{label}: median {statistics.median(times) * 1000:.1f} ms, "
        f"min {min(times) * 1000:.1f} ms over {runs} runs; "
        f"existing {sum(len(s) for s in problem.existing.values())} pairs "
        f"(load spread {max(before) - min(before)}); "
        f"new {len(plan.new)}; loads {min(loads)}..{max(loads)} "
        f"(max-min {max(loads) - min(loads)}); unstaffed {len(plan.unstaffed)}"
    )
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=60)
    parser.add_argument("--per-application", type=int, default=3)
    parser.add_argument("--conflicts", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    shape = (args.applications, args.reviewers, args.per_application, args.conflicts)
    print(
        f"{args.applications} applications x {args.reviewers} reviewers x "
        f"{args.per_application} per application, {args.conflicts:.0%} conflicts"
    )
    fresh = build(random.Random(args.seed), *shape, existing_rate=0.0)
    run("fresh call         ", fresh, args.runs)
    partial = build(random.Random(args.seed), *shape, existing_rate=0.2)
    run("20% already staffed", partial, args.runs)


if __name__ == "__main__":
    main()
