"""Prometheus metrics: HTTP traffic by route template, and each call's money at scrape time.

* `grants_http_requests_total` and `grants_http_request_duration_seconds` are labelled by
  `method`, `route` (the route's template, e.g. `/api/v1/calls/{id}`, never the raw path, so ids
  cannot multiply the series) and `status`.
* `grants_call_envelope_minor_units`, `grants_call_awarded_minor_units` and
  `grants_call_disbursed_minor_units`, labelled by `call_id` and `currency`, are read from the
  database by `CallMoneyCollector` when `/metrics` is scraped: one query for all calls.

Each app has its own registry (the tests build many apps in one process). With
`PROMETHEUS_MULTIPROC_DIR` set, prometheus-client keeps the HTTP metrics of every worker process
in files in that directory and a scrape, whichever worker answers it, adds them all up.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import State

from app.config import Settings
from app.db import Database
from app.errors import NotFound, Unauthorized
from app.models import AccountKind, Call, LedgerAccount

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# Seconds; exports and uploads take longer than the usual web buckets.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_MONEY_UNIT = "in minor units of the call's currency (cents for USD), as an integer"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HttpMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter(
            "grants_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labels,
            registry=registry,
        )
        self.duration = Histogram(
            "grants_http_request_duration_seconds",
            "Time from receiving a request to handing over the last of its response, in seconds.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route, str(status)).observe(seconds)


class CallMoneyCollector:
    """Envelope, awarded and disbursed per call, read from the ledger when scraped."""

    def __init__(self, state: State) -> None:
        # The app's state, read at scrape time: the database is whatever the app uses then.
        self._state = state

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        envelope, awarded, disbursed, up = self._families()
        try:
            rows = self._read()
        except SQLAlchemyError as exc:
            logger.warning("metrics: reading the call figures failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        for call_id, currency, envelope_amount, uncommitted, paid in rows:
            labels = [str(call_id), currency]
            envelope.add_metric(labels, envelope_amount)
            # No envelope account yet (a draft call): nothing is committed. PostgreSQL sums
            # BIGINTs as NUMERIC, hence int().
            committed = envelope_amount - (envelope_amount if uncommitted is None else uncommitted)
            awarded.add_metric(labels, int(committed))
            disbursed.add_metric(labels, int(paid or 0))
        up.add_metric([], 1)
        yield from (envelope, awarded, disbursed, up)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        labels = ["call_id", "currency"]
        return (
            GaugeMetricFamily(
                "grants_call_envelope_minor_units",
                f"The call's funding envelope, {_MONEY_UNIT}.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "grants_call_awarded_minor_units",
                f"Committed to the call's awards (envelope less uncommitted), {_MONEY_UNIT}.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "grants_call_disbursed_minor_units",
                f"Paid out on the call's awards, net of reversals, {_MONEY_UNIT}.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "grants_call_money_up",
                "1 when the per-call money figures could be read from the database, else 0.",
            ),
        )

    def _read(self) -> list[tuple[Any, ...]]:
        """(call id, currency, envelope, uncommitted balance, paid balance) per call."""
        balance = LedgerAccount.credits_posted - LedgerAccount.debits_posted
        stmt = (
            select(
                Call.id,
                Call.currency,
                Call.envelope_amount,
                func.sum(case((LedgerAccount.kind == AccountKind.envelope, balance))),
                func.sum(case((LedgerAccount.kind == AccountKind.paid, balance))),
            )
            .outerjoin(
                LedgerAccount,
                (LedgerAccount.call_id == Call.id)
                & LedgerAccount.kind.in_([AccountKind.envelope, AccountKind.paid]),
            )
            .group_by(Call.id, Call.currency, Call.envelope_amount)
            .order_by(Call.created_at, Call.id)
        )
        database: Database = self._state.db
        with database.transaction(read_only=True) as session:
            return [tuple(row) for row in session.execute(stmt)]


class Metrics:
    """An app's metrics: its registry, its HTTP metrics and the collector of call figures."""

    def __init__(self, state: State) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry)
        self.call_money = CallMoneyCollector(state=state)
        self.registry.register(self.call_money)
        if multiprocess_dir() is None:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)

    def exposition(self) -> bytes:
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        # Every worker's HTTP metrics from the shared directory, plus the database figures.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self.call_money)
        return generate_latest(registry)


def authorise_scrape(settings: Settings, authorization: str | None) -> None:
    """With METRICS_TOKEN, a matching bearer token; without, open outside production only."""
    if settings.metrics_token is None:
        if settings.is_production:
            raise NotFound("Not Found")
        return
    scheme, _, supplied = (authorization or "").partition(" ")
    expected = settings.metrics_token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), expected):
        raise Unauthorized("A valid metrics token is required.", "invalid_metrics_token")


router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False)
def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Prometheus text exposition; sync, so the database query runs in the thread pool."""
    authorise_scrape(request.app.state.settings, authorization)
    body = request.app.state.metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
