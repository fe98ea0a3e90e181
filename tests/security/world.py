"""A realistic data set for the security tests, built through the API once per module.

Two applicant organisations ("own" and "other") have the same objects in every state a route
can act on: a complete draft with a document, a submitted application, one under review with
a reviewer's draft review, one with a submitted review, and an awarded one whose milestones
are planned, reported, approved and paid (with a disbursement to reverse). The reviewer of
the "own" side is assigned to its applications only; the "other" side has its own reviewer.
Staff, a draft call, a fresh call with no applications and a co-funding pledge complete it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from app.db import Database
from app.models import Role
from tests.awards import helpers as awards
from tests.reviews import helpers as reviews
from tests.support.factories import DEFAULT_PASSWORD, Factory

API = "/api/v1"
Headers = dict[str, str]

# The roles a request can be made as; `anonymous` sends no token.
ROLES = ("anonymous", "applicant", "reviewer", "program_officer", "finance_officer", "admin")

AWARD_AMOUNT = "100000.00"
MILESTONE_AMOUNT = "25000.00"


@dataclass
class Side:
    """One applicant organisation's objects, in every state the routes act on."""

    organization_id: str
    reviewer_id: str
    draft_application: str = ""
    draft_document: str = ""
    submitted_application: str = ""
    review_application: str = ""
    review_assignment: str = ""
    review_document: str = ""
    scored_application: str = ""
    award: str = ""
    milestones: list[dict[str, Any]] = field(default_factory=list)
    planned_milestone: str = ""
    reported_milestone: str = ""
    approved_milestone: str = ""
    disbursement: str = ""


@dataclass
class World:
    headers: dict[str, Headers]
    user_ids: dict[str, str]
    spare_reviewer_id: str
    draft_call: str
    fresh_call: str
    drafting_call: str
    submitted_call: str
    reviewing_call: str
    scored_call: str
    awarding_call: str
    pledge: str
    sides: dict[str, Side]
    # Credentials of a real account, for the token endpoint.
    credentials: dict[str, str] = field(default_factory=dict)

    def as_role(self, role: str) -> Headers:
        return {} if role == "anonymous" else dict(self.headers[role])


@dataclass
class Seeded:
    """The world, the app serving it, and the connection whose savepoints roll tests back."""

    app: FastAPI
    client: TestClient
    world: World
    db: Database
    connection: Connection


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def build_world(client: TestClient, factory: Factory) -> World:
    """Seed the data set through the API (and the factory for users and calls)."""
    admin = awards.person(factory, Role.admin)
    officer = awards.person(factory, Role.program_officer)
    finance = awards.person(factory, Role.finance_officer)
    reviewer = awards.person(factory, Role.reviewer)
    other_reviewer = awards.person(factory, Role.reviewer)
    spare_reviewer = awards.person(factory, Role.reviewer)
    own = reviews.applicant(factory)
    other = reviews.applicant(factory)
    panel = (reviewer.user, other_reviewer.user, spare_reviewer.user)

    def published(**overrides: Any) -> str:
        call = factory.call(actor=officer.user, **overrides)
        reviews.set_panel(client, call.id, officer.headers, *panel)
        return str(call.id)

    draft_call = str(factory.call(actor=officer.user, publish=False).id)
    fresh_call = published(title="A call nobody has applied to yet")
    drafting_call = published(title="Drafting")
    submitted_call = published(title="Submitted")
    reviewing_call = published(title="Reviewing")
    scored_call = published(title="Scored")
    awarding_call = published(title="Awarding")

    sides: dict[str, Side] = {}
    for name, who, their_reviewer in (
        ("own", own, reviewer),
        ("other", other, other_reviewer),
    ):
        side = Side(
            organization_id=str(who.organization.id), reviewer_id=str(their_reviewer.user.id)
        )
        draft = reviews.draft(client, drafting_call, who)
        side.draft_application = draft["id"]
        side.draft_document = reviews.upload_proposal(client, draft["id"], who)["id"]
        side.submitted_application = reviews.submitted(client, submitted_call, who)["id"]

        application, document = reviews.under_review_with_proposal(
            client, reviewing_call, who, officer.headers
        )
        side.review_application, side.review_document = application["id"], document["id"]
        assignment = reviews.assigned(
            client, application["id"], their_reviewer.user, officer.headers
        )
        side.review_assignment = assignment["id"]
        saved = reviews.save_review(
            client, application["id"], their_reviewer.headers, {"approach": 7, "capacity": 4}
        )
        _ok(saved)

        scored = reviews.under_review(client, scored_call, who, officer.headers)
        side.scored_application = scored["id"]
        reviews.assigned(client, scored["id"], their_reviewer.user, officer.headers)
        reviews.scored(client, scored["id"], their_reviewer.headers, approach=8, capacity=3)

        to_award = reviews.under_review(client, awarding_call, who, officer.headers)
        award = _ok(
            awards.award(
                client, to_award["id"], officer.headers, AWARD_AMOUNT, [MILESTONE_AMOUNT] * 4
            ),
            201,
        )
        side.award = award["id"]
        side.milestones = award["milestones"]
        planned, reported, approved, paid = (m["id"] for m in award["milestones"])
        side.planned_milestone, side.reported_milestone = planned, reported
        side.approved_milestone = approved
        _ok(awards.report(client, reported, who.headers, files=[awards.evidence_pdf()]))
        awards.approved(client, approved, who.headers, officer.headers)
        awards.approved(client, paid, who.headers, officer.headers)
        disbursement = _ok(
            awards.disburse(client, award["id"], finance.headers, paid, MILESTONE_AMOUNT), 201
        )
        side.disbursement = disbursement["id"]
        sides[name] = side

    pledge = _ok(
        client.post(
            f"{API}/calls/{awarding_call}/cofunding",
            json={
                "funder": "Gobierno del Perú",
                "currency": "PEN",
                "amount": "8000000.00",
                "pledged_on": "2026-01-15",
            },
            headers=officer.headers,
        ),
        201,
    )
    return World(
        headers={
            "applicant": own.headers,
            "reviewer": reviewer.headers,
            "program_officer": officer.headers,
            "finance_officer": finance.headers,
            "admin": admin.headers,
        },
        user_ids={
            "applicant": str(own.user.id),
            "reviewer": str(reviewer.user.id),
            "program_officer": str(officer.user.id),
            "finance_officer": str(finance.user.id),
            "admin": str(admin.user.id),
        },
        spare_reviewer_id=str(spare_reviewer.user.id),
        draft_call=draft_call,
        fresh_call=fresh_call,
        drafting_call=drafting_call,
        submitted_call=submitted_call,
        reviewing_call=reviewing_call,
        scored_call=scored_call,
        awarding_call=awarding_call,
        pledge=pledge["id"],
        sides=sides,
        credentials={"username": own.user.email, "password": DEFAULT_PASSWORD},
    )
