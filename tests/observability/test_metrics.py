"""GET /metrics: request counts and latencies by route template, each call's money read from
the database at scrape time, and who may scrape."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from app.config import Environment, Settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import Role
from app.storage import Storage
from tests.awards.helpers import approved, awarded, disburse, reverse
from tests.support.factories import Factory

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TOKEN = "metrics-token-0123456789abcdef"


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
def fresh_app(settings: Settings, db: Database, storage: Storage) -> Iterator[TestClient]:
    """A new app (and so new counters) on the test's database."""
    with TestClient(
        create_app(settings, database=db, storage=storage), raise_server_exceptions=False
    ) as client:
        yield client


def test_request_counts_match_the_requests_made(fresh_app: TestClient) -> None:
    for _ in range(3):
        assert fresh_app.get("/healthz").status_code == 200
    for _ in range(2):
        assert fresh_app.get(f"/api/v1/calls/{uuid.uuid4()}").status_code == 401
    assert fresh_app.post("/api/v1/auth/register", json={}).status_code == 422
    assert fresh_app.get("/no/such/page").status_code == 404

    counts = series(scrape(fresh_app), "grants_http_requests_total")

    assert counts == {
        labels(method="GET", route="/healthz", status="200"): 3,
        labels(method="GET", route="/api/v1/calls/{id}", status="401"): 2,
        labels(method="POST", route="/api/v1/auth/register", status="422"): 1,
        labels(method="GET", route="unmatched", status="404"): 1,
    }
    # The scrape itself is counted once it has been answered.
    again = series(scrape(fresh_app), "grants_http_requests_total")
    assert again[labels(method="GET", route="/metrics", status="200")] == 1


def test_the_latency_histogram_counts_the_same_requests(fresh_app: TestClient) -> None:
    for _ in range(4):
        fresh_app.get("/healthz")

    samples = scrape(fresh_app)

    key = labels(method="GET", route="/healthz", status="200")
    assert series(samples, "grants_http_request_duration_seconds_count")[key] == 4
    assert series(samples, "grants_http_request_duration_seconds_sum")[key] > 0
    buckets = {
        dict(k)["le"]: v
        for k, v in series(samples, "grants_http_request_duration_seconds_bucket").items()
        if dict(k)["route"] == "/healthz"
    }
    assert buckets["+Inf"] == 4
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative


def test_ids_in_paths_never_become_labels(fresh_app: TestClient, factory: Factory) -> None:
    _, headers = factory.login(Role.admin)
    for _ in range(20):
        fresh_app.get(f"/api/v1/calls/{uuid.uuid4()}", headers=headers)
        fresh_app.get(f"/api/v1/applications/{uuid.uuid4()}/documents", headers=headers)
        fresh_app.get(f"/no/such/{uuid.uuid4()}")

    samples = scrape(fresh_app)

    counts = series(samples, "grants_http_requests_total")
    assert len(counts) == 3
    for name, label_set in samples:
        assert not any(UUID.search(value) for key, value in label_set if key != "call_id"), name


def test_a_mounted_app_is_labelled_by_its_mount(
    settings: Settings, db: Database, storage: Storage, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("a")
    app = create_app(settings, database=db, storage=storage)
    app.mount("/files", StaticFiles(directory=tmp_path), name="files")
    with TestClient(app) as client:
        assert client.get("/files/a.txt").status_code == 200
        assert client.get(f"/files/{uuid.uuid4()}.txt").status_code == 404
        counts = series(scrape(client), "grants_http_requests_total")

    assert counts == {
        labels(method="GET", route="/files/{path}", status="200"): 1,
        labels(method="GET", route="/files/{path}", status="404"): 1,
    }


# --- the calls' money ---------------------------------------------------------------------


def test_each_calls_envelope_awarded_and_disbursed_in_minor_units(
    client: TestClient, factory: Factory
) -> None:
    officer = factory.login(Role.program_officer)[1]
    finance = factory.login(Role.finance_officer)[1]
    call = factory.call()  # envelope 1000000.00
    draft = factory.call(publish=False, envelope_amount="2500000.50")
    first = awarded(client, factory, call.id, officer, "100000.00", ["60000.00", "40000.00"])
    awarded(client, factory, call.id, officer, "50000.00")
    approved(client, first.milestone(1), first.applicant, officer)
    assert disburse(client, first.id, finance, first.milestone(1), "12345.67").status_code == 201
    returned = disburse(client, first.id, finance, first.milestone(1), "1000.00")
    assert reverse(client, returned.json()["id"], finance).status_code == 201

    samples = scrape(client)

    def gauge(name: str, call_id: object) -> float:
        return series(samples, name)[labels(call_id=str(call_id), currency="USD")]

    # 1000000.00 envelope; 100000.00 + 50000.00 awarded; 12345.67 paid (1000.00 paid and
    # reversed), all in cents.
    assert gauge("grants_call_envelope_minor_units", call.id) == 100_000_000
    assert gauge("grants_call_awarded_minor_units", call.id) == 15_000_000
    assert gauge("grants_call_disbursed_minor_units", call.id) == 1_234_567
    assert gauge("grants_call_envelope_minor_units", draft.id) == 250_000_050
    assert gauge("grants_call_awarded_minor_units", draft.id) == 0
    assert gauge("grants_call_disbursed_minor_units", draft.id) == 0
    assert series(samples, "grants_call_money_up") == {frozenset(): 1}


def test_the_help_text_says_the_unit(client: TestClient) -> None:
    text = client.get("/metrics").text
    for name in ("envelope", "awarded", "disbursed"):
        [help_line] = [
            line
            for line in text.splitlines()
            if line.startswith(f"# HELP grants_call_{name}_minor_units ")
        ]
        assert "minor units" in help_line
        assert "cents for USD" in help_line


def test_the_call_figures_take_one_query_however_many_calls(
    client: TestClient, factory: Factory, engine
) -> None:
    for _ in range(4):
        factory.call()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        scrape(client)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(statements) == 1, statements


def test_an_unreadable_database_reports_the_figures_down_not_an_error(
    settings: Settings, storage: Storage, tmp_path: Path
) -> None:
    # A database without the schema: every query fails as it would with the tables gone.
    database = Database(build_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    try:
        with TestClient(create_app(settings, database=database, storage=storage)) as client:
            samples = scrape(client)
    finally:
        database.engine.dispose()

    assert series(samples, "grants_call_money_up") == {frozenset(): 0}
    assert series(samples, "grants_call_envelope_minor_units") == {}


# --- who may scrape -------------------------------------------------------------------------


def app_with(settings: Settings, db: Database, storage: Storage, **update: object) -> FastAPI:
    return create_app(settings.model_copy(update=update), database=db, storage=storage)


def test_with_a_token_only_its_bearer_may_scrape(
    settings: Settings, db: Database, storage: Storage
) -> None:
    app = app_with(settings, db, storage, metrics_token=TOKEN)
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = [
            client.get("/metrics", headers=headers)
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                {"Authorization": f"Bearer {TOKEN}x"},
                {"Authorization": f"Bearer {TOKEN[:-1]}"},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": TOKEN},
            )
        ]
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        lower = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})

    for response in refused:
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_metrics_token"
        assert "grants_http" not in response.text
    assert allowed.status_code == 200
    assert "grants_http_requests_total" in allowed.text
    assert lower.status_code == 200


def test_in_production_without_a_token_metrics_are_not_served(
    settings: Settings, db: Database, storage: Storage
) -> None:
    production = {"grants_env": Environment.production}
    with TestClient(app_with(settings, db, storage, **production)) as client:
        hidden = client.get("/metrics")
    with TestClient(app_with(settings, db, storage, metrics_token=TOKEN, **production)) as client:
        served = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert hidden.status_code == 404
    assert served.status_code == 200


def test_outside_production_without_a_token_metrics_are_open(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200


def test_metrics_are_not_in_the_api_schema(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValueError, match=r"METRICS_TOKEN|metrics_token"):
        Settings(METRICS_TOKEN="short")
    assert Settings(METRICS_TOKEN="").metrics_token is None


def test_a_new_call_appears_without_a_restart(client: TestClient, factory: Factory) -> None:
    before = series(scrape(client), "grants_call_envelope_minor_units")
    call = factory.call()
    after = series(scrape(client), "grants_call_envelope_minor_units")

    assert set(after) - set(before) == {labels(call_id=str(call.id), currency="USD")}
