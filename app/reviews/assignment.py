"""Reviewer auto-assignment for a call (SPEC §7), solved as the flow problem it is.

The problem
-----------
Application ``a`` needs ``need(a) = max(0, per_application - |existing[a]|)`` new reviewers. Its
*eligible* reviewers are the panel members that are neither already on it nor conflicted with it.
Reviewers have no capacity limit, so applications do not compete for staffing: ``a`` receives
exactly ``s(a) = min(need(a), |eligible(a)|)`` new reviewers, and any shortfall
``need(a) - s(a)`` is reported in ``AssignmentPlan.unstaffed``. A *plan* is any choice of ``s(a)``
distinct eligible reviewers for every application; plans differ only in how the work is spread.
The load of reviewer ``r`` under a plan is ``existing_load[r]`` plus its new assignments.
Existing assignments are never moved, so existing loads are fixed offsets.

What "balanced where conflicts allow" means
-------------------------------------------
Among all plans, the one returned has

* the smallest possible maximum load, and at the same time
* the largest possible minimum load,

hence the smallest possible ``max - min``. In particular ``max - min <= 1`` whenever any plan
achieves it; when none does (conflicts, or existing loads that are already far apart), no plan has
a lower maximum, a higher minimum or a smaller spread than the one returned.

The algorithm
-------------
1. Greedy: staff the most constrained applications first (least slack ``|eligible(a)| - s(a)``,
   then fewest eligible, then by UUID), each with its least-loaded eligible reviewers (ties by
   UUID). On realistic inputs this is already optimal or nearly so.
2. Repair by augmenting paths. The *exchange graph* has an edge ``r1 -> r2`` (labelled ``a``)
   when ``a`` holds a NEW assignment of ``r1`` and ``r2`` is eligible for ``a`` and not on it.
   Along a path ``r0 -> r1 -> ... -> rk`` (labels ``a1 .. ak``) hand ``a_i`` from ``r(i-1)`` to
   ``ri``: every application keeps its number of reviewers, the intermediate loads are unchanged,
   ``r0`` loses one and ``rk`` gains one. Such a move is made whenever
   ``load(r0) >= load(rk) + 2`` (found by a breadth-first search from the reviewers of load at
   least ``L``, for each load level ``L`` from the top). Each move lowers the sum of squared
   loads by at least 2, so the repair terminates; it stops when no path joins two reviewers whose
   loads differ by two or more.

Why this is optimal (the augmenting-path argument)
--------------------------------------------------
Let ``x`` be the final plan, ``M`` its maximum load and ``m`` its minimum, and ``y`` any plan.

*Maximum.* Let ``S`` be the reviewers reachable in the exchange graph from those of load ``M``.
Every reviewer of ``S`` has load ``M - 1`` or ``M``, or a move would exist. Take an application
``a`` that has a new reviewer in ``S`` under ``x``: no edge leaves ``S``, so every eligible
reviewer of ``a`` outside ``S`` is already on ``a``; hence ``x`` gives ``a`` exactly
``s(a) - |eligible(a) - S|`` reviewers from ``S``, which is the least any plan can give it. Summing
over applications, ``y`` gives ``S`` at least as many new assignments as ``x``, so the loads of
``S`` under ``y`` add up to more than ``|S| * (M - 1)``, and some reviewer has load ``>= M``.

*Minimum.* Symmetrically, let ``T`` be the reviewers from which one of load ``m`` is reachable;
all have load ``m`` or ``m + 1``. No edge enters ``T``, so an application with a new reviewer
outside ``T`` already has every eligible reviewer of ``T``; an application without one has all
its ``s(a)`` reviewers in ``T``. Either way ``x`` gives ``a`` the most reviewers from ``T`` that
any plan can, so under ``y`` the loads of ``T`` add up to less than ``|T| * (m + 1)``, and some
reviewer has load ``<= m``.

So every plan has maximum ``>= M`` and minimum ``<= m``: ``x`` is optimal for both, and for
``max - min``. (The stopping rule is the exchange-optimality condition of the sum of squared loads
over the M-convex set of achievable load vectors, so ``x`` also minimises that sum; the two
bounds above are all the API promises.)

Running the planner again with the new pairs added to ``existing`` adds nothing: every
application then needs nobody, or has no eligible reviewer left. The result is deterministic and
does not depend on the order of the input: reviewers and applications are indexed in UUID order,
every tie is broken by that index, and every traversal follows it.

Cost: reviewer sets are bit masks, so the greedy pass is O(applications x reviewers) at worst
and one search is O(new assignments) mask operations. A call of 2,000 applications, 60 reviewers
and 3 per application plans in well under a second (see bench/bench_assignment.py).
"""

from __future__ import annotations

import bisect
import uuid
from collections import deque
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

__all__ = ["AssignmentPlan", "AssignmentProblem", "plan_assignments"]


@dataclass(frozen=True)
class AssignmentProblem:
    """One call's auto-assignment input.

    ``existing`` may name reviewers that are not on the panel; they count towards staffing but
    get no load entry. ``existing_load`` counts every active assignment of a panel member in the
    call (including those in ``existing`` and those on applications not being staffed now); a
    missing panel member counts as 0.
    """

    reviewers: Sequence[uuid.UUID]
    applications: Sequence[uuid.UUID]
    per_application: int
    existing: Mapping[uuid.UUID, Set[uuid.UUID]]
    conflicted: Set[tuple[uuid.UUID, uuid.UUID]]
    existing_load: Mapping[uuid.UUID, int]


@dataclass(frozen=True)
class AssignmentPlan:
    """What to create.

    ``new`` holds (application, reviewer) pairs ordered by application then reviewer UUID;
    ``unstaffed`` holds (application, reviewers still lacking) in application UUID order;
    ``loads`` is the final load of every panel member.
    """

    new: list[tuple[uuid.UUID, uuid.UUID]]
    unstaffed: list[tuple[uuid.UUID, int]]
    loads: dict[uuid.UUID, int]


def plan_assignments(problem: AssignmentProblem) -> AssignmentPlan:
    """Staff every application as far as conflicts allow, spreading load optimally."""
    if problem.per_application < 0:
        raise ValueError("per_application must not be negative")
    reviewers = sorted(set(problem.reviewers))
    applications = sorted(set(problem.applications))
    index = {reviewer: i for i, reviewer in enumerate(reviewers)}
    load = [problem.existing_load.get(reviewer, 0) for reviewer in reviewers]
    if any(value < 0 for value in load):
        raise ValueError("existing_load must not be negative")

    conflicts: dict[uuid.UUID, int] = {}  # application -> bit mask of conflicted panel members
    for reviewer, application in problem.conflicted:
        if reviewer in index:
            conflicts[application] = conflicts.get(application, 0) | 1 << index[reviewer]

    # Reviewer sets are bit masks over reviewer indices (index order is UUID order).
    panel = (1 << len(reviewers)) - 1
    free: list[int] = []  # per application: eligible panel members not yet on it
    staff: list[int] = []  # per application: how many new reviewers it gets
    unstaffed: list[tuple[uuid.UUID, int]] = []
    for application in applications:
        already = problem.existing.get(application, frozenset())
        barred = conflicts.get(application, 0)
        for reviewer in already:
            if reviewer in index:
                barred |= 1 << index[reviewer]
        eligible = panel & ~barred
        need = max(0, problem.per_application - len(already))
        gets = min(need, eligible.bit_count())
        free.append(eligible)
        staff.append(gets)
        if gets < need:
            unstaffed.append((application, need - gets))

    state = _State(load, free, [0] * len(applications), [{} for _ in reviewers])
    state.greedy(staff)
    state.rebalance()

    new = [
        (application, reviewers[r])
        for application, chosen in zip(applications, state.on, strict=True)
        for r in _members(chosen)
    ]
    loads = {reviewer: state.load[i] for i, reviewer in enumerate(reviewers)}
    return AssignmentPlan(new=new, unstaffed=unstaffed, loads=loads)


def _members(mask: int) -> list[int]:
    """The indices of a bit mask's set bits, ascending."""
    members = []
    while mask:
        low = mask & -mask
        members.append(low.bit_length() - 1)
        mask ^= low
    return members


@dataclass
class _State:
    """A plan under construction; applications and reviewers are indices."""

    load: list[int]  # per reviewer
    free: list[int]  # per application: mask of eligible reviewers not on it
    on: list[int]  # per application: mask of its new reviewers
    held: list[dict[int, None]]  # per reviewer: applications holding a new assignment (ordered)

    def assign(self, a: int, r: int) -> None:
        bit = 1 << r
        self.free[a] &= ~bit
        self.on[a] |= bit
        self.held[r][a] = None
        self.load[r] += 1

    def unassign(self, a: int, r: int) -> None:
        bit = 1 << r
        self.free[a] |= bit
        self.on[a] &= ~bit
        del self.held[r][a]
        self.load[r] -= 1

    def greedy(self, staff: list[int]) -> None:
        """Most constrained application first, each with its least-loaded eligible reviewers."""
        count = len(self.load)
        slack = [self.free[a].bit_count() - staff[a] for a in range(len(staff))]
        order = sorted(
            (a for a in range(len(staff)) if staff[a] > 0),
            key=lambda a: (slack[a], slack[a] + staff[a], a),
        )
        # Reviewers ordered by (load, index), each encoded as the integer load * count + index.
        keys = sorted(self.load[r] * count + r for r in range(count))
        for a in order:
            eligible, wanted = self.free[a], staff[a]
            picked = []
            for key in keys:
                if eligible >> (key % count) & 1:
                    picked.append(key)
                    if len(picked) == wanted:
                        break
            for key in picked:
                self.assign(a, key % count)
                keys.remove(key)
            for key in picked:
                bisect.insort(keys, key + count)

    def rebalance(self) -> None:
        """Move work along exchange paths until no two joined reviewers differ by two or more."""
        load = self.load
        while load and max(load) - min(load) >= 2:
            lowest = min(load)
            path = None
            for level in sorted(set(load), reverse=True):
                if level - lowest < 2:
                    break
                path = self.exchange_path(level)
                if path is not None:
                    break
            if path is None:
                return
            for giver, a, taker in path:
                self.unassign(a, giver)
                self.assign(a, taker)

    def exchange_path(self, level: int) -> list[tuple[int, int, int]] | None:
        """A shortest path from a reviewer of load >= level to the least loaded one <= level - 2.

        Breadth-first over reviewers: from a reached reviewer, through each application holding
        one of its new assignments, to every reviewer that application could take instead.
        Returns the steps (giver, application, taker), or None when no such reviewer is reachable.
        """
        load, free = self.load, self.free
        sources = [r for r in range(len(load)) if load[r] >= level]
        unvisited = 0
        for r in range(len(load)):
            if load[r] < level:
                unvisited |= 1 << r
        parent: dict[int, tuple[int, int]] = {}
        queue = deque(sources)
        reached = list(sources)
        while queue and unvisited:
            giver = queue.popleft()
            for a in self.held[giver]:
                newly = free[a] & unvisited
                if newly:
                    unvisited &= ~newly
                    for r in _members(newly):
                        parent[r] = (giver, a)
                        queue.append(r)
                        reached.append(r)
                    if not unvisited:
                        break
        targets = [r for r in reached if load[r] <= level - 2]
        if not targets:
            return None
        node = min(targets, key=lambda r: (load[r], r))
        steps: list[tuple[int, int, int]] = []
        while node in parent:
            giver, a = parent[node]
            steps.append((giver, a, node))
            node = giver
        steps.reverse()
        return steps
