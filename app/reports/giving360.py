"""The awards of a call as a 360Giving Data Standard 1.4 package (JSON), streamed.

One grant per award. The package is written piece by piece: the opening with the package
metadata, then one grant object at a time, then the closing. Awards are read in keyset pages
of `AWARD_PAGE` (by award reference), and each page's regions, objectives and payments are
fetched with one query each, so memory stays flat however many awards the call has.

Mapping choices (see docs/360giving.md for the full table):
- grant `id`: `<GIVING360_ID_PREFIX>-<award reference>`;
- amounts are JSON numbers: an integer when whole, otherwise the float nearest to the exact
  value; with at most 13 digits and 2 decimals (15 significant digits) that float prints back
  as exactly the same decimal, so no cent is ever lost;
- `amountAwarded` is the award's current amount (after amendments), `amountDisbursed` the net
  of payments and reversals;
- every payment and every reversal (negative `value`) is a `disbursementTransaction`;
- recipient `id`: `US-SAM-<UEI>` (org-id.guide list US-SAM) when the organisation has a UEI,
  otherwise `<prefix>-ORG-<organisation uuid>`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    Award,
    Call,
    Disbursement,
    Milestone,
    Organization,
)
from app.reports.pages import award_pages

STANDARD_VERSION = "1.4"
AWARD_PAGE = 500
CENTS = 100


def money_number(minor: int) -> int | float:
    """Minor units as a JSON number: `10000001` → `100000.01`, `10000000` → `100000`.

    `minor / 100` is the correctly rounded float of the exact amount, and a decimal of at most
    15 significant digits survives the trip decimal → float → shortest repr unchanged.
    """
    if minor % CENTS == 0:
        return minor // CENTS
    return minor / CENTS


def grant_id(settings: Settings, award_reference: str) -> str:
    return f"{settings.giving360_id_prefix}-{award_reference}"


def recipient_id(settings: Settings, organization_id: Any, uei: str | None) -> str:
    if uei and uei.strip():
        return f"US-SAM-{uei.strip().upper()}"
    return f"{settings.giving360_id_prefix}-ORG-{organization_id}"


def programme_code(settings: Settings, call: Call) -> str:
    return f"{settings.giving360_id_prefix}-CALL-{call.id}"


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _package_header(call: Call, settings: Settings, generated_at: datetime) -> dict[str, Any]:
    return {
        "version": STANDARD_VERSION,
        "title": f"360Giving grants data: {call.title}",
        "description": (
            f"Grants awarded under the call for proposals “{call.title}”, "
            f"with their payments and reversals."
        ),
        "identifier": programme_code(settings, call),
        "issued": _timestamp(generated_at),
        "publisher": {"identifier": settings.funding_org_id, "name": settings.funding_org_name},
    }


def giving360_package(
    session: Session, call: Call, settings: Settings, *, generated_at: datetime
) -> Iterator[bytes]:
    """The call's awards as a 360Giving package, UTF-8 JSON in chunks (one grant per chunk).

    A call without awards gives `{"grants": []}` with the metadata: well-formed, but the
    package schema asks for at least one grant (`minItems: 1`), so it is not publishable.
    """
    header = json.dumps(_package_header(call, settings, generated_at), ensure_ascii=False)
    yield (header[:-1] + ', "grants": [').encode()
    context = _CallContext(call, settings)
    first = True
    for grant in _grants(session, context):
        text = json.dumps(grant, ensure_ascii=False)
        yield (("\n" if first else ",\n") + text).encode()
        first = False
    yield ("]}\n" if first else "\n]}\n").encode()


class _CallContext:
    """What every grant of the call shares: labels, time zone, funder, programme."""

    def __init__(self, call: Call, settings: Settings) -> None:
        self.call_id = call.id
        self.settings = settings
        self.zone = ZoneInfo(call.timezone)
        self.region_labels = {r["code"]: r.get("label") or r["code"] for r in call.regions}
        self.objective_labels = {o["code"]: o.get("label") or o["code"] for o in call.objectives}
        self.programme = {"code": programme_code(settings, call), "title": call.title}
        self.vocabulary = f"{self.programme['code']}-objectives"
        self.funder = {"id": settings.funding_org_id, "name": settings.funding_org_name}


_AWARD_COLUMNS = (
    Award.id,
    Award.reference,
    Award.currency,
    Award.amount,
    Award.start_date,
    Award.end_date,
    Award.created_at,
    Award.application_id,
    Application.title,
    Application.summary,
    Application.requested_amount,
    Award.organization_id,
    Organization.name.label("organization_name"),
    Organization.country,
    Organization.uei,
    Organization.website,
)


def _award_pages(session: Session, call_id: Any) -> Iterator[Sequence[Any]]:
    return award_pages(session, call_id, _AWARD_COLUMNS, AWARD_PAGE)


def _grants(session: Session, context: _CallContext) -> Iterator[dict[str, Any]]:
    for page in _award_pages(session, context.call_id):
        application_ids = [row.application_id for row in page]
        award_ids = [row.id for row in page]
        regions = _regions(session, application_ids)
        objectives = _objectives(session, application_ids)
        payments = _payments(session, award_ids)
        for row in page:
            yield _grant(
                row,
                context,
                regions.get(row.application_id, []),
                objectives.get(row.application_id, []),
                payments.get(row.id, []),
            )


def _regions(session: Session, application_ids: list[Any]) -> dict[Any, list[tuple[str, int]]]:
    found: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    rows = session.execute(
        select(
            ApplicationRegion.application_id,
            ApplicationRegion.code,
            ApplicationRegion.share_hundredths,
        )
        .where(ApplicationRegion.application_id.in_(application_ids))
        .order_by(ApplicationRegion.application_id, ApplicationRegion.position)
    )
    for application_id, code, share in rows:
        found[application_id].append((code, share))
    return found


def _objectives(session: Session, application_ids: list[Any]) -> dict[Any, list[str]]:
    found: dict[Any, list[str]] = defaultdict(list)
    rows = session.execute(
        select(ApplicationObjective.application_id, ApplicationObjective.code)
        .where(ApplicationObjective.application_id.in_(application_ids))
        .order_by(ApplicationObjective.application_id, ApplicationObjective.position)
    )
    for application_id, code in rows:
        found[application_id].append(code)
    return found


def _payments(session: Session, award_ids: list[Any]) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = defaultdict(list)
    rows = session.execute(
        select(
            Disbursement.id,
            Disbursement.award_id,
            Disbursement.amount,
            Disbursement.value_date,
            Disbursement.reverses_id,
            Milestone.title.label("milestone_title"),
        )
        .join(Milestone, Milestone.id == Disbursement.milestone_id)
        .where(Disbursement.award_id.in_(award_ids))
        .order_by(
            Disbursement.award_id,
            Disbursement.value_date,
            Disbursement.recorded_at,
            Disbursement.id,
        )
    )
    for row in rows:
        found[row.award_id].append(row)
    return found


def _share(hundredths: int) -> str:
    return f"{hundredths // 100}.{hundredths % 100:02d} % of the grant"


def _grant(
    row: Any,
    context: _CallContext,
    regions: list[tuple[str, int]],
    objectives: list[str],
    payments: list[Any],
) -> dict[str, Any]:
    settings = context.settings
    title = row.title or row.reference
    recipient: dict[str, Any] = {
        "id": recipient_id(settings, row.organization_id, row.uei),
        "name": row.organization_name,
        "addressCountry": row.country,
    }
    if row.website and row.website.lower().startswith(("https://", "http://")):
        recipient["url"] = row.website
    grant: dict[str, Any] = {
        "id": grant_id(settings, row.reference),
        "title": title,
        "description": row.summary or title,
        "currency": row.currency,
        "amountAwarded": money_number(row.amount),
    }
    if row.requested_amount is not None:
        grant["amountAppliedFor"] = money_number(row.requested_amount)
    grant["amountDisbursed"] = money_number(sum(p.amount for p in payments))
    grant["awardDate"] = row.created_at.astimezone(context.zone).date().isoformat()
    grant["plannedDates"] = [
        {"startDate": row.start_date.isoformat(), "endDate": row.end_date.isoformat()}
    ]
    grant["recipientOrganization"] = [recipient]
    grant["fundingOrganization"] = [dict(context.funder)]
    grant["grantProgramme"] = [dict(context.programme)]
    grant["fromOpenCall"] = "Yes"
    if regions:
        grant["beneficiaryLocation"] = [
            {
                "id": code,
                "name": context.region_labels.get(code, code),
                "description": _share(share),
            }
            for code, share in regions
        ]
    if objectives:
        grant["classifications"] = [
            {
                "vocabulary": context.vocabulary,
                "code": code,
                "title": context.objective_labels.get(code, code),
            }
            for code in objectives
        ]
    if payments:
        grant["disbursementTransaction"] = [
            _transaction(payment, row.currency, settings) for payment in payments
        ]
    return grant


def transaction_id(settings: Settings, disbursement_id: Any) -> str:
    return f"{settings.giving360_id_prefix}-DISB-{disbursement_id}"


def _transaction(payment: Any, currency: str, settings: Settings) -> dict[str, Any]:
    if payment.reverses_id is not None:
        description = f"Reversal of {transaction_id(settings, payment.reverses_id)}"
    else:
        description = f"Payment for milestone: {payment.milestone_title}"
    return {
        "id": transaction_id(settings, payment.id),
        "transactionDate": payment.value_date.isoformat(),
        "currency": currency,
        "value": money_number(payment.amount),
        "description": description,
    }
