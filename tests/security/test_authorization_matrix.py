"""Every route × every role × own/other organisation, run for real against the seeded world.

The expected outcomes are the one table in `tests/security/matrix.py`; `docs/security.md`
shows the same table. A route without an entry, or an entry without a route, fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from app.models import AuditEvent
from tests.security.matrix import MATRIX, Cell, cells, render, request_path, section
from tests.security.world import Seeded

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
# Covered although the OpenAPI document leaves it out. The other routes outside the document
# (FastAPI's documentation pages, the web interface's HTML pages) are not the API's.
UNDOCUMENTED_ROUTES = {"/metrics"}


def app_routes(app: FastAPI) -> set[str]:
    """Every route the matrix must cover, as "METHOD /path"."""
    routes: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if getattr(route, "include_in_schema", False) or route.path in UNDOCUMENTED_ROUTES:
            routes.update(
                f"{method} {route.path}" for method in (route.methods or set()) - {"HEAD"}
            )
    return routes


def test_the_table_has_exactly_one_entry_per_route(seeded: Seeded) -> None:
    routes = app_routes(seeded.app)

    assert sorted(routes - set(MATRIX)) == [], "routes without an entry in MATRIX"
    assert sorted(set(MATRIX) - routes) == [], "entries in MATRIX for routes that do not exist"


def test_docs_security_md_shows_the_current_table() -> None:
    assert section(DOC.read_text(encoding="utf-8")) == render(), (
        "docs/security.md is out of date: run "
        "`.venv/bin/python -m tests.security.matrix --write docs/security.md`"
    )


def _audit_events(seeded: Seeded) -> int:
    with seeded.db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize("cell", cells(), ids=lambda c: c.id)
def test_cell(scenario: Seeded, cell: Cell) -> None:
    world = scenario.world
    side = world.sides["other" if cell.side == "other" else "own"]
    method, _ = cell.route.split(" ", 1)
    request = MATRIX[cell.route].send(world, side)
    before = _audit_events(scenario)

    response = scenario.client.request(
        method,
        request_path(cell.route, world, side),
        json=request.json,
        data=request.data,
        files=request.files,
        params=request.params,
        headers={**world.as_role(cell.role), **request.headers},
    )

    assert response.status_code == cell.expected, response.text
    if response.status_code >= 400:
        assert _audit_events(scenario) == before, "a refused request changed the audit log"
