"""Browsing the audit log: GET /api/v1/audit (admin, filters, pages; SPEC §10)."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.models import Role
from tests.foundation.api import audit_events, register, sign_in

AUDIT = "/api/v1/audit"


@pytest.fixture
def admin(factory):
    return factory.login(Role.admin)[1]


def test_the_audit_log_is_for_admins_only(client, factory):
    for role in (Role.program_officer, Role.reviewer, Role.finance_officer, Role.applicant):
        _, headers = factory.login(role)

        assert client.get(AUDIT, headers=headers).status_code == 403, role


def test_the_audit_log_needs_a_token(client):
    assert client.get(AUDIT).status_code == 401


def test_an_event_has_the_documented_fields(client, admin):
    user = register(client, "nadia@ngo.example.org")

    [event] = audit_events(client, admin, action="user.registered")

    assert {"id", "at", "actor", "action", "entity_type", "entity_id", "data"} <= set(event)
    assert event["actor"] == "nadia@ngo.example.org"
    assert event["entity_type"] == "user"
    assert event["entity_id"] == user["id"]
    assert datetime.fromisoformat(event["at"]).tzinfo is not None


def test_the_log_is_a_page_newest_first(client, admin):
    register(client, "nadia@ngo.example.org")
    sign_in(client, "nadia@ngo.example.org")

    page = client.get(AUDIT, params={"limit": 2, "offset": 0}, headers=admin).json()

    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [e["action"] for e in page["items"]] == ["auth.login", "user.registered"]
    rest = client.get(AUDIT, params={"limit": 2, "offset": 2}, headers=admin).json()
    assert [e["action"] for e in rest["items"]] == ["organization.created"]


def test_a_limit_above_200_is_422(client, admin):
    assert client.get(AUDIT, params={"limit": 201}, headers=admin).status_code == 422


def test_filtering_by_exact_action(client, admin):
    register(client, "nadia@ngo.example.org")
    register(client, "rosa@ngo.example.org")
    sign_in(client, "nadia@ngo.example.org")

    events = audit_events(client, admin, action="user.registered")

    assert [e["actor"] for e in events] == ["nadia@ngo.example.org", "rosa@ngo.example.org"]


def test_filtering_by_action_prefix(client, admin):
    register(client, "nadia@ngo.example.org")
    sign_in(client, "nadia@ngo.example.org")
    sign_in(client, "nadia@ngo.example.org", "wrong-password")

    events = audit_events(client, admin, action="auth.")

    assert [e["action"] for e in events] == ["auth.login", "auth.login_failed"]


def test_a_partial_action_without_a_dot_matches_nothing(client, admin):
    register(client, "nadia@ngo.example.org")

    assert audit_events(client, admin, action="user") == []


def test_filtering_by_entity_type(client, admin):
    nadia = register(client, "nadia@ngo.example.org")
    rosa = register(client, "rosa@ngo.example.org")

    events = audit_events(client, admin, entity_type="organization")

    assert [e["entity_id"] for e in events] == [nadia["organization_id"], rosa["organization_id"]]
    assert {e["action"] for e in events} == {"organization.created"}


def test_filtering_by_entity_id(client, admin):
    register(client, "nadia@ngo.example.org")
    rosa = register(client, "rosa@ngo.example.org")
    sign_in(client, "rosa@ngo.example.org")
    sign_in(client, "nadia@ngo.example.org")

    events = audit_events(client, admin, entity_type="user", entity_id=rosa["id"])

    assert [e["action"] for e in events] == ["user.registered", "auth.login"]


def test_filters_combine(client, admin):
    rosa = register(client, "rosa@ngo.example.org")
    sign_in(client, "rosa@ngo.example.org")

    events = audit_events(client, admin, action="auth.login", entity_id=rosa["id"])
    assert len(events) == 1
    assert audit_events(client, admin, action="auth.login", entity_type="organization") == []


def test_filtering_by_time_range(client, admin):
    register(client, "nadia@ngo.example.org")
    [registered] = audit_events(client, admin, action="user.registered")
    register(client, "rosa@ngo.example.org")

    since = audit_events(client, admin, **{"from": registered["at"]})
    until = audit_events(client, admin, to=registered["at"])

    # `from` includes the boundary event, `to` excludes it.
    assert [(e["action"], e["actor"]) for e in since] == [
        ("user.registered", "nadia@ngo.example.org"),
        ("organization.created", "rosa@ngo.example.org"),
        ("user.registered", "rosa@ngo.example.org"),
    ]
    assert [(e["action"], e["actor"]) for e in until] == [
        ("organization.created", "nadia@ngo.example.org"),
    ]


def test_a_time_filter_without_a_timezone_is_422(client, admin):
    response = client.get(AUDIT, params={"from": "2026-01-01T00:00:00"}, headers=admin)

    assert response.status_code == 422
