"""The authorisation matrix: every route of the API × every role × own/other organisation.

`MATRIX` is the one table of expected outcomes. Each row names a route as "METHOD /path" and
gives the status each role gets, in the order of `COLUMNS`. Object-scoped routes (the path id
names an object that belongs to an applicant organisation) have two rows of outcomes: `own` is
the signed-in applicant's organisation (whose applications the signed-in reviewer is assigned
to), `other` is another organisation (assigned to another reviewer). The expectations follow
SPEC §2: 401 without a valid token, 403 for a role that may never act, 404 for what the user
may not see.

Each row also says which seeded object its path id names (`target`) and what valid request to
send (`send`), so that the allowed roles really succeed: a cell checks authorisation, not
validation. The seeded objects are in `world.py`.

    python -m tests.security.matrix                          # print the Markdown table
    python -m tests.security.matrix --write docs/security.md # refresh the table in the doc
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.awards.helpers import disbursement_body, evidence_pdf
from tests.reviews.helpers import application_body
from tests.security.world import ROLES, Side, World
from tests.support.factories import call_payload
from tests.support.uploads import pdf_bytes, upload_files

COLUMNS = ROLES
Statuses = tuple[int, int, int, int, int, int]
Target = Callable[[World, Side], str]


@dataclass(frozen=True)
class Request:
    """What a cell sends besides the method, path and the role's token."""

    json: Any = None
    data: Mapping[str, str] | None = None
    files: Any = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


Send = Callable[[World, Side], Request]


def _nothing(_: World, __: Side) -> Request:
    return Request()


@dataclass(frozen=True)
class Row:
    own: Statuses
    other: Statuses | None = None
    target: Target | None = None
    send: Send = _nothing

    @property
    def scoped(self) -> bool:
        return self.other is not None


def row(
    *own: int, other: Statuses | None = None, target: Target | None = None, send: Send = _nothing
) -> Row:
    assert len(own) == len(COLUMNS), own
    return Row(own=own, other=other, target=target, send=send)  # type: ignore[arg-type]


# --- requests -------------------------------------------------------------------------------


def _json(body: Callable[[World, Side], Any]) -> Send:
    return lambda w, s: Request(json=body(w, s))


def _body(body: Any) -> Send:
    return lambda w, s: Request(json=body)


def _call_report(**params: str) -> Send:
    """A report of the call with awards, with these extra query parameters."""
    return lambda w, s: Request(params={"call_id": w.awarding_call, **params})


def _registration(_: World, __: Side) -> Request:
    return Request(
        json={
            "email": f"new-{uuid.uuid4().hex[:8]}@ngo.example.org",
            "password": "a long enough passphrase",
            "full_name": "Rosa Quispe",
            "organization": {"name": "Asociación Nueva", "kind": "ngo", "country": "PE"},
        }
    )


def _sign_in(world: World, _: Side) -> Request:
    return Request(data=world.credentials)


def _staff_user(_: World, __: Side) -> Request:
    return Request(
        json={
            "email": f"staff-{uuid.uuid4().hex[:8]}@donor.example.org",
            "password": "a long enough passphrase",
            "full_name": "Carlos Mendoza",
            "role": "reviewer",
        }
    )


def _panel(world: World, _: Side) -> Request:
    return Request(json={"reviewer_ids": [world.spare_reviewer_id]})


def _upload(_: World, __: Side) -> Request:
    return Request(files=upload_files("proposal", pdf_bytes()))


def _conflict(world: World, _: Side) -> Request:
    return Request(
        json={
            "reviewer_id": world.user_ids["reviewer"],
            "organization_id": world.sides["other"].organization_id,
            "reason": "Former board member",
        }
    )


def _assignment(world: World, side: Side) -> Request:
    return Request(
        json={"application_id": side.review_application, "reviewer_id": world.spare_reviewer_id}
    )


def _review(_: World, __: Side) -> Request:
    return Request(
        json={
            "scores": {"approach": 9, "capacity": 5},
            "comment": "Strong partnerships",
            "recommendation": "fund",
        }
    )


def _award(_: World, __: Side) -> Request:
    return Request(
        json={
            "amount": "100000.00",
            "start_date": "2026-07-01",
            "end_date": "2028-06-30",
            "milestones": [
                {"title": "Inception", "due_date": "2026-09-01", "amount": "40000.00"},
                {"title": "Final report", "due_date": "2028-06-01", "amount": "60000.00"},
            ],
        }
    )


def _amendment(_: World, side: Side) -> Request:
    """Lower the planned milestone by 10000.00: the award goes from 100000.00 to 90000.00."""
    milestones = [
        {"id": m["id"], "title": m["title"], "due_date": m["due_date"], "amount": m["amount"]}
        for m in side.milestones
    ]
    milestones[0]["amount"] = "15000.00"
    return Request(
        json={"amount": "90000.00", "reason": "Smaller first phase", "milestones": milestones}
    )


def _report(_: World, __: Side) -> Request:
    name, content, mime = evidence_pdf()
    return Request(
        files=[("narrative", (None, "First quarter delivered.")), ("files", (name, content, mime))]
    )


def _disbursement(_: World, side: Side) -> Request:
    return Request(
        json=disbursement_body(side.approved_milestone, "25000.00", reference="TRF-77"),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


_PLEDGE = {
    "funder": "Municipalidad de Lima",
    "currency": "PEN",
    "amount": "150000.00",
    "pledged_on": "2026-02-01",
}
_CONTRIBUTION = {"amount": "500000.00", "contributed_on": "2026-03-01"}


# Targets: the seeded object a path id names.
def _organization(_: World, s: Side) -> str:
    return s.organization_id


def _draft_call(w: World, _: Side) -> str:
    return w.draft_call


def _fresh_call(w: World, _: Side) -> str:
    return w.fresh_call


def _reviewing_call(w: World, _: Side) -> str:
    return w.reviewing_call


def _scored_call(w: World, _: Side) -> str:
    return w.scored_call


def _awarding_call(w: World, _: Side) -> str:
    return w.awarding_call


def _spare_reviewer(w: World, _: Side) -> str:
    return w.spare_reviewer_id


def _pledge(w: World, _: Side) -> str:
    return w.pledge


def _draft(_: World, s: Side) -> str:
    return s.draft_application


def _submitted(_: World, s: Side) -> str:
    return s.submitted_application


def _under_review(_: World, s: Side) -> str:
    return s.review_application


def _scored(_: World, s: Side) -> str:
    return s.scored_application


def _award_id(_: World, s: Side) -> str:
    return s.award


def _planned(_: World, s: Side) -> str:
    return s.planned_milestone


def _reported(_: World, s: Side) -> str:
    return s.reported_milestone


# The table: columns are anonymous, applicant, reviewer, program_officer, finance_officer,
# admin; `other=` is the row for another organisation's object.
# fmt: off
MATRIX: dict[str, Row] = {
    # --- probes and sign-in: open to everyone ---
    "GET /healthz": row(200, 200, 200, 200, 200, 200),
    "GET /readyz": row(200, 200, 200, 200, 200, 200),
    # Scraped with METRICS_TOKEN (set for these tests), which no user's token is.
    "GET /metrics": row(401, 401, 401, 401, 401, 401),
    "POST /api/v1/auth/register": row(201, 201, 201, 201, 201, 201, send=_registration),
    "POST /api/v1/auth/token": row(200, 200, 200, 200, 200, 200, send=_sign_in),
    # --- users ---
    "GET /api/v1/users/me": row(401, 200, 200, 200, 200, 200),
    "POST /api/v1/users": row(401, 403, 403, 403, 403, 201, send=_staff_user),
    "GET /api/v1/users": row(401, 403, 403, 403, 403, 200),
    "PATCH /api/v1/users/{id}": row(
        401, 403, 403, 403, 403, 200,
        target=_spare_reviewer, send=_body({"full_name": "R. Huamán"})),
    # --- organisations ---
    "GET /api/v1/organizations": row(401, 403, 200, 200, 200, 200),
    "GET /api/v1/organizations/{id}": row(
        401, 200, 200, 200, 200, 200,
        other=(401, 404, 200, 200, 200, 200), target=_organization),
    "PATCH /api/v1/organizations/{id}": row(
        401, 200, 403, 403, 403, 200,
        other=(401, 404, 403, 403, 403, 200), target=_organization,
        send=_body({"website": "https://ngo.example.org"})),
    # --- calls ---
    "POST /api/v1/calls": row(
        401, 403, 403, 201, 403, 201, send=_json(lambda w, s: call_payload())),
    "GET /api/v1/calls": row(401, 200, 200, 200, 200, 200),
    "GET /api/v1/calls/{id}": row(401, 200, 200, 200, 200, 200, target=_fresh_call),
    "PATCH /api/v1/calls/{id}": row(
        401, 403, 403, 200, 403, 200,
        target=_draft_call, send=_body({"title": "Renamed call"})),
    "POST /api/v1/calls/{id}/publish": row(401, 403, 403, 200, 403, 200, target=_draft_call),
    "POST /api/v1/calls/{id}/close": row(401, 403, 403, 200, 403, 200, target=_fresh_call),
    "GET /api/v1/calls/{id}/panel": row(401, 403, 403, 200, 403, 200, target=_fresh_call),
    "PUT /api/v1/calls/{id}/panel": row(
        401, 403, 403, 200, 403, 403, target=_fresh_call, send=_panel),
    "GET /api/v1/calls/{id}/organizations": row(
        401, 403, 200, 200, 403, 200, target=_reviewing_call),
    # --- applications and documents ---
    "POST /api/v1/calls/{id}/applications": row(
        401, 201, 403, 403, 403, 403,
        target=_fresh_call, send=_json(lambda w, s: application_body())),
    "GET /api/v1/applications": row(401, 200, 403, 200, 200, 200),
    "GET /api/v1/applications/{id}": row(
        401, 200, 200, 200, 200, 200,
        other=(401, 404, 404, 200, 200, 200), target=_under_review),
    "PATCH /api/v1/applications/{id}": row(
        401, 200, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=_draft,
        send=_body({"title": "Safer homes"})),
    "POST /api/v1/applications/{id}/submit": row(
        401, 200, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=_draft),
    "POST /api/v1/applications/{id}/withdraw": row(
        401, 200, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=_submitted),
    "POST /api/v1/applications/{id}/documents": row(
        401, 201, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=_draft, send=_upload),
    "GET /api/v1/applications/{id}/documents": row(
        401, 200, 200, 200, 200, 200,
        other=(401, 404, 404, 200, 200, 200), target=_under_review),
    "GET /api/v1/documents/{id}/content": row(
        401, 200, 200, 200, 200, 200,
        other=(401, 404, 404, 200, 200, 200), target=lambda w, s: s.review_document),
    "DELETE /api/v1/documents/{id}": row(
        401, 204, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=lambda w, s: s.draft_document),
    # --- screening, conflicts, assignments, reviews ---
    "POST /api/v1/applications/{id}/screening": row(
        401, 403, 403, 200, 403, 403,
        other=(401, 403, 403, 200, 403, 403), target=_submitted,
        send=_body({"eligible": True, "notes": "Complete"})),
    "POST /api/v1/conflicts": row(401, 403, 201, 201, 403, 403, send=_conflict),
    "GET /api/v1/conflicts": row(401, 403, 200, 200, 403, 200),
    "GET /api/v1/calls/{id}/conflicts/suggested": row(
        401, 403, 403, 200, 403, 200, target=_reviewing_call),
    "POST /api/v1/assignments": row(401, 403, 403, 201, 403, 403, send=_assignment),
    "GET /api/v1/assignments": row(401, 403, 403, 200, 403, 200),
    "DELETE /api/v1/assignments/{id}": row(
        401, 403, 403, 204, 403, 403,
        other=(401, 403, 403, 204, 403, 403), target=lambda w, s: s.review_assignment),
    "POST /api/v1/calls/{id}/assignments/auto": row(
        401, 403, 403, 200, 403, 403, target=_reviewing_call),
    "GET /api/v1/reviews/assigned": row(401, 403, 200, 403, 403, 403),
    "GET /api/v1/applications/{id}/review": row(
        401, 403, 200, 403, 403, 403,
        other=(401, 403, 404, 403, 403, 403), target=_under_review),
    "PUT /api/v1/applications/{id}/review": row(
        401, 403, 200, 403, 403, 403,
        other=(401, 403, 404, 403, 403, 403), target=_under_review, send=_review),
    "POST /api/v1/applications/{id}/review/submit": row(
        401, 403, 200, 403, 403, 403,
        other=(401, 403, 404, 403, 403, 403), target=_under_review),
    "GET /api/v1/applications/{id}/scores": row(
        401, 403, 200, 200, 403, 200,
        other=(401, 403, 404, 200, 403, 200), target=_scored),
    "GET /api/v1/calls/{id}/ranking": row(401, 403, 403, 200, 403, 200, target=_scored_call),
    "GET /api/v1/calls/{id}/panel/statistics": row(
        401, 403, 403, 200, 403, 200, target=_scored_call),
    # --- decisions and awards ---
    "POST /api/v1/applications/{id}/award": row(
        401, 403, 403, 201, 403, 403,
        other=(401, 403, 403, 201, 403, 403), target=_under_review, send=_award),
    "POST /api/v1/applications/{id}/decline": row(
        401, 403, 403, 200, 403, 403,
        other=(401, 403, 403, 200, 403, 403), target=_under_review,
        send=_body({"reason": "Outside the focus regions"})),
    "GET /api/v1/awards": row(401, 200, 403, 200, 200, 200),
    "GET /api/v1/awards/{id}": row(
        401, 200, 403, 200, 200, 200,
        other=(401, 404, 403, 200, 200, 200), target=_award_id),
    "POST /api/v1/awards/{id}/amendments": row(
        401, 403, 403, 201, 403, 403,
        other=(401, 403, 403, 201, 403, 403), target=_award_id, send=_amendment),
    "GET /api/v1/milestones/{id}": row(
        401, 200, 403, 200, 200, 200,
        other=(401, 404, 403, 200, 200, 200), target=_planned),
    "GET /api/v1/milestones/{id}/evidence": row(
        401, 200, 403, 200, 200, 200,
        other=(401, 404, 403, 200, 200, 200), target=_reported),
    "POST /api/v1/milestones/{id}/report": row(
        401, 200, 403, 403, 403, 403,
        other=(401, 404, 403, 403, 403, 403), target=_planned, send=_report),
    "POST /api/v1/milestones/{id}/approve": row(
        401, 403, 403, 200, 403, 403,
        other=(401, 403, 403, 200, 403, 403), target=_reported),
    "POST /api/v1/milestones/{id}/reject": row(
        401, 403, 403, 200, 403, 403,
        other=(401, 403, 403, 200, 403, 403), target=_reported,
        send=_body({"reason": "The evidence is missing"})),
    # --- money ---
    "POST /api/v1/awards/{id}/disbursements": row(
        401, 403, 403, 403, 201, 403,
        other=(401, 403, 403, 403, 201, 403), target=_award_id, send=_disbursement),
    "GET /api/v1/awards/{id}/disbursements": row(
        401, 200, 403, 200, 200, 200,
        other=(401, 404, 403, 200, 200, 200), target=_award_id),
    "POST /api/v1/disbursements/{id}/reverse": row(
        401, 403, 403, 403, 201, 403,
        other=(401, 403, 403, 403, 201, 403), target=lambda w, s: s.disbursement,
        send=_body({"reason": "Returned by the bank"})),
    "GET /api/v1/calls/{id}/allocation": row(
        401, 403, 403, 200, 200, 200, target=_awarding_call),
    "GET /api/v1/calls/{id}/reconciliation": row(
        401, 403, 403, 200, 200, 200, target=_awarding_call),
    "GET /api/v1/calls/{id}/cofunding": row(
        401, 403, 403, 200, 200, 200, target=_awarding_call),
    "POST /api/v1/calls/{id}/cofunding": row(
        401, 403, 403, 201, 201, 403, target=_awarding_call, send=_body(_PLEDGE)),
    "POST /api/v1/cofunding/{id}/contributions": row(
        401, 403, 403, 403, 201, 403, target=_pledge, send=_body(_CONTRIBUTION)),
    # --- reports (of the call with awards) ---
    "GET /api/v1/reports/disbursements": row(
        401, 403, 403, 200, 200, 200, send=_call_report()),
    "GET /api/v1/reports/awards": row(401, 403, 403, 200, 200, 200, send=_call_report()),
    "GET /api/v1/reports/financial-summary": row(
        401, 403, 403, 200, 200, 200, send=_call_report(period="2026")),
    "GET /api/v1/reports/360giving": row(401, 403, 403, 200, 200, 200, send=_call_report()),
    "GET /api/v1/reports/iati": row(401, 403, 403, 200, 200, 200, send=_call_report()),
    # --- audit ---
    "GET /api/v1/audit": row(401, 403, 403, 403, 403, 200),
    "GET /api/v1/audit/verify": row(401, 403, 403, 403, 403, 200),
}
# fmt: on


@dataclass(frozen=True)
class Cell:
    route: str
    side: str
    role: str
    expected: int

    @property
    def id(self) -> str:
        return f"{self.route} [{self.side}] {self.role}"


def cells() -> list[Cell]:
    out: list[Cell] = []
    for route, entry in MATRIX.items():
        sides = (("own", entry.own), ("other", entry.other)) if entry.other else (("-", entry.own),)
        for side, statuses in sides:
            out.extend(
                Cell(route, side, role, status)
                for role, status in zip(COLUMNS, statuses, strict=True)
            )
    return out


def request_path(route: str, world: World, side: Side) -> str:
    entry = MATRIX[route]
    path = route.split(" ", 1)[1]
    if "{id}" in path:
        assert entry.target is not None, route
        path = path.replace("{id}", entry.target(world, side))
    return path


# --- the Markdown report --------------------------------------------------------------------

START = "<!-- authorization-matrix:start -->"
END = "<!-- authorization-matrix:end -->"
HEADINGS = ("anonymous", "applicant", "reviewer", "program officer", "finance officer", "admin")


def render() -> str:
    """The table as Markdown: one line per route; object-scoped cells read `own / other`."""
    lines = [
        "| route | " + " | ".join(HEADINGS) + " |",
        "|---|" + "---|" * len(HEADINGS),
    ]
    for route, entry in MATRIX.items():
        method, path = route.split(" ", 1)
        if entry.other is None:
            cells_ = [str(s) for s in entry.own]
        else:
            cells_ = [f"{a} / {b}" for a, b in zip(entry.own, entry.other, strict=True)]
        lines.append(f"| `{method} {path}` | " + " | ".join(cells_) + " |")
    return "\n".join(lines) + "\n"


def replace_section(document: str, table: str) -> str:
    before, start, rest = document.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the document has no {START} … {END} section")
    return f"{before}{START}\n{table}{END}{after}"


def section(document: str) -> str:
    """The table currently written in the document."""
    _, _, rest = document.partition(START)
    table, _, _ = rest.partition(END)
    return table.removeprefix("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table section of this file")
    args = parser.parse_args(argv)
    table = render()
    if args.write is None:
        sys.stdout.write(table)
        return 0
    args.write.write_text(replace_section(args.write.read_text(encoding="utf-8"), table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
