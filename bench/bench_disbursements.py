"""Load test: concurrent disbursements through the API on PostgreSQL, several workers.

Starts PostgreSQL (embedded) and `grants serve --workers 4`, sets up awards with approved
milestones through the API, then fires disbursements from many client threads at once —
more than the milestones can hold — and reports throughput, latency percentiles, how many
were accepted and refused, and whether any limit was broken (it must never be). Each request
pays 7.00 into one of the milestones, chosen at random; a milestone of 500.00 holds 71:

    .venv/bin/python -m bench.bench_disbursements [--requests 2000] [--clients 32] [--awards 10]
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

import httpx

from bench.driver import LoadRun, Operation, drive
from bench.serve import DEMO_PASSWORD, grants, login, serve_grants, service_env
from tests.support.servers import PostgresServer
from tests.support.uploads import pdf_bytes

PAYMENT_CENTS = 700


def _setup(api: httpx.Client, awards: int, milestone_amount: int) -> list[tuple[str, str]]:
    """Awards with two approved milestones each; returns (award_id, milestone_id) pairs."""
    officer = login(api, "officer@example.org")
    now = datetime.now(UTC)
    call = api.post(
        "/api/v1/calls",
        headers=officer,
        json={
            "title": "Load test",
            "envelope_amount": "100000000.00",
            "min_award": "1.00",
            "max_award": "10000000.00",
            "opens_at": (now - timedelta(days=1)).isoformat(),
            "closes_at": (now + timedelta(days=30)).isoformat(),
            "objectives": [{"code": "protection", "label": "Protection"}],
            "regions": [{"code": "lima", "label": "Lima"}],
            "required_documents": [
                {
                    "type": "proposal",
                    "label": "Proposal",
                    "max_size_mb": 1,
                    "allowed_types": ["application/pdf"],
                }
            ],
            "rubric": {"criteria": [{"key": "q", "label": "Q", "weight": 100, "max_score": 10}]},
        },
    ).json()
    api.post(f"/api/v1/calls/{call['id']}/publish", headers=officer).raise_for_status()
    targets = []
    for n in range(awards):
        email = f"ngo{n}-{uuid.uuid4().hex[:6]}@example.org"
        api.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": DEMO_PASSWORD,
                "full_name": f"NGO {n}",
                "organization": {"name": f"ONG {n}", "kind": "ngo", "country": "PE"},
            },
        ).raise_for_status()
        ngo = login(api, email)
        amount = f"{2 * milestone_amount}.00"
        application = api.post(
            f"/api/v1/calls/{call['id']}/applications",
            headers=ngo,
            json={
                "title": f"Proyecto {n}",
                "summary": "s",
                "duration_months": 12,
                "requested_amount": amount,
                "objectives": ["protection"],
                "regions": [{"code": "lima", "share_pct": 100}],
            },
        ).json()
        api.post(
            f"/api/v1/applications/{application['id']}/documents",
            headers=ngo,
            files={
                "doc_type": (None, "proposal"),
                "file": ("p.pdf", pdf_bytes(), "application/pdf"),
            },
        ).raise_for_status()
        api.post(f"/api/v1/applications/{application['id']}/submit", headers=ngo).raise_for_status()
        api.post(
            f"/api/v1/applications/{application['id']}/screening",
            headers=officer,
            json={"eligible": True},
        ).raise_for_status()
        award = api.post(
            f"/api/v1/applications/{application['id']}/award",
            headers=officer,
            json={
                "amount": amount,
                "start_date": now.date().isoformat(),
                "end_date": (now + timedelta(days=365)).date().isoformat(),
                "milestones": [
                    {
                        "title": "First",
                        "due_date": (now + timedelta(days=90)).date().isoformat(),
                        "amount": f"{milestone_amount}.00",
                    },
                    {
                        "title": "Second",
                        "due_date": (now + timedelta(days=180)).date().isoformat(),
                        "amount": f"{milestone_amount}.00",
                    },
                ],
            },
        )
        award.raise_for_status()
        for milestone in award.json()["milestones"]:
            api.post(
                f"/api/v1/milestones/{milestone['id']}/report",
                headers=ngo,
                data={"narrative": "Hecho."},
            ).raise_for_status()
            api.post(
                f"/api/v1/milestones/{milestone['id']}/approve", headers=officer
            ).raise_for_status()
            targets.append((award.json()["id"], milestone["id"]))
    return targets


@dataclass(frozen=True)
class DisbursementResult:
    requests: int
    clients: int
    workers: int
    awards: int
    load: LoadRun
    accepted: int
    refused: int
    expected_accepted: int
    reconciliation_ok: bool
    milestones_over_amount: int

    def lines(self) -> list[str]:
        overall = self.load.overall
        outcomes: dict[int, int] = {}
        for statuses in self.load.statuses.values():
            for status, n in statuses.items():
                outcomes[status] = outcomes.get(status, 0) + n
        return [
            f"{self.requests} disbursement requests, {self.clients} client threads, "
            f"{self.workers} workers, {self.awards} awards (2 milestones each), PostgreSQL",
            f"throughput {overall.throughput:.0f} req/s over {self.load.wall_seconds:.1f} s; "
            f"latency p50 {overall.p50_ms:.0f} ms, p95 {overall.p95_ms:.0f} ms, "
            f"p99 {overall.p99_ms:.0f} ms",
            f"outcomes {dict(sorted(outcomes.items()))}; expected 201s: {self.expected_accepted}",
            f"reconciliation ok: {self.reconciliation_ok}; milestones over their amount: "
            f"{self.milestones_over_amount}",
        ]


def _payment(finance: dict[str, str], award_id: str, milestone_id: str) -> Operation:
    def pay(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.post(
            f"/api/v1/awards/{award_id}/disbursements",
            headers={**finance, "Idempotency-Key": uuid.uuid4().hex},
            json={
                "milestone_id": milestone_id,
                "amount": f"{PAYMENT_CENTS // 100}.{PAYMENT_CENTS % 100:02d}",
                "value_date": datetime.now(UTC).date().isoformat(),
                "reference": f"TX-{rng.randrange(10**9)}",
            },
        )

    # 409: the milestone is full; any other status is an error.
    return Operation("finance", f"pay {milestone_id}", 1, pay, frozenset({201, 409}))


def run(
    *, requests: int = 2000, clients: int = 32, workers: int = 4, awards: int = 10
) -> DisbursementResult:
    milestone_amount = 500  # each request pays 7.00: 71 fit in a milestone, the rest is refused
    with tempfile.TemporaryDirectory() as tmp_name, PostgresServer(Path(tmp_name) / "pg") as pg:
        pg.create_database("load")
        env = service_env(
            DATABASE_URL=pg.url("load"),
            STORAGE_URL=f"file://{Path(tmp_name) / 'docs'}",
            DB_POOL_SIZE="10",
        )
        grants("migrate", env=env)
        grants("demo", env=env)
        with serve_grants(env, workers) as served:
            with httpx.Client(base_url=served.base_url, timeout=60) as api:
                targets = _setup(api, awards, milestone_amount)
                finance = login(api, "finance@example.org")
            load = drive(
                served.base_url,
                [_payment(finance, award_id, milestone_id) for award_id, milestone_id in targets],
                clients=clients,
                requests=requests,
            )
            with httpx.Client(base_url=served.base_url, timeout=60) as api:
                officer = login(api, "officer@example.org")
                listed = api.get("/api/v1/awards", headers=officer, params={"limit": 200}).json()
                call_id = listed["items"][0]["call_id"]
                reconciliation = api.get(
                    f"/api/v1/calls/{call_id}/reconciliation", headers=officer
                ).json()
    per_milestone = milestone_amount * 100 // PAYMENT_CENTS
    sent = [sum(statuses.values()) for statuses in load.statuses.values()]
    return DisbursementResult(
        requests=requests,
        clients=clients,
        workers=workers,
        awards=awards,
        load=load,
        accepted=sum(s.get(201, 0) for s in load.statuses.values()),
        refused=sum(s.get(409, 0) for s in load.statuses.values()),
        expected_accepted=sum(min(n, per_milestone) for n in sent),
        reconciliation_ok=bool(reconciliation["ok"]),
        milestones_over_amount=sum(
            1
            for award in listed["items"]
            for m in award["milestones"]
            if Decimal(m["disbursed"]) > Decimal(m["amount"])
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--awards", type=int, default=10)
    args = parser.parse_args()
    result = run(
        requests=args.requests, clients=args.clients, workers=args.workers, awards=args.awards
    )
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
