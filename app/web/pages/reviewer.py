"""The reviewer's pages: the queue with progress, conflict declarations, and the scoring page
with the rubric's guidance next to each score, draft saving and submission.

Blind review holds as in the API: what a reviewer sees of an application is the API's
`reviewer_view` (no organisation when the call is blind) and documents carry the blind-safe
name of `shown_filename`. Documents open in the browser through `/documents/{id}/view`, with
the API's download authorisation (an assigned reviewer whose assignment no conflict ended).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.applications.service import get_application_for, reviewer_view, visible_applications
from app.calls.schemas import JPEG, PDF, PNG
from app.calls.service import applicant_organizations, get_call_for, visible_calls
from app.db import DbSession
from app.documents import service as documents
from app.documents.filenames import content_disposition
from app.ids import ParsedId
from app.models import (
    Application,
    Assignment,
    Call,
    CallReviewer,
    ConflictOfInterest,
    Organization,
    Recommendation,
    Review,
    ReviewStatus,
    User,
)
from app.reviews import service as reviews
from app.reviews.schemas import ConflictIn, ReviewIn
from app.reviews.statistics import review_total
from app.storage import Storage
from app.web.deps import PageForm, SignedInUser
from app.web.deps_staff import ReviewerPage
from app.web.forms import FormErrors, validate
from app.web.i18n import I18n, i18n_for
from app.web.routing import page_router
from app.web.staff_forms import Refusals, text
from app.web.templating import N_, redirect, render

router = page_router()

# Documents a browser shows itself; anything else (Word, Excel) is downloaded.
INLINE_TYPES = frozenset({PDF, PNG, JPEG})

RECOMMENDATIONS = {
    Recommendation.fund: N_("Fund"),
    Recommendation.fund_with_changes: N_("Fund with changes"),
    Recommendation.do_not_fund: N_("Do not fund"),
}
REVIEW_STATES = {
    "not_started": N_("Not started"),
    ReviewStatus.draft.value: N_("Draft saved"),
    ReviewStatus.submitted.value: N_("Submitted"),
}
_REVIEW_MESSAGES = {
    "incomplete": N_(
        "The review is incomplete: every criterion needs a score, and a recommendation."
    ),
    "review_submitted": N_("This review is submitted and can no longer change."),
    "score_out_of_range": N_("Each score must lie between 0 and the criterion's maximum score."),
    "unknown_criterion": N_("Score only the criteria of the rubric."),
}
_SCORE_HINTS = {
    "scores": {
        "greater_than_equal": N_("Enter a score of 0 or more."),
        "decimal_max_digits": N_("Enter a score with at most two decimals."),
    }
}
_SCORE_MISSING = N_("Give a score for this criterion.")
_RECOMMENDATION_MISSING = N_("Choose a recommendation.")
_CONFLICT_MESSAGES = {
    "conflict_exists": N_("You have already declared a conflict with this organisation."),
    "unknown_organization": N_("Choose one of the organisations listed."),
}
_CONFLICT_HINTS = {
    "organization_id": {"uuid_parsing": N_("Choose one of the organisations listed.")},
}


# --- the queue ---------------------------------------------------------------------------


def _queue(session: Session, reviewer: User) -> list[dict[str, Any]]:
    """What the reviewer may open now (the API's visibility rule), with each review's state."""
    rows = session.execute(
        select(Application.id, Application.reference, Application.title, Call, Review.status)
        .join(Call, Call.id == Application.call_id)
        .outerjoin(
            Review,
            (Review.application_id == Application.id) & (Review.reviewer_id == reviewer.id),
        )
        .where(Application.id.in_(visible_applications(reviewer).with_only_columns(Application.id)))
        .order_by(Call.closes_at, Call.id, Application.reference)
    ).all()
    calls: dict[uuid.UUID, dict[str, Any]] = {}
    for application_id, reference, title, call, status in rows:
        group = calls.setdefault(call.id, {"call": call, "items": [], "submitted": 0})
        state = status.value if status else "not_started"
        group["items"].append(
            {
                "application_id": application_id,
                "reference": reference,
                "title": title,
                "state": state,
            }
        )
        group["submitted"] += state == ReviewStatus.submitted.value
    return list(calls.values())


def _conflict_calls(session: Session, reviewer: User) -> list[Call]:
    """Calls whose panel the reviewer sits on, or where they have work: where a conflict matters."""
    panel = select(CallReviewer.call_id).where(CallReviewer.reviewer_id == reviewer.id)
    assigned = select(Assignment.call_id).where(Assignment.reviewer_id == reviewer.id)
    return list(
        session.scalars(
            visible_calls(reviewer)
            .where(Call.id.in_(panel) | Call.id.in_(assigned))
            .order_by(Call.closes_at, Call.id)
        )
    )


def _declared(session: Session, reviewer: User) -> list[tuple[ConflictOfInterest, str]]:
    return list(
        session.execute(
            select(ConflictOfInterest, Organization.name)
            .join(Organization, Organization.id == ConflictOfInterest.organization_id)
            .where(
                ConflictOfInterest.id.in_(
                    reviews.conflicts_query(reviewer, None, None).with_only_columns(
                        ConflictOfInterest.id
                    )
                )
            )
            .order_by(Organization.name, ConflictOfInterest.id)
        ).all()
    )


@router.get("/review")
def queue(request: Request, user: ReviewerPage, session: DbSession) -> Response:
    groups = _queue(session, user)
    total = sum(len(g["items"]) for g in groups)
    submitted = sum(g["submitted"] for g in groups)
    return render(
        request,
        "reviewer/queue.html",
        {
            "groups": groups,
            "total": total,
            "submitted": submitted,
            "states": REVIEW_STATES,
            "conflict_calls": _conflict_calls(session, user),
            "declared": _declared(session, user),
        },
    )


# --- conflicts of interest ---------------------------------------------------------------


def _conflicts_page(
    request: Request,
    session: Session,
    user: User,
    call: Call,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    declared = {c.organization_id for c, _ in _declared(session, user)}
    organizations = applicant_organizations(session, call.id)
    errors = errors or FormErrors()
    return render(
        request,
        "reviewer/conflicts.html",
        {
            "call": call,
            "open_choices": [o for o in organizations if o.id not in declared],
            "organization_options": [
                (str(o.id), o.name) for o in organizations if o.id not in declared
            ],
            "declared_here": [o for o in organizations if o.id in declared],
            "values": values or {"organization_id": "", "reason": ""},
            "errors": errors,
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/review/calls/{id}/conflicts")
def conflicts_form(
    request: Request, user: ReviewerPage, call_id: ParsedId, session: DbSession
) -> Response:
    """The organisations that applied to the call (ids and names, not linked to applications,
    as in the API), to declare a conflict before or after assignment."""
    return _conflicts_page(request, session, user, get_call_for(session, user, call_id))


@router.post("/review/calls/{id}/conflicts")
def declare_conflict(
    request: Request, user: ReviewerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    call = get_call_for(session, user, call_id)
    values = {"organization_id": text(form, "organization_id"), "reason": text(form, "reason")}
    errors = FormErrors()
    payload = validate(
        ConflictIn, {**values, "reviewer_id": str(user.id)}, errors, i18n, hints=_CONFLICT_HINTS
    )
    ended = 0
    if payload is not None:
        with Refusals(
            session,
            errors,
            i18n,
            _CONFLICT_MESSAGES,
            fields={"unknown_organization": "organization_id"},
        ):
            _, ended = reviews.declare_conflict(session, actor=user, payload=payload)
    if errors:
        return _conflicts_page(request, session, user, call, values, errors)
    message = i18n.gettext("Conflict of interest declared.")
    if ended:
        message += " " + i18n.ngettext(
            "%(num)s assignment ended: it has left your queue.",
            "%(num)s assignments ended: they have left your queue.",
            ended,
        ) % {"num": ended}
    return redirect(request, "/review", message=message)


# --- the scoring page --------------------------------------------------------------------


def _assigned_application(session: Session, reviewer: User, app_id: uuid.UUID) -> Application:
    """The application if this reviewer is assigned to it now; 404 otherwise (as the API)."""
    reviews.active_assignment(session, reviewer, app_id)
    return get_application_for(session, reviewer, app_id)


def _stored_values(review: Review | None) -> dict[str, Any]:
    if review is None:
        return {"scores": {}, "comment": "", "recommendation": ""}
    return {
        "scores": {key: str(score) for key, score in review.scores.items()},
        "comment": review.comment,
        "recommendation": review.recommendation.value if review.recommendation else "",
    }


def _form_values(form: FormData, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "scores": {c["key"]: text(form, f"scores.{c['key']}") for c in criteria},
        "comment": text(form, "comment"),
        "recommendation": text(form, "recommendation"),
    }


def _review_data(values: dict[str, Any]) -> dict[str, Any]:
    """The API's review body: criteria left blank are left out (a draft may miss some)."""
    return {
        "scores": {key: score for key, score in values["scores"].items() if score},
        "comment": values["comment"],
        "recommendation": values["recommendation"] or None,
    }


def _labels(entries: list[dict[str, Any]]) -> dict[str, str]:
    return {e["code"]: e["label"] for e in entries}


def _scoring_page(
    request: Request,
    session: Session,
    user: User,
    application: Application,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    i18n = i18n_for(request)
    call = application.call
    criteria = call.rubric["criteria"]
    review = reviews.own_review(session, user, application.id)
    complete = review is not None and all(c["key"] in review.scores for c in criteria)
    doc_labels = {d["type"]: d["label"] for d in call.required_documents}
    files = [
        {
            "id": d.id,
            "label": doc_labels.get(d.doc_type, d.doc_type),
            "filename": documents.shown_filename(d, user, call.blind_review),
            "size": d.size,
            "inline": d.content_type in INLINE_TYPES,
        }
        for d in documents.list_documents(session, application.id)
    ]
    errors = errors or FormErrors()
    return render(
        request,
        "reviewer/scoring.html",
        {
            "application": reviewer_view(application),
            "call": call,
            "criteria": criteria,
            "objective_labels": _labels(call.objectives),
            "region_labels": _labels(call.regions),
            "files": files,
            "review": review,
            "submitted": review is not None and review.status is ReviewStatus.submitted,
            "total": review_total(review.scores, criteria) if review and complete else None,
            "values": values or _stored_values(review),
            "recommendations": [
                (r.value, i18n.gettext(label)) for r, label in RECOMMENDATIONS.items()
            ],
            "recommendation_labels": {r.value: label for r, label in RECOMMENDATIONS.items()},
            "errors": errors,
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/review/applications/{id}")
def scoring_page(
    request: Request, user: ReviewerPage, app_id: ParsedId, session: DbSession
) -> Response:
    application = _assigned_application(session, user, app_id)
    return _scoring_page(request, session, user, application)


def _missing_next_to_fields(i18n: I18n, errors: FormErrors, missing: list[dict[str, str]]) -> None:
    """The service's list of what submission still needs, each next to its field."""
    for item in missing:
        if item.get("item") == "recommendation":
            errors.add("recommendation", i18n.gettext(_RECOMMENDATION_MISSING))
        else:
            errors.add(f"scores.{item.get('item')}", i18n.gettext(_SCORE_MISSING))


def _save(
    request: Request,
    user: User,
    app_id: uuid.UUID,
    form: FormData,
    session: Session,
    *,
    submit: bool,
) -> Response:
    i18n = i18n_for(request)
    application = _assigned_application(session, user, app_id)
    values = _form_values(form, application.call.rubric["criteria"])
    errors = FormErrors()
    payload = validate(
        ReviewIn, _review_data(values), errors, i18n, hints=_SCORE_HINTS, nested=True
    )
    if payload is not None:
        with Refusals(session, errors, i18n, _REVIEW_MESSAGES) as refusals:
            reviews.save_review(session, reviewer=user, application=application, payload=payload)
            if submit:
                reviews.submit_review(session, reviewer=user, application=application)
        if refusals.error is not None and refusals.error.code == "incomplete":
            _missing_next_to_fields(i18n, errors, refusals.error.extra.get("missing", []))
    if errors:
        return _scoring_page(request, session, user, application, values=values, errors=errors)
    if submit:
        return redirect(
            request,
            "/review",
            message=i18n.gettext("Your review of %(reference)s is submitted. Thank you.")
            % {"reference": application.reference},
        )
    return redirect(
        request, f"/review/applications/{application.id}", message=i18n.gettext("Draft saved.")
    )


@router.post("/review/applications/{id}")
def save_draft(
    request: Request, user: ReviewerPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's `PUT …/review`: the draft, with any criteria still blank."""
    return _save(request, user, app_id, form, session, submit=False)


@router.post("/review/applications/{id}/submit")
def submit_review(
    request: Request, user: ReviewerPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """Save what the form holds, then the API's `POST …/review/submit`, in one transaction:
    a refused submission leaves the stored draft as it was and shows what is missing."""
    return _save(request, user, app_id, form, session, submit=True)


# --- documents in the browser ------------------------------------------------------------


@router.get("/documents/{id}/view")
def view_document(
    request: Request, user: SignedInUser, document_id: ParsedId, session: DbSession
) -> Response:
    """A document shown by the browser itself (PDF, images) or downloaded (the rest), for
    whoever the API's `GET /documents/{id}/content` serves: the same visibility rule (a
    reviewer only while assigned and unconflicted) and the same blind-safe name."""
    document, application = documents.get_document_for(session, user, document_id)
    filename = documents.shown_filename(document, user, application.call.blind_review)
    disposition = "inline" if document.content_type in INLINE_TYPES else "attachment"
    storage: Storage = request.app.state.storage
    return StreamingResponse(
        storage.open(document.storage_key),
        media_type=document.content_type,
        headers={
            "Content-Length": str(document.size),
            "Content-Disposition": content_disposition(filename, disposition),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            # The bytes are the applicant's: no script of theirs runs with this site's origin.
            "Content-Security-Policy": "sandbox",
        },
    )
