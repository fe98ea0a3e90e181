"""The reference programme (SPEC §1) and one demo user per role, for development and demos."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.passwords import hash_password
from app.calls.schemas import DOCX, JPEG, PDF, PNG, XLSX, CallIn, PanelIn
from app.calls.service import create_call, publish_call, set_panel
from app.models import Call, CoFundingPledge, Organization, OrganizationKind, Role, User
from app.models.base import utcnow

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - development data, refused in production
REFERENCE_TITLE = "U.S.–Peru Child Protection Compact Partnership"

DEMO_USERS: list[tuple[Role, str, str]] = [
    (Role.admin, "admin@example.org", "Ada Admin"),
    (Role.program_officer, "officer@example.org", "Olivia Officer"),
    (Role.reviewer, "reviewer1@example.org", "Rosa Reviewer"),
    (Role.reviewer, "reviewer2@example.org", "Raúl Reviewer"),
    (Role.reviewer, "reviewer3@example.org", "Renata Reviewer"),
    (Role.finance_officer, "finance@example.org", "Fernando Finance"),
    (Role.applicant, "ngo@example.org", "Nadia NGO"),
]


@dataclass
class DemoResult:
    created: bool
    call_title: str
    logins: list[tuple[str, str]] = field(default_factory=list)


def reference_call(now_days_open: int = 90) -> CallIn:
    now = utcnow().replace(microsecond=0)
    return CallIn.model_validate(
        {
            "title": REFERENCE_TITLE,
            "description": (
                "The U.S. Department of State's Office to Monitor and Combat Trafficking in "
                "Persons and the Government of Peru fund NGOs and international organisations "
                "to reduce the trafficking of children in Metropolitan Lima, Cusco and Loreto, "
                "through prosecution, protection and prevention. Four-year programme; the "
                "Government of Peru co-funds at least PEN 8,000,000."
            ),
            "currency": "USD",
            "envelope_amount": "5000000.00",
            "min_award": "250000.00",
            "max_award": "1500000.00",
            "opens_at": (now - timedelta(days=1)).isoformat(),
            "closes_at": (now + timedelta(days=now_days_open)).isoformat(),
            "timezone": "America/Lima",
            "objectives": [
                {
                    "code": "prosecution",
                    "label": "Victim-centred investigations, prosecutions and convictions",
                },
                {
                    "code": "protection",
                    "label": "Identify victims and provide comprehensive specialised services",
                },
                {
                    "code": "prevention",
                    "label": "Community-based mechanisms and enforcement of laws",
                },
            ],
            "regions": [
                {"code": "lima", "label": "Metropolitan Lima"},
                {"code": "cusco", "label": "Cusco"},
                {"code": "loreto", "label": "Loreto"},
                {"code": "other", "label": "Other regions of Peru"},
            ],
            "required_documents": [
                {
                    "type": "proposal",
                    "label": "Technical proposal",
                    "required": True,
                    "max_size_mb": 20,
                    "allowed_types": [PDF, DOCX],
                },
                {
                    "type": "budget_detail",
                    "label": "Detailed budget",
                    "required": True,
                    "max_size_mb": 10,
                    "allowed_types": [XLSX, PDF],
                },
                {
                    "type": "registration",
                    "label": "Legal registration certificate",
                    "required": True,
                    "max_size_mb": 5,
                    "allowed_types": [PDF, PNG, JPEG],
                },
                {
                    "type": "support_letter",
                    "label": "Letters of support",
                    "required": False,
                    "max_size_mb": 5,
                    "allowed_types": [PDF],
                },
            ],
            "rubric": {
                "criteria": [
                    {
                        "key": "approach",
                        "label": "Technical approach",
                        "weight": 30,
                        "max_score": 10,
                        "guidance": "A clear theory of change from activities to the 3P aims.",
                    },
                    {
                        "key": "victim_centred",
                        "label": "Victim-centred, trauma-informed design",
                        "weight": 20,
                        "max_score": 10,
                        "guidance": "Survivors' safety, consent and dignity are built in.",
                    },
                    {
                        "key": "capacity",
                        "label": "Organisational capacity",
                        "weight": 20,
                        "max_score": 10,
                        "guidance": "Track record in Peru, staff, partners and financial controls.",
                    },
                    {
                        "key": "monitoring",
                        "label": "Monitoring and evaluation",
                        "weight": 15,
                        "max_score": 10,
                        "guidance": "Measurable indicators, baselines and a credible data plan.",
                    },
                    {
                        "key": "cost",
                        "label": "Budget and cost-effectiveness",
                        "weight": 15,
                        "max_score": 10,
                        "guidance": "Costs are reasonable, allocable and tied to activities.",
                    },
                ]
            },
            "reviewers_per_application": 2,
            "blind_review": True,
        }
    )


def _ensure_users(session: Session) -> dict[str, User]:
    users: dict[str, User] = {}
    organization: Organization | None = None
    for role, email, name in DEMO_USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            if role is Role.applicant and organization is None:
                organization = Organization(
                    name="Asociación Niñez Segura Perú",
                    kind=OrganizationKind.ngo,
                    country="PE",
                    registration_number="20601234567",
                    contact_email="contacto@ninezsegura.example.org",
                )
                session.add(organization)
            user = User(
                email=email,
                full_name=name,
                password_hash=hash_password(DEMO_PASSWORD),
                role=role,
                organization=organization if role is Role.applicant else None,
            )
            session.add(user)
            session.flush()
            record(
                session,
                actor=None,
                actor_email="grants demo",
                action="user.created",
                entity_type="user",
                entity_id=user.id,
                data={"email": email, "role": role.value, "source": "demo"},
            )
        users[email] = user
    return users


def load_demo(session: Session) -> DemoResult:
    users = _ensure_users(session)
    logins = [(role.value, email) for role, email, _ in DEMO_USERS]
    if session.scalar(select(Call.id).where(Call.title == REFERENCE_TITLE)) is not None:
        return DemoResult(created=False, call_title=REFERENCE_TITLE, logins=logins)
    officer = users["officer@example.org"]
    call = create_call(session, actor=officer, payload=reference_call())
    publish_call(session, actor=officer, call=call)
    reviewers = [u.id for u in users.values() if u.role is Role.reviewer]
    set_panel(session, actor=officer, call=call, payload=PanelIn(reviewer_ids=reviewers))
    session.add(
        CoFundingPledge(
            call_id=call.id,
            funder="Government of Peru",
            currency="PEN",
            amount=8_000_000_00,
            pledged_on=call.opens_at.date(),
            note="At least PEN 8,000,000 under the Compact; paid outside this service.",
            recorded_by_id=officer.id,
        )
    )
    return DemoResult(created=True, call_title=REFERENCE_TITLE, logins=logins)
