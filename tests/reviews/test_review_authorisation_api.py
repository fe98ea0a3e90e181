"""Who may call each review route (SPEC §2): one table of expected statuses per route and role.

Every route is called by every role on a fresh world of its own (a call with a panel, an
application under review assigned to the reviewer, who has a complete draft, and a submitted
application waiting for screening), so allowed calls succeed and refused ones are refused for
their role alone. The applicant is the owner of both applications: ownership opens none of
these routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.testclient import TestClient
from httpx import Response

from app.models import (
    Application,
    ApplicationStatus,
    Assignment,
    CallReviewer,
    Review,
    ReviewStatus,
    Role,
    User,
)
from app.models.base import utcnow
from tests.reviews.helpers import API
from tests.support.factories import Factory

ROLES = ("admin", "program_officer", "reviewer", "finance_officer", "applicant", "no token")

# Expected status per route, in the order of ROLES.
MATRIX: dict[str, tuple[int, int, int, int, int, int]] = {
    # route                                  admin  officer reviewer finance applicant none
    "POST /applications/{id}/screening": (403, 200, 403, 403, 403, 401),
    "POST /conflicts": (403, 201, 201, 403, 403, 401),
    "GET /conflicts": (200, 200, 200, 403, 403, 401),
    "GET /calls/{id}/conflicts/suggested": (200, 200, 403, 403, 403, 401),
    "GET /calls/{id}/organizations": (200, 200, 200, 403, 403, 401),
    "POST /assignments": (403, 201, 403, 403, 403, 401),
    "GET /assignments": (200, 200, 403, 403, 403, 401),
    "DELETE /assignments/{id}": (403, 204, 403, 403, 403, 401),
    "POST /calls/{id}/assignments/auto": (403, 200, 403, 403, 403, 401),
    "GET /reviews/assigned": (403, 403, 200, 403, 403, 401),
    "GET /applications/{id}/review": (403, 403, 200, 403, 403, 401),
    "PUT /applications/{id}/review": (403, 403, 200, 403, 403, 401),
    "POST /applications/{id}/review/submit": (403, 403, 200, 403, 403, 401),
    # A reviewer sees scores only once their own review is submitted (here: a draft).
    "GET /applications/{id}/scores": (200, 200, 409, 403, 403, 401),
    "GET /calls/{id}/ranking": (200, 200, 403, 403, 403, 401),
    "GET /calls/{id}/panel/statistics": (200, 200, 403, 403, 403, 401),
}


@dataclass
class World:
    call_id: uuid.UUID
    organization_id: uuid.UUID
    under_review_id: uuid.UUID  # assigned to the reviewer (complete draft) and to `second`
    submitted_id: uuid.UUID  # waiting for screening
    second_assignment_id: uuid.UUID
    spare: User  # on the panel, not assigned
    owner: User  # the applicant whose organisation applied


@dataclass
class Actors:
    headers: dict[str, dict[str, str]]
    reviewer: User
    second: User
    spare: User


def build_world(factory: Factory, actors: Actors, officer: User) -> World:
    """Straight to the database: authorisation, not the way there, is under test."""
    call = factory.call(actor=officer)
    owner = factory.user(Role.applicant)
    other_owner = factory.user(Role.applicant)
    now = utcnow()
    with factory.db.transaction() as session:
        session.add_all(
            CallReviewer(call_id=call.id, reviewer_id=r.id)
            for r in (actors.reviewer, actors.second, actors.spare)
        )
        applications = []
        for who, status in [
            (owner, ApplicationStatus.under_review),
            (other_owner, ApplicationStatus.submitted),
        ]:
            application = Application(
                reference=f"APP-2099-{uuid.uuid4().int % 10**8:08d}",
                call_id=call.id,
                organization_id=who.organization_id,
                created_by_id=who.id,
                status=status,
                title="Community protection networks",
                requested_amount=10_000_000,
                duration_months=24,
                submitted_at=now,
            )
            session.add(application)
            applications.append(application)
        session.flush()
        target = applications[0]
        session.add(
            Assignment(
                call_id=call.id,
                application_id=target.id,
                reviewer_id=actors.reviewer.id,
                assigned_by_id=officer.id,
            )
        )
        second = Assignment(
            call_id=call.id,
            application_id=target.id,
            reviewer_id=actors.second.id,
            assigned_by_id=officer.id,
        )
        session.add(second)
        session.add(
            Review(
                call_id=call.id,
                application_id=target.id,
                reviewer_id=actors.reviewer.id,
                status=ReviewStatus.draft,
                scores={"approach": 7, "capacity": 3},
                recommendation="fund",
            )
        )
        session.flush()
        return World(
            call_id=call.id,
            organization_id=owner.organization_id,
            under_review_id=target.id,
            submitted_id=applications[1].id,
            second_assignment_id=second.id,
            spare=actors.spare,
            owner=owner,
        )


Request = Callable[[TestClient, World, User | None, dict[str, str]], Response]


def _conflict_body(world: World, user: User | None) -> dict[str, str]:
    # A reviewer may only declare their own; anyone else names the spare panel member.
    reviewer_id = user.id if user is not None and user.role is Role.reviewer else world.spare.id
    return {
        "reviewer_id": str(reviewer_id),
        "organization_id": str(world.organization_id),
        "reason": "Former employee of the organisation.",
    }


REQUESTS: dict[str, Request] = {
    "POST /applications/{id}/screening": lambda c, w, u, h: c.post(
        f"{API}/applications/{w.submitted_id}/screening",
        json={"eligible": True, "notes": "Complete."},
        headers=h,
    ),
    "POST /conflicts": lambda c, w, u, h: c.post(
        f"{API}/conflicts", json=_conflict_body(w, u), headers=h
    ),
    "GET /conflicts": lambda c, w, u, h: c.get(f"{API}/conflicts", headers=h),
    "GET /calls/{id}/conflicts/suggested": lambda c, w, u, h: c.get(
        f"{API}/calls/{w.call_id}/conflicts/suggested", headers=h
    ),
    "GET /calls/{id}/organizations": lambda c, w, u, h: c.get(
        f"{API}/calls/{w.call_id}/organizations", headers=h
    ),
    "POST /assignments": lambda c, w, u, h: c.post(
        f"{API}/assignments",
        json={"application_id": str(w.under_review_id), "reviewer_id": str(w.spare.id)},
        headers=h,
    ),
    "GET /assignments": lambda c, w, u, h: c.get(
        f"{API}/assignments", params={"call_id": str(w.call_id)}, headers=h
    ),
    "DELETE /assignments/{id}": lambda c, w, u, h: c.delete(
        f"{API}/assignments/{w.second_assignment_id}", headers=h
    ),
    "POST /calls/{id}/assignments/auto": lambda c, w, u, h: c.post(
        f"{API}/calls/{w.call_id}/assignments/auto", headers=h
    ),
    "GET /reviews/assigned": lambda c, w, u, h: c.get(f"{API}/reviews/assigned", headers=h),
    "GET /applications/{id}/review": lambda c, w, u, h: c.get(
        f"{API}/applications/{w.under_review_id}/review", headers=h
    ),
    "PUT /applications/{id}/review": lambda c, w, u, h: c.put(
        f"{API}/applications/{w.under_review_id}/review",
        json={"scores": {"approach": 8, "capacity": 4}, "recommendation": "fund"},
        headers=h,
    ),
    "POST /applications/{id}/review/submit": lambda c, w, u, h: c.post(
        f"{API}/applications/{w.under_review_id}/review/submit", headers=h
    ),
    "GET /applications/{id}/scores": lambda c, w, u, h: c.get(
        f"{API}/applications/{w.under_review_id}/scores", headers=h
    ),
    "GET /calls/{id}/ranking": lambda c, w, u, h: c.get(
        f"{API}/calls/{w.call_id}/ranking", headers=h
    ),
    "GET /calls/{id}/panel/statistics": lambda c, w, u, h: c.get(
        f"{API}/calls/{w.call_id}/panel/statistics", headers=h
    ),
}


def test_every_review_route_answers_each_role_as_the_table_says(
    client: TestClient, factory: Factory
) -> None:
    assert set(REQUESTS) == set(MATRIX)
    officer = factory.user(Role.program_officer)
    users: dict[str, User | None] = {
        "admin": factory.user(Role.admin),
        "program_officer": officer,
        "reviewer": factory.user(Role.reviewer),
        "finance_officer": factory.user(Role.finance_officer),
        "no token": None,
    }
    actors = Actors(
        headers={
            role: factory.headers(user) if user is not None else {} for role, user in users.items()
        },
        reviewer=users["reviewer"],  # type: ignore[arg-type]
        second=factory.user(Role.reviewer),
        spare=factory.user(Role.reviewer),
    )

    answers: dict[str, dict[str, int]] = {}
    for route, request in REQUESTS.items():
        world = build_world(factory, actors, officer)
        role_users = {**users, "applicant": world.owner}
        role_headers = {**actors.headers, "applicant": factory.headers(world.owner)}
        answers[route] = {
            role: request(client, world, role_users[role], role_headers[role]).status_code
            for role in ROLES
        }

    assert answers == {
        route: dict(zip(ROLES, statuses, strict=True)) for route, statuses in MATRIX.items()
    }
