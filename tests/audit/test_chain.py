"""The hash-chained audit log and its verifier: GET /api/v1/audit/verify (SPEC §10)."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from app.audit import service as audit_service
from app.audit.service import chain_hash, record
from app.models import AuditEvent, AuditHead, Role
from tests.foundation.api import register, registration, sign_in

VERIFY = "/api/v1/audit/verify"


@pytest.fixture
def admin(factory):
    # Factory users are inserted directly, so the admin adds no event to the chain.
    return factory.login(Role.admin)[1]


def _chain_of_seven(client, admin_headers) -> list[AuditEvent]:
    """Make seven audited changes and return the events, oldest first."""
    register(client, "nadia@ngo.example.org")  # organization.created, user.registered
    register(client, "rosa@ngo.example.org")  # organization.created, user.registered
    assert sign_in(client, "nadia@ngo.example.org").status_code == 200  # auth.login
    assert sign_in(client, "rosa@ngo.example.org", "wrong-password").status_code == 401
    created = client.post(  # user.created
        "/api/v1/users",
        json={
            "email": "fin@donor.example.org",
            "password": "finance-password",
            "full_name": "Fernando",
            "role": "finance_officer",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201


def _events(db) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_an_empty_log_verifies(client, admin):
    assert client.get(VERIFY, headers=admin).json() == {"ok": True, "events": 0}


def test_an_untouched_chain_verifies_with_the_number_of_events(client, admin):
    _chain_of_seven(client, admin)

    response = client.get(VERIFY, headers=admin)

    assert response.status_code == 200
    assert response.json() == {"ok": True, "events": 7}


def test_each_event_carries_the_hash_of_the_one_before(client, admin, db):
    _chain_of_seven(client, admin)

    events = _events(db)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert events[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert len({e.hash for e in events}) == 7


def _tamper(db, event_id, **values) -> None:
    with db.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**values))


def test_altering_an_events_data_is_reported_at_that_event(client, admin, db):
    _chain_of_seven(client, admin)
    target = _events(db)[4]  # the 5th event: nadia's sign-in
    assert target.action == "auth.login"

    _tamper(db, target.id, data={"note": "edited afterwards"})

    body = client.get(VERIFY, headers=admin).json()
    assert body["ok"] is False
    assert body["broken_at"] == str(target.id)
    assert isinstance(body["reason"], str)
    assert body["reason"]


def test_altering_an_events_action_is_reported_at_that_event(client, admin, db):
    _chain_of_seven(client, admin)
    target = _events(db)[5]
    assert target.action == "auth.login_failed"

    _tamper(db, target.id, action="auth.login")

    body = client.get(VERIFY, headers=admin).json()
    assert (body["ok"], body["broken_at"]) == (False, str(target.id))


def test_altering_an_events_actor_is_reported_at_that_event(client, admin, db):
    _chain_of_seven(client, admin)
    target = _events(db)[0]

    _tamper(db, target.id, actor_email="someone-else@ngo.example.org")

    body = client.get(VERIFY, headers=admin).json()
    assert (body["ok"], body["broken_at"]) == (False, str(target.id))


def test_rewriting_an_event_with_a_fresh_hash_breaks_the_link_to_the_next(client, admin, db):
    _chain_of_seven(client, admin)
    events = _events(db)
    target, following = events[2], events[3]
    target.data = {"email": "someone-else@ngo.example.org"}

    _tamper(db, target.id, data=target.data, hash=chain_hash(target.prev_hash, target))

    body = client.get(VERIFY, headers=admin).json()
    assert (body["ok"], body["broken_at"]) == (False, str(following.id))


def test_rewriting_the_whole_tail_is_caught_by_the_chain_head(client, admin, db):
    _chain_of_seven(client, admin)
    events = _events(db)
    # Forge events 5..7 with consistent hashes; only the stored chain head still differs.
    prev_hash = events[3].hash
    with db.transaction() as session:
        for event in events[4:]:
            event.data = {"forged": True}
            event.prev_hash = prev_hash
            event.hash = chain_hash(prev_hash, event)
            prev_hash = event.hash
            session.execute(
                update(AuditEvent)
                .where(AuditEvent.id == event.id)
                .values(data=event.data, prev_hash=event.prev_hash, hash=event.hash)
            )

    assert client.get(VERIFY, headers=admin).json()["ok"] is False


def test_deleting_a_middle_event_is_reported_at_the_event_after_the_gap(client, admin, db):
    _chain_of_seven(client, admin)
    events = _events(db)

    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == events[3].id))

    body = client.get(VERIFY, headers=admin).json()
    assert (body["ok"], body["broken_at"]) == (False, str(events[4].id))
    assert body["reason"]


def test_deleting_the_first_event_is_reported_at_the_new_first_event(client, admin, db):
    _chain_of_seven(client, admin)
    events = _events(db)

    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == events[0].id))

    body = client.get(VERIFY, headers=admin).json()
    assert (body["ok"], body["broken_at"]) == (False, str(events[1].id))


def test_deleting_the_last_event_is_reported(client, admin, db):
    _chain_of_seven(client, admin)
    events = _events(db)

    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == events[-1].id))

    body = client.get(VERIFY, headers=admin).json()
    assert body["ok"] is False
    assert body["reason"]
    # The break follows the last event still in place.
    assert body["broken_at"] == str(events[-2].id)


def test_deleting_every_event_is_reported(client, admin, db):
    _chain_of_seven(client, admin)

    with db.transaction() as session:
        session.execute(delete(AuditEvent))

    body = client.get(VERIFY, headers=admin).json()
    assert body["ok"] is False
    assert body["events"] == 0


def test_verification_is_for_admins_only(client, factory):
    for role in (Role.program_officer, Role.reviewer, Role.finance_officer, Role.applicant):
        _, headers = factory.login(role)
        assert client.get(VERIFY, headers=headers).status_code == 403
    assert client.get(VERIFY).status_code == 401


@pytest.mark.slow
def test_concurrent_writers_never_fork_the_chain(
    committed_app_factory, committed_factory, committed_db
):
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)

    def register_batch(worker: int) -> list[int]:
        with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
            start.wait()
            return [
                client.post(
                    "/api/v1/auth/register",
                    json=registration(f"w{worker}-{n}@ngo.example.org"),
                ).status_code
                for n in range(per_thread)
            ]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        statuses = [s for batch in pool.map(register_batch, range(threads)) for s in batch]

    assert statuses == [201] * (threads * per_thread)
    expected = threads * per_thread * 2  # organization.created + user.registered each
    with committed_db.transaction() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        head = session.get(AuditHead, 1)
        assert (head.seq, head.hash) == (
            expected,
            session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == expected)),
        )
    assert seqs == list(range(1, expected + 1))
    admin = committed_factory.login(Role.admin)[1]
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        assert client.get(VERIFY, headers=admin).json() == {"ok": True, "events": expected}


@pytest.mark.slow
def test_an_event_appended_while_verification_runs_is_not_reported_as_a_break(
    committed_db, monkeypatch
):
    with committed_db.transaction() as session:
        record(session, actor=None, action="test.before", entity_type="test", entity_id=None)
    walk = audit_service._events_in_order

    def walk_after_a_concurrent_append(session, *args, **kwargs):
        # Another worker commits an event after verification has read the chain head.
        with committed_db.transaction() as other:
            record(other, actor=None, action="test.during", entity_type="test", entity_id=None)
        return walk(session, *args, **kwargs)

    monkeypatch.setattr(audit_service, "_events_in_order", walk_after_a_concurrent_append)
    with committed_db.transaction(read_only=True) as session:
        result = audit_service.verify(session)

    assert result.ok, result.reason
    monkeypatch.undo()
    with committed_db.transaction(read_only=True) as session:
        assert audit_service.verify(session) == audit_service.Verification(True, 2)
