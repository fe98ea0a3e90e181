"""Awards, amendments, milestones, disbursements, allocation, reconciliation, co-funding."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.applications.router import application_out
from app.applications.schemas import ApplicationOut
from app.applications.service import get_application_for
from app.audit.service import record
from app.auth.deps import (
    ApplicantUser,
    AwardReader,
    FinanceOfficer,
    MoneyReader,
    ProgramOfficer,
    require_roles,
)
from app.awards import allocation, payments, service
from app.awards.schemas import (
    AllocationOut,
    AmendmentIn,
    AmendmentOut,
    AwardIn,
    AwardOut,
    CoFundingOut,
    ContributionIn,
    DeclineIn,
    DisbursementIn,
    DisbursementOut,
    MilestoneOut,
    PledgeIn,
    ReconciliationCheck,
    ReconciliationOut,
    RejectIn,
    ReverseIn,
    SplitOut,
)
from app.calls.service import get_call_for
from app.db import Database, DbSession
from app.documents import evidence
from app.documents.schemas import DocumentOut
from app.errors import BadRequest, NotFound, error_responses
from app.ids import ParsedId
from app.models import (
    Application,
    Award,
    CoFundingContribution,
    CoFundingPledge,
    Disbursement,
    Milestone,
    Organization,
    Role,
    User,
)
from app.money import format_money
from app.pagination import Page, Pagination, fetch_page

router = APIRouter(tags=["awards"], responses=error_responses(401, 503))

# --- output builders ---------------------------------------------------------------------


def _milestone_out(milestone: Milestone, remaining: int) -> MilestoneOut:
    return MilestoneOut(
        id=milestone.id,
        award_id=milestone.award_id,
        position=milestone.position,
        title=milestone.title,
        due_date=milestone.due_date,
        amount=milestone.amount,
        disbursed=milestone.amount - remaining,
        remaining=remaining,
        status=milestone.status,
        narrative=milestone.narrative,
        reported_at=milestone.reported_at,
        approved_at=milestone.approved_at,
        approved_by_id=milestone.approved_by_id,
        rejection_reason=milestone.rejection_reason,
        cancelled=milestone.cancelled,
    )


def awards_out(session: Session, awards: Sequence[Award]) -> list[AwardOut]:
    """Awards with their figures and names, in a fixed number of queries for any page size."""
    figures = service.figures(session, awards)
    names = {
        application_id: (reference, organization)
        for application_id, reference, organization in session.execute(
            select(Application.id, Application.reference, Organization.name)
            .join(Organization, Organization.id == Application.organization_id)
            .where(Application.id.in_([a.application_id for a in awards]))
        )
    }
    return [
        AwardOut(
            id=a.id,
            reference=a.reference,
            call_id=a.call_id,
            application_id=a.application_id,
            application_reference=names[a.application_id][0],
            organization_id=a.organization_id,
            organization_name=names[a.application_id][1],
            currency=a.currency,
            amount=a.amount,
            disbursed=figures[a.id].disbursed,
            remaining=a.amount - figures[a.id].disbursed,
            start_date=a.start_date,
            end_date=a.end_date,
            milestones=[
                _milestone_out(m, figures[a.id].milestone_remaining[m.id])
                for m in a.milestones
                if not m.cancelled
            ],
            created_at=a.created_at,
        )
        for a in awards
    ]


# --- decisions ---------------------------------------------------------------------------


@router.post(
    "/applications/{id}/award",
    status_code=201,
    response_model=AwardOut,
    responses=error_responses(
        400,
        403,
        404,
        413,
        422,
        described={
            409: "Not under review, past the envelope, or the officer reviewed the application"
        },
    ),
)
def award_application(
    user: ProgramOfficer, app_id: ParsedId, payload: AwardIn, session: DbSession
) -> AwardOut:
    """Award an application under review. 409 `envelope_exceeded` when the call's awards
    would pass its envelope; nothing changes then."""
    application = get_application_for(session, user, app_id, lock=True)
    award = service.award_application(session, actor=user, application=application, payload=payload)
    return awards_out(session, [award])[0]


@router.post(
    "/applications/{id}/decline",
    response_model=ApplicationOut,
    responses=error_responses(400, 403, 404, 413, 422, described={409: "Not under review"}),
)
def decline_application(
    user: ProgramOfficer, app_id: ParsedId, payload: DeclineIn, session: DbSession
) -> ApplicationOut:
    """Decline with a reason the applicant sees."""
    application = get_application_for(session, user, app_id, lock=True)
    return application_out(
        service.decline_application(session, actor=user, application=application, payload=payload),
        user,
    )


@router.get("/awards", response_model=Page[AwardOut], responses=error_responses(403))
def list_awards(
    user: AwardReader,
    session: DbSession,
    page: Pagination,
    call_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> Page[AwardOut]:
    """Applicants see their own organisation's awards; staff who handle money see all."""
    stmt = service.visible_awards(user).order_by(Award.created_at, Award.id)
    if call_id:
        stmt = stmt.where(Award.call_id == call_id)
    if organization_id:
        stmt = stmt.where(Award.organization_id == organization_id)
    rows, total = fetch_page(session, stmt, page)
    return Page[AwardOut](
        items=awards_out(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@router.get("/awards/{id}", response_model=AwardOut, responses=error_responses(403, 404))
def get_award(user: AwardReader, award_id: ParsedId, session: DbSession) -> AwardOut:
    return awards_out(session, [service.get_award_for(session, user, award_id)])[0]


@router.post(
    "/awards/{id}/amendments",
    status_code=201,
    response_model=AmendmentOut,
    responses=error_responses(
        400,
        403,
        404,
        413,
        422,
        described={409: "Below what is paid, or past the envelope"},
    ),
)
def amend_award(
    user: ProgramOfficer, award_id: ParsedId, payload: AmendmentIn, session: DbSession
) -> AmendmentOut:
    """Change the amount and schedule, with a reason: never below what is paid, never past
    the envelope."""
    award = service.get_award_for(session, user, award_id, lock=True)
    amendment = service.amend_award(session, actor=user, award=award, payload=payload)
    return AmendmentOut(
        id=amendment.id,
        award_id=award.id,
        previous_amount=amendment.previous_amount,
        new_amount=amendment.new_amount,
        reason=amendment.reason,
        created_at=amendment.created_at,
        award=awards_out(session, [award])[0],
    )


# --- milestones --------------------------------------------------------------------------


def _one_milestone(session: Session, milestone: Milestone) -> MilestoneOut:
    award = session.get(Award, milestone.award_id)
    assert award is not None
    remaining = service.figures(session, [award])[award.id].milestone_remaining[milestone.id]
    return _milestone_out(milestone, remaining)


@router.get("/milestones/{id}", response_model=MilestoneOut, responses=error_responses(403, 404))
def get_milestone(user: AwardReader, milestone_id: ParsedId, session: DbSession) -> MilestoneOut:
    return _one_milestone(session, service.get_milestone_for(session, user, milestone_id))


@router.get(
    "/milestones/{id}/evidence",
    response_model=list[DocumentOut],
    responses=error_responses(403, 404),
)
def list_evidence(
    user: AwardReader, milestone_id: ParsedId, session: DbSession
) -> list[DocumentOut]:
    milestone = service.get_milestone_for(session, user, milestone_id)
    return [DocumentOut.model_validate(v) for v in evidence.list_views(session, milestone.id)]


@router.post(
    "/milestones/{id}/report",
    response_model=MilestoneOut,
    openapi_extra=evidence.REPORT_BODY,
    responses=error_responses(
        403,
        404,
        described={
            400: "Malformed multipart body",
            409: "The milestone is not planned",
            413: "An evidence file is too large",
            415: "An evidence file is not an allowed type",
            422: "No narrative, or a part with another name",
            503: "Document storage or the database is unavailable; nothing was recorded",
            507: "Document storage is full; nothing was recorded",
        },
    ),
)
async def report_milestone(
    request: Request, user: ApplicantUser, milestone_id: ParsedId
) -> MilestoneOut:
    """The applicant reports a milestone: a `narrative` field and zero or more `files`."""
    db: Database = request.app.state.db
    target = await run_in_threadpool(evidence.report_target, db, user, milestone_id)
    report = await evidence.receive_report(
        request.stream(),
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.app.state.storage,
        cap=request.app.state.settings.max_upload_bytes,
    )
    milestone = await evidence.record_report(db, request.app.state.storage, user, target, report)
    with db.transaction(read_only=True) as session:
        return _one_milestone(session, session.get(Milestone, milestone.id))  # type: ignore[arg-type]


@router.post(
    "/milestones/{id}/approve",
    response_model=MilestoneOut,
    responses=error_responses(403, 404, described={409: "Not reported"}),
)
def approve_milestone(
    user: ProgramOfficer, milestone_id: ParsedId, session: DbSession
) -> MilestoneOut:
    milestone = service.get_milestone_for(session, user, milestone_id, lock=True)
    return _one_milestone(
        session, service.approve_milestone(session, actor=user, milestone=milestone)
    )


@router.post(
    "/milestones/{id}/reject",
    response_model=MilestoneOut,
    responses=error_responses(400, 403, 404, 413, 422, described={409: "Not reported"}),
)
def reject_milestone(
    user: ProgramOfficer, milestone_id: ParsedId, payload: RejectIn, session: DbSession
) -> MilestoneOut:
    """Send a reported milestone back to `planned`, with the reason."""
    milestone = service.get_milestone_for(session, user, milestone_id, lock=True)
    return _one_milestone(
        session,
        service.reject_milestone(session, actor=user, milestone=milestone, reason=payload.reason),
    )


# --- disbursements -----------------------------------------------------------------------


async def raw_json(request: Request) -> Any:
    """The request body as parsed JSON: what an idempotent retry is compared on."""
    try:
        return await request.json()
    except ValueError:
        # Not JSON at all (an empty body, another content type): the body model answers 422.
        return None


@router.post(
    "/awards/{id}/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    responses=error_responses(
        403,
        404,
        413,
        described={
            400: "The Idempotency-Key header is missing, or the body cannot be parsed",
            409: "Milestone not approved, amount past what remains, or segregation of duties",
            422: "Invalid body, future value date, or a reused key with another body",
        },
    ),
)
def record_disbursement(
    request: Request,
    user: FinanceOfficer,
    award_id: ParsedId,
    payload: DisbursementIn,
    body: Annotated[Any, Depends(raw_json)],
    session: DbSession,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Any:
    """Record a payment against an approved milestone. Requires `Idempotency-Key`: a retry
    with the same key and body returns the original response."""
    if not idempotency_key:
        raise BadRequest("The Idempotency-Key header is required.", "idempotency_key_required")
    recorded = payments.record_once(
        session,
        user=user,
        award_id=award_id,
        route=request.url.path,
        key=idempotency_key,
        request_body=body,
        payload=payload,
    )
    if recorded.created is None:
        return JSONResponse(
            recorded.body,
            status_code=recorded.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    return recorded.created


@router.get(
    "/awards/{id}/disbursements",
    response_model=list[DisbursementOut],
    responses=error_responses(403, 404),
)
def list_disbursements(
    user: AwardReader, award_id: ParsedId, session: DbSession
) -> list[DisbursementOut]:
    award = service.get_award_for(session, user, award_id)
    rows = list(
        session.scalars(
            select(Disbursement)
            .where(Disbursement.award_id == award.id)
            .order_by(Disbursement.recorded_at, Disbursement.id)
        )
    )
    reversed_by = {d.reverses_id: d.id for d in rows if d.reverses_id}
    return [payments.disbursement_out(d, award.currency, reversed_by.get(d.id)) for d in rows]


@router.post(
    "/disbursements/{id}/reverse",
    status_code=201,
    response_model=DisbursementOut,
    responses=error_responses(
        400, 403, 404, 413, 422, described={409: "Already reversed, or itself a reversal"}
    ),
)
def reverse_disbursement(
    user: FinanceOfficer, disbursement_id: ParsedId, payload: ReverseIn, session: DbSession
) -> DisbursementOut:
    """Record a reversing entry for the whole amount; a second reversal is 409."""
    original = service.get_disbursement_for(session, user, disbursement_id, lock=True)
    award = service.get_award_for(session, user, original.award_id, lock=True)
    reversal = service.reverse_disbursement(
        session, actor=user, original=original, reason=payload.reason
    )
    return payments.disbursement_out(reversal, award.currency)


# --- the call's money --------------------------------------------------------------------


PledgeRecorder = Annotated[User, Depends(require_roles(Role.program_officer, Role.finance_officer))]


@router.get(
    "/calls/{id}/allocation", response_model=AllocationOut, responses=error_responses(403, 404)
)
def call_allocation(user: MoneyReader, call_id: ParsedId, session: DbSession) -> AllocationOut:
    """Envelope, awarded, disbursed, uncommitted and undisbursed, split by region (by each
    application's shares) and by objective (equally), exact to the cent."""
    call = get_call_for(session, user, call_id)
    figures = allocation.totals(session, call)
    by_region, by_objective = allocation.splits(session, call)
    return AllocationOut(
        currency=call.currency,
        envelope=figures.envelope,
        awarded=figures.awarded,
        disbursed=figures.disbursed,
        uncommitted=figures.uncommitted,
        undisbursed=figures.undisbursed,
        by_region=[
            SplitOut(code=c, awarded=by_region.awarded[c], disbursed=by_region.disbursed[c])
            for c in by_region.awarded
        ],
        by_objective=[
            SplitOut(code=c, awarded=by_objective.awarded[c], disbursed=by_objective.disbursed[c])
            for c in by_objective.awarded
        ],
        cofunding=[_pledge_out(p) for p in allocation.cofunding(session, call)],
    )


@router.get(
    "/calls/{id}/reconciliation",
    response_model=ReconciliationOut,
    responses=error_responses(403, 404),
)
def call_reconciliation(
    user: MoneyReader, call_id: ParsedId, session: DbSession
) -> ReconciliationOut:
    """Recompute every balance from the ledger entries and check SPEC §8's invariants."""
    call = get_call_for(session, user, call_id)
    figures, transfers, checks = allocation.reconcile(session, call)
    return ReconciliationOut(
        ok=all(c.ok for c in checks),
        currency=call.currency,
        envelope=figures.envelope,
        awarded=figures.awarded,
        disbursed=figures.disbursed,
        uncommitted=figures.uncommitted,
        transfers=transfers,
        checks=[ReconciliationCheck(name=c.name, ok=c.ok, detail=c.detail) for c in checks],
    )


def _pledge_out(figures: allocation.PledgeFigures) -> CoFundingOut:
    pledge = figures.pledge
    return CoFundingOut(
        id=pledge.id,
        funder=pledge.funder,
        currency=pledge.currency,
        pledged=pledge.amount,
        contributed=figures.contributed,
        outstanding=pledge.amount - figures.contributed,
        pledged_on=pledge.pledged_on,
    )


@router.get(
    "/calls/{id}/cofunding",
    response_model=list[CoFundingOut],
    responses=error_responses(403, 404),
)
def list_pledges(user: MoneyReader, call_id: ParsedId, session: DbSession) -> list[CoFundingOut]:
    call = get_call_for(session, user, call_id)
    return [_pledge_out(p) for p in allocation.cofunding(session, call)]


@router.post(
    "/calls/{id}/cofunding",
    status_code=201,
    response_model=CoFundingOut,
    responses=error_responses(400, 403, 404, 413, 422),
)
def record_pledge(
    user: PledgeRecorder, call_id: ParsedId, payload: PledgeIn, session: DbSession
) -> CoFundingOut:
    """Record another funder's pledge, in its own currency (never added to the envelope)."""
    call = get_call_for(session, user, call_id)
    pledge = CoFundingPledge(call_id=call.id, recorded_by_id=user.id, **payload.model_dump())
    session.add(pledge)
    session.flush()
    record(
        session,
        actor=user,
        action="cofunding.pledged",
        entity_type="cofunding_pledge",
        entity_id=pledge.id,
        data={
            "funder": pledge.funder,
            "currency": pledge.currency,
            "amount": format_money(pledge.amount),
        },
    )
    return _pledge_out(allocation.PledgeFigures(pledge, 0))


@router.post(
    "/cofunding/{id}/contributions",
    status_code=201,
    response_model=CoFundingOut,
    responses=error_responses(400, 403, 404, 413, 422),
)
def record_contribution(
    user: FinanceOfficer, pledge_id: ParsedId, payload: ContributionIn, session: DbSession
) -> CoFundingOut:
    """Record money received against a pledge (paid outside this service)."""
    pledge = session.get(CoFundingPledge, pledge_id, with_for_update=True)
    if pledge is None:
        raise NotFound("Pledge not found.")
    contribution = CoFundingContribution(
        pledge_id=pledge.id, recorded_by_id=user.id, **payload.model_dump()
    )
    session.add(contribution)
    session.flush()
    record(
        session,
        actor=user,
        action="cofunding.contributed",
        entity_type="cofunding_pledge",
        entity_id=pledge.id,
        data={"contribution_id": str(contribution.id), "amount": format_money(contribution.amount)},
    )
    call = get_call_for(session, user, pledge.call_id)
    return next(
        _pledge_out(p) for p in allocation.cofunding(session, call) if p.pledge.id == pledge.id
    )
