"""The report queries: one statement each, streamed from a server-side cursor.

Running figures (an award's disbursed-to-date) are window functions in SQL, computed over all
of the award's payments before any date filter is applied, so a filtered report still shows
the true running totals.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from app.db import Database
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    Award,
    Disbursement,
    Milestone,
    MilestoneStatus,
    Organization,
    User,
)
from app.money import to_decimal

YIELD_PER = 1000

DISBURSEMENT_COLUMNS = [
    "value_date",
    "disbursement_id",
    "award_reference",
    "application_reference",
    "organization",
    "milestone",
    "amount",
    "currency",
    "award_amount",
    "award_disbursed_to_date",
    "award_remaining",
    "regions",
    "objectives",
    "reference",
    "recorded_by",
    "recorded_at",
]


@dataclass(frozen=True)
class DisbursementFilter:
    call_id: uuid.UUID
    date_from: date | None = None
    date_to: date | None = None
    organization_id: uuid.UUID | None = None
    region: str | None = None


def _labels(session: Session, call_id: uuid.UUID) -> tuple[dict[Any, str], dict[Any, str]]:
    """Regions and objectives of the call's awarded applications, as text, in two queries.

    Held per application (a few thousand at most), not per payment row.
    """
    awarded = select(Award.application_id).where(Award.call_id == call_id)
    regions: dict[Any, list[str]] = {}
    for application_id, code, share in session.execute(
        select(
            ApplicationRegion.application_id,
            ApplicationRegion.code,
            ApplicationRegion.share_hundredths,
        )
        .where(ApplicationRegion.application_id.in_(awarded))
        .order_by(ApplicationRegion.application_id, ApplicationRegion.position)
    ):
        regions.setdefault(application_id, []).append(f"{code} {share // 100}.{share % 100:02d}%")
    objectives: dict[Any, list[str]] = {}
    for application_id, code in session.execute(
        select(ApplicationObjective.application_id, ApplicationObjective.code)
        .where(ApplicationObjective.application_id.in_(awarded))
        .order_by(ApplicationObjective.application_id, ApplicationObjective.position)
    ):
        objectives.setdefault(application_id, []).append(code)
    return (
        {k: "; ".join(v) for k, v in regions.items()},
        {k: "; ".join(v) for k, v in objectives.items()},
    )


def payments_with_running_totals(call_id: uuid.UUID) -> Any:
    """The call's payments with each award's disbursed-to-date, as a subquery.

    The running total is computed over all of the call's payments here, so the filters applied
    to the outer query never change it.
    """
    return (
        select(
            Disbursement.id,
            Disbursement.award_id,
            Disbursement.milestone_id,
            Disbursement.amount,
            Disbursement.value_date,
            Disbursement.reference,
            Disbursement.recorded_by_id,
            Disbursement.recorded_at,
            func.sum(Disbursement.amount)
            .over(
                partition_by=Disbursement.award_id,
                order_by=(Disbursement.value_date, Disbursement.recorded_at, Disbursement.id),
            )
            .label("to_date"),
        )
        .where(Disbursement.call_id == call_id)
        .subquery()
    )


def filtered(
    stmt: Select[Any],
    flt: DisbursementFilter,
    payments: Any,
    organization_id: Any,
    application_id: Any,
) -> Select[Any]:
    """The report's filters on a statement over `payments` (value date, organisation, region)."""
    if flt.date_from:
        stmt = stmt.where(payments.c.value_date >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(payments.c.value_date <= flt.date_to)
    if flt.organization_id:
        stmt = stmt.where(organization_id == flt.organization_id)
    if flt.region:
        stmt = stmt.where(
            select(ApplicationRegion.code)
            .where(
                and_(
                    ApplicationRegion.application_id == application_id,
                    ApplicationRegion.code == flt.region,
                )
            )
            .exists()
        )
    return stmt


def disbursement_statement(flt: DisbursementFilter) -> Select[Any]:
    payments = payments_with_running_totals(flt.call_id)
    stmt = (
        select(
            payments.c.value_date,
            payments.c.id,
            Award.reference,
            Application.reference,
            Organization.name,
            Milestone.title,
            payments.c.amount,
            Award.currency,
            Award.amount,
            payments.c.to_date,
            Application.id,
            payments.c.reference,
            User.email,
            payments.c.recorded_at,
        )
        .join(Award, Award.id == payments.c.award_id)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Award.organization_id)
        .join(Milestone, Milestone.id == payments.c.milestone_id)
        .join(User, User.id == payments.c.recorded_by_id)
        .order_by(payments.c.value_date, payments.c.recorded_at, payments.c.id)
    )
    return filtered(stmt, flt, payments, Award.organization_id, Application.id)


def disbursement_rows(db: Database, flt: DisbursementFilter, timezone: str) -> Iterator[list[Any]]:
    zone = ZoneInfo(timezone)
    with db.transaction(read_only=True) as session:
        regions, objectives = _labels(session, flt.call_id)
        result = session.execute(
            disbursement_statement(flt).execution_options(yield_per=YIELD_PER, stream_results=True)
        )
        for row in result:
            (
                value_date,
                d_id,
                award_ref,
                app_ref,
                org,
                milestone,
                amount,
                currency,
                award_amount,
                to_date,
                application_id,
                reference,
                recorded_by,
                recorded_at,
            ) = row
            yield [
                value_date,
                str(d_id),
                award_ref,
                app_ref,
                org,
                milestone,
                to_decimal(amount),
                currency,
                to_decimal(award_amount),
                to_decimal(int(to_date)),
                to_decimal(award_amount - int(to_date)),
                regions.get(application_id, ""),
                objectives.get(application_id, ""),
                reference,
                recorded_by,
                _local(recorded_at, zone),
            ]


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


AWARD_COLUMNS = [
    "award_reference",
    "application_reference",
    "organization",
    "currency",
    "amount",
    "start_date",
    "end_date",
    "milestones",
    "milestones_planned",
    "milestones_reported",
    "milestones_approved",
    "milestones_paid",
    "disbursed",
    "remaining",
    "next_due_date",
    "overdue",
]


def award_register_rows(db: Database, call_id: uuid.UUID, today: date) -> Iterator[list[Any]]:
    counts = {
        status: func.count(Milestone.id).filter(Milestone.status == status)
        for status in MilestoneStatus
    }
    milestone_stats = (
        select(
            Milestone.award_id.label("award_id"),
            func.count(Milestone.id).label("total"),
            *(c.label(s.value) for s, c in counts.items()),
            func.min(Milestone.due_date)
            .filter(Milestone.status != MilestoneStatus.paid)
            .label("next_due"),
        )
        .where(Milestone.cancelled.is_(False))
        .group_by(Milestone.award_id)
        .subquery()
    )
    paid = (
        select(Disbursement.award_id.label("award_id"), func.sum(Disbursement.amount).label("paid"))
        .group_by(Disbursement.award_id)
        .subquery()
    )
    stmt = (
        select(
            Award.reference,
            Application.reference,
            Organization.name,
            Award.currency,
            Award.amount,
            Award.start_date,
            Award.end_date,
            milestone_stats.c.total,
            milestone_stats.c.planned,
            milestone_stats.c.reported,
            milestone_stats.c.approved,
            milestone_stats.c.paid,
            func.coalesce(paid.c.paid, 0),
            milestone_stats.c.next_due,
        )
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Award.organization_id)
        .outerjoin(milestone_stats, milestone_stats.c.award_id == Award.id)
        .outerjoin(paid, paid.c.award_id == Award.id)
        .where(Award.call_id == call_id)
        .order_by(Award.reference)
        .execution_options(yield_per=YIELD_PER, stream_results=True)
    )
    with db.transaction(read_only=True) as session:
        for row in session.execute(stmt):
            (
                award_ref,
                app_ref,
                org,
                currency,
                amount,
                start,
                end,
                total,
                planned,
                reported,
                approved,
                paid_count,
                disbursed,
                next_due,
            ) = row
            next_due = _as_date(next_due)
            yield [
                award_ref,
                app_ref,
                org,
                currency,
                to_decimal(amount),
                start,
                end,
                total or 0,
                planned or 0,
                reported or 0,
                approved or 0,
                paid_count or 0,
                to_decimal(int(disbursed)),
                to_decimal(amount - int(disbursed)),
                next_due,
                bool(next_due and next_due < today),
            ]


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
