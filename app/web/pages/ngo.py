"""The applicant organisation's pages: applications, the application form, documents,
submission, awards and milestone reports. Every action goes through the API's services."""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.applications import service as applications
from app.applications.schemas import ApplicationIn, ApplicationUpdate
from app.awards import service as awards
from app.calls.schemas import SUPPORTED_DOCUMENT_TYPES
from app.calls.service import get_call_for
from app.db import Database, DbSession
from app.documents import evidence
from app.documents import service as documents
from app.documents.filenames import content_disposition
from app.documents.schemas import UPLOAD_BODY
from app.errors import AppError, Forbidden, NotFound, PayloadTooLarge, error_body
from app.ids import ParsedId
from app.models import Application, ApplicationStatus, Award, Milestone, MilestoneStatus
from app.money import format_money
from app.storage import Storage
from app.web.deps import ApplicantPage, CsrfProtected, PageForm, SignedInUser
from app.web.filetypes import accept_attribute, type_names
from app.web.forms import FormErrors, service_errors, service_message, validate
from app.web.i18n import I18n, i18n_for
from app.web.pages.public import document_rules
from app.web.routing import page_router
from app.web.templating import N_, flash, redirect, render

router = page_router()

_MONEY_HINT = N_("Enter an amount such as 250000.00: digits, and at most two decimals.")
_FORM_HINTS = {
    "requested_amount": {"value_error": _MONEY_HINT},
    "regions": {"value_error": N_("Give each region a share; the shares must add up to 100.")},
    "budget.amount": {"value_error": _MONEY_HINT},
    "cost_share.amount": {"value_error": _MONEY_HINT},
    "cost_share.currency": {"value_error": N_("Enter a currency code such as PEN or USD.")},
}
# What submission still needs, by the missing item's field (SPEC §6, `missing_items`).
_MISSING_FIELDS = {
    "title": N_("Give a title."),
    "summary": N_("Give a summary."),
    "requested_amount": N_("Give the amount requested."),
    "duration_months": N_("Give the duration in months."),
    "objectives": N_("Choose at least one objective of the call."),
    "regions": N_("Give the regions, with shares adding up to 100."),
}
_AMOUNT_RANGE = N_("The amount requested must be between %(min)s and %(max)s.")
_BUDGET_TOTAL = N_("The budget lines must add up to the amount requested.")
_UPLOAD = N_("Upload the document: %(label)s.")
BLANK_BUDGET_LINES = 3
MAX_BUDGET_ROWS = 500  # the API's limit on budget lines


# --- the application form ----------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _budget_rows(form: FormData) -> list[dict[str, str]]:
    declared = _text(form, "budget_rows")
    count = min(int(declared), MAX_BUDGET_ROWS) if declared.isdigit() and len(declared) < 4 else 0
    rows = []
    for index in range(count):
        row = {
            key: _text(form, f"budget-{index}-{key}")
            for key in ("category", "description", "amount")
        }
        if any(row.values()):
            rows.append(row)
    return rows


def form_data(form: FormData, application: Application) -> dict[str, Any]:
    """The submitted form as the JSON body a client would PATCH: blanks are unset values."""
    call = application.call
    cost_amount = _text(form, "cost_share.amount")
    cost_currency = _text(form, "cost_share.currency")
    return {
        "title": _text(form, "title") or None,
        "summary": _text(form, "summary") or None,
        "requested_amount": _text(form, "requested_amount") or None,
        "duration_months": _text(form, "duration_months") or None,
        "objectives": [c for c in form.getlist("objectives") if isinstance(c, str)],
        "regions": [
            {"code": region["code"], "share_pct": share}
            for region in call.regions
            if (share := _text(form, f"region-{region['code']}"))
        ],
        "budget": _budget_rows(form),
        "cost_share": (
            {"amount": cost_amount, "currency": cost_currency.upper()}
            if cost_amount or cost_currency
            else None
        ),
    }


def stored_values(application: Application) -> dict[str, Any]:
    """The saved application in the form's shape."""
    return {
        "title": application.title or "",
        "summary": application.summary or "",
        "requested_amount": (
            format_money(application.requested_amount)
            if application.requested_amount is not None
            else ""
        ),
        "duration_months": str(application.duration_months or ""),
        "objectives": [o.code for o in application.objectives],
        "regions": [
            {"code": r.code, "share_pct": str(applications.share_pct(r.share_hundredths))}
            for r in application.regions
        ],
        "budget": [
            {
                "category": line.category,
                "description": line.description,
                "amount": format_money(line.amount),
            }
            for line in application.budget
        ],
        "cost_share": (
            {
                "amount": format_money(application.cost_share_amount),
                "currency": application.cost_share_currency or "",
            }
            if application.cost_share_amount is not None
            else None
        ),
    }


def _checklist(i18n: I18n, application: Application, types: list[str]) -> list[dict[str, str]]:
    """`missing_items` (the rule submission applies), in the visitor's language, with anchors."""
    call = application.call
    labels = {d["type"]: d["label"] for d in call.required_documents}
    items = []
    for missing in applications.missing_items(application, call, types):
        if missing.kind == "field":
            text = i18n.gettext(_MISSING_FIELDS.get(missing.item, "")) or missing.message
            anchor = f"field-{missing.item}"
        elif missing.kind == "amount":
            text = i18n.gettext(_AMOUNT_RANGE) % {
                "min": i18n.money(call.min_award, call.currency),
                "max": i18n.money(call.max_award, call.currency),
            }
            anchor = "field-requested_amount"
        elif missing.kind == "budget":
            text, anchor = i18n.gettext(_BUDGET_TOTAL), "field-budget"
        elif missing.kind == "document":
            label = labels.get(missing.item, missing.item)
            text, anchor = i18n.gettext(_UPLOAD) % {"label": label}, f"doc-{missing.item}"
        else:
            text, anchor = missing.message, "details"
        items.append({"text": text, "anchor": anchor})
    return items


def _application_page(
    request: Request,
    session: DbSession,
    application: Application,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    submit_errors: FormErrors | None = None,
) -> Response:
    i18n = i18n_for(request)
    call = application.call
    uploaded = documents.list_documents(session, application.id)
    types = sorted({d.doc_type for d in uploaded})
    editable = application.status is ApplicationStatus.draft
    rules = document_rules(i18n, call)
    for rule in rules:
        rule["uploaded"] = [d for d in uploaded if d.doc_type == rule["type"]]
        rule["accept"] = accept_attribute(rule["allowed_types"])
    values = values or stored_values(application)
    budget = list(values["budget"]) + [{"category": "", "description": "", "amount": ""}] * (
        BLANK_BUDGET_LINES
    )
    failed = (errors and errors.status_code) or (submit_errors and submit_errors.status_code)
    return render(
        request,
        "ngo/application.html",
        {
            "application": application,
            "call": call,
            "editable": editable,
            "values": values,
            "region_shares": {r["code"]: r["share_pct"] for r in values["regions"]},
            "budget_lines": budget,
            "errors": errors or FormErrors(),
            "submit_errors": submit_errors or FormErrors(),
            "documents": rules,
            "checklist": _checklist(i18n, application, types) if editable else [],
            "call_open": call.is_open(),
            "withdrawable": application.status in applications.WITHDRAWABLE,
        },
        status_code=failed or 200,
    )


@router.get("/applications")
def my_applications(request: Request, user: ApplicantPage, session: DbSession) -> Response:
    rows = list(session.scalars(applications.list_query(user, None, None)))
    return render(request, "ngo/applications.html", {"applications": rows})


@router.post("/calls/{id}/apply")
def start_application(
    request: Request, user: ApplicantPage, call_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """Create an empty draft, then fill it in on its page."""
    i18n = i18n_for(request)
    call = get_call_for(session, user, call_id, lock=True)
    errors = FormErrors()
    application: Application | None = None
    with service_errors(session, errors, i18n):
        application = applications.create_application(
            session, actor=user, call=call, payload=ApplicationIn()
        )
    if errors or application is None:
        return redirect(request, f"/calls/{call_id}", message=errors.general[0], level="error")
    return redirect(
        request,
        f"/applications/{application.id}",
        message=i18n.gettext("Draft %(reference)s created. Fill it in and save it as you go.")
        % {"reference": application.reference},
    )


@router.get("/applications/{id}")
def application_page(
    request: Request, user: ApplicantPage, app_id: ParsedId, session: DbSession
) -> Response:
    application = applications.get_application_for(session, user, app_id)
    return _application_page(request, session, application)


@router.post("/applications/{id}")
def save_draft(
    request: Request, user: ApplicantPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """Save the whole form as the draft (the API's PATCH with every field)."""
    i18n = i18n_for(request)
    application = applications.get_application_for(session, user, app_id, lock=True)
    data = form_data(form, application)
    errors = FormErrors()
    payload = validate(ApplicationUpdate, data, errors, i18n, hints=_FORM_HINTS, nested=True)
    if payload is not None:
        with service_errors(session, errors, i18n, fields={"unknown_code": "objectives"}):
            applications.update_application(
                session, actor=user, application=application, payload=payload
            )
    if errors:
        return _application_page(request, session, application, values=data, errors=errors)
    return redirect(
        request, f"/applications/{application.id}", message=i18n.gettext("Draft saved.")
    )


@router.post("/applications/{id}/submit")
def submit(
    request: Request, user: ApplicantPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    application = applications.get_application_for(session, user, app_id, lock=True)
    errors = FormErrors()
    with service_errors(session, errors, i18n):
        applications.submit_application(session, actor=user, application=application)
    if errors:
        return _application_page(request, session, application, submit_errors=errors)
    return redirect(
        request,
        f"/applications/{application.id}",
        message=i18n.gettext("Application %(reference)s submitted.")
        % {"reference": application.reference},
    )


@router.post("/applications/{id}/withdraw")
def withdraw(
    request: Request, user: ApplicantPage, app_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    i18n = i18n_for(request)
    application = applications.get_application_for(session, user, app_id, lock=True)
    errors = FormErrors()
    with service_errors(session, errors, i18n):
        applications.withdraw_application(session, actor=user, application=application)
    if errors:
        return _application_page(request, session, application, submit_errors=errors)
    return redirect(
        request,
        f"/applications/{application.id}",
        message=i18n.gettext("Application %(reference)s withdrawn.")
        % {"reference": application.reference},
        level="info",
    )


# --- documents ---------------------------------------------------------------------------


def _json_refusal(i18n: I18n, exc: AppError) -> JSONResponse:
    return JSONResponse(
        error_body(service_message(i18n, exc), exc.code),
        status_code=exc.status_code,
        headers=exc.headers,
    )


# `openapi_extra` declares the streamed multipart body, as the API route does: the body-size
# middleware leaves such routes to cap their files themselves (app/limits.py).
@router.post(
    "/applications/{id}/documents", dependencies=[CsrfProtected], openapi_extra=UPLOAD_BODY
)
async def upload_document(request: Request, user: ApplicantPage, app_id: ParsedId) -> Response:
    """The page's upload (a script sends it, with progress): the same steps as the API's
    `POST /api/v1/applications/{id}/documents` — rules read first, the body streamed through
    the type sniffer and size limit into storage, then recorded — answered in JSON."""
    i18n = i18n_for(request)
    db: Database = request.app.state.db
    storage: Storage = request.app.state.storage
    cap = request.app.state.settings.max_upload_bytes
    try:
        target = await run_in_threadpool(documents.upload_target, db, user, app_id, cap)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > target.max_body:
            raise PayloadTooLarge(
                "The request is larger than any document this call accepts.", "file_too_large"
            )
        upload = await documents.receive_upload(
            request.stream(), request.headers.get("content-type"), target, storage
        )
        try:
            await run_in_threadpool(documents.record_document, db, user, app_id, upload)
        except BaseException:
            await run_in_threadpool(storage.delete, upload.key)
            raise
    except (NotFound, Forbidden):
        raise
    except AppError as exc:
        return _json_refusal(i18n, exc)
    response = JSONResponse({"redirect": f"/applications/{app_id}#documents"}, status_code=201)
    flash(
        request,
        response,
        i18n.gettext("%(name)s uploaded.") % {"name": upload.filename},
    )
    return response


@router.post("/documents/{id}/delete")
def delete_document(
    request: Request,
    user: ApplicantPage,
    document_id: ParsedId,
    form: PageForm,
    session: DbSession,
    background: BackgroundTasks,
) -> Response:
    i18n = i18n_for(request)
    document, application = documents.get_document_for(session, user, document_id)
    errors = FormErrors()
    key: str | None = None
    with service_errors(session, errors, i18n):
        key = documents.delete_document(session, actor=user, document=document)
    target = f"/applications/{application.id}#documents"
    if errors or key is None:
        return redirect(request, target, message=errors.general[0], level="error")
    # Runs after the commit; if it fails, the orphan sweeper removes the object later.
    background.add_task(request.app.state.storage.delete, key)
    return redirect(request, target, message=i18n.gettext("Document deleted."), level="info")


@router.get("/documents/{id}/download")
def download_document(
    request: Request, user: SignedInUser, document_id: ParsedId, session: DbSession
) -> Response:
    """The stored bytes, for whoever may see the application (the API's visibility rule)."""
    document, application = documents.get_document_for(session, user, document_id)
    filename = documents.shown_filename(document, user, application.call.blind_review)
    storage: Storage = request.app.state.storage
    return StreamingResponse(
        storage.open(document.storage_key),
        media_type=document.content_type,
        headers={
            "Content-Length": str(document.size),
            "Content-Disposition": content_disposition(filename, "attachment"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
        },
    )


# --- awards and milestone reports --------------------------------------------------------


def _award_views(session: DbSession, rows: list[Award]) -> list[dict[str, Any]]:
    figures = awards.figures(session, rows)
    views = []
    for award in rows:
        numbers = figures[award.id]
        milestones = [
            {
                "milestone": m,
                "disbursed": m.amount - numbers.milestone_remaining[m.id],
            }
            for m in award.milestones
            if not m.cancelled
        ]
        views.append(
            {
                "award": award,
                "application": award.application,
                "disbursed": numbers.disbursed,
                "remaining": award.amount - numbers.disbursed,
                "milestones": milestones,
            }
        )
    return views


@router.get("/awards")
def my_awards(request: Request, user: ApplicantPage, session: DbSession) -> Response:
    rows = list(session.scalars(awards.visible_awards(user).order_by(Award.created_at, Award.id)))
    return render(request, "ngo/awards.html", {"awards": _award_views(session, rows)})


@router.get("/awards/{id}")
def award_page(
    request: Request, user: ApplicantPage, award_id: ParsedId, session: DbSession
) -> Response:
    award = awards.get_award_for(session, user, award_id)
    return render(request, "ngo/award.html", {"view": _award_views(session, [award])[0]})


def _evidence_rules(request: Request) -> dict[str, Any]:
    cap_mb = request.app.state.settings.max_upload_mb
    return {
        "max_files": evidence.MAX_EVIDENCE_FILES,
        "max_size_mb": min(evidence.EVIDENCE_MAX_MB, cap_mb),
        "type_names": type_names(i18n_for(request), SUPPORTED_DOCUMENT_TYPES),
        "accept": accept_attribute(SUPPORTED_DOCUMENT_TYPES),
        "max_narrative": evidence.MAX_NARRATIVE,
    }


@router.get("/milestones/{id}/report")
def milestone_report_form(
    request: Request, user: ApplicantPage, milestone_id: ParsedId, session: DbSession
) -> Response:
    milestone = awards.get_milestone_for(session, user, milestone_id)
    award = awards.get_award_for(session, user, milestone.award_id)
    return render(
        request,
        "ngo/milestone_report.html",
        {
            "milestone": milestone,
            "award": award,
            "reportable": milestone.status is MilestoneStatus.planned,
            "evidence": evidence.list_views(session, milestone.id),
            "rules": _evidence_rules(request),
        },
    )


@router.post(
    "/milestones/{id}/report", dependencies=[CsrfProtected], openapi_extra=evidence.REPORT_BODY
)
async def report_milestone(
    request: Request, user: ApplicantPage, milestone_id: ParsedId
) -> Response:
    """The API's milestone report (narrative and evidence files, streamed), answered in JSON."""
    i18n = i18n_for(request)
    db: Database = request.app.state.db
    storage: Storage = request.app.state.storage
    try:
        target = await run_in_threadpool(evidence.report_target, db, user, milestone_id)
        report = await evidence.receive_report(
            request.stream(),
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            storage,
            cap=request.app.state.settings.max_upload_bytes,
        )
        milestone: Milestone = await evidence.record_report(db, storage, user, target, report)
    except (NotFound, Forbidden):
        raise
    except AppError as exc:
        return _json_refusal(i18n, exc)
    response = JSONResponse({"redirect": f"/awards/{milestone.award_id}"})
    flash(
        request,
        response,
        i18n.gettext("Report on “%(title)s” sent.") % {"title": milestone.title},
    )
    return response
