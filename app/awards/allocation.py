"""Where the money of a call stands: allocation by region and objective, and reconciliation.

Splits use the largest-remainder method in integer cents: each part gets the floor of its
exact share, and the cents left over go one by one to the largest fractional remainders, ties
to the code that comes first in the call's list. The parts of every award and every payment
therefore add up to it exactly, and so do the sums. A reversal is split exactly like the
payment it reverses (the same shares of the same amount), so the two cancel part by part.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ledger import get_account
from app.models import (
    AccountKind,
    ApplicationObjective,
    ApplicationRegion,
    Award,
    Call,
    CoFundingContribution,
    CoFundingPledge,
    Disbursement,
    LedgerAccount,
    LedgerTransfer,
    TransferKind,
)


def largest_remainder(total: int, weights: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Split `total` cents by integer `weights`, in order; parts sum to `total` exactly."""
    if not weights:
        return {}
    if total < 0:
        return {code: -part for code, part in largest_remainder(-total, weights).items()}
    whole = sum(w for _, w in weights)
    parts = [total * w // whole for _, w in weights]
    remainders = [total * w % whole for _, w in weights]
    leftover = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        parts[index] += 1
    return {code: part for (code, _), part in zip(weights, parts, strict=True)}


@dataclass
class Split:
    awarded: dict[str, int] = field(default_factory=dict)
    disbursed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    envelope: int
    awarded: int
    disbursed: int

    @property
    def uncommitted(self) -> int:
        return self.envelope - self.awarded

    @property
    def undisbursed(self) -> int:
        return self.awarded - self.disbursed


def totals(session: Session, call: Call) -> Totals:
    """The call's figures, read from the ledger."""
    envelope_account = get_account(session, AccountKind.envelope, call.id)
    uncommitted = envelope_account.balance if envelope_account else call.envelope_amount
    disbursed = session.scalar(
        select(
            func.coalesce(func.sum(LedgerAccount.credits_posted - LedgerAccount.debits_posted), 0)
        ).where(LedgerAccount.call_id == call.id, LedgerAccount.kind == AccountKind.paid)
    )
    return Totals(
        envelope=call.envelope_amount,
        awarded=call.envelope_amount - uncommitted,
        disbursed=int(disbursed or 0),
    )


def splits(session: Session, call: Call) -> tuple[Split, Split]:
    """Awarded and disbursed amounts by region and by objective, in four queries."""
    region_order = {r["code"]: i for i, r in enumerate(call.regions)}
    objective_order = {o["code"]: i for i, o in enumerate(call.objectives)}
    awards = session.execute(
        select(Award.id, Award.application_id, Award.amount).where(Award.call_id == call.id)
    ).all()
    application_ids = [a.application_id for a in awards]
    region_weights: dict[uuid.UUID, list[tuple[str, int]]] = defaultdict(list)
    for application_id, code, share in session.execute(
        select(
            ApplicationRegion.application_id,
            ApplicationRegion.code,
            ApplicationRegion.share_hundredths,
        ).where(ApplicationRegion.application_id.in_(application_ids))
    ):
        region_weights[application_id].append((code, share))
    objective_weights: dict[uuid.UUID, list[tuple[str, int]]] = defaultdict(list)
    for application_id, code in session.execute(
        select(ApplicationObjective.application_id, ApplicationObjective.code).where(
            ApplicationObjective.application_id.in_(application_ids)
        )
    ):
        objective_weights[application_id].append((code, 1))
    for weights in region_weights.values():
        weights.sort(key=lambda w: region_order.get(w[0], len(region_order)))
    for weights in objective_weights.values():
        weights.sort(key=lambda w: objective_order.get(w[0], len(objective_order)))

    by_region = Split(dict.fromkeys(region_order, 0), dict.fromkeys(region_order, 0))
    by_objective = Split(dict.fromkeys(objective_order, 0), dict.fromkeys(objective_order, 0))
    application_of = {a.id: a.application_id for a in awards}

    def add(target: dict[str, int], parts: dict[str, int]) -> None:
        for code, part in parts.items():
            target[code] = target.get(code, 0) + part

    for award in awards:
        add(
            by_region.awarded, largest_remainder(award.amount, region_weights[award.application_id])
        )
        add(
            by_objective.awarded,
            largest_remainder(award.amount, objective_weights[award.application_id]),
        )
    for award_id, amount in session.execute(
        select(Disbursement.award_id, Disbursement.amount).where(Disbursement.call_id == call.id)
    ):
        application_id = application_of[award_id]
        add(by_region.disbursed, largest_remainder(amount, region_weights[application_id]))
        add(by_objective.disbursed, largest_remainder(amount, objective_weights[application_id]))
    return by_region, by_objective


@dataclass(frozen=True)
class PledgeFigures:
    pledge: CoFundingPledge
    contributed: int


def cofunding(session: Session, call: Call) -> list[PledgeFigures]:
    pledges = list(
        session.scalars(
            select(CoFundingPledge)
            .where(CoFundingPledge.call_id == call.id)
            .order_by(CoFundingPledge.pledged_on, CoFundingPledge.id)
        )
    )
    contributed = dict(
        session.execute(
            select(CoFundingContribution.pledge_id, func.sum(CoFundingContribution.amount))
            .where(CoFundingContribution.pledge_id.in_([p.id for p in pledges]))
            .group_by(CoFundingContribution.pledge_id)
        ).all()
    )
    return [PledgeFigures(p, int(contributed.get(p.id, 0))) for p in pledges]


# --- reconciliation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def reconcile(session: Session, call: Call) -> tuple[Totals, int, list[Check]]:
    """Prove the invariants of SPEC §8 from the ledger entries themselves."""
    figures = totals(session, call)
    checks: list[Check] = []
    accounts = {
        a.id: a
        for a in session.scalars(select(LedgerAccount).where(LedgerAccount.call_id == call.id))
    }
    debits = dict(
        session.execute(
            select(LedgerTransfer.debit_account_id, func.sum(LedgerTransfer.amount))
            .where(LedgerTransfer.call_id == call.id)
            .group_by(LedgerTransfer.debit_account_id)
        ).all()
    )
    credits = dict(
        session.execute(
            select(LedgerTransfer.credit_account_id, func.sum(LedgerTransfer.amount))
            .where(LedgerTransfer.call_id == call.id)
            .group_by(LedgerTransfer.credit_account_id)
        ).all()
    )
    transfer_count = (
        session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(LedgerTransfer.call_id == call.id)
        )
        or 0
    )
    drifted = [
        f"{a.kind.value}:{a.owner_id}"
        for a in accounts.values()
        if a.debits_posted != int(debits.get(a.id, 0))
        or a.credits_posted != int(credits.get(a.id, 0))
    ]
    checks.append(
        Check(
            "posted_balances_match_entries",
            not drifted,
            "every account's posted totals equal the sum of its transfers"
            if not drifted
            else f"accounts out of step: {drifted}",
        )
    )
    overdrawn = [
        f"{a.kind.value}:{a.owner_id}"
        for a in accounts.values()
        if a.no_overdraft and a.balance < 0
    ]
    checks.append(
        Check(
            "no_account_overdrawn",
            not overdrawn,
            "no envelope, award or milestone account is below zero"
            if not overdrawn
            else f"overdrawn: {overdrawn}",
        )
    )
    by_owner = {(a.kind, a.owner_id): a for a in accounts.values()}
    funder = by_owner.get((AccountKind.funder, call.id))
    funded = -funder.balance if funder else call.envelope_amount
    checks.append(
        Check(
            "envelope_funded_once",
            funded == call.envelope_amount,
            f"the envelope account was funded with {funded} of {call.envelope_amount} cents",
        )
    )
    checks.append(
        Check(
            "awarded_plus_uncommitted_is_envelope",
            figures.awarded + figures.uncommitted == figures.envelope,
            f"{figures.awarded} + {figures.uncommitted} = {figures.envelope}",
        )
    )
    checks.append(
        Check(
            "disbursed_within_awarded",
            figures.disbursed <= figures.awarded,
            f"{figures.disbursed} <= {figures.awarded}",
        )
    )

    awards = list(session.scalars(select(Award).where(Award.call_id == call.id)))
    envelope = by_owner.get((AccountKind.envelope, call.id))
    envelope_id = envelope.id if envelope else None
    committed_to = dict(
        session.execute(
            select(LedgerTransfer.credit_account_id, func.sum(LedgerTransfer.amount))
            .where(LedgerTransfer.debit_account_id == envelope_id)
            .group_by(LedgerTransfer.credit_account_id)
        ).all()
    )
    returned_from = dict(
        session.execute(
            select(LedgerTransfer.debit_account_id, func.sum(LedgerTransfer.amount))
            .where(
                LedgerTransfer.credit_account_id == envelope_id,
                LedgerTransfer.kind == TransferKind.decommit,
            )
            .group_by(LedgerTransfer.debit_account_id)
        ).all()
    )
    paid_rows = dict(
        session.execute(
            select(Disbursement.milestone_id, func.sum(Disbursement.amount))
            .where(Disbursement.call_id == call.id)
            .group_by(Disbursement.milestone_id)
        ).all()
    )
    award_problems: list[str] = []
    milestone_problems: list[str] = []
    for award in awards:
        award_account = by_owner.get((AccountKind.award, award.id))
        paid = by_owner.get((AccountKind.paid, award.id))
        if award_account is None or paid is None:
            award_problems.append(f"{award.reference}: accounts missing")
            continue
        scheduled = sum(m.amount for m in award.milestones if not m.cancelled)
        committed = int(committed_to.get(award_account.id, 0)) - int(
            returned_from.get(award_account.id, 0)
        )
        if committed != award.amount or scheduled != award.amount or award_account.balance != 0:
            award_problems.append(
                f"{award.reference}: ledger {committed}, schedule {scheduled}, "
                f"amount {award.amount}"
            )
        if paid.balance > award.amount:
            award_problems.append(f"{award.reference}: paid {paid.balance} > {award.amount}")
        for milestone in award.milestones:
            account = by_owner.get((AccountKind.milestone, milestone.id))
            remaining = account.balance if account else 0
            disbursed = milestone.amount - remaining
            recorded = int(paid_rows.get(milestone.id, 0))
            if remaining < 0 or disbursed != recorded or disbursed > milestone.amount:
                milestone_problems.append(
                    f"{award.reference}/{milestone.position}: ledger {disbursed}, "
                    f"payments {recorded}, amount {milestone.amount}"
                )
    checks.append(
        Check(
            "awards_match_ledger",
            not award_problems,
            f"{len(awards)} awards: commitment, schedule and amount agree"
            if not award_problems
            else "; ".join(award_problems),
        )
    )
    checks.append(
        Check(
            "milestones_match_payments",
            not milestone_problems,
            "every milestone's ledger balance matches its payments"
            if not milestone_problems
            else "; ".join(milestone_problems),
        )
    )
    unposted = (
        session.scalar(
            select(func.count())
            .select_from(Disbursement)
            .where(
                Disbursement.call_id == call.id,
                ~select(LedgerTransfer.id)
                .where(
                    LedgerTransfer.cause_id == Disbursement.id,
                    LedgerTransfer.amount == func.abs(Disbursement.amount),
                )
                .exists(),
            )
        )
        or 0
    )
    checks.append(
        Check(
            "every_payment_posted",
            unposted == 0,
            "each disbursement and reversal has its ledger transfer"
            if unposted == 0
            else f"{unposted} payments without a transfer",
        )
    )
    return figures, transfer_count, checks
