"""Reports for finance officers, programme officers and admins (applicants and reviewers: 403)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from app.auth.deps import MoneyReader
from app.awards.service import today_in
from app.calls.service import get_call_for
from app.config import Settings
from app.db import Database, DbSession
from app.errors import Conflict, error_responses
from app.models import Award, Call
from app.models.base import utcnow
from app.money import MoneyOut
from app.reports import pg_csv, queries
from app.reports.formats import Format, csv_response, table_response
from app.reports.giving360 import giving360_package
from app.reports.iati import iati_activities
from app.reports.summary import SUMMARY_COLUMNS, financial_summary, parse_period, summary_rows
from app.schemas import NO_NUL_PATTERN

# Every report is for one call: an unknown or invisible `call_id` is 404.
router = APIRouter(
    prefix="/reports", tags=["reports"], responses=error_responses(401, 403, 404, 503)
)

TABLE = {
    200: {
        "content": {
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
        "description": "CSV (UTF-8 with BOM) or XLSX, streamed",
    }
}


@router.get("/disbursements", response_class=StreamingResponse, responses=TABLE)
def disbursement_report(
    request: Request,
    user: MoneyReader,
    session: DbSession,
    call_id: uuid.UUID,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    organization_id: uuid.UUID | None = None,
    region: Annotated[str | None, Query(max_length=50, pattern=NO_NUL_PATTERN)] = None,
    format: Format = Format.csv,
) -> StreamingResponse:
    """One row per disbursement or reversal (negative), by value date, with running totals."""
    call = get_call_for(session, user, call_id)
    db: Database = request.app.state.db
    flt = queries.DisbursementFilter(call.id, date_from, date_to, organization_id, region)
    timezone = call.timezone
    if format is Format.csv and db.engine.dialect.name == "postgresql":
        return csv_response(
            lambda: pg_csv.disbursement_csv(db, flt, timezone), f"disbursements-{call.id}"
        )
    return table_response(
        format,
        queries.DISBURSEMENT_COLUMNS,
        lambda: queries.disbursement_rows(db, flt, timezone),
        f"disbursements-{call.id}",
    )


@router.get("/awards", response_class=StreamingResponse, responses=TABLE)
def award_register(
    request: Request,
    user: MoneyReader,
    session: DbSession,
    call_id: uuid.UUID,
    format: Format = Format.csv,
) -> StreamingResponse:
    """The award register: one row per award with its milestones, payments and next due date."""
    call = get_call_for(session, user, call_id)
    db: Database = request.app.state.db
    today = today_in(call.timezone)
    return table_response(
        format,
        queries.AWARD_COLUMNS,
        lambda: queries.award_register_rows(db, call.id, today),
        f"awards-{call.id}",
    )


class SummaryAwardOut(BaseModel):
    award_id: uuid.UUID
    award_reference: str
    organization: str
    federal_funds_authorized: MoneyOut
    disbursements_in_period: MoneyOut
    cumulative_disbursements: MoneyOut
    unliquidated_obligations: MoneyOut


class SummaryTotalsOut(BaseModel):
    envelope: MoneyOut
    federal_funds_authorized: MoneyOut
    disbursements_in_period: MoneyOut
    cumulative_disbursements: MoneyOut
    unliquidated_obligations: MoneyOut
    unobligated_balance: MoneyOut


class SummaryCoFundingOut(BaseModel):
    funder: str
    currency: str
    pledged: MoneyOut
    contributed: MoneyOut


class FinancialSummaryOut(BaseModel):
    call_id: uuid.UUID
    period: str
    period_start: date
    period_end: date
    currency: str
    totals: SummaryTotalsOut
    awards: list[SummaryAwardOut]
    cofunding: list[SummaryCoFundingOut]


@router.get(
    "/financial-summary",
    response_model=FinancialSummaryOut,
    responses={**TABLE, **error_responses(described={422: "Invalid query, or period"})},
)
def financial_summary_report(
    user: MoneyReader,
    session: DbSession,
    call_id: uuid.UUID,
    period: Annotated[str, Query(max_length=10, examples=["2027-Q1"])],
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
) -> Any:
    """SF-425-style lines for a quarter (`2027-Q1`), a month (`2027-03`) or a year (`2027`)."""
    call = get_call_for(session, user, call_id)
    summary = financial_summary(session, call, parse_period(period))
    if format == "json":
        return FinancialSummaryOut.model_validate(summary)
    rows = summary_rows(summary)
    return table_response(
        Format(format), SUMMARY_COLUMNS, lambda: iter(rows), f"financial-summary-{period}"
    )


def _standard_export(
    db: Database, call_id: uuid.UUID, settings: Settings, build: Any, media_type: str, name: str
) -> StreamingResponse:
    """Stream a standards document; it reads the call in its own read-only session."""
    generated_at = utcnow()

    def body() -> Iterator[bytes]:
        with db.transaction(read_only=True) as session:
            call = session.get(Call, call_id)
            assert call is not None
            yield from build(session, call, settings, generated_at=generated_at)

    return StreamingResponse(
        body(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/360giving",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/json": {}}, "description": "360Giving 1.4 package"},
        **error_responses(
            described={409: "The call has no awards: the standard has no empty package"}
        ),
    },
)
def giving360_export(
    request: Request, user: MoneyReader, session: DbSession, call_id: uuid.UUID
) -> StreamingResponse:
    """The call's awards as a 360Giving Data Standard package, with their disbursements."""
    call = get_call_for(session, user, call_id)
    if session.scalar(select(func.count()).select_from(Award).where(Award.call_id == call.id)) == 0:
        raise Conflict(
            "The call has no awards yet; a 360Giving package needs at least one grant.",
            "nothing_to_publish",
        )
    return _standard_export(
        request.app.state.db,
        call.id,
        request.app.state.settings,
        giving360_package,
        "application/json",
        f"360giving-{call.id}.json",
    )


@router.get(
    "/iati",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/xml": {}}, "description": "IATI 2.03 activities"}},
)
def iati_export(
    request: Request, user: MoneyReader, session: DbSession, call_id: uuid.UUID
) -> StreamingResponse:
    """The call (parent activity) and its awards (child activities) as IATI 2.03 XML, valid
    against the official schema: commitments at award and amendment, disbursements by value
    date, reversals as negative disbursements."""
    call = get_call_for(session, user, call_id)
    return _standard_export(
        request.app.state.db,
        call.id,
        request.app.state.settings,
        iati_activities,
        "application/xml",
        f"iati-{call.id}.xml",
    )
