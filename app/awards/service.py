"""Award decisions, amendments, milestones and disbursements, posted to the ledger.

Every limit is enforced under a lock: awards lock the call and its envelope account, so two
officers can never both spend its last dollars; disbursements lock the milestone and its
account, so concurrent payments see each other's effect. The ledger's CHECK constraints are
the last line: even a bug here could not overdraw an envelope, award or milestone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.applications.service import next_reference
from app.audit.service import record
from app.awards.schemas import (
    AmendedMilestoneIn,
    AmendmentIn,
    AwardIn,
    DeclineIn,
    DisbursementIn,
    MilestoneIn,
)
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.ledger import (
    InsufficientBalance,
    balances,
    envelope_account,
    lock_accounts,
    open_account,
    require_account,
    transfer,
)
from app.models import (
    AccountKind,
    Application,
    ApplicationStatus,
    Award,
    AwardAmendment,
    Call,
    Disbursement,
    LedgerAccount,
    Milestone,
    MilestoneStatus,
    Review,
    Role,
    TransferKind,
    User,
)
from app.models.base import utcnow
from app.money import format_money


def _money(minor: int) -> str:
    return format_money(minor)


# --- visibility ------------------------------------------------------------------------


def visible_awards(user: User) -> Select[tuple[Award]]:
    stmt = select(Award)
    if user.role is Role.applicant:
        return stmt.where(Award.organization_id == user.organization_id)
    if user.role in (Role.admin, Role.program_officer, Role.finance_officer):
        return stmt
    return stmt.where(Award.id.is_(None))


def get_award_for(
    session: Session, user: User, award_id: uuid.UUID, *, lock: bool = False
) -> Award:
    stmt = visible_awards(user).where(Award.id == award_id)
    if lock:
        stmt = stmt.with_for_update()
    award = session.scalar(stmt)
    if award is None:
        raise NotFound("Award not found.")
    return award


def get_milestone_for(
    session: Session, user: User, milestone_id: uuid.UUID, *, lock: bool = False
) -> Milestone:
    stmt = (
        select(Milestone)
        .join(Award, Award.id == Milestone.award_id)
        .where(
            Milestone.id == milestone_id,
            Award.id.in_(visible_awards(user).with_only_columns(Award.id)),
        )
    )
    if lock:
        stmt = stmt.with_for_update(of=Milestone)
    milestone = session.scalar(stmt)
    if milestone is None or milestone.cancelled:
        raise NotFound("Milestone not found.")
    return milestone


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardFigures:
    disbursed: int
    milestone_remaining: dict[uuid.UUID, int]


def figures(session: Session, awards: Sequence[Award]) -> dict[uuid.UUID, AwardFigures]:
    """Disbursed and remaining amounts of many awards, from the ledger, in two queries."""
    paid = balances(session, AccountKind.paid, [a.id for a in awards])
    remaining = balances(
        session, AccountKind.milestone, [m.id for a in awards for m in a.milestones]
    )
    return {
        a.id: AwardFigures(
            disbursed=paid.get(a.id, 0),
            milestone_remaining={m.id: remaining.get(m.id, 0) for m in a.milestones},
        )
        for a in awards
    }


# --- decisions ---------------------------------------------------------------------------


def _require_under_review(application: Application) -> None:
    if application.status is not ApplicationStatus.under_review:
        raise Conflict(
            f"Only an application under review can be decided; this one is "
            f"{application.status.value}.",
            "invalid_state",
        )


def _require_not_reviewer_of(session: Session, actor: User, application: Application) -> None:
    reviewed = session.scalar(
        select(Review.id).where(
            Review.application_id == application.id, Review.reviewer_id == actor.id
        )
    )
    if reviewed is not None:
        raise Conflict(
            "You reviewed this application, so someone else must decide it.",
            "segregation_of_duties",
        )


def _lock_call(session: Session, call_id: uuid.UUID) -> Call:
    call = session.scalar(select(Call).where(Call.id == call_id).with_for_update())
    assert call is not None
    return call


def award_application(
    session: Session, *, actor: User, application: Application, payload: AwardIn
) -> Award:
    call = application.call
    problems = []
    if not call.min_award <= payload.amount <= call.max_award:
        problems.append(
            f"the amount must be between {_money(call.min_award)} and {_money(call.max_award)}"
        )
    if application.requested_amount is not None and payload.amount > application.requested_amount:
        problems.append(
            f"the amount may not exceed the {_money(application.requested_amount)} requested"
        )
    if problems:
        raise Unprocessable("; ".join(problems).capitalize() + ".", "invalid_award")
    _require_under_review(application)
    _require_not_reviewer_of(session, actor, application)
    call = _lock_call(session, call.id)
    envelope = envelope_account(session, call)
    if envelope.balance < payload.amount:
        raise Conflict(
            f"The award would take the call past its envelope: {_money(envelope.balance)} "
            f"{call.currency} remains uncommitted.",
            "envelope_exceeded",
        )
    award = Award(
        reference=next_reference(session, "AWD", utcnow().year),
        call_id=call.id,
        application_id=application.id,
        organization_id=application.organization_id,
        currency=call.currency,
        amount=payload.amount,
        start_date=payload.start_date,
        end_date=payload.end_date,
        decided_by_id=actor.id,
    )
    session.add(award)
    session.flush()
    award_account = open_account(session, AccountKind.award, award.id, call)
    open_account(session, AccountKind.paid, award.id, call)
    transfer(
        session,
        debit=envelope,
        credit=award_account,
        amount=award.amount,
        kind=TransferKind.commit,
        cause_type="award",
        cause_id=award.id,
    )
    for position, item in enumerate(payload.milestones, start=1):
        _add_milestone(session, award, call, award_account, position, item, ("award", award.id))
    application.status = ApplicationStatus.awarded
    application.decided_at = utcnow()
    session.flush()
    session.refresh(award)
    record(
        session,
        actor=actor,
        action="award.created",
        entity_type="award",
        entity_id=award.id,
        data={
            "reference": award.reference,
            "application_id": str(application.id),
            "amount": _money(award.amount),
            "milestones": [_money(m.amount) for m in payload.milestones],
        },
    )
    return award


def _add_milestone(
    session: Session,
    award: Award,
    call: Call,
    award_account: LedgerAccount,
    position: int,
    item: MilestoneIn | AmendedMilestoneIn,
    cause: tuple[str, uuid.UUID],
) -> Milestone:
    """A new milestone with its own account, funded from the award's commitment."""
    milestone = Milestone(
        award_id=award.id,
        position=position,
        title=item.title,
        due_date=item.due_date,
        amount=item.amount,
        status=MilestoneStatus.planned,
    )
    session.add(milestone)
    session.flush()
    transfer(
        session,
        debit=award_account,
        credit=open_account(session, AccountKind.milestone, milestone.id, call),
        amount=item.amount,
        kind=TransferKind.allocate,
        cause_type=cause[0],
        cause_id=cause[1],
    )
    return milestone


def decline_application(
    session: Session, *, actor: User, application: Application, payload: DeclineIn
) -> Application:
    _require_under_review(application)
    _require_not_reviewer_of(session, actor, application)
    application.status = ApplicationStatus.declined
    application.decline_reason = payload.reason
    application.decided_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="application.declined",
        entity_type="application",
        entity_id=application.id,
        data={"reason": payload.reason},
    )
    return application


# --- amendments --------------------------------------------------------------------------


def amend_award(
    session: Session, *, actor: User, award: Award, payload: AmendmentIn
) -> AwardAmendment:
    """Change the amount and milestone schedule; never below what is paid, never past the
    envelope. Money moves milestone → award → envelope for decreases, then back out."""
    end_date = payload.end_date or award.end_date
    current = {m.id: m for m in award.milestones if not m.cancelled}
    unknown = [str(m.id) for m in payload.milestones if m.id is not None and m.id not in current]
    if unknown:
        raise Unprocessable(f"Unknown milestones {unknown}.", "unknown_milestone")
    outside = [
        m.title for m in payload.milestones if not award.start_date <= m.due_date <= end_date
    ]
    if outside or end_date <= award.start_date:
        raise Unprocessable(
            "Milestone due dates must lie inside the award period.", "invalid_schedule"
        )
    if any(m.amount <= 0 for m in payload.milestones):
        raise Unprocessable("Every milestone amount must be positive.", "invalid_schedule")
    call = _lock_call(session, award.call_id)
    envelope = envelope_account(session, call)
    award_account = require_account(session, AccountKind.award, award.id)
    milestone_accounts = {
        mid: require_account(session, AccountKind.milestone, mid) for mid in current
    }
    lock_accounts(session, [envelope, award_account, *milestone_accounts.values()])

    kept = {m.id for m in payload.milestones if m.id is not None}
    paid_on = {mid: current[mid].amount - acc.balance for mid, acc in milestone_accounts.items()}
    below_paid = [
        current[m.id].title
        for m in payload.milestones
        if m.id is not None and m.amount < paid_on[m.id]
    ]
    dropped_paid = [current[mid].title for mid in current if mid not in kept and paid_on[mid] > 0]
    if below_paid or dropped_paid:
        raise Conflict(
            "A milestone cannot go below what has already been paid on it: "
            + ", ".join(below_paid + dropped_paid)
            + ".",
            "below_disbursed",
        )
    delta = payload.amount - award.amount
    if delta > envelope.balance:
        raise Conflict(
            f"The amendment would take the call past its envelope: {_money(envelope.balance)} "
            f"{call.currency} remains uncommitted.",
            "envelope_exceeded",
        )
    previous_schedule = _schedule(award)
    amendment = AwardAmendment(
        award_id=award.id,
        previous_amount=award.amount,
        new_amount=payload.amount,
        reason=payload.reason,
        previous_schedule=previous_schedule,
        new_schedule=[],
        amended_by_id=actor.id,
    )
    session.add(amendment)
    session.flush()

    def move(debit, credit, amount: int, kind: TransferKind) -> None:
        if amount > 0:
            transfer(
                session,
                debit=debit,
                credit=credit,
                amount=amount,
                kind=kind,
                cause_type="amendment",
                cause_id=amendment.id,
            )

    # 1. Release what milestones give back (lowered or dropped) to the award account.
    for mid, milestone in current.items():
        new_amount = next((m.amount for m in payload.milestones if m.id == mid), 0)
        move(
            milestone_accounts[mid],
            award_account,
            milestone.amount - new_amount,
            TransferKind.deallocate,
        )
    # 2. Settle the award's total with the envelope.
    if delta > 0:
        move(envelope, award_account, delta, TransferKind.commit)
    elif delta < 0:
        move(award_account, envelope, -delta, TransferKind.decommit)
    # 3. Fund what milestones gain, and the new ones.
    position = max((m.position for m in award.milestones), default=0)
    for item in payload.milestones:
        if item.id is None:
            position += 1
            _add_milestone(
                session, award, call, award_account, position, item, ("amendment", amendment.id)
            )
            continue
        milestone = current[item.id]
        move(
            award_account,
            milestone_accounts[item.id],
            item.amount - milestone.amount,
            TransferKind.allocate,
        )
        milestone.title, milestone.due_date, milestone.amount = (
            item.title,
            item.due_date,
            item.amount,
        )
        _settle_status(milestone, milestone_accounts[item.id].balance)
    for mid, milestone in current.items():
        if mid not in kept:
            milestone.amount = 0
            milestone.cancelled = True
    award.amount = payload.amount
    award.end_date = end_date
    session.flush()
    session.refresh(award)
    amendment.new_schedule = _schedule(award)
    session.flush()
    record(
        session,
        actor=actor,
        action="award.amended",
        entity_type="award",
        entity_id=award.id,
        data={
            "amendment_id": str(amendment.id),
            "from": _money(amendment.previous_amount),
            "to": _money(amendment.new_amount),
            "reason": payload.reason,
        },
    )
    return amendment


def _schedule(award: Award) -> list[dict[str, str]]:
    return [
        {
            "id": str(m.id),
            "title": m.title,
            "due_date": m.due_date.isoformat(),
            "amount": _money(m.amount),
        }
        for m in award.milestones
        if not m.cancelled
    ]


def _settle_status(milestone: Milestone, remaining: int) -> None:
    """Paid exactly when nothing remains on an approved milestone, and back when it reopens."""
    if milestone.status is MilestoneStatus.approved and remaining == 0:
        milestone.status = MilestoneStatus.paid
    elif milestone.status is MilestoneStatus.paid and remaining > 0:
        milestone.status = MilestoneStatus.approved


# --- milestones --------------------------------------------------------------------------


def require_planned(milestone: Milestone) -> None:
    if milestone.status is not MilestoneStatus.planned:
        raise Conflict(
            f"Only a planned milestone can be reported; this one is {milestone.status.value}.",
            "invalid_state",
        )


def approve_milestone(session: Session, *, actor: User, milestone: Milestone) -> Milestone:
    if milestone.status is not MilestoneStatus.reported:
        raise Conflict("Only a reported milestone can be approved.", "invalid_state")
    milestone.status = MilestoneStatus.approved
    milestone.approved_at = utcnow()
    milestone.approved_by_id = actor.id
    milestone.rejection_reason = None
    session.flush()
    record(
        session,
        actor=actor,
        action="milestone.approved",
        entity_type="milestone",
        entity_id=milestone.id,
        data={"award_id": str(milestone.award_id)},
    )
    return milestone


def reject_milestone(
    session: Session, *, actor: User, milestone: Milestone, reason: str
) -> Milestone:
    if milestone.status is not MilestoneStatus.reported:
        raise Conflict("Only a reported milestone can be rejected.", "invalid_state")
    milestone.status = MilestoneStatus.planned
    milestone.rejection_reason = reason
    session.flush()
    record(
        session,
        actor=actor,
        action="milestone.rejected",
        entity_type="milestone",
        entity_id=milestone.id,
        data={"award_id": str(milestone.award_id), "reason": reason},
    )
    return milestone


# --- disbursements -----------------------------------------------------------------------


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def record_disbursement(
    session: Session, *, actor: User, award: Award, payload: DisbursementIn
) -> Disbursement:
    call = session.get(Call, award.call_id)
    assert call is not None
    if payload.amount <= 0:
        raise Unprocessable("The amount must be positive.", "invalid_amount")
    if payload.value_date > today_in(call.timezone):
        raise Unprocessable("The value date cannot be in the future.", "future_value_date")
    milestone = session.scalar(
        select(Milestone)
        .where(Milestone.id == payload.milestone_id, Milestone.award_id == award.id)
        .with_for_update()
    )
    if milestone is None or milestone.cancelled:
        raise Unprocessable("milestone_id is not a milestone of this award.", "unknown_milestone")
    milestone_account = require_account(session, AccountKind.milestone, milestone.id, lock=True)
    paid_account = require_account(session, AccountKind.paid, award.id, lock=True)
    if milestone.status is not MilestoneStatus.approved:
        raise Conflict(
            f"Only an approved milestone can be paid; this one is {milestone.status.value}.",
            "milestone_not_approved",
        )
    if milestone.approved_by_id == actor.id:
        raise Conflict(
            "You approved this milestone, so someone else must record its payment.",
            "segregation_of_duties",
        )
    award_remaining = award.amount - paid_account.balance
    if payload.amount > milestone_account.balance or payload.amount > award_remaining:
        raise Conflict(
            f"The payment exceeds what remains: {_money(milestone_account.balance)} on the "
            f"milestone, {_money(award_remaining)} on the award.",
            "exceeds_remaining",
        )
    disbursement = Disbursement(
        call_id=award.call_id,
        award_id=award.id,
        milestone_id=milestone.id,
        amount=payload.amount,
        value_date=payload.value_date,
        reference=payload.reference,
        recorded_by_id=actor.id,
        recorded_at=utcnow(),
    )
    session.add(disbursement)
    session.flush()
    try:
        transfer(
            session,
            debit=milestone_account,
            credit=paid_account,
            amount=payload.amount,
            kind=TransferKind.disburse,
            cause_type="disbursement",
            cause_id=disbursement.id,
        )
    except InsufficientBalance:  # pragma: no cover - the check above runs under the same lock
        raise Conflict("The payment exceeds what remains.", "exceeds_remaining") from None
    _settle_status(milestone, milestone_account.balance)
    session.flush()
    record(
        session,
        actor=actor,
        action="disbursement.recorded",
        entity_type="disbursement",
        entity_id=disbursement.id,
        data={
            "award_id": str(award.id),
            "milestone_id": str(milestone.id),
            "amount": _money(payload.amount),
            "value_date": payload.value_date.isoformat(),
            "reference": payload.reference,
        },
    )
    return disbursement


def get_disbursement_for(
    session: Session, user: User, disbursement_id: uuid.UUID, *, lock: bool = False
) -> Disbursement:
    stmt = select(Disbursement).where(
        Disbursement.id == disbursement_id,
        Disbursement.award_id.in_(visible_awards(user).with_only_columns(Award.id)),
    )
    if lock:
        stmt = stmt.with_for_update()
    disbursement = session.scalar(stmt)
    if disbursement is None:
        raise NotFound("Disbursement not found.")
    return disbursement


def reverse_disbursement(
    session: Session, *, actor: User, original: Disbursement, reason: str
) -> Disbursement:
    """A new entry for the whole amount, once per payment; the payment itself never changes."""
    if original.reverses_id is not None:
        raise Conflict("A reversal cannot itself be reversed.", "is_reversal")
    milestone = session.scalar(
        select(Milestone).where(Milestone.id == original.milestone_id).with_for_update()
    )
    assert milestone is not None
    already = session.scalar(select(Disbursement.id).where(Disbursement.reverses_id == original.id))
    if already is not None:
        raise Conflict("This disbursement has already been reversed.", "already_reversed")
    milestone_account = require_account(session, AccountKind.milestone, milestone.id, lock=True)
    paid_account = require_account(session, AccountKind.paid, original.award_id, lock=True)
    reversal = Disbursement(
        call_id=original.call_id,
        award_id=original.award_id,
        milestone_id=original.milestone_id,
        amount=-original.amount,
        value_date=today_in(_call_timezone(session, original.call_id)),
        reference=original.reference,
        reverses_id=original.id,
        reason=reason,
        recorded_by_id=actor.id,
        recorded_at=utcnow(),
    )
    session.add(reversal)
    session.flush()
    transfer(
        session,
        debit=paid_account,
        credit=milestone_account,
        amount=original.amount,
        kind=TransferKind.reverse,
        cause_type="reversal",
        cause_id=reversal.id,
    )
    _settle_status(milestone, milestone_account.balance)
    session.flush()
    record(
        session,
        actor=actor,
        action="disbursement.reversed",
        entity_type="disbursement",
        entity_id=reversal.id,
        data={"reverses": str(original.id), "amount": _money(-original.amount), "reason": reason},
    )
    return reversal


def _call_timezone(session: Session, call_id: uuid.UUID) -> str:
    return session.scalar(select(Call.timezone).where(Call.id == call_id)) or "UTC"


def require_finance(user: User) -> None:
    if user.role is not Role.finance_officer:
        raise Forbidden("Only finance officers record payments.", "forbidden_role")
