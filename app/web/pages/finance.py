"""The finance pages: a call's awards and their milestones, payments and reversals, the
allocation dashboard with its charts, and the report downloads.

Everything goes through the API's own services: payments through the same function as
`POST /api/v1/awards/{id}/disbursements` (`awards.payments.record_once`), figures from the same
ledger queries as `GET /api/v1/calls/{id}/allocation`, and downloads from the API's report
routes themselves, called with the page's user (docs/web.md, "Finance pages").
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from babel.dates import format_skeleton
from babel.numbers import format_compact_currency
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import case, extract, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.auth.deps import MONEY_ROLES
from app.awards import allocation, payments
from app.awards import service as awards
from app.awards.router import awards_out, list_disbursements
from app.awards.schemas import AwardOut, DisbursementIn, MilestoneOut, ReverseIn
from app.calls.service import get_call_for, visible_calls
from app.db import DbSession
from app.errors import BadRequest, Unprocessable
from app.ids import ParsedId
from app.models import (
    Award,
    Call,
    CallStatus,
    Disbursement,
    Milestone,
    MilestoneStatus,
    Role,
    User,
)
from app.money import parse_money, to_decimal
from app.pagination import Pagination, fetch_page
from app.reports import router as reports_api
from app.reports.formats import Format
from app.web.charts import Chart, Series, horizontal_bars, vertical_bars
from app.web.deps import PageForm, require_page_roles
from app.web.forms import FormErrors, validate
from app.web.i18n import I18n, i18n_for
from app.web.routing import page_router
from app.web.staff_forms import Refusals
from app.web.templating import HOME_PAGES, N_, NAV_ITEMS, NavItem, redirect, render

router = page_router()

# Who reads awards, allocation and reports: the API's `MoneyReader`. Only finance officers
# record and reverse payments: the API's `FinanceOfficer`.
MoneyPage = Annotated[User, Depends(require_page_roles(*MONEY_ROLES))]
FinancePage = Annotated[User, Depends(require_page_roles(Role.finance_officer))]

# This area's menu entry and landing page (docs/web.md, "Navigation").
NAV_ITEMS.append(NavItem("/finance", N_("Awards and payments"), roles=frozenset(MONEY_ROLES)))
HOME_PAGES[Role.finance_officer] = "/finance"

# The refusals of the disbursement services, in the visitor's language. They are this area's
# own (`Refusals`): `segregation_of_duties`, say, means something else for an award decision.
_MESSAGES = {
    "exceeds_remaining": N_("The amount is more than what remains to be paid."),
    "invalid_amount": N_("Enter an amount greater than zero."),
    "future_value_date": N_("The value date cannot be in the future."),
    "unknown_milestone": N_("Choose one of the award's milestones."),
    "milestone_not_approved": N_("Only an approved milestone can be paid."),
    "segregation_of_duties": N_(
        "You approved this milestone, so someone else must record its payment."
    ),
    "idempotency_key_reused": N_(
        "This form was already used for another payment. It has been renewed: check the "
        "payments below, then send it again if a new payment is due."
    ),
    "already_reversed": N_("This payment has already been reversed."),
    "is_reversal": N_("A reversal cannot itself be reversed."),
}

KEY_FIELD = "idempotency_key"
MAX_KEY_LENGTH = 255  # as the API's Idempotency-Key header
PAYMENT_FIELDS = ("milestone_id", "amount", "value_date", "reference")
_MONEY_HINT = N_("Enter an amount such as 250000.00: digits, and at most two decimals.")
_DATE_HINT = N_("Enter a date such as 2026-03-31.")
_PAYMENT_HINTS = {
    "milestone_id": {
        "missing": N_("Choose the milestone this payment is for."),
        "uuid_parsing": N_("Choose one of the award's milestones."),
    },
    "amount": {"value_error": _MONEY_HINT},
    "value_date": {"date_parsing": _DATE_HINT, "date_from_datetime_parsing": _DATE_HINT},
    "reference": {"missing": N_("Enter the reference of the bank transfer.")},
}
# Service refusals shown next to a field; the others head the form.
_PAYMENT_ERROR_FIELDS = {
    "exceeds_remaining": "amount",
    "invalid_amount": "amount",
    "future_value_date": "value_date",
    "unknown_milestone": "milestone_id",
    "milestone_not_approved": "milestone_id",
}
_REASON_HINTS = {"reason": {"missing": N_("Say why the payment is reversed.")}}
_PERIOD_HINT = N_("Enter a quarter (2027-Q1), a month (2027-03) or a year (2027).")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def new_payment_key() -> str:
    """A fresh key for each payment form: a resubmission of the same form carries it again."""
    return secrets.token_urlsafe(24)


# --- calls -------------------------------------------------------------------------------


@router.get("/finance")
def finance_home(request: Request, user: MoneyPage, session: DbSession) -> Response:
    """The calls with money to follow, each with its envelope, awarded and disbursed."""
    calls = session.scalars(
        visible_calls(user)
        .where(Call.status != CallStatus.draft)
        .order_by(Call.opens_at.desc(), Call.id)
    )
    rows = [
        {
            "call": call,
            "status": call.effective_status(),
            "totals": allocation.totals(session, call),
        }
        for call in calls
    ]
    return render(request, "finance/calls.html", {"calls": rows})


@router.get("/finance/calls/{id}/awards")
def call_awards(
    request: Request, user: MoneyPage, call_id: ParsedId, session: DbSession, page: Pagination
) -> Response:
    call = get_call_for(session, user, call_id)
    stmt = awards.visible_awards(user).where(Award.call_id == call.id).order_by(Award.reference)
    rows, total = fetch_page(session, stmt, page)
    views = [
        {"award": out, "payable": sum(m.remaining for m in _payable(out))}
        for out in awards_out(session, rows)
    ]
    return render(
        request,
        "finance/awards.html",
        {
            "call": call,
            "awards": views,
            "total": total,
            "first": page.offset + 1,
            "last": page.offset + len(rows),
            "previous": max(page.offset - page.limit, 0) if page.offset else None,
            "next": page.offset + page.limit if page.offset + page.limit < total else None,
            "limit": page.limit,
        },
    )


# --- an award, its milestones and payments -----------------------------------------------


def _payable(award: AwardOut) -> list[MilestoneOut]:
    """Milestones a payment may be recorded against now (approved, something left)."""
    return [m for m in award.milestones if m.status is MilestoneStatus.approved]


def _recorders(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _award_page(
    request: Request,
    session: Session,
    user: User,
    award_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    key: str | None = None,
) -> Response:
    i18n = i18n_for(request)
    award = awards.get_award_for(session, user, award_id)
    view = awards_out(session, [award])[0]
    call = session.get(Call, award.call_id)
    assert call is not None
    payments = list_disbursements(user=user, award_id=award.id, session=session)
    titles = {m.id: m.title for m in award.milestones}
    names = _recorders(session, {p.recorded_by_id for p in payments})
    can_pay = user.role is Role.finance_officer
    payable = _payable(view)
    today = awards.today_in(call.timezone)
    values = values or {
        "milestone_id": str(payable[0].id) if len(payable) == 1 else "",
        "amount": "",
        "value_date": today.isoformat(),
        "reference": "",
    }
    selected = next((m for m in payable if str(m.id) == values["milestone_id"]), None)
    options = [("", i18n.gettext("Choose a milestone"))] if len(payable) != 1 else []
    options += [
        (
            str(m.id),
            i18n.gettext("%(title)s (%(remaining)s to pay)")
            % {"title": m.title, "remaining": i18n.money(m.remaining, view.currency)},
        )
        for m in payable
    ]
    errors = errors or FormErrors()
    return render(
        request,
        "finance/award.html",
        {
            "call": call,
            "award": view,
            "application_title": award.application.title,
            "payments": [
                {
                    "payment": p,
                    "milestone": titles.get(p.milestone_id, ""),
                    "recorded_by": names.get(p.recorded_by_id, ""),
                    "reversible": can_pay and p.reverses_id is None and p.reversed_by_id is None,
                }
                for p in payments
            ],
            "can_pay": can_pay,
            "payable": payable,
            "selected": selected,
            "milestone_options": options,
            "values": values,
            "errors": errors,
            "key_field": KEY_FIELD,
            "key": key or new_payment_key(),
            "today": today,
        },
        status_code=errors.status_code if errors else 200,
        headers=errors.headers,
    )


@router.get("/finance/awards/{id}")
def award_page(
    request: Request, user: MoneyPage, award_id: ParsedId, session: DbSession
) -> Response:
    return _award_page(request, session, user, award_id)


def _payment_message(i18n: I18n, award: Award, body: dict[str, Any]) -> str:
    titles = {str(m.id): m.title for m in award.milestones}
    return i18n.gettext(
        "Payment of %(amount)s for “%(milestone)s” recorded (reference %(reference)s)."
    ) % {
        "amount": i18n.money(parse_money(body["amount"]), body["currency"]),
        "milestone": titles.get(body["milestone_id"], ""),
        "reference": body["reference"],
    }


@router.post("/finance/awards/{id}/disbursements")
def record_payment(
    request: Request, user: FinancePage, award_id: ParsedId, form: PageForm, session: DbSession
) -> Response:
    """Record a payment. The form carries a key minted with the page: sending the same form
    twice (a double click, a browser's re-POST) records one payment and shows it both times."""
    i18n = i18n_for(request)
    award = awards.get_award_for(session, user, award_id, lock=True)
    key = _text(form, KEY_FIELD)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            "The payment form has no valid key; reload the page.", "idempotency_key_required"
        )
    values = {name: _text(form, name) for name in PAYMENT_FIELDS}
    body = {name: value for name, value in values.items() if value}
    errors = FormErrors()
    payload = validate(DisbursementIn, body, errors, i18n, hints=_PAYMENT_HINTS)
    outcome: dict[str, Any] | None = None
    refusals = Refusals(session, errors, i18n, _MESSAGES, fields=_PAYMENT_ERROR_FIELDS)
    if payload is not None:
        with refusals:
            outcome = payments.record_once(
                session,
                user=user,
                award_id=award.id,
                route=request.url.path,
                key=key,
                request_body=body,
                payload=payload,
            ).body
    if errors or outcome is None:
        # A key already spent on other values: this form is used up, the page gets a new one.
        renew_key = refusals.error is not None and refusals.error.code == "idempotency_key_reused"
        return _award_page(
            request,
            session,
            user,
            award_id,
            values=values,
            errors=errors,
            key=new_payment_key() if renew_key else key,
        )
    return redirect(
        request, f"/finance/awards/{award.id}", message=_payment_message(i18n, award, outcome)
    )


# --- reversals ---------------------------------------------------------------------------


def _reversal_page(
    request: Request,
    session: Session,
    user: User,
    payment: Disbursement,
    *,
    reason: str = "",
    errors: FormErrors | None = None,
) -> Response:
    award = awards.get_award_for(session, user, payment.award_id)
    milestone = session.get(Milestone, payment.milestone_id)
    reversal = session.scalar(select(Disbursement).where(Disbursement.reverses_id == payment.id))
    errors = errors or FormErrors()
    return render(
        request,
        "finance/reverse.html",
        {
            "award": award,
            "payment": payment,
            "milestone": milestone,
            "reversal": reversal,
            "reason": reason,
            "errors": errors,
        },
        status_code=errors.status_code if errors else 200,
        headers=errors.headers,
    )


@router.get("/finance/disbursements/{id}/reverse")
def reversal_form(
    request: Request, user: FinancePage, disbursement_id: ParsedId, session: DbSession
) -> Response:
    payment = awards.get_disbursement_for(session, user, disbursement_id)
    return _reversal_page(request, session, user, payment)


@router.post("/finance/disbursements/{id}/reverse")
def reverse_payment(
    request: Request,
    user: FinancePage,
    disbursement_id: ParsedId,
    form: PageForm,
    session: DbSession,
) -> Response:
    """The API's reversal: a new entry for the whole amount, once per payment."""
    i18n = i18n_for(request)
    original = awards.get_disbursement_for(session, user, disbursement_id, lock=True)
    award = awards.get_award_for(session, user, original.award_id, lock=True)
    reason = _text(form, "reason")
    errors = FormErrors()
    payload = validate(
        ReverseIn, {"reason": reason} if reason else {}, errors, i18n, hints=_REASON_HINTS
    )
    reversal: Disbursement | None = None
    if payload is not None:
        with Refusals(session, errors, i18n, _MESSAGES):
            reversal = awards.reverse_disbursement(
                session, actor=user, original=original, reason=payload.reason
            )
    if errors or reversal is None:
        payment = awards.get_disbursement_for(session, user, disbursement_id)
        return _reversal_page(request, session, user, payment, reason=reason, errors=errors)
    return redirect(
        request,
        f"/finance/awards/{award.id}",
        message=i18n.gettext("The payment of %(amount)s (reference %(reference)s) was reversed.")
        % {"amount": i18n.money(original.amount, award.currency), "reference": original.reference},
        level="info",
    )


# --- the allocation dashboard ------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    start: date
    paid: int
    reversed: int  # negative or zero
    to_date: int

    @property
    def net(self) -> int:
        return self.paid + self.reversed


def monthly_payments(session: Session, call: Call) -> list[Month]:
    """Payments and reversals by month of value date, every month from the first to the last
    that has one, with the running total (which ends at the ledger's disbursed total)."""
    year = extract("year", Disbursement.value_date)
    month = extract("month", Disbursement.value_date)
    rows = session.execute(
        select(
            year,
            month,
            func.sum(case((Disbursement.amount > 0, Disbursement.amount), else_=0)),
            func.sum(case((Disbursement.amount < 0, Disbursement.amount), else_=0)),
        )
        .where(Disbursement.call_id == call.id)
        .group_by(year, month)
        .order_by(year, month)
    ).all()
    found = {(int(y), int(m)): (int(paid), int(back)) for y, m, paid, back in rows}
    if not found:
        return []
    (y, m), last = min(found), max(found)
    months: list[Month] = []
    to_date = 0
    while (y, m) <= last:
        paid, back = found.get((y, m), (0, 0))
        to_date += paid + back
        months.append(Month(date(y, m, 1), paid, back, to_date))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def _compact_money(i18n: I18n, minor: int, currency: str) -> str:
    """Axis labels: `US$1.5M`, `1,5 M US$` (the tables give every amount in full)."""
    return format_compact_currency(
        to_decimal(minor), currency, locale=i18n.locale, fraction_digits=1
    )


def _split_chart(
    i18n: I18n, currency: str, labels: Sequence[str], split: allocation.Split
) -> Chart:
    series = [
        Series("awarded", i18n.gettext("Amount awarded")),
        Series("disbursed", i18n.gettext("Amount disbursed")),
    ]
    return horizontal_bars(
        labels,
        series,
        [[split.awarded[code], split.disbursed[code]] for code in split.awarded],
        lambda minor: i18n.money(minor, currency),
        lambda minor: _compact_money(i18n, minor, currency),
    )


def _split_rows(labels: dict[str, str], split: allocation.Split) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "label": labels.get(code, code),
            "awarded": split.awarded[code],
            "disbursed": split.disbursed[code],
        }
        for code in split.awarded
    ]


def current_quarter(call: Call) -> str:
    today = awards.today_in(call.timezone)
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _dashboard(
    request: Request,
    session: Session,
    call: Call,
    *,
    period: str,
    errors: FormErrors | None = None,
) -> Response:
    i18n = i18n_for(request)
    currency = call.currency
    figures = allocation.totals(session, call)
    by_region, by_objective = allocation.splits(session, call)
    region_labels = {r["code"]: r["label"] for r in call.regions}
    objective_labels = {o["code"]: o["label"] for o in call.objectives}
    months = monthly_payments(session, call)
    award_count = session.scalar(
        select(func.count()).select_from(Award).where(Award.call_id == call.id)
    )

    def money(minor: int) -> str:
        return i18n.money(minor, currency)

    def compact(minor: int) -> str:
        return _compact_money(i18n, minor, currency)

    totals_chart = horizontal_bars(
        [
            i18n.gettext("Envelope"),
            i18n.gettext("Amount awarded"),
            i18n.gettext("Amount disbursed"),
        ],
        [Series("total", "")],
        [[figures.envelope], [figures.awarded], [figures.disbursed]],
        money,
        compact,
        category_kinds=("envelope", "awarded", "disbursed"),
    )
    month_names = [format_skeleton("yMMM", m.start, locale=i18n.locale) for m in months]
    months_chart = vertical_bars(
        month_names,
        [m.net for m in months],
        [
            f"{format_skeleton('yMMMM', m.start, locale=i18n.locale)}: {money(m.net)}"
            for m in months
        ],
        compact,
        positive="disbursed",
        negative="reversed",
    )
    errors = errors or FormErrors()
    return render(
        request,
        "finance/dashboard.html",
        {
            "call": call,
            "figures": figures,
            "totals_chart": totals_chart,
            "regions": _split_rows(region_labels, by_region),
            "regions_chart": _split_chart(
                i18n, currency, [region_labels.get(c, c) for c in by_region.awarded], by_region
            ),
            "objectives": _split_rows(objective_labels, by_objective),
            "objectives_chart": _split_chart(
                i18n,
                currency,
                [objective_labels.get(c, c) for c in by_objective.awarded],
                by_objective,
            ),
            "months": [
                {"month": m, "name": format_skeleton("yMMMM", m.start, locale=i18n.locale)}
                for m in months
            ],
            "months_chart": months_chart,
            "month_totals": {
                "paid": sum(m.paid for m in months),
                "reversed": sum(m.reversed for m in months),
                "net": sum(m.net for m in months),
            },
            "has_awards": bool(award_count),
            "period": period,
            "errors": errors,
        },
        status_code=errors.status_code if errors else 200,
    )


@router.get("/finance/calls/{id}/dashboard")
def dashboard(request: Request, user: MoneyPage, call_id: ParsedId, session: DbSession) -> Response:
    call = get_call_for(session, user, call_id)
    return _dashboard(request, session, call, period=current_quarter(call))


# --- report downloads: the API's report routes, called with the page's user --------------


@router.get("/finance/calls/{id}/reports/disbursements")
def disbursements_download(
    request: Request,
    user: MoneyPage,
    call_id: ParsedId,
    session: DbSession,
    format: Format = Format.csv,
) -> Response:
    return reports_api.disbursement_report(
        request=request,
        user=user,
        session=session,
        call_id=call_id,
        date_from=None,
        date_to=None,
        organization_id=None,
        region=None,
        format=format,
    )


@router.get("/finance/calls/{id}/reports/awards")
def award_register_download(
    request: Request,
    user: MoneyPage,
    call_id: ParsedId,
    session: DbSession,
    format: Format = Format.csv,
) -> Response:
    return reports_api.award_register(
        request=request, user=user, session=session, call_id=call_id, format=format
    )


@router.get("/finance/calls/{id}/reports/financial-summary")
def financial_summary_download(
    request: Request,
    user: MoneyPage,
    call_id: ParsedId,
    session: DbSession,
    period: Annotated[str, Query(max_length=50)] = "",
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
) -> Response:
    """The period is chosen on the dashboard; a period the report refuses is explained there,
    next to its field."""
    call = get_call_for(session, user, call_id)
    period = period.strip()
    try:
        summary = reports_api.financial_summary_report(
            user=user, session=session, call_id=call.id, period=period, format=format
        )
    except Unprocessable as exc:
        if exc.code != "invalid_period":
            raise
        errors = FormErrors()
        errors.add("period", i18n_for(request).gettext(_PERIOD_HINT))
        return _dashboard(request, session, call, period=period, errors=errors)
    if isinstance(summary, BaseModel):
        return JSONResponse(
            summary.model_dump(mode="json"),
            headers={
                "Content-Disposition": f'attachment; filename="financial-summary-{period}.json"'
            },
        )
    return summary  # type: ignore[no-any-return]


@router.get("/finance/calls/{id}/reports/iati")
def iati_download(
    request: Request, user: MoneyPage, call_id: ParsedId, session: DbSession
) -> Response:
    return reports_api.iati_export(request=request, user=user, session=session, call_id=call_id)


@router.get("/finance/calls/{id}/reports/360giving")
def giving360_download(
    request: Request, user: MoneyPage, call_id: ParsedId, session: DbSession
) -> Response:
    return reports_api.giving360_export(
        request=request, user=user, session=session, call_id=call_id
    )
