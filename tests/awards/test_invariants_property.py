"""Random histories of awards, amendments, approvals, payments and reversals, run through the
API on one call, with every invariant of SPEC §8 checked after every step.

A small model predicts each answer (201/200 or the 409 code), so a request that should have
been refused but went through fails the test even if the sums still happen to add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models import Role
from tests.awards.helpers import (
    API,
    START,
    allocation,
    approve,
    assert_reconciles,
    award,
    cents,
    disburse,
    money,
    report,
    reverse,
    schedule,
    under_review,
)

ENVELOPE = 25_000_000  # 250000.00: two awards of up to 200000.00 do not always fit.
MAX_AWARD = 20_000_000
MAX_AWARDS = 2


@dataclass
class Milestone:
    id: str
    amount: int
    paid: int = 0
    status: str = "planned"

    @property
    def remaining(self) -> int:
        return self.amount - self.paid

    def settle(self) -> None:
        if self.status == "approved" and self.remaining == 0:
            self.status = "paid"
        elif self.status == "paid" and self.remaining > 0:
            self.status = "approved"


@dataclass
class Grant:
    id: str
    applicant: dict[str, str]
    amount: int
    milestones: list[Milestone]


@dataclass
class Payment:
    id: str
    milestone: Milestone
    amount: int
    is_reversal: bool = False
    reversed: bool = False


@dataclass
class Model:
    awards: list[Grant] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    waiting: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)

    @property
    def awarded(self) -> int:
        return sum(a.amount for a in self.awards)

    @property
    def disbursed(self) -> int:
        return sum(m.paid for a in self.awards for m in a.milestones)


def _split(total: int, weights: list[int]) -> list[int]:
    """Positive parts of `total` in proportion to weights; the last takes the rest."""
    whole = sum(weights)
    parts = [max(1, total * w // whole) for w in weights[:-1]]
    return [*parts, total - sum(parts)]


def _expect(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code, response.text


class History:
    def __init__(self, client, factory, call, officer, finance, data) -> None:
        self.client, self.factory, self.call = client, factory, call
        self.officer, self.finance, self.data = officer.headers, finance.headers, data
        self.model = Model()

    def draw(self, strategy):
        return self.data.draw(strategy)

    def pick(self, items):
        return items[self.draw(st.integers(0, len(items) - 1))]

    def target(self, candidates, everything):
        """Mostly one the operation can succeed on, sometimes any (to exercise refusals)."""
        if candidates and self.draw(st.integers(0, 3)) < 3:
            return self.pick(candidates)
        return self.pick(everything) if everything else None

    def milestones(self) -> list[tuple[Grant, Milestone]]:
        return [(g, m) for g in self.model.awards for m in g.milestones]

    # --- operations ----------------------------------------------------------------------

    def award(self) -> None:
        model = self.model
        if len(model.awards) >= MAX_AWARDS:
            return
        if not model.waiting:
            applicant = self.factory.login(Role.applicant)[1]
            application = under_review(
                self.client,
                self.call.id,
                applicant,
                self.officer,
                requested_amount=money(MAX_AWARD),
            )
            model.waiting.append((application, applicant))
        application, applicant = model.waiting[0]
        amount = self.draw(st.integers(100_000, MAX_AWARD))
        weights = self.draw(st.lists(st.integers(1, 10), min_size=1, max_size=3))
        parts = _split(amount, weights)
        response = award(
            self.client, application["id"], self.officer, money(amount), [money(p) for p in parts]
        )
        if amount > ENVELOPE - model.awarded:
            _expect(response, 409, "envelope_exceeded")
            return
        _expect(response, 201)
        model.waiting.pop(0)
        body = response.json()
        model.awards.append(
            Grant(
                body["id"],
                applicant,
                amount,
                [Milestone(m["id"], cents(m["amount"])) for m in body["milestones"]],
            )
        )

    def amend(self) -> None:
        if not self.model.awards:
            return
        grant = self.pick(self.model.awards)
        # Sometimes take a milestone one cent below what is paid on it (it stays positive).
        below = self.draw(st.booleans()) and any(m.paid >= 2 for m in grant.milestones)
        kept: list[tuple[Milestone, int]] = []
        for milestone in grant.milestones:
            extra = self.draw(st.integers(0, 5_000_000))
            if milestone.paid + extra > 0:
                kept.append((milestone, milestone.paid + extra))
        if below:
            index = next(i for i, (m, _) in enumerate(kept) if m.paid >= 2)
            kept[index] = (kept[index][0], kept[index][0].paid - 1)
        added = self.draw(st.one_of(st.none(), st.integers(1, 5_000_000)))
        if not kept and added is None:
            added = 100_000
        items = [
            {
                "id": m.id,
                "title": f"Milestone {m.id[:8]}",
                "due_date": START.isoformat(),
                "amount": money(amount),
            }
            for m, amount in kept
        ]
        if added is not None:
            items += schedule(money(added), start=START)
        total = sum(amount for _, amount in kept) + (added or 0)
        response = self.client.post(
            f"{API}/awards/{grant.id}/amendments",
            json={"amount": money(total), "reason": "Revised work plan", "milestones": items},
            headers=self.officer,
        )
        if below:
            _expect(response, 409, "below_disbursed")
            return
        if total - grant.amount > ENVELOPE - self.model.awarded:
            _expect(response, 409, "envelope_exceeded")
            return
        _expect(response, 201)
        grant.amount = total
        by_id = {m.id: m for m in grant.milestones}
        shown = response.json()["award"]["milestones"]
        grant.milestones = []
        for item in shown:
            milestone = by_id.get(item["id"]) or Milestone(item["id"], 0)
            milestone.amount = cents(item["amount"])
            milestone.settle()
            grant.milestones.append(milestone)

    def approve(self) -> None:
        everything = self.milestones()
        picked = self.target([(g, m) for g, m in everything if m.status == "planned"], everything)
        if picked is None:
            return
        grant, milestone = picked
        if milestone.status != "planned":
            _expect(approve(self.client, milestone.id, self.officer), 409, "invalid_state")
            return
        _expect(report(self.client, milestone.id, grant.applicant), 200)
        _expect(approve(self.client, milestone.id, self.officer), 200)
        milestone.status = "approved"

    def disburse(self) -> None:
        everything = self.milestones()
        payable = [(g, m) for g, m in everything if m.status == "approved"]
        picked = self.target(payable, everything)
        if picked is None:
            return
        grant, milestone = picked
        how = self.draw(st.sampled_from(["part", "all", "too_much"]))
        if how == "part" and milestone.remaining > 1:
            amount = self.draw(st.integers(1, milestone.remaining - 1))
        elif how == "all" and milestone.remaining > 0:
            amount = milestone.remaining
        else:
            amount = milestone.remaining + self.draw(st.integers(1, 1_000_000))
        response = disburse(self.client, grant.id, self.finance, milestone.id, money(amount))
        if milestone.status != "approved":
            _expect(response, 409, "milestone_not_approved")
            return
        if amount > milestone.remaining:
            _expect(response, 409, "exceeds_remaining")
            return
        _expect(response, 201)
        milestone.paid += amount
        milestone.settle()
        self.model.payments.append(Payment(response.json()["id"], milestone, amount))

    def reverse(self) -> None:
        payments = self.model.payments
        payment = self.target([p for p in payments if not (p.is_reversal or p.reversed)], payments)
        if payment is None:
            return
        response = reverse(self.client, payment.id, self.finance)
        if payment.is_reversal:
            _expect(response, 409, "is_reversal")
            return
        if payment.reversed:
            _expect(response, 409, "already_reversed")
            return
        _expect(response, 201)
        payment.reversed = True
        payment.milestone.paid -= payment.amount
        payment.milestone.settle()
        self.model.payments.append(
            Payment(response.json()["id"], payment.milestone, -payment.amount, is_reversal=True)
        )

    # --- invariants ----------------------------------------------------------------------

    def check(self) -> None:
        model = self.model
        figures = allocation(self.client, self.call.id, self.finance)
        envelope, awarded = cents(figures["envelope"]), cents(figures["awarded"])
        uncommitted, disbursed = cents(figures["uncommitted"]), cents(figures["disbursed"])
        assert awarded + uncommitted == envelope == ENVELOPE
        assert 0 <= disbursed <= awarded
        assert (awarded, disbursed) == (model.awarded, model.disbursed)
        assert cents(figures["undisbursed"]) == awarded - disbursed
        for key in ("by_region", "by_objective"):
            assert sum(cents(p["awarded"]) for p in figures[key]) == awarded
            assert sum(cents(p["disbursed"]) for p in figures[key]) == disbursed

        listed = self.client.get(
            f"{API}/awards",
            params={"call_id": str(self.call.id), "limit": 200},
            headers=self.finance,
        ).json()
        shown = {a["id"]: a for a in listed["items"]}
        assert set(shown) == {g.id for g in model.awards}
        for grant in model.awards:
            body = shown[grant.id]
            amount, paid = cents(body["amount"]), cents(body["disbursed"])
            assert 0 <= paid <= amount
            assert (amount, paid) == (grant.amount, sum(m.paid for m in grant.milestones))
            assert cents(body["remaining"]) == amount - paid
            assert [
                (m["id"], cents(m["amount"]), cents(m["disbursed"]), m["status"])
                for m in body["milestones"]
            ] == [(m.id, m.amount, m.paid, m.status) for m in grant.milestones]
            for m in body["milestones"]:
                assert 0 <= cents(m["disbursed"]) <= cents(m["amount"])
        assert_reconciles(self.client, self.call.id, self.finance)


# Weighted towards money moving: payments and reversals need approved milestones first.
OPERATIONS = [
    "disburse",
    "approve",
    "disburse",
    "reverse",
    "amend",
    "approve",
    "disburse",
    "award",
    "reverse",
]


@pytest.mark.slow  # about half a minute per backend
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_histories_keep_every_money_invariant(client, factory, officer, finance, data):
    # A fresh call per example: the examples share the test's database transaction.
    call = factory.call(
        envelope_amount=money(ENVELOPE), min_award="1000.00", max_award=money(MAX_AWARD)
    )
    history = History(client, factory, call, officer, finance, data)
    # Start from an award with one milestone approved, so payments have somewhere to go.
    history.award()
    history.approve()
    history.check()
    for _ in range(data.draw(st.integers(4, 10), label="steps")):
        operation = data.draw(st.sampled_from(OPERATIONS), label="operation")
        getattr(history, operation)()
        history.check()
