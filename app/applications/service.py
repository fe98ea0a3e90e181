"""Application rules: drafting, submission with a full list of what is missing, withdrawal.

Visibility lives in `visible_applications` / `get_application_for`: applicants see their own
organisation's applications only, staff by role; everything else answers 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, false, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.applications.schemas import ApplicationIn, ApplicationUpdate, _ApplicationFields
from app.audit.service import record
from app.errors import Conflict, NotFound, Unprocessable
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    ApplicationStatus,
    Assignment,
    BudgetLine,
    Call,
    CallStatus,
    Document,
    ReferenceCounter,
    Role,
    User,
)
from app.models.base import utcnow
from app.money import format_money

WITHDRAWABLE = frozenset(
    {ApplicationStatus.draft, ApplicationStatus.submitted, ApplicationStatus.under_review}
)


def visible_applications(user: User) -> Select[tuple[Application]]:
    stmt = select(Application)
    if user.role is Role.applicant:
        return stmt.where(Application.organization_id == user.organization_id)
    if user.role is Role.admin:
        return stmt
    if user.role in (Role.program_officer, Role.finance_officer):
        # An organisation's draft is its own business until it is submitted.
        return stmt.where(Application.status != ApplicationStatus.draft)
    if user.role is Role.reviewer:
        # Only what is assigned to them now: a conflict or an unassignment ends the access.
        return stmt.where(
            Application.id.in_(
                select(Assignment.application_id).where(
                    Assignment.reviewer_id == user.id, Assignment.ended_at.is_(None)
                )
            )
        )
    return stmt.where(false())


def get_application_for(
    session: Session, user: User, application_id: uuid.UUID, *, lock: bool = False
) -> Application:
    stmt = visible_applications(user).where(Application.id == application_id)
    if lock:
        stmt = stmt.with_for_update()
    application = session.scalar(stmt)
    if application is None:
        raise NotFound("Application not found.")
    return application


def next_reference(session: Session, kind: str, year: int) -> str:
    """`APP-2026-0007`: one atomic upsert on the counter row, unique under any concurrency."""
    prefix = f"{kind}-{year}"
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(ReferenceCounter)
        .values(prefix=prefix, last=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.prefix], set_={"last": ReferenceCounter.last + 1}
        )
        .returning(ReferenceCounter.last)
    )
    number = session.execute(stmt).scalar_one()
    return f"{prefix}-{number:04d}"


def _check_codes(call: Call, payload: _ApplicationFields) -> None:
    problems: list[str] = []
    if payload.objectives is not None:
        known = {o["code"] for o in call.objectives}
        unknown = [c for c in payload.objectives if c not in known]
        if unknown:
            problems.append(f"unknown objectives {unknown}; the call has {sorted(known)}")
    if payload.regions is not None:
        known = {r["code"] for r in call.regions}
        unknown = [r.code for r in payload.regions if r.code not in known]
        if unknown:
            problems.append(f"unknown regions {unknown}; the call has {sorted(known)}")
    if problems:
        raise Unprocessable("; ".join(problems) + ".", "unknown_code")


def _hundredths(pct: Decimal) -> int:
    return int(pct * 100)


def _apply(application: Application, payload: _ApplicationFields, fields: set[str]) -> None:
    for name in ("title", "summary", "requested_amount", "duration_months"):
        if name in fields:
            setattr(application, name, getattr(payload, name))
    if "objectives" in fields:
        application.objectives = [
            ApplicationObjective(code=code, position=i)
            for i, code in enumerate(payload.objectives or [])
        ]
    if "regions" in fields:
        application.regions = [
            ApplicationRegion(code=r.code, share_hundredths=_hundredths(r.share_pct), position=i)
            for i, r in enumerate(payload.regions or [])
        ]
    if "budget" in fields:
        application.budget = [
            BudgetLine(
                category=line.category,
                description=line.description,
                amount=line.amount,
                position=i,
            )
            for i, line in enumerate(payload.budget or [])
        ]
    if "cost_share" in fields:
        share = payload.cost_share
        application.cost_share_amount = share.amount if share else None
        application.cost_share_currency = share.currency if share else None


def create_application(
    session: Session, *, actor: User, call: Call, payload: ApplicationIn
) -> Application:
    _check_codes(call, payload)
    if call.effective_status() is not CallStatus.published:
        raise Conflict("The call is not accepting applications.", "call_not_open")
    existing = session.scalar(
        select(Application.reference).where(
            Application.call_id == call.id,
            Application.organization_id == actor.organization_id,
            Application.status != ApplicationStatus.withdrawn,
        )
    )
    if existing is not None:
        raise Conflict(
            f"Your organisation already has application {existing} for this call.",
            "duplicate_application",
        )
    application = Application(
        reference=next_reference(session, "APP", utcnow().year),
        call=call,
        organization_id=actor.organization_id,
        created_by_id=actor.id,
        status=ApplicationStatus.draft,
    )
    _apply(application, payload, set(payload.model_fields_set))
    session.add(application)
    session.flush()
    record(
        session,
        actor=actor,
        action="application.created",
        entity_type="application",
        entity_id=application.id,
        data={"reference": application.reference, "call_id": str(call.id)},
    )
    return application


def _require_draft(application: Application, action: str) -> None:
    if application.status is not ApplicationStatus.draft:
        raise Conflict(
            f"Only a draft application can be {action}; this one is {application.status.value}.",
            "not_editable",
        )


def update_application(
    session: Session, *, actor: User, application: Application, payload: ApplicationUpdate
) -> Application:
    _check_codes(application.call, payload)
    _require_draft(application, "edited")
    fields = set(payload.model_fields_set)
    _apply(application, payload, fields)
    session.flush()
    record(
        session,
        actor=actor,
        action="application.updated",
        entity_type="application",
        entity_id=application.id,
        data={"fields": sorted(fields)},
    )
    return application


@dataclass(frozen=True)
class Missing:
    item: str
    kind: str
    message: str


_REQUIRED_FIELDS = (
    ("title", "a title"),
    ("summary", "a summary"),
    ("requested_amount", "the amount requested"),
    ("duration_months", "the duration in months"),
    ("objectives", "at least one objective of the call"),
    ("regions", "the regions, with shares summing to 100"),
)


def missing_items(
    application: Application, call: Call, document_types: Sequence[str]
) -> list[Missing]:
    """Everything that stops submission, all at once."""
    missing: list[Missing] = []
    for name, what in _REQUIRED_FIELDS:
        value = getattr(application, name)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            missing.append(Missing(name, "field", f"Give {what}."))
    amount = application.requested_amount
    if amount is not None and not call.min_award <= amount <= call.max_award:
        missing.append(
            Missing(
                "requested_amount",
                "amount",
                f"The amount requested must be between {format_money(call.min_award)} and "
                f"{format_money(call.max_award)} {call.currency}.",
            )
        )
    if application.budget and amount is not None:
        total = sum(line.amount for line in application.budget)
        if total != amount:
            missing.append(
                Missing(
                    "budget",
                    "budget",
                    f"The budget lines add up to {format_money(total)}, not the "
                    f"{format_money(amount)} requested.",
                )
            )
    present = set(document_types)
    for rule in call.required_documents:
        if rule["required"] and rule["type"] not in present:
            missing.append(
                Missing(rule["type"], "document", f"Upload the {rule['label'].lower()}.")
            )
    return missing


def document_types_of(session: Session, application_id: uuid.UUID) -> list[str]:
    return list(
        session.scalars(
            select(Document.doc_type)
            .where(Document.application_id == application_id, Document.milestone_id.is_(None))
            .distinct()
        )
    )


def submit_application(session: Session, *, actor: User, application: Application) -> Application:
    # Lock the call: a concurrent PATCH of its frozen terms must see this submission.
    call = session.scalar(select(Call).where(Call.id == application.call_id).with_for_update())
    assert call is not None
    missing = missing_items(application, call, document_types_of(session, application.id))
    if missing:
        raise Unprocessable(
            "The application is incomplete.",
            "incomplete",
            extra={"missing": [m.__dict__ for m in missing]},
        )
    _require_draft(application, "submitted")
    now = utcnow()
    if not call.is_open(now):
        when = "has not opened yet" if now < call.opens_at else "is closed"
        raise Conflict(f"The call {when}.", "call_not_open")
    application.status = ApplicationStatus.submitted
    application.submitted_at = now
    session.flush()
    record(
        session,
        actor=actor,
        action="application.submitted",
        entity_type="application",
        entity_id=application.id,
        data={
            "reference": application.reference,
            "requested_amount": format_money(application.requested_amount or 0),
        },
    )
    return application


def withdraw_application(session: Session, *, actor: User, application: Application) -> Application:
    if application.status not in WITHDRAWABLE:
        raise Conflict(
            f"A {application.status.value} application can no longer be withdrawn.",
            "invalid_state",
        )
    previous = application.status
    application.status = ApplicationStatus.withdrawn
    application.withdrawn_at = utcnow()
    # Nobody reviews a withdrawn application: its reviewers lose access to it.
    session.execute(
        update(Assignment)
        .where(Assignment.application_id == application.id, Assignment.ended_at.is_(None))
        .values(ended_at=application.withdrawn_at, end_reason="withdrawn")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="application.withdrawn",
        entity_type="application",
        entity_id=application.id,
        data={"from": previous.value},
    )
    return application


def list_query(
    user: User, call_id: uuid.UUID | None, status: ApplicationStatus | None
) -> Select[tuple[Application]]:
    stmt = visible_applications(user).order_by(Application.created_at.desc(), Application.id)
    if call_id is not None:
        stmt = stmt.where(Application.call_id == call_id)
    if status is not None:
        stmt = stmt.where(Application.status == status)
    return stmt


def share_pct(hundredths: int) -> int | float:
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


def application_view(application: Application) -> dict[str, Any]:
    """The API's view of an application (currency from its call)."""
    return {
        "id": application.id,
        "reference": application.reference,
        "call_id": application.call_id,
        "organization_id": application.organization_id,
        "status": application.status,
        "submitted_at": application.submitted_at,
        "title": application.title,
        "summary": application.summary,
        "currency": application.call.currency,
        "requested_amount": application.requested_amount,
        "duration_months": application.duration_months,
        "objectives": [o.code for o in application.objectives],
        "regions": [
            {"code": r.code, "share_pct": share_pct(r.share_hundredths)}
            for r in application.regions
        ],
        "budget": [
            {"category": b.category, "description": b.description, "amount": b.amount}
            for b in application.budget
        ],
        "cost_share": (
            {"amount": application.cost_share_amount, "currency": application.cost_share_currency}
            if application.cost_share_amount is not None
            else None
        ),
        "withdrawn_at": application.withdrawn_at,
        "decline_reason": application.decline_reason,
        "created_at": application.created_at,
        "updated_at": application.updated_at,
    }


def reviewer_view(application: Application) -> dict[str, Any]:
    """What a reviewer receives: with a blind call, nothing that identifies the organisation."""
    view = application_view(application)
    for key in (
        "organization_id",
        "withdrawn_at",
        "created_at",
        "updated_at",
        "submitted_at",
        "decline_reason",
    ):
        view.pop(key)
    blind = application.call.blind_review
    view["blind_review"] = blind
    view["organization"] = (
        None
        if blind
        else {"id": application.organization_id, "name": application.organization.name}
    )
    return view


def staff_screening(application: Application) -> dict[str, Any] | None:
    if application.screened_at is None:
        return None
    return {
        "eligible": application.status is not ApplicationStatus.ineligible,
        "notes": application.screening_notes,
        "screened_at": application.screened_at,
        "screened_by_id": application.screened_by_id,
    }
