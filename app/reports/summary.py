"""Financial summary by period, on the lines of the U.S. Federal Financial Report (SF-425).

Per award and for the call: federal funds authorised (the award amounts), disbursements in the
period, cumulative disbursements to the period's end, unliquidated obligations (awarded minus
disbursed) and, for the call, the unobligated balance (envelope minus awarded). Co-funding is
reported in its own currency. Amounts are as recorded at the end of the period for payments;
award amounts are the current ones (amendments included).
"""

from __future__ import annotations

import re
import uuid
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from app.models import (
    Application,
    Award,
    Call,
    CoFundingContribution,
    CoFundingPledge,
    Disbursement,
    Organization,
)
from app.money import to_decimal

# ASCII digits only, no surrounding whitespace (the label is echoed in the export's
# Content-Disposition header), and no year 0000 (which `date` cannot hold).
_PERIOD = re.compile(r"^([1-9]\d{3})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$", re.ASCII)

SUMMARY_COLUMNS = [
    "line",
    "award_reference",
    "organization",
    "currency",
    "federal_funds_authorized",
    "disbursements_in_period",
    "cumulative_disbursements",
    "unliquidated_obligations",
    "unobligated_balance",
]


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date


def parse_period(text: str) -> Period:
    """`2027-Q1`, `2027-03` or `2027`."""
    match = _PERIOD.fullmatch(text)
    if not match:
        raise Unprocessable("period must look like 2027-Q1, 2027-03 or 2027.", "invalid_period")
    year, quarter, month = int(match[1]), match[2], match[3]
    if quarter:
        first = 3 * (int(quarter) - 1) + 1
        return Period(
            text, date(year, first, 1), date(year, first + 2, monthrange(year, first + 2)[1])
        )
    if month:
        m = int(month)
        return Period(text, date(year, m, 1), date(year, m, monthrange(year, m)[1]))
    return Period(text, date(year, 1, 1), date(year, 12, 31))


def financial_summary(session: Session, call: Call, period: Period) -> dict[str, Any]:
    in_period = func.coalesce(
        func.sum(
            case(
                (Disbursement.value_date.between(period.start, period.end), Disbursement.amount),
                else_=0,
            )
        ),
        0,
    )
    to_date = func.coalesce(
        func.sum(case((Disbursement.value_date <= period.end, Disbursement.amount), else_=0)), 0
    )
    rows = session.execute(
        select(Award.id, Award.reference, Organization.name, Award.amount, in_period, to_date)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Award.organization_id)
        .outerjoin(Disbursement, Disbursement.award_id == Award.id)
        .where(Award.call_id == call.id)
        .group_by(Award.id, Award.reference, Organization.name, Award.amount)
        .order_by(Award.reference)
    ).all()
    awards = [
        {
            "award_id": award_id,
            "award_reference": reference,
            "organization": organization,
            "federal_funds_authorized": amount,
            "disbursements_in_period": int(period_sum),
            "cumulative_disbursements": int(cumulative),
            "unliquidated_obligations": amount - int(cumulative),
        }
        for award_id, reference, organization, amount, period_sum, cumulative in rows
    ]
    authorised = sum(a["federal_funds_authorized"] for a in awards)
    cumulative = sum(a["cumulative_disbursements"] for a in awards)
    return {
        "call_id": call.id,
        "period": period.label,
        "period_start": period.start,
        "period_end": period.end,
        "currency": call.currency,
        "totals": {
            "envelope": call.envelope_amount,
            "federal_funds_authorized": authorised,
            "disbursements_in_period": sum(a["disbursements_in_period"] for a in awards),
            "cumulative_disbursements": cumulative,
            "unliquidated_obligations": authorised - cumulative,
            "unobligated_balance": call.envelope_amount - authorised,
        },
        "awards": awards,
        "cofunding": _cofunding(session, call.id, period),
    }


def _cofunding(session: Session, call_id: uuid.UUID, period: Period) -> list[dict[str, Any]]:
    contributed = func.coalesce(
        func.sum(
            case(
                (CoFundingContribution.contributed_on <= period.end, CoFundingContribution.amount),
                else_=0,
            )
        ),
        0,
    )
    rows = session.execute(
        select(
            CoFundingPledge.funder, CoFundingPledge.currency, CoFundingPledge.amount, contributed
        )
        .outerjoin(CoFundingContribution, CoFundingContribution.pledge_id == CoFundingPledge.id)
        .where(CoFundingPledge.call_id == call_id, CoFundingPledge.pledged_on <= period.end)
        .group_by(
            CoFundingPledge.id,
            CoFundingPledge.funder,
            CoFundingPledge.currency,
            CoFundingPledge.amount,
        )
        .order_by(CoFundingPledge.funder)
    ).all()
    return [
        {"funder": funder, "currency": currency, "pledged": amount, "contributed": int(paid)}
        for funder, currency, amount, paid in rows
    ]


def summary_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary as table rows: one per award, then the call's line."""
    currency = summary["currency"]
    rows = [
        [
            "award",
            a["award_reference"],
            a["organization"],
            currency,
            to_decimal(a["federal_funds_authorized"]),
            to_decimal(a["disbursements_in_period"]),
            to_decimal(a["cumulative_disbursements"]),
            to_decimal(a["unliquidated_obligations"]),
            None,
        ]
        for a in summary["awards"]
    ]
    t = summary["totals"]
    rows.append(
        [
            "call",
            "",
            "",
            currency,
            to_decimal(t["federal_funds_authorized"]),
            to_decimal(t["disbursements_in_period"]),
            to_decimal(t["cumulative_disbursements"]),
            to_decimal(t["unliquidated_obligations"]),
            to_decimal(t["unobligated_balance"]),
        ]
    )
    for pledge in summary["cofunding"]:
        rows.append(
            [
                "cofunding",
                pledge["funder"],
                "",
                pledge["currency"],
                to_decimal(pledge["pledged"]),
                None,
                to_decimal(pledge["contributed"]),
                to_decimal(pledge["pledged"] - pledge["contributed"]),
                None,
            ]
        )
    return rows
