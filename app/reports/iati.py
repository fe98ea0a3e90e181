"""The awards of a call as IATI 2.03 activities (XML), streamed.

The document holds one programme activity for the call (hierarchy 1) and one activity per award
(hierarchy 2), linked both ways with `related-activity`. The programme activity is always there,
so a call without awards still gives a document the schema accepts: `iati-activities` needs at
least one `iati-activity`. Money is reported on the awards only (commitments and disbursements
as transactions), the lowest level, so nothing is counted twice.

The document is written with lxml's incremental writer into an in-memory buffer that is drained
after every activity. Awards are read in keyset pages of `AWARD_PAGE` (by award reference) and
each page's regions, objectives, payments and amendments come from one query each, so memory
stays flat however many awards the call has.

Children follow the element order of `iati-activities-schema.xsd` exactly. docs/iati.md has
the mapping tables (statuses, dates, sectors, organisation types, identifiers) and the reasons.
"""

from __future__ import annotations

import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from app.awards.allocation import largest_remainder
from app.config import Settings
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    Award,
    AwardAmendment,
    Call,
    Disbursement,
    Milestone,
    MilestoneStatus,
    Organization,
    OrganizationKind,
)
from app.money import format_money
from app.reports.pages import award_pages

logger = logging.getLogger(__name__)

IATI_VERSION = "2.03"
SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent / "standards" / "iati" / "iati-activities-schema.xsd"
)
AWARD_PAGE = 200
LANGUAGE = "en"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# --- code lists (IATI 2.03) ----------------------------------------------------------------

# ActivityStatus
STATUS_PIPELINE = "1"
STATUS_IMPLEMENTATION = "2"
STATUS_FINALISATION = "3"
# ActivityDateType
DATE_PLANNED_START = "1"
DATE_ACTUAL_START = "2"
DATE_PLANNED_END = "3"
DATE_ACTUAL_END = "4"
# OrganisationRole
ROLE_FUNDING = "1"
ROLE_IMPLEMENTING = "4"
# TransactionType
TRANSACTION_COMMITMENT = "2"
TRANSACTION_DISBURSEMENT = "3"
# DescriptionType: general
DESCRIPTION_GENERAL = "1"
# GeographicLocationReach: the activity happens there
LOCATION_REACH_ACTIVITY = "1"
# RelatedActivityType
RELATED_PARENT = "1"
RELATED_CHILD = "2"
# SectorVocabulary: OECD DAC CRS purpose codes (5 digit)
SECTOR_VOCABULARY_DAC5 = "1"
# OrganisationType
ORG_TYPE_INTERNATIONAL_NGO = "21"
ORG_TYPE_NATIONAL_NGO = "22"
ORG_TYPE_MULTILATERAL = "40"
ORG_TYPE_OTHER = "90"

WHOLE = 10_000  # 100 % in hundredths of a percent


class Sector(NamedTuple):
    code: str
    name: str


# The call's objective codes as DAC 5-digit purpose codes; see docs/iati.md for the reasons.
OBJECTIVE_SECTORS: dict[str, Sector] = {
    "prosecution": Sector("15130", "Legal and judicial development"),
    "protection": Sector("16010", "Social Protection"),
    "prevention": Sector("15160", "Human rights"),
}
# Any other objective code: the purpose code whose definition names victims of trafficking.
FALLBACK_SECTOR = Sector("15160", "Human rights")

# An organisation identifier already in org-id.guide form: `<list prefix>-<identifier>`, e.g.
# `PE-RUC-20123456789`. Registration numbers that are not in this form carry no list prefix.
_ORG_ID = re.compile(r"^[A-Z]{2}-[A-Z0-9_]+-[^\s/&|?]+$")
# Characters XML 1.0 cannot carry (lxml refuses them): dropped from free text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def sector_shares(objective_codes: Sequence[str]) -> list[tuple[Sector, int]]:
    """100 % split equally over the objectives (largest remainder, in hundredths of a percent,
    ties to the earlier objective), then summed per purpose code in first-seen order."""
    parts = largest_remainder(WHOLE, [(code, 1) for code in objective_codes])
    shares: dict[Sector, int] = {}
    for code in objective_codes:
        sector = OBJECTIVE_SECTORS.get(code, FALLBACK_SECTOR)
        shares[sector] = shares.get(sector, 0) + parts[code]
    return list(shares.items())


def percentage(hundredths: int) -> str:
    """Hundredths of a percent as a decimal: 3333 → "33.33", 10000 → "100.00"."""
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def organisation_ref(uei: str | None, registration_number: str | None) -> str | None:
    """The implementing organisation's identifier, or None when it has no usable one."""
    if uei and uei.strip():
        return f"US-SAM-{uei.strip().upper()}"
    if registration_number and _ORG_ID.fullmatch(registration_number.strip()):
        return registration_number.strip()
    return None


def organisation_type(kind: OrganizationKind, country: str, recipient_country: str) -> str:
    if kind is OrganizationKind.ngo:
        return ORG_TYPE_NATIONAL_NGO if country == recipient_country else ORG_TYPE_INTERNATIONAL_NGO
    if kind is OrganizationKind.international_org:
        return ORG_TYPE_MULTILATERAL
    return ORG_TYPE_OTHER


def activity_prefix(settings: Settings) -> str:
    return settings.iati_activity_prefix or settings.iati_reporting_org_ref


def award_identifier(settings: Settings, award_reference: str) -> str:
    return f"{activity_prefix(settings)}-{award_reference}"


def programme_identifier(settings: Settings, call: Call) -> str:
    return f"{activity_prefix(settings)}-CALL-{call.id}"


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value).strip()


# --- the document ----------------------------------------------------------------------------


def iati_activities(
    session: Session, call: Call, settings: Settings, *, generated_at: datetime
) -> Iterator[bytes]:
    """The call's programme and awards as an IATI 2.03 `iati-activities` document, UTF-8 XML
    in chunks: the opening, then one chunk per activity (the programme's `related-activity`
    list in chunks of a page), then the closing.

    `generated_at` (timezone-aware) is the document's `generated-datetime` and "today" for
    every date rule, in the call's time zone: a transaction dated after it is left out (and
    logged), so a document never reports a transaction in its own future.
    """
    context = _Context(call, settings, generated_at)
    buffer = io.BytesIO()

    def drain() -> bytes:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    with etree.xmlfile(buffer, encoding="utf-8") as xf:
        xf.write_declaration()
        root = {"version": IATI_VERSION, "generated-datetime": _timestamp(generated_at)}
        with xf.element("iati-activities", root):
            xf.write("\n")
            yield from _write_programme(xf, session, context, drain)
            for page in _award_pages(session, call.id):
                details = _PageDetails.load(session, page)
                for award in page:
                    xf.write(_award_activity(award, details, context), pretty_print=True)
                    xf.flush()
                    yield drain()
    yield drain()


class _Context:
    """What every activity of the call shares."""

    def __init__(self, call: Call, settings: Settings, generated_at: datetime) -> None:
        self.call = call
        self.settings = settings
        self.generated_at = generated_at
        self.zone = ZoneInfo(call.timezone)
        self.today = generated_at.astimezone(self.zone).date()
        self.currency = call.currency
        self.region_labels = {r["code"]: r.get("label") or r["code"] for r in call.regions}
        self.programme_id = programme_identifier(settings, call)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def in_future(self, day: date, what: str) -> bool:
        if day <= self.today:
            return False
        logger.warning(
            "IATI export of call %s: %s dated %s is after the generation date %s; left out",
            self.call.id,
            what,
            day.isoformat(),
            self.today.isoformat(),
        )
        return True


def _sub(parent: etree._Element, tag: str, attrib: dict[str, str] | None = None) -> Any:
    return etree.SubElement(parent, tag, attrib or {})


def _narrative(parent: etree._Element, text: str) -> None:
    _sub(parent, "narrative").text = _text(text)


def _texted(parent: etree._Element, tag: str, text: str, **attrib: str) -> Any:
    element = _sub(parent, tag, attrib)
    _narrative(element, text)
    return element


def _activity(context: _Context, hierarchy: int, last_updated: datetime) -> Any:
    return etree.Element(
        "iati-activity",
        {
            "last-updated-datetime": _timestamp(last_updated),
            XML_LANG: LANGUAGE,
            "default-currency": context.currency,
            "hierarchy": str(hierarchy),
        },
    )


def _head(activity: etree._Element, context: _Context, identifier: str) -> None:
    """`iati-identifier` and `reporting-org`, the first two children of every activity."""
    settings = context.settings
    _sub(activity, "iati-identifier").text = identifier
    _texted(
        activity,
        "reporting-org",
        settings.iati_reporting_org_name,
        ref=settings.iati_reporting_org_ref,
        type=settings.iati_reporting_org_type,
    )


def _funding_org(activity: etree._Element, context: _Context) -> None:
    settings = context.settings
    _texted(
        activity,
        "participating-org",
        settings.iati_reporting_org_name,
        ref=settings.iati_reporting_org_ref,
        type=settings.iati_reporting_org_type,
        role=ROLE_FUNDING,
    )


def _start_date(activity: etree._Element, context: _Context, start: date) -> None:
    kind = DATE_ACTUAL_START if start <= context.today else DATE_PLANNED_START
    _sub(activity, "activity-date", {"type": kind, "iso-date": start.isoformat()})


def _recipient_country(activity: etree._Element, context: _Context) -> None:
    code = context.settings.iati_recipient_country
    _sub(activity, "recipient-country", {"code": code, "percentage": percentage(WHOLE)})


def _location(
    activity: etree._Element, context: _Context, code: str, share: int | None = None
) -> None:
    location = _sub(activity, "location", {"ref": code})
    _sub(location, "location-reach", {"code": LOCATION_REACH_ACTIVITY})
    _texted(location, "name", context.region_labels.get(code, code))
    if share is not None:
        _texted(location, "description", f"{percentage(share)}% of the activity")


def _sectors(activity: etree._Element, objective_codes: Sequence[str]) -> None:
    for sector, share in sector_shares(objective_codes):
        attrib = {
            "vocabulary": SECTOR_VOCABULARY_DAC5,
            "code": sector.code,
            "percentage": percentage(share),
        }
        _texted(activity, "sector", sector.name, **attrib)


# --- the programme (the call) -----------------------------------------------------------------


@dataclass(frozen=True)
class _CallFacts:
    awards: int
    unpaid_milestones: int
    first_start: date | None
    last_end: date | None
    last_change: datetime


def _call_facts(session: Session, call: Call) -> _CallFacts:
    awards, first_start, last_end, last_award_change = session.execute(
        select(
            func.count(Award.id),
            func.min(Award.start_date),
            func.max(Award.end_date),
            func.max(Award.updated_at),
        ).where(Award.call_id == call.id)
    ).one()
    unpaid, last_milestone_change = session.execute(
        select(
            func.count(Milestone.id).filter(
                ~Milestone.cancelled, Milestone.status != MilestoneStatus.paid
            ),
            func.max(Milestone.updated_at),
        )
        .join(Award, Award.id == Milestone.award_id)
        .where(Award.call_id == call.id)
    ).one()
    changes = [call.updated_at, last_award_change, last_milestone_change]
    return _CallFacts(
        awards=awards,
        unpaid_milestones=unpaid,
        first_start=first_start,
        last_end=last_end,
        last_change=max(c for c in changes if c is not None),
    )


def _write_programme(xf: Any, session: Session, context: _Context, drain: Any) -> Iterator[bytes]:
    call = context.call
    facts = _call_facts(session, call)
    if facts.awards == 0:
        status = STATUS_PIPELINE
    elif facts.unpaid_milestones == 0:
        status = STATUS_FINALISATION
    else:
        status = STATUS_IMPLEMENTATION

    activity = _activity(context, 1, facts.last_change)
    # lxml's incremental writer would bind the XML namespace to a new prefix (`ns0:lang`),
    # which parsers refuse: the opening tag names the attribute `xml:lang` literally.
    attrib = {("xml:lang" if k == XML_LANG else k): v for k, v in activity.attrib.items()}
    with xf.element(activity.tag, attrib):
        xf.write("\n")
        # The children are written one by one, so the list of awards can be streamed.
        head = etree.Element("head")
        _head(head, context, context.programme_id)
        _texted(head, "title", call.title)
        description = _texted(head, "description", call.description or call.title)
        description.set("type", DESCRIPTION_GENERAL)
        _funding_org(head, context)
        _sub(head, "activity-status", {"code": status})
        # The programme starts when the call opens, or with its first award if that is earlier.
        start = context.local_date(call.opens_at)
        if facts.first_start is not None:
            start = min(start, facts.first_start)
        _start_date(head, context, start)
        if facts.last_end is not None:
            end = facts.last_end.isoformat()
            _sub(head, "activity-date", {"type": DATE_PLANNED_END, "iso-date": end})
        _recipient_country(head, context)
        for region in call.regions:
            _location(head, context, region["code"])
        _sectors(head, [o["code"] for o in call.objectives])
        for child in head:
            xf.write(child, pretty_print=True)
        for page in _award_reference_pages(session, call.id):
            for reference in page:
                ref = award_identifier(context.settings, reference)
                xf.write(
                    etree.Element("related-activity", {"ref": ref, "type": RELATED_CHILD}),
                    pretty_print=True,
                )
            xf.flush()
            yield drain()
    xf.write("\n")
    xf.flush()
    yield drain()


def _award_reference_pages(session: Session, call_id: Any) -> Iterator[list[str]]:
    after: str | None = None
    while True:
        stmt = (
            select(Award.reference)
            .where(Award.call_id == call_id)
            .order_by(Award.reference)
            .limit(AWARD_PAGE)
        )
        if after is not None:
            stmt = stmt.where(Award.reference > after)
        page = list(session.scalars(stmt))
        if page:
            yield page
        if len(page) < AWARD_PAGE:
            return
        after = page[-1]


# --- the awards ----------------------------------------------------------------------------------

_AWARD_COLUMNS = (
    Award.id,
    Award.reference,
    Award.currency,
    Award.amount,
    Award.start_date,
    Award.end_date,
    Award.created_at,
    Award.updated_at,
    Award.application_id,
    Application.title,
    Application.summary,
    Application.updated_at.label("application_updated_at"),
    Organization.name.label("organization_name"),
    Organization.kind.label("organization_kind"),
    Organization.country.label("organization_country"),
    Organization.uei,
    Organization.registration_number,
    Organization.updated_at.label("organization_updated_at"),
)


def _award_pages(session: Session, call_id: Any) -> Iterator[Sequence[Any]]:
    return award_pages(session, call_id, _AWARD_COLUMNS, AWARD_PAGE)


@dataclass
class _PageDetails:
    regions: dict[Any, list[tuple[str, int]]]
    objectives: dict[Any, list[str]]
    milestones: dict[Any, list[Row[Any]]]
    payments: dict[Any, list[Row[Any]]]
    amendments: dict[Any, list[Row[Any]]]

    @classmethod
    def load(cls, session: Session, page: Sequence[Row[Any]]) -> _PageDetails:
        application_ids = [row.application_id for row in page]
        award_ids = [row.id for row in page]
        regions: dict[Any, list[tuple[str, int]]] = defaultdict(list)
        for row in session.execute(
            select(
                ApplicationRegion.application_id,
                ApplicationRegion.code,
                ApplicationRegion.share_hundredths,
            )
            .where(ApplicationRegion.application_id.in_(application_ids))
            .order_by(ApplicationRegion.application_id, ApplicationRegion.position)
        ):
            regions[row.application_id].append((row.code, row.share_hundredths))
        objectives: dict[Any, list[str]] = defaultdict(list)
        for row in session.execute(
            select(ApplicationObjective.application_id, ApplicationObjective.code)
            .where(ApplicationObjective.application_id.in_(application_ids))
            .order_by(ApplicationObjective.application_id, ApplicationObjective.position)
        ):
            objectives[row.application_id].append(row.code)
        milestones = _grouped(
            session,
            select(
                Milestone.award_id,
                Milestone.status,
                Milestone.cancelled,
                Milestone.updated_at,
            )
            .where(Milestone.award_id.in_(award_ids))
            .order_by(Milestone.award_id, Milestone.position),
        )
        payments = _grouped(
            session,
            select(
                Disbursement.award_id,
                Disbursement.id,
                Disbursement.amount,
                Disbursement.value_date,
                Disbursement.reverses_id,
                Disbursement.recorded_at,
                Milestone.title.label("milestone_title"),
            )
            .join(Milestone, Milestone.id == Disbursement.milestone_id)
            .where(Disbursement.award_id.in_(award_ids))
            .order_by(
                Disbursement.award_id,
                Disbursement.value_date,
                Disbursement.recorded_at,
                Disbursement.id,
            ),
        )
        amendments = _grouped(
            session,
            select(
                AwardAmendment.award_id,
                AwardAmendment.id,
                AwardAmendment.previous_amount,
                AwardAmendment.new_amount,
                AwardAmendment.created_at,
            )
            .where(AwardAmendment.award_id.in_(award_ids))
            .order_by(AwardAmendment.award_id, AwardAmendment.created_at, AwardAmendment.id),
        )
        return cls(regions, objectives, milestones, payments, amendments)


def _grouped(session: Session, stmt: Any) -> dict[Any, list[Row[Any]]]:
    groups: dict[Any, list[Row[Any]]] = defaultdict(list)
    for row in session.execute(stmt):
        groups[row.award_id].append(row)
    return groups


@dataclass(frozen=True)
class _Transaction:
    ref: str
    type: str
    day: date
    minor: int
    description: str


def _transactions(award: Row[Any], details: _PageDetails, context: _Context) -> list[_Transaction]:
    """The award's commitment, its amendments (the change, negative for a decrease; amendments
    that change only the schedule move no money and are left out) and its payments and
    reversals (negative), in date order. Anything dated after the generation date is left out."""
    amendments = details.amendments.get(award.id, [])
    original = amendments[0].previous_amount if amendments else award.amount
    candidates = [
        _Transaction(
            award.reference,
            TRANSACTION_COMMITMENT,
            context.local_date(award.created_at),
            original,
            f"Award {award.reference}",
        )
    ]
    for amendment in amendments:
        change = amendment.new_amount - amendment.previous_amount
        if change == 0:
            continue
        candidates.append(
            _Transaction(
                str(amendment.id),
                TRANSACTION_COMMITMENT,
                context.local_date(amendment.created_at),
                change,
                f"Amendment of award {award.reference}: "
                f"{format_money(amendment.previous_amount)} to "
                f"{format_money(amendment.new_amount)}",
            )
        )
    for payment in details.payments.get(award.id, []):
        if payment.reverses_id is None:
            description = f"Payment for milestone “{payment.milestone_title}”"
        else:
            description = f"Reversal of payment {payment.reverses_id}"
        candidates.append(
            _Transaction(
                str(payment.id),
                TRANSACTION_DISBURSEMENT,
                payment.value_date,
                payment.amount,
                description,
            )
        )
    kept = [t for t in candidates if not context.in_future(t.day, f"transaction {t.ref}")]
    return sorted(kept, key=lambda t: t.day)  # stable: commitments stay before payments


def _last_updated(award: Row[Any], details: _PageDetails) -> datetime:
    moments = [award.updated_at, award.application_updated_at, award.organization_updated_at]
    moments += [m.updated_at for m in details.milestones.get(award.id, [])]
    moments += [p.recorded_at for p in details.payments.get(award.id, [])]
    moments += [a.created_at for a in details.amendments.get(award.id, [])]
    return max(m for m in moments if m is not None)


def _award_activity(award: Row[Any], details: _PageDetails, context: _Context) -> Any:
    settings = context.settings
    identifier = award_identifier(settings, award.reference)
    milestones = [m for m in details.milestones.get(award.id, []) if not m.cancelled]
    finalised = bool(milestones) and all(m.status == MilestoneStatus.paid for m in milestones)
    receiver_ref = organisation_ref(award.uei, award.registration_number)
    receiver_type = organisation_type(
        award.organization_kind, award.organization_country, settings.iati_recipient_country
    )

    activity = _activity(context, 2, _last_updated(award, details))
    _head(activity, context, identifier)
    _texted(activity, "title", award.title or award.reference)
    description = _texted(activity, "description", award.summary or award.title or award.reference)
    description.set("type", DESCRIPTION_GENERAL)
    _funding_org(activity, context)
    implementing = {"type": receiver_type, "role": ROLE_IMPLEMENTING}
    if receiver_ref:
        implementing = {"ref": receiver_ref, **implementing}
    _texted(activity, "participating-org", award.organization_name, **implementing)
    status = STATUS_FINALISATION if finalised else STATUS_IMPLEMENTATION
    _sub(activity, "activity-status", {"code": status})
    _start_date(activity, context, award.start_date)
    end = award.end_date.isoformat()
    _sub(activity, "activity-date", {"type": DATE_PLANNED_END, "iso-date": end})
    if finalised and award.end_date <= context.today:
        _sub(activity, "activity-date", {"type": DATE_ACTUAL_END, "iso-date": end})
    _recipient_country(activity, context)
    for code, share in details.regions.get(award.application_id, []):
        _location(activity, context, code, share)
    _sectors(activity, details.objectives.get(award.application_id, []))

    provider = {"ref": settings.iati_reporting_org_ref, "type": settings.iati_reporting_org_type}
    receiver = (
        {"ref": receiver_ref, "type": receiver_type} if receiver_ref else {"type": receiver_type}
    )
    for item in _transactions(award, details, context):
        transaction = _sub(activity, "transaction", {"ref": item.ref})
        _sub(transaction, "transaction-type", {"code": item.type})
        _sub(transaction, "transaction-date", {"iso-date": item.day.isoformat()})
        value = _sub(
            transaction,
            "value",
            {"currency": award.currency, "value-date": item.day.isoformat()},
        )
        value.text = format_money(item.minor)
        _texted(transaction, "description", item.description)
        _texted(transaction, "provider-org", settings.iati_reporting_org_name, **provider)
        _texted(transaction, "receiver-org", award.organization_name, **receiver)

    _sub(activity, "related-activity", {"ref": context.programme_id, "type": RELATED_PARENT})
    return activity
