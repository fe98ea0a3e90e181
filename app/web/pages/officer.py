"""The programme officer's pages: calls (create, publish, close, the panel), screening,
conflicts of interest, reviewer assignment (automatic and by hand), the ranking with its
funding line and disagreement flags, each application's scores by reviewer, panel statistics,
award decisions with their milestone schedule, and milestone approvals.

Every action is the API's service with the API's role: `OfficerPage` where the API says
`ProgramOfficer`, `CallManagerPage` (admins too) where it says `CallManager`; pages that
admins may read show them no forms they could not send.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.applications.service import (
    application_view,
    get_application_for,
    list_query,
    staff_screening,
    visible_applications,
)
from app.awards import allocation
from app.awards import service as awards
from app.awards.schemas import AwardIn, DeclineIn, MilestoneIn, RejectIn
from app.calls import service as calls
from app.calls.schemas import (
    SUPPORTED_DOCUMENT_TYPES,
    CallIn,
    CodeLabel,
    Criterion,
    DocumentRule,
    PanelIn,
)
from app.db import DbSession
from app.documents import evidence
from app.documents import service as documents
from app.ids import ParsedId, parse_id
from app.models import (
    Application,
    ApplicationStatus,
    Assignment,
    Award,
    Call,
    ConflictOfInterest,
    Milestone,
    MilestoneStatus,
    Organization,
    ReviewStatus,
    Role,
    User,
)
from app.models.base import utcnow
from app.money import format_money
from app.reviews import ranking as ranking_service
from app.reviews import service as reviews
from app.reviews.router import application_scores, call_ranking
from app.reviews.schemas import ConflictIn, ScreeningIn
from app.web.deps import PageForm
from app.web.deps_staff import CallManagerPage, OfficerPage
from app.web.filetypes import FILE_TYPES
from app.web.forms import FormErrors, validate
from app.web.i18n import I18n, i18n_for
from app.web.pages.reviewer import INLINE_TYPES, RECOMMENDATIONS, REVIEW_STATES
from app.web.routing import page_router
from app.web.staff_forms import (
    Refusals,
    Rows,
    WholeRule,
    filled,
    form_rows,
    local_datetime,
    text,
    validate_form,
)
from app.web.templating import N_, redirect, render, safe_next

router = page_router()

_MONEY_HINT = N_("Enter an amount such as 250000.00: digits, and at most two decimals.")
_CODE_HINT = N_("Use lower-case letters, digits and _, starting with a letter.")
_DATE_HINT = N_("Enter a date.")
_DATETIME_HINT = N_("Enter a date and a time.")

# Codes the services of these pages raise, in the visitor's language.
_MESSAGES = {
    "invalid_state": N_("This cannot be done in the current state."),
    "deadline_passed": N_("The call's deadline has already passed: it cannot be published."),
    "invalid_reviewers": N_("Panel members must be active reviewer accounts."),
    "not_on_panel": N_("The reviewer is not on this call's panel."),
    "conflict_of_interest": N_("The reviewer has a conflict of interest with the applicant."),
    "not_under_review": N_("Only applications under review can be assigned."),
    "already_assigned": N_("The reviewer is already assigned to this application."),
    "review_submitted": N_("The reviewer has submitted their review: the assignment stays."),
    "conflict_exists": N_("This conflict of interest is already declared."),
    "unknown_organization": N_("Choose one of the organisations listed."),
    "not_a_reviewer": N_("Choose a reviewer of the panel."),
    "envelope_exceeded": N_("This award would take the call's awards past its envelope."),
    "segregation_of_duties": N_(
        "You reviewed this application, so another programme officer must decide it."
    ),
}
_INVALID_AWARD = N_(
    "The award must be between %(min)s and %(max)s, and not above the %(requested)s requested."
)


def _is_officer(user: User) -> bool:
    return user.role is Role.program_officer


def _score(i18n: I18n, value: float | None) -> str:
    """A score as the API reports it (rounded to 2 decimals), in the visitor's locale."""
    if value is None:
        return ""
    return format_decimal(round(value, 2), format="#,##0.00", locale=i18n.locale)


def _fail(request: Request, target: str, errors: FormErrors) -> Response:
    """A refused action: back to the page it came from, with the reason."""
    return redirect(request, target, message=" ".join(errors.general), level="error")


# --- calls -------------------------------------------------------------------------------


def _application_counts(session: Session, user: User) -> dict[uuid.UUID, int]:
    return dict(
        session.execute(
            visible_applications(user)
            .with_only_columns(Application.call_id, func.count())
            .group_by(Application.call_id)
        ).all()
    )


@router.get("/officer/calls")
def call_list(request: Request, user: CallManagerPage, session: DbSession) -> Response:
    rows = list(session.scalars(calls.visible_calls(user).order_by(Call.closes_at.desc(), Call.id)))
    now = utcnow()
    return render(
        request,
        "officer/calls.html",
        {
            "calls": [(call, call.effective_status(now)) for call in rows],
            "counts": _application_counts(session, user),
        },
    )


# The new-call form: blank rows offered for each repeated part (more are added by script).
_SPARE_ROWS = {"objectives": 3, "regions": 4, "documents": 2, "criteria": 4}
_CALL_HINTS = {
    "envelope_amount": {"value_error": _MONEY_HINT},
    "min_award": {"value_error": _MONEY_HINT},
    "max_award": {"value_error": _MONEY_HINT},
    "currency": {"value_error": N_("Enter a currency code such as PEN or USD.")},
    "timezone": {"value_error": N_("Enter a time zone such as America/Lima or UTC.")},
    "opens_at": {
        "datetime_from_date_parsing": _DATETIME_HINT,
        "datetime_parsing": _DATETIME_HINT,
        "timezone_aware": _DATETIME_HINT,
    },
    "closes_at": {
        "datetime_from_date_parsing": _DATETIME_HINT,
        "datetime_parsing": _DATETIME_HINT,
        "timezone_aware": _DATETIME_HINT,
    },
    "objectives": {"too_short": N_("Give at least one objective.")},
    "regions": {"too_short": N_("Give at least one region.")},
    "rubric.criteria": {"too_short": N_("Give at least one criterion.")},
}
_CODE_HINTS = {"code": {"string_pattern_mismatch": _CODE_HINT}}
_DOCUMENT_HINTS = {
    "type": {"string_pattern_mismatch": _CODE_HINT},
    "allowed_types": {"too_short": N_("Choose at least one format.")},
}
_CRITERION_HINTS = {
    "key": {"string_pattern_mismatch": _CODE_HINT},
    "weight": {
        "greater_than": N_("Enter a weight above 0."),
        "less_than_equal": N_("Enter a weight of at most 100."),
        "decimal_max_digits": N_("Enter a weight such as 25 or 12.5."),
    },
    "max_score": {
        "greater_than": N_("Enter a maximum score above 0."),
        "less_than_equal": N_("Enter a maximum score of at most 1000."),
        "decimal_max_digits": N_("Enter a maximum score such as 10 or 5."),
    },
}
_CALL_RULES = (
    WholeRule(
        "0 < min_award <= max_award <= envelope_amount",
        "min_award",
        N_("Keep 0 < smallest award ≤ largest award ≤ envelope."),
    ),
    WholeRule(
        "closes_at must be later than opens_at",
        "closes_at",
        N_("The deadline must be after the opening time."),
    ),
    WholeRule(
        "objective codes must be unique", "objectives", N_("Give each objective its own code.")
    ),
    WholeRule("region codes must be unique", "regions", N_("Give each region its own code.")),
    WholeRule(
        "document types must be unique",
        "required_documents",
        N_("Give each document its own type code."),
    ),
    WholeRule("criterion weights must sum to 100", "rubric", N_("The weights must add up to 100.")),
    WholeRule("criterion keys must be unique", "rubric", N_("Give each criterion its own key.")),
)


def _blank_call_values() -> dict[str, Any]:
    return {
        "title": "",
        "description": "",
        "currency": "USD",
        "envelope_amount": "",
        "min_award": "",
        "max_award": "",
        "opens_at": "",
        "closes_at": "",
        "timezone": "UTC",
        "reviewers_per_application": "2",
        "blind_review": False,
        "objectives": [],
        "regions": [],
        "documents": [],
        "criteria": [],
    }


def _call_values(form: FormData) -> dict[str, Any]:
    """What was typed, to validate and to show again."""
    scalars = (
        "title",
        "description",
        "currency",
        "envelope_amount",
        "min_award",
        "max_award",
        "opens_at",
        "closes_at",
        "timezone",
        "reviewers_per_application",
    )
    values: dict[str, Any] = {name: text(form, name) for name in scalars}
    values["currency"] = values["currency"].upper()
    values["blind_review"] = text(form, "blind_review") == "yes"
    values["objectives"] = form_rows(form, "objectives", ("code", "label"))
    values["regions"] = form_rows(form, "regions", ("code", "label"))
    values["documents"] = [
        (index, {**row, "required": text(form, f"documents-{index}-required") == "yes"})
        for index, row in form_rows(
            form, "documents", ("type", "label", "max_size_mb"), lists=("allowed_types",)
        )
    ]
    values["criteria"] = form_rows(
        form, "criteria", ("key", "label", "weight", "max_score", "guidance")
    )
    return values


def _call_data(values: dict[str, Any]) -> dict[str, Any]:
    """The API's call body. Blank fields are left out: required ones are then reported as
    missing, optional ones take the API's default."""
    zone = values["timezone"] or "UTC"
    data: dict[str, Any] = {
        name: values[name]
        for name in (
            "title",
            "description",
            "currency",
            "envelope_amount",
            "min_award",
            "max_award",
            "timezone",
            "reviewers_per_application",
        )
        if values[name]
    }
    for name in ("opens_at", "closes_at"):
        if values[name]:
            data[name] = local_datetime(values[name], zone)
    data["blind_review"] = values["blind_review"]
    data["objectives"] = [filled(row) for _, row in values["objectives"]]
    data["regions"] = [filled(row) for _, row in values["regions"]]
    data["required_documents"] = [filled(row) for _, row in values["documents"]]
    data["rubric"] = {"criteria": [filled(row) for _, row in values["criteria"]]}
    return data


def _call_rows(values: dict[str, Any]) -> list[Rows]:
    def indexes(name: str) -> list[int]:
        return [index for index, _ in values[name]]

    return [
        Rows(("objectives",), "objectives", CodeLabel, indexes("objectives"), _CODE_HINTS),
        Rows(("regions",), "regions", CodeLabel, indexes("regions"), _CODE_HINTS),
        Rows(
            ("required_documents",),
            "documents",
            DocumentRule,
            indexes("documents"),
            _DOCUMENT_HINTS,
            general_field="allowed_types",
        ),
        Rows(("rubric", "criteria"), "criteria", Criterion, indexes("criteria"), _CRITERION_HINTS),
    ]


def _row_sets(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each repeated part with its rows, spare blank rows, and the next free row number."""
    sets = {}
    for name, spare in _SPARE_ROWS.items():
        rows = list(values[name])
        start = max((index for index, _ in rows), default=-1) + 1
        blanks = spare if not rows else 1
        rows += [(start + n, {}) for n in range(blanks)]
        sets[name] = {"rows": rows, "next": start + blanks}
    return sets


def _call_form(
    request: Request, values: dict[str, Any], errors: FormErrors | None = None
) -> Response:
    i18n = i18n_for(request)
    errors = errors or FormErrors()
    return render(
        request,
        "officer/call_form.html",
        {
            "values": values,
            "rows": _row_sets(values),
            "errors": errors,
            "file_types": [
                (mime, i18n.gettext(FILE_TYPES[mime][0]))
                for mime in sorted(SUPPORTED_DOCUMENT_TYPES)
            ],
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/officer/calls/new")
def new_call_form(request: Request, user: CallManagerPage) -> Response:
    return _call_form(request, _blank_call_values())


@router.post("/officer/calls/new")
def create_call(
    request: Request, user: CallManagerPage, form: PageForm, session: DbSession
) -> Response:
    """The API's `POST /calls`: the call is created as a draft."""
    i18n = i18n_for(request)
    values = _call_values(form)
    errors = FormErrors()
    payload = validate_form(
        CallIn,
        _call_data(values),
        errors,
        i18n,
        hints=_CALL_HINTS,
        rows=_call_rows(values),
        rules=_CALL_RULES,
    )
    if "rubric.criteria" in errors.fields:
        errors.fields.setdefault("rubric", errors.fields.pop("rubric.criteria"))
    call: Call | None = None
    if payload is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            call = calls.create_call(session, actor=user, payload=payload)
    if errors or call is None:
        return _call_form(request, values, errors)
    return redirect(
        request,
        f"/officer/calls/{call.id}",
        message=i18n.gettext("Call created as a draft. Publish it when it is ready."),
    )


def _active_reviewers(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role == Role.reviewer, User.is_active.is_(True))
            .order_by(User.full_name, User.id)
        )
    )


@router.get("/officer/calls/{id}")
def call_page(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    call = calls.get_call_for(session, user, call_id)
    applications = list(
        session.scalars(
            list_query(user, call.id, None).order_by(None).order_by(Application.reference)
        )
    )
    panel = calls.panel_of(session, call.id)
    return render(
        request,
        "officer/call.html",
        {
            "call": call,
            "status": call.effective_status(),
            "applications": applications,
            "by_status": Counter(a.status.value for a in applications),
            "panel": panel,
            "panel_ids": {m.id for m in panel},
            "reviewers": _active_reviewers(session) if _is_officer(user) else [],
            "is_officer": _is_officer(user),
            "totals": allocation.totals(session, call),
        },
    )


@router.post("/officer/calls/{id}/publish")
def publish_call(
    request: Request, user: CallManagerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    return _call_action(
        request,
        session,
        user,
        call_id,
        calls.publish_call,
        i18n.gettext("The call is published: applicants can see it."),
    )


@router.post("/officer/calls/{id}/close")
def close_call(
    request: Request, user: CallManagerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    return _call_action(
        request,
        session,
        user,
        call_id,
        calls.close_call,
        i18n.gettext("The call is closed: it accepts no more applications."),
        level="info",
    )


def _call_action(
    request: Request,
    session: Session,
    user: User,
    call_id: uuid.UUID,
    action: Callable[..., Any],
    done: str,
    level: str = "success",
) -> Response:
    """Publish or close: the call's service action under its lock, then back to the call."""
    call = calls.get_call_for(session, user, call_id, lock=True)
    errors = FormErrors()
    with Refusals(session, errors, i18n_for(request), _MESSAGES):
        action(session, actor=user, call=call)
    target = f"/officer/calls/{call_id}"
    if errors:
        return _fail(request, target, errors)
    return redirect(request, target, message=done, level=level)


@router.post("/officer/calls/{id}/panel")
def set_panel(
    request: Request, user: OfficerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's `PUT /calls/{id}/panel`: the ticked reviewers are the panel."""
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id, lock=True)
    chosen = [v for v in form.getlist("reviewer_ids") if isinstance(v, str)]
    errors = FormErrors()
    payload = validate(PanelIn, {"reviewer_ids": chosen}, errors, i18n)
    members: list[User] = []
    if payload is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            members = calls.set_panel(session, actor=user, call=call, payload=payload)
    if errors:
        if not errors.general:
            errors.add(None, i18n.gettext(_MESSAGES["invalid_reviewers"]))
        return _fail(request, f"/officer/calls/{call_id}#panel", errors)
    return redirect(
        request,
        f"/officer/calls/{call_id}#panel",
        message=i18n.ngettext(
            "Panel saved: %(num)s reviewer.", "Panel saved: %(num)s reviewers.", len(members)
        )
        % {"num": len(members)},
    )


# --- an application: screening, assignments, decision -------------------------------------


def _assignments_of(session: Session, call_id: uuid.UUID) -> list[tuple[Assignment, str]]:
    return list(
        session.execute(
            select(Assignment, User.full_name)
            .join(User, User.id == Assignment.reviewer_id)
            .where(Assignment.call_id == call_id, Assignment.ended_at.is_(None))
            .order_by(User.full_name, Assignment.id)
        ).all()
    )


def _award_of(session: Session, user: User, application_id: uuid.UUID) -> Award | None:
    return session.scalar(awards.visible_awards(user).where(Award.application_id == application_id))


def _application_page(
    request: Request,
    session: Session,
    user: User,
    application: Application,
    *,
    screening_errors: FormErrors | None = None,
    decline_errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    call = application.call
    assignments = [
        (a, name)
        for a, name in _assignments_of(session, call.id)
        if a.application_id == application.id
    ]
    assigned_ids = {a.reviewer_id for a, _ in assignments}
    failed = (screening_errors and screening_errors.status_code) or (
        decline_errors and decline_errors.status_code
    )
    return render(
        request,
        "officer/application.html",
        {
            "application": application,
            "view": application_view(application),
            "call": call,
            "organization": application.organization,
            "region_labels": {r["code"]: r["label"] for r in call.regions},
            "screening": staff_screening(application),
            "files": [
                {
                    "id": d.id,
                    "label": next(
                        (r["label"] for r in call.required_documents if r["type"] == d.doc_type),
                        d.doc_type,
                    ),
                    "filename": d.filename,
                    "size": d.size,
                    "inline": d.content_type in INLINE_TYPES,
                }
                for d in documents.list_documents(session, application.id)
            ],
            "assignments": assignments,
            "candidates": [m for m in calls.panel_of(session, call.id) if m.id not in assigned_ids],
            "award": _award_of(session, user, application.id),
            "is_officer": _is_officer(user),
            "screening_errors": screening_errors or FormErrors(),
            "decline_errors": decline_errors or FormErrors(),
            "values": values or {"notes": "", "eligible": "", "reason": ""},
            "ranked": application.status in ranking_service.RANKED_STATUSES,
        },
        status_code=failed or 200,
    )


@router.get("/officer/applications/{id}")
def application_page(
    request: Request, user: CallManagerPage, app_id: ParsedId, session: DbSession
) -> Response:
    application = get_application_for(session, user, app_id)
    return _application_page(request, session, user, application)


@router.post("/officer/applications/{id}/screening")
def screen(
    request: Request, user: OfficerPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's screening: eligible → under review; not eligible → ineligible."""
    i18n = i18n_for(request)
    application = get_application_for(session, user, app_id, lock=True)
    values = {"eligible": text(form, "eligible"), "notes": text(form, "notes"), "reason": ""}
    errors = FormErrors()
    choice = {"yes": True, "no": False}.get(values["eligible"])
    if choice is None:
        errors.add("eligible", i18n.gettext(N_("Choose whether the application is eligible.")))
    payload = validate(ScreeningIn, {"eligible": choice, "notes": values["notes"]}, errors, i18n)
    if payload is not None and choice is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            reviews.screen_application(
                session, actor=user, application=application, payload=payload
            )
    if errors:
        return _application_page(
            request, session, user, application, screening_errors=errors, values=values
        )
    message = (
        N_("%(reference)s is eligible: it is now under review.")
        if choice
        else N_("%(reference)s is not eligible.")
    )
    return redirect(
        request,
        f"/officer/applications/{application.id}",
        message=i18n.gettext(message) % {"reference": application.reference},
    )


@router.post("/officer/applications/{id}/decline")
def decline(
    request: Request, user: OfficerPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    application = get_application_for(session, user, app_id, lock=True)
    values = {"eligible": "", "notes": "", "reason": text(form, "reason")}
    errors = FormErrors()
    payload = validate(DeclineIn, {"reason": values["reason"]}, errors, i18n)
    if payload is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            awards.decline_application(
                session, actor=user, application=application, payload=payload
            )
    if errors:
        return _application_page(
            request, session, user, application, decline_errors=errors, values=values
        )
    return redirect(
        request,
        f"/officer/applications/{application.id}",
        message=i18n.gettext("%(reference)s is declined; the applicant sees the reason.")
        % {"reference": application.reference},
        level="info",
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
    panel = calls.panel_of(session, call.id)
    organizations = calls.applicant_organizations(session, call.id)
    declared = session.execute(
        select(ConflictOfInterest, User.full_name, Organization.name)
        .join(User, User.id == ConflictOfInterest.reviewer_id)
        .join(Organization, Organization.id == ConflictOfInterest.organization_id)
        .where(
            ConflictOfInterest.id.in_(
                reviews.conflicts_query(user, None, None)
                .where(ConflictOfInterest.reviewer_id.in_([m.id for m in panel]))
                .with_only_columns(ConflictOfInterest.id)
            )
        )
        .order_by(User.full_name, Organization.name)
    ).all()
    errors = errors or FormErrors()
    return render(
        request,
        "officer/conflicts.html",
        {
            "call": call,
            "declared": declared,
            "suggested": reviews.suggested_conflicts(session, call),
            "reviewer_options": [(str(m.id), m.full_name) for m in panel],
            "organization_options": [(str(o.id), o.name) for o in organizations],
            "values": values or {"reviewer_id": "", "organization_id": "", "reason": ""},
            "errors": errors,
            "is_officer": _is_officer(user),
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/officer/calls/{id}/conflicts")
def conflicts_page(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    return _conflicts_page(request, session, user, calls.get_call_for(session, user, call_id))


_CONFLICT_HINTS = {
    "reviewer_id": {"uuid_parsing": N_("Choose a reviewer of the panel.")},
    "organization_id": {"uuid_parsing": N_("Choose one of the organisations listed.")},
}


@router.post("/officer/calls/{id}/conflicts")
def declare_conflict(
    request: Request, user: OfficerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's `POST /conflicts` for any panel member: their assignments to the
    organisation's applications end, and their reviews of them leave every score."""
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id)
    values = {name: text(form, name) for name in ("reviewer_id", "organization_id", "reason")}
    errors = FormErrors()
    payload = validate(ConflictIn, values, errors, i18n, hints=_CONFLICT_HINTS)
    ended = 0
    if payload is not None:
        with Refusals(
            session,
            errors,
            i18n,
            _MESSAGES,
            fields={"not_a_reviewer": "reviewer_id", "unknown_organization": "organization_id"},
        ):
            _, ended = reviews.declare_conflict(session, actor=user, payload=payload)
    if errors:
        return _conflicts_page(request, session, user, call, values, errors)
    message = i18n.gettext("Conflict of interest declared.")
    if ended:
        message += " " + i18n.ngettext(
            "%(num)s assignment ended.", "%(num)s assignments ended.", ended
        ) % {"num": ended}
    return redirect(request, f"/officer/calls/{call_id}/conflicts", message=message)


# --- assignments -------------------------------------------------------------------------


@router.get("/officer/calls/{id}/assignments")
def assignments_page(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    call = calls.get_call_for(session, user, call_id)
    under_review = list(
        session.scalars(
            list_query(user, call.id, ApplicationStatus.under_review)
            .order_by(None)
            .order_by(Application.reference)
        )
    )
    assignments = _assignments_of(session, call.id)
    by_application: dict[uuid.UUID, list[tuple[Assignment, str]]] = {}
    for assignment, name in assignments:
        by_application.setdefault(assignment.application_id, []).append((assignment, name))
    panel = calls.panel_of(session, call.id)
    load = Counter(a.reviewer_id for a, _ in assignments)
    return render(
        request,
        "officer/assignments.html",
        {
            "call": call,
            "applications": under_review,
            "by_application": by_application,
            "panel": [(m, load[m.id]) for m in panel],
            "is_officer": _is_officer(user),
        },
    )


@router.post("/officer/calls/{id}/assignments/auto")
def auto_assign(
    request: Request, user: OfficerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's automatic assignment: balanced, never conflicted, existing ones kept."""
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id, lock=True)
    errors = FormErrors()
    target = f"/officer/calls/{call_id}/assignments"
    with Refusals(session, errors, i18n, _MESSAGES) as refusals:
        result = reviews.auto_assign(session, actor=user, call=call)
    if refusals.error is not None:
        return _fail(request, target, errors)
    message = i18n.ngettext(
        "%(num)s assignment made.", "%(num)s assignments made.", len(result.assigned)
    ) % {"num": len(result.assigned)}
    if result.unstaffed:
        short = ", ".join(
            i18n.ngettext(
                "%(reference)s (%(num)s reviewer missing)",
                "%(reference)s (%(num)s reviewers missing)",
                missing,
            )
            % {"reference": reference, "num": missing}
            for _, reference, missing in result.unstaffed
        )
        message += " " + i18n.gettext("Not enough reviewers for: %(list)s.") % {"list": short}
    return redirect(
        request, target, message=message, level="info" if result.unstaffed else "success"
    )


@router.post("/officer/calls/{id}/assignments")
def assign(
    request: Request, user: OfficerPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's `POST /assignments`: one reviewer to one application of this call."""
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id)
    target = safe_next(text(form, "next"), f"/officer/calls/{call_id}/assignments")
    application_id = parse_id(text(form, "application_id"))
    reviewer_id = parse_id(text(form, "reviewer_id"))
    application = get_application_for(session, user, application_id, lock=True)
    if application.call_id != call.id:
        return redirect(
            request, target, message=i18n.gettext(_MESSAGES["invalid_state"]), level="error"
        )
    errors = FormErrors()
    with Refusals(session, errors, i18n, _MESSAGES):
        reviews.assign_reviewer(
            session, actor=user, application=application, reviewer_id=reviewer_id
        )
    if errors:
        return _fail(request, target, errors)
    return redirect(
        request,
        target,
        message=i18n.gettext("Reviewer assigned to %(reference)s.")
        % {"reference": application.reference},
    )


@router.post("/officer/assignments/{id}/end")
def end_assignment(
    request: Request, user: OfficerPage, assignment_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's `DELETE /assignments/{id}`: the assignment ends and stays on record."""
    i18n = i18n_for(request)
    assignment = reviews.get_assignment(session, assignment_id)
    target = safe_next(text(form, "next"), f"/officer/calls/{assignment.call_id}/assignments")
    errors = FormErrors()
    with Refusals(session, errors, i18n, _MESSAGES):
        reviews.end_assignment(session, actor=user, assignment=assignment)
    if errors:
        return _fail(request, target, errors)
    return redirect(request, target, message=i18n.gettext("Assignment ended."), level="info")


# --- ranking, scores, statistics ---------------------------------------------------------


@router.get("/officer/calls/{id}/ranking")
def ranking_page(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    """The API's ranking, with the funding line drawn where the cumulative amount requested
    passes the envelope (the first row that is not `within_envelope`)."""
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id)
    rows = ranking_service.ranking(session, call)
    line_before = next((r.rank for r in rows if not r.within_envelope), None)
    return render(
        request,
        "officer/ranking.html",
        {
            "call": call,
            "rows": [
                {
                    "row": r,
                    "mean": _score(i18n, r.score.mean_score if r.score else None),
                    "normalized": _score(i18n, r.score.normalized_score if r.score else None),
                    "stddev": _score(i18n, r.score.score_stddev if r.score else None),
                    "disagreement": bool(r.score and r.score.disagreement),
                }
                for r in rows
            ],
            "line_before": line_before,
            "totals": allocation.totals(session, call),
        },
    )


@router.get("/officer/calls/{id}/ranking.csv")
def ranking_csv(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    """The API's `GET /calls/{id}/ranking?format=csv`, for the signed-in officer: the API's
    route function itself, so the file is the API's byte for byte."""
    exported = call_ranking(user, call_id, session, format="csv")
    assert isinstance(exported, StreamingResponse)
    return exported


@router.get("/officer/applications/{id}/scores")
def scores_page(
    request: Request, user: CallManagerPage, app_id: ParsedId, session: DbSession
) -> Response:
    """Each reviewer's scores for the application: the API's `GET /applications/{id}/scores`."""
    i18n = i18n_for(request)
    application = get_application_for(session, user, app_id)
    scores = application_scores(user, app_id, session)
    return render(
        request,
        "officer/scores.html",
        {
            "application": application,
            "call": application.call,
            "criteria": application.call.rubric["criteria"],
            "scores": scores,
            "figures": {
                "mean": _score(i18n, scores.mean_score),
                "normalized": _score(i18n, scores.normalized_score),
                "stddev": _score(i18n, scores.score_stddev),
            },
            "totals": {r.review_id: _score(i18n, r.total) for r in scores.reviews},
            "recommendations": {r.value: label for r, label in RECOMMENDATIONS.items()},
            "states": REVIEW_STATES,
            "submitted": ReviewStatus.submitted,
        },
    )


@router.get("/officer/calls/{id}/statistics")
def statistics_page(
    request: Request, user: CallManagerPage, call_id: ParsedId, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    call = calls.get_call_for(session, user, call_id)
    stats = ranking_service.panel_statistics(session, call)
    return render(
        request,
        "officer/statistics.html",
        {
            "call": call,
            "stats": stats,
            "panel_mean": _score(i18n, stats.panel_mean),
            "panel_stddev": _score(i18n, stats.panel_stddev),
            "alpha": (
                None
                if stats.alpha is None
                else format_decimal(round(stats.alpha, 4), format="0.0000", locale=i18n.locale)
            ),
            "reviewers": [
                {
                    "name": name,
                    "reviews": s.reviews,
                    "mean": _score(i18n, s.mean),
                    "stddev": _score(i18n, s.stddev),
                    "difference": _score(i18n, s.mean_minus_panel),
                    "severity": _score(i18n, s.z_severity),
                }
                for s, name in stats.reviewers
            ],
        },
    )


# --- award decisions ---------------------------------------------------------------------

_SPARE_MILESTONES = 3
_AWARD_HINTS = {
    "amount": {"value_error": _MONEY_HINT},
    "start_date": {"date_parsing": _DATE_HINT, "date_from_datetime_parsing": _DATE_HINT},
    "end_date": {"date_parsing": _DATE_HINT, "date_from_datetime_parsing": _DATE_HINT},
    "milestones": {"too_short": N_("Give at least one milestone.")},
}
_MILESTONE_HINTS = {
    "amount": {"value_error": _MONEY_HINT},
    "due_date": {"date_parsing": _DATE_HINT, "date_from_datetime_parsing": _DATE_HINT},
}
_AWARD_RULES = (
    WholeRule(
        "end_date must be after start_date",
        "end_date",
        N_("The end date must be after the start date."),
    ),
    WholeRule(
        "milestone due dates must lie inside the award period",
        "milestones",
        N_("Every milestone must fall due within the award period."),
    ),
    WholeRule(
        "every milestone amount must be positive",
        "milestones",
        N_("Every milestone amount must be above 0."),
    ),
    WholeRule(
        "milestone amounts must add up to the award amount",
        "milestones",
        N_("The milestone amounts must add up to the award amount."),
    ),
)


def _award_values(form: FormData) -> dict[str, Any]:
    return {
        "amount": text(form, "amount"),
        "start_date": text(form, "start_date"),
        "end_date": text(form, "end_date"),
        "milestones": form_rows(form, "milestones", ("title", "due_date", "amount")),
    }


def _award_form(
    request: Request,
    session: Session,
    application: Application,
    values: dict[str, Any],
    errors: FormErrors | None = None,
) -> Response:
    errors = errors or FormErrors()
    rows = list(values["milestones"])
    start = max((index for index, _ in rows), default=-1) + 1
    blanks = _SPARE_MILESTONES if not rows else 1
    rows += [(start + n, {}) for n in range(blanks)]
    return render(
        request,
        "officer/award_form.html",
        {
            "application": application,
            "call": application.call,
            "values": values,
            "milestone_rows": rows,
            "next_row": start + blanks,
            "errors": errors,
            "totals": allocation.totals(session, application.call),
            "decidable": application.status is ApplicationStatus.under_review,
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/officer/applications/{id}/award")
def award_form(
    request: Request, user: OfficerPage, app_id: ParsedId, session: DbSession
) -> Response:
    application = get_application_for(session, user, app_id)
    values = {
        "amount": format_money(application.requested_amount or 0),
        "start_date": "",
        "end_date": "",
        "milestones": [],
    }
    return _award_form(request, session, application, values)


@router.post("/officer/applications/{id}/award")
def award(
    request: Request, user: OfficerPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """The API's award decision: the award and its milestone schedule in one transaction,
    refused past the envelope, outside the call's limits, or by someone who reviewed it."""
    i18n = i18n_for(request)
    application = get_application_for(session, user, app_id, lock=True)
    values = _award_values(form)
    data = {
        **filled({key: values[key] for key in ("amount", "start_date", "end_date")}),
        "milestones": [filled(row) for _, row in values["milestones"]],
    }
    errors = FormErrors()
    payload = validate_form(
        AwardIn,
        data,
        errors,
        i18n,
        hints=_AWARD_HINTS,
        rows=[
            Rows(
                ("milestones",),
                "milestones",
                MilestoneIn,
                [index for index, _ in values["milestones"]],
                _MILESTONE_HINTS,
            )
        ],
        rules=_AWARD_RULES,
    )
    created: Award | None = None
    if payload is not None:
        with Refusals(
            session, errors, i18n, _MESSAGES, fields={"envelope_exceeded": "amount"}
        ) as refusals:
            created = awards.award_application(
                session, actor=user, application=application, payload=payload
            )
        if refusals.error is not None and refusals.error.code == "invalid_award":
            call = application.call
            errors.general.clear()
            errors.add(
                "amount",
                i18n.gettext(_INVALID_AWARD)
                % {
                    "min": i18n.money(call.min_award, call.currency),
                    "max": i18n.money(call.max_award, call.currency),
                    "requested": i18n.money(application.requested_amount, call.currency),
                },
            )
    if errors or created is None:
        return _award_form(request, session, application, values, errors)
    return redirect(
        request,
        f"/officer/awards/{created.id}",
        message=i18n.ngettext(
            "Award %(reference)s made, with %(num)s milestone.",
            "Award %(reference)s made, with %(num)s milestones.",
            len(payload.milestones) if payload else 0,
        )
        % {"reference": created.reference, "num": len(payload.milestones) if payload else 0},
    )


@router.get("/officer/awards/{id}")
def award_page(
    request: Request, user: CallManagerPage, award_id: ParsedId, session: DbSession
) -> Response:
    award = awards.get_award_for(session, user, award_id)
    numbers = awards.figures(session, [award])[award.id]
    return render(
        request,
        "officer/award.html",
        {
            "award": award,
            "application": award.application,
            "organization": award.application.organization,
            "disbursed": numbers.disbursed,
            "milestones": [
                (m, m.amount - numbers.milestone_remaining[m.id])
                for m in award.milestones
                if not m.cancelled
            ],
        },
    )


# --- milestone approvals -----------------------------------------------------------------


@router.get("/officer/milestones")
def milestone_queue(request: Request, user: CallManagerPage, session: DbSession) -> Response:
    """Reported milestones waiting for a decision, the oldest report first."""
    rows = session.execute(
        select(Milestone, Award, Organization.name)
        .join(Award, Award.id == Milestone.award_id)
        .join(Organization, Organization.id == Award.organization_id)
        .where(
            Milestone.status == MilestoneStatus.reported,
            Milestone.cancelled.is_(False),
            Award.id.in_(awards.visible_awards(user).with_only_columns(Award.id)),
        )
        .order_by(Milestone.reported_at, Milestone.id)
    ).all()
    return render(request, "officer/milestones.html", {"rows": rows})


def _milestone_page(
    request: Request,
    session: Session,
    user: User,
    milestone: Milestone,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    award = awards.get_award_for(session, user, milestone.award_id)
    errors = errors or FormErrors()
    return render(
        request,
        "officer/milestone.html",
        {
            "milestone": milestone,
            "award": award,
            "organization": award.application.organization,
            "evidence": [
                {**view, "inline": view["content_type"] in INLINE_TYPES}
                for view in evidence.list_views(session, milestone.id)
            ],
            "decidable": milestone.status is MilestoneStatus.reported and _is_officer(user),
            "values": values or {"reason": ""},
            "errors": errors,
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/officer/milestones/{id}")
def milestone_page(
    request: Request, user: CallManagerPage, milestone_id: ParsedId, session: DbSession
) -> Response:
    milestone = awards.get_milestone_for(session, user, milestone_id)
    return _milestone_page(request, session, user, milestone)


@router.post("/officer/milestones/{id}/approve")
def approve_milestone(
    request: Request, user: OfficerPage, milestone_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    milestone = awards.get_milestone_for(session, user, milestone_id, lock=True)
    errors = FormErrors()
    with Refusals(session, errors, i18n, _MESSAGES):
        awards.approve_milestone(session, actor=user, milestone=milestone)
    if errors:
        return _milestone_page(request, session, user, milestone, errors=errors)
    return redirect(
        request,
        "/officer/milestones",
        message=i18n.gettext("Milestone “%(title)s” approved: it can now be paid.")
        % {"title": milestone.title},
    )


@router.post("/officer/milestones/{id}/reject")
def reject_milestone(
    request: Request, user: OfficerPage, milestone_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """Back to planned, with the reason the organisation sees."""
    i18n = i18n_for(request)
    milestone = awards.get_milestone_for(session, user, milestone_id, lock=True)
    values = {"reason": text(form, "reason")}
    errors = FormErrors()
    payload = validate(RejectIn, values, errors, i18n)
    if payload is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            awards.reject_milestone(session, actor=user, milestone=milestone, reason=payload.reason)
    if errors:
        return _milestone_page(request, session, user, milestone, values, errors)
    return redirect(
        request,
        "/officer/milestones",
        message=i18n.gettext("The report on “%(title)s” was sent back to the organisation.")
        % {"title": milestone.title},
        level="info",
    )
