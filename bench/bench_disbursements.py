"""Load test: concurrent disbursements through the API on PostgreSQL, several workers.

Starts PostgreSQL (embedded) and `grants serve --workers 4`, sets up awards with approved
milestones through the API, then fires disbursements from many client threads at once —
more than the milestones can hold — and reports throughput, latency percentiles, how many
were accepted and refused, and whether any limit was broken (it must never be):

    .venv/bin/python -m bench.bench_disbursements [--requests 2000] [--clients 32]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.servers import PostgresServer, free_port
from tests.support.uploads import pdf_bytes

PASSWORD = "demo-password-2026"


def _login(api: httpx.Client, email: str) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _setup(api: httpx.Client, awards: int, milestone_amount: int) -> list[tuple[str, str]]:
    """Awards with two approved milestones each; returns (award_id, milestone_id) pairs."""
    officer = _login(api, "officer@example.org")
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
                "password": PASSWORD,
                "full_name": f"NGO {n}",
                "organization": {"name": f"ONG {n}", "kind": "ngo", "country": "PE"},
            },
        ).raise_for_status()
        ngo = _login(api, email)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--awards", type=int, default=10)
    args = parser.parse_args()
    milestone_amount = 500  # each request pays 7.00: 71 fit in a milestone, the rest is refused

    with tempfile.TemporaryDirectory() as tmp_name, PostgresServer(Path(tmp_name) / "pg") as pg:
        tmp = Path(tmp_name)
        pg.create_database("load")
        env = {
            **os.environ,
            "GRANTS_ENV": "development",
            "DATABASE_URL": pg.url("load"),
            "STORAGE_URL": f"file://{tmp / 'docs'}",
            "PASSWORD_HASH_MEMORY_KIB": "8",
            "PASSWORD_HASH_TIME_COST": "1",
            "LOG_LEVEL": "WARNING",
            "DB_POOL_SIZE": "10",
        }
        grants = str(Path(sys.executable).parent / "grants")
        subprocess.run([grants, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([grants, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [grants, "serve", "--port", str(port), "--workers", str(args.workers)], env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            with httpx.Client(base_url=base, timeout=60) as api:
                targets = _setup(api, args.awards, milestone_amount)
                finance = _login(api, "finance@example.org")
            local = threading.local()
            latencies: list[float] = []
            outcomes: dict[int, int] = {}
            lock = threading.Lock()

            def pay(i: int) -> None:
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=base, timeout=60)
                award_id, milestone_id = targets[i % len(targets)]
                started = time.perf_counter()
                response = local.client.post(
                    f"/api/v1/awards/{award_id}/disbursements",
                    headers={**finance, "Idempotency-Key": f"load-{i}"},
                    json={
                        "milestone_id": milestone_id,
                        "amount": "7.00",
                        "value_date": datetime.now(UTC).date().isoformat(),
                        "reference": f"TX-{i}",
                    },
                )
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(pool.map(pay, range(args.requests)))
            wall = time.perf_counter() - started

            with httpx.Client(base_url=base, timeout=60) as api:
                officer = _login(api, "officer@example.org")
                awards = api.get("/api/v1/awards", headers=officer, params={"limit": 200}).json()
                call_id = awards["items"][0]["call_id"]
                reconciliation = api.get(
                    f"/api/v1/calls/{call_id}/reconciliation", headers=officer
                ).json()
            violations = sum(
                1
                for award in awards["items"]
                for m in award["milestones"]
                if float(m["disbursed"]) > float(m["amount"])
            )
        finally:
            server.terminate()
            server.wait(timeout=30)

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    per_milestone = milestone_amount * 100 // 700
    sent_to = [len(range(t, args.requests, len(targets))) for t in range(len(targets))]
    expected = sum(min(n, per_milestone) for n in sent_to)
    print(
        f"{args.requests} disbursement requests, {args.clients} client threads, "
        f"{args.workers} workers, PostgreSQL"
    )
    print(
        f"throughput {args.requests / wall:.0f} req/s over {wall:.1f} s; latency p50 "
        f"{pct(0.50):.0f} ms, p95 {pct(0.95):.0f} ms, p99 {pct(0.99):.0f} ms"
    )
    print(f"outcomes {dict(sorted(outcomes.items()))}; expected 201s: {expected}")
    print(f"reconciliation ok: {reconciliation['ok']}; milestones over their amount: {violations}")


if __name__ == "__main__":
    main()
