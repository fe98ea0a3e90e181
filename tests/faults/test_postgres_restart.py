"""PostgreSQL stopped and started again under load, with the app on a real uvicorn server.

While the database is gone the service must fail cleanly (503 with `{"detail", "code"}`, never
a 500, never a hang) and say so on `/readyz` while `/healthz` stays up. Once the database is
back it must recover by itself: no restart of the app, no error from stale pooled connections.
Afterwards every write that answered 2xx is in the database whole, every write that answered an
error left nothing behind, the audit chain verifies and the ledger reconciles.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    AuditEvent,
    Disbursement,
    IdempotencyKey,
    LedgerTransfer,
    Organization,
    Role,
    TransferKind,
    User,
)
from app.storage import LocalStorage
from tests.awards.helpers import (
    API,
    Headers,
    application_body,
    approved,
    awarded,
    cents,
    disbursement_body,
    person,
)
from tests.support.factories import DEFAULT_PASSWORD, Factory
from tests.support.live import serve
from tests.support.migrations import migrate
from tests.support.servers import PostgresServer

# `postgres`: the test runs its own PostgreSQL server, so it has no SQLite variant.
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENT_THREADS = 6
HEALTHY_SECONDS = 1.5
DOWN_SECONDS = 3.0
RECOVERED_SECONDS = 2.5
# No request may take longer than this, whatever state the database is in. The client's own
# timeout is longer, so a request that hangs shows up as too slow rather than disappearing.
REQUEST_BOUND_SECONDS = 15.0
CLIENT_TIMEOUT_SECONDS = 60.0
# Drafts need an organisation without a live application on the call: one per draft.
APPLICANT_POOL = 250
DISBURSED = "1.00"

StopMode = Literal["fast", "immediate"]


@pytest.fixture(scope="module")
def dedicated_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own: stopping it leaves the shared one alone.

    `synchronous_commit` is back on: the shared test server turns it off for speed, and
    without it an immediate shutdown (a crash, for PostgreSQL) loses commits it had already
    acknowledged, which the checks below would rightly report as lost writes.
    """
    base_dir = tmp_path_factory.mktemp("pg-restart")
    with PostgresServer(base_dir, settings={"synchronous_commit": "on"}) as server:
        yield server


@dataclass
class Outcome:
    """One request of the load: what it was, when it ran and how it was answered."""

    op: str
    tag: str  # the unique value a write carries (email, title, reference); "" for reads
    started: float
    finished: float
    status: int  # 0 when no HTTP answer came (timeout, connection error)
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class Scenario:
    """A published call with two awards whose milestones are approved, ready to be paid."""

    db: Database
    call_id: str
    finance: Headers
    admin: Headers
    awards: list[tuple[str, str]]  # (award id, approved milestone id)
    applicants: queue.SimpleQueue[Headers] = field(default_factory=queue.SimpleQueue)


@pytest.fixture
def database(dedicated_pg: PostgresServer) -> Iterator[Database]:
    name = f"grants_restart_{uuid.uuid4().hex[:8]}"
    dedicated_pg.create_database(name)
    url = dedicated_pg.url(name)
    migrate(url)
    db = Database(build_engine(url))
    yield db
    db.engine.dispose()
    dedicated_pg.drop_database(name)


def prepare(db: Database, settings: Settings, client: TestClient) -> Scenario:
    factory = Factory(db, settings)
    officer = person(factory, Role.program_officer)
    call = factory.call()  # envelope 1000000.00
    awards = []
    for _ in range(2):
        granted = awarded(client, factory, call.id, officer.headers, "300000.00")
        approved(client, granted.milestone(1), granted.applicant, officer.headers)
        awards.append((granted.id, granted.milestone(1)))
    scenario = Scenario(
        db=db,
        call_id=str(call.id),
        finance=person(factory, Role.finance_officer).headers,
        admin=person(factory, Role.admin).headers,
        awards=awards,
    )
    for _ in range(APPLICANT_POOL):
        scenario.applicants.put(factory.login(Role.applicant)[1])
    return scenario


# --- the load ---------------------------------------------------------------------------

OPS = ("register", "read_award", "draft", "read_allocation", "disburse", "read_me")


def next_request(op: str, scenario: Scenario, n: int) -> tuple[str, str, dict[str, Any]] | None:
    """(tag, path, httpx arguments) for one request of kind `op`; None to skip it."""
    tag = uuid.uuid4().hex[:16]
    award_id, milestone_id = scenario.awards[n % len(scenario.awards)]
    if op == "register":
        body = {
            "email": f"load-{tag}@example.org",
            "password": DEFAULT_PASSWORD,
            "full_name": "Load Tester",
            "organization": {"name": f"Load org {tag}", "kind": "ngo", "country": "PE"},
        }
        return tag, f"{API}/auth/register", {"method": "POST", "json": body}
    if op == "draft":
        try:
            applicant = scenario.applicants.get_nowait()
        except queue.Empty:
            return None
        body = application_body(
            regions=(("lima", 60), ("cusco", 40)), objectives=("protection", "prevention")
        )
        body["title"] = f"Load draft {tag}"
        return (
            tag,
            f"{API}/calls/{scenario.call_id}/applications",
            {"method": "POST", "json": body, "headers": applicant},
        )
    if op == "disburse":
        body = disbursement_body(milestone_id, DISBURSED, reference=f"LOAD-{tag}")
        headers = {**scenario.finance, "Idempotency-Key": tag}
        return (
            tag,
            f"{API}/awards/{award_id}/disbursements",
            {"method": "POST", "json": body, "headers": headers},
        )
    paths = {
        "read_award": f"{API}/awards/{award_id}",
        "read_allocation": f"{API}/calls/{scenario.call_id}/allocation",
        "read_me": f"{API}/users/me",
    }
    return "", paths[op], {"method": "GET", "headers": scenario.finance}


def run_client(
    base_url: str,
    scenario: Scenario,
    index: int,
    out: list[Outcome],
    stop: threading.Event,
    rounds: int | None = None,
) -> None:
    """Issue requests in the order of OPS (from a different start per client) until `stop` is
    set, or for `rounds` passes over OPS."""
    ops = itertools.islice(itertools.cycle(OPS), index, None)
    if rounds is not None:
        ops = itertools.islice(ops, rounds * len(OPS))
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_SECONDS) as http:
        for n, op in enumerate(ops):
            if stop.is_set():
                return
            request = next_request(op, scenario, n)
            if request is None:
                continue
            tag, path, arguments = request
            started = time.monotonic()
            try:
                response = http.request(url=path, **arguments)
                status, body = response.status_code, _body(response)
            except httpx.HTTPError as exc:
                status, body = 0, repr(exc)
            out.append(Outcome(op, tag, started, time.monotonic(), status, body))


def start_clients(
    base_url: str,
    scenario: Scenario,
    out: list[Outcome],
    stop: threading.Event,
    rounds: int | None = None,
) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=run_client, args=(base_url, scenario, i, out, stop, rounds))
        for i in range(CLIENT_THREADS)
    ]
    for thread in threads:
        thread.start()
    return threads


def join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=CLIENT_TIMEOUT_SECONDS + 5)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# --- the test ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_service_fails_cleanly_and_recovers_when_postgresql_restarts_under_load(
    backend: str,
    mode: StopMode,
    dedicated_pg: PostgresServer,
    database: Database,
    settings: Settings,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    # Every load client registers from 127.0.0.1: lift the per-address registration limit.
    settings = settings.model_copy(update={"registration_max_per_hour": 1_000_000})
    app = create_app(settings, database=database, storage=LocalStorage(tmp_path / "documents"))
    with TestClient(app, raise_server_exceptions=False) as client:
        scenario = prepare(database, settings, client)
    events_before = count(database, AuditEvent)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as probe:
        threads = start_clients(base_url, scenario, outcomes, stop)
        time.sleep(HEALTHY_SECONDS)

        stopping = time.monotonic()
        dedicated_pg.stop(mode)
        time.sleep(0.5)
        alive_while_down = probe.get("/healthz")
        asked = time.monotonic()
        ready_while_down = probe.get("/readyz")
        readiness_seconds = time.monotonic() - asked
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopping)))
        dedicated_pg.start()
        back = time.monotonic()

        time.sleep(RECOVERED_SECONDS)
        stop.set()
        join_all(threads)

        # A restart that no request notices: the pool still holds the idle connections of
        # the old server when the next burst of requests arrives, all at once.
        dedicated_pg.stop(mode)
        dedicated_pg.start()
        after_quiet_restart: list[Outcome] = []
        join_all(start_clients(base_url, scenario, after_quiet_restart, threading.Event(), 1))

        ready_after = probe.get("/readyz")
        verified = probe.get(f"{API}/audit/verify", headers=scenario.admin)
        reconciled = probe.get(
            f"{API}/calls/{scenario.call_id}/reconciliation", headers=scenario.finance
        )

    summary = Counter((o.op, o.status) for o in outcomes)
    record_property("requests", len(outcomes))
    record_property("answered_503", sum(o.status == 503 for o in outcomes))
    record_property("slowest_seconds", round(max(o.seconds for o in outcomes), 3))
    record_property(
        "slowest_503_seconds", round(max(o.seconds for o in outcomes if o.status == 503), 3)
    )
    record_property("readyz_while_down_seconds", round(readiness_seconds, 3))
    record_property("outage_seconds", round(back - stopping, 3))
    # Answers: success or a clean 503, never a 500, never no answer at all.
    assert {o.status for o in outcomes} <= {200, 201, 503}, summary
    failures = [o for o in outcomes if not o.ok]
    # Every kind of request met the outage, so the checks below see failed writes of each kind.
    assert {o.op for o in failures} == set(OPS), summary
    for failure in failures:
        assert failure.body == {
            "detail": "The database is unavailable; try again shortly.",
            "code": "database_unavailable",
        }, failure
    slowest = max(outcomes, key=lambda o: o.seconds)
    assert slowest.seconds < REQUEST_BOUND_SECONDS, slowest
    # Before the stop everything worked; after the start everything works again at once:
    # a pooled connection that died with the old server must not fail a request.
    assert all(o.ok for o in outcomes if o.finished < stopping), summary
    recovered = [o for o in outcomes if o.started > back]
    assert recovered and all(o.ok for o in recovered), Counter((o.op, o.status) for o in recovered)
    assert {o.op for o in recovered} == set(OPS)
    assert len(after_quiet_restart) == CLIENT_THREADS * len(OPS)
    assert all(o.ok for o in after_quiet_restart), Counter(
        (o.op, o.status) for o in after_quiet_restart
    )
    outcomes += after_quiet_restart

    # Probes: the process is alive, the database is not, and it says which part failed.
    assert alive_while_down.status_code == 200
    assert ready_while_down.status_code == 503
    assert ready_while_down.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "storage": "ok",
    }
    assert readiness_seconds < REQUEST_BOUND_SECONDS
    assert ready_after.status_code == 200

    # Nothing lost, nothing half-written.
    registrations = check_registrations(database, outcomes)
    drafts = check_drafts(database, outcomes)
    payments = check_disbursements(database, outcomes)
    assert count(database, AuditEvent) == events_before + 2 * registrations + drafts + payments
    assert verified.status_code == 200
    assert verified.json() == {
        "ok": True,
        "events": events_before + 2 * registrations + drafts + payments,
    }
    assert reconciled.status_code == 200
    body = reconciled.json()
    assert body["ok"] is True, [c for c in body["checks"] if not c["ok"]]
    assert cents(body["disbursed"]) == payments * cents(DISBURSED)


# --- what the database holds afterwards ---------------------------------------------------


def count(db: Database, model: Any, *where: Any) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def writes(outcomes: list[Outcome], op: str) -> tuple[list[Outcome], list[Outcome]]:
    done = [o for o in outcomes if o.op == op]
    return [o for o in done if o.ok], [o for o in done if not o.ok]


def audited_ids(db: Database) -> set[str]:
    with db.transaction(read_only=True) as session:
        return set(session.scalars(select(AuditEvent.entity_id)))


def check_registrations(db: Database, outcomes: list[Outcome]) -> int:
    """Each answered 201 is a user with its organisation; each error left neither."""
    succeeded, failed = writes(outcomes, "register")
    audited = audited_ids(db)
    with db.transaction(read_only=True) as session:
        users = {
            email: (str(user_id), org_name)
            for email, user_id, org_name in session.execute(
                select(User.email, User.id, Organization.name)
                .join(Organization, User.organization_id == Organization.id)
                .where(User.email.like("load-%"))
            )
        }
        org_names = set(
            session.scalars(select(Organization.name).where(Organization.name.like("Load org %")))
        )
    for outcome in succeeded:
        email = f"load-{outcome.tag}@example.org"
        assert users.get(email) == (outcome.body["id"], f"Load org {outcome.tag}"), outcome
        assert outcome.body["id"] in audited, outcome
    for outcome in failed:
        assert f"load-{outcome.tag}@example.org" not in users, outcome
        assert f"Load org {outcome.tag}" not in org_names, outcome
    assert len(users) == len(org_names) == len(succeeded)
    return len(succeeded)


def check_drafts(db: Database, outcomes: list[Outcome]) -> int:
    """Each answered 201 is an application with all its region shares and objectives."""
    succeeded, failed = writes(outcomes, "draft")
    audited = audited_ids(db)
    with db.transaction(read_only=True) as session:
        titles = dict(
            session.execute(
                select(Application.title, Application.id).where(Application.title.like("Load %"))
            ).all()
        )
        shares = dict(
            session.execute(
                select(
                    ApplicationRegion.application_id, func.sum(ApplicationRegion.share_hundredths)
                ).group_by(ApplicationRegion.application_id)
            ).all()
        )
        objectives = dict(
            session.execute(
                select(ApplicationObjective.application_id, func.count()).group_by(
                    ApplicationObjective.application_id
                )
            ).all()
        )
        every_application = list(session.scalars(select(Application.id)))
    for outcome in succeeded:
        application_id = titles.get(f"Load draft {outcome.tag}")
        assert application_id is not None, f"lost: {outcome}"
        assert str(application_id) == outcome.body["id"], outcome
        assert objectives.get(application_id) == 2, outcome
        assert outcome.body["id"] in audited, outcome
    for outcome in failed:
        assert f"Load draft {outcome.tag}" not in titles, outcome
    assert len(titles) == len(succeeded)
    # No application anywhere without regions that add up to 100 %.
    assert all(shares.get(a) == 10_000 for a in every_application), shares
    return len(succeeded)


def check_disbursements(db: Database, outcomes: list[Outcome]) -> int:
    """Each answered 201 is a payment with its ledger transfer; each error left no trace."""
    succeeded, failed = writes(outcomes, "disburse")
    audited = audited_ids(db)
    with db.transaction(read_only=True) as session:
        payments = dict(session.execute(select(Disbursement.reference, Disbursement.id)).all())
        transfers = Counter(
            session.scalars(
                select(LedgerTransfer.cause_id).where(
                    LedgerTransfer.kind == TransferKind.disburse,
                    LedgerTransfer.amount == cents(DISBURSED),
                )
            )
        )
        keys = set(session.scalars(select(IdempotencyKey.key)))
    for outcome in succeeded:
        payment_id = payments.get(f"LOAD-{outcome.tag}")
        assert str(payment_id) == outcome.body["id"], outcome
        assert outcome.tag in keys, outcome
        assert outcome.body["id"] in audited, outcome
    for outcome in failed:
        assert f"LOAD-{outcome.tag}" not in payments, outcome
        assert outcome.tag not in keys, outcome
    assert len(payments) == len(succeeded)
    # Every payment has exactly one ledger transfer, and no transfer lacks its payment.
    assert transfers == Counter(payments.values()), json.dumps(
        {"payments": len(payments), "transfers": sum(transfers.values())}
    )
    return len(succeeded)
