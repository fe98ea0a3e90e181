"""API load test: NGO, reviewer and finance traffic at once, next to a bare-FastAPI floor.

Starts PostgreSQL (embedded) and `grants serve --workers 4`, builds through the API two calls
(one open, where every NGO keeps a draft with a document; one where the same NGOs' applications
are either awarded with an approved milestone or under review with two reviewers each), signs
everyone in, then runs client threads for a fixed time with this mix:

- NGO (45 %): list calls, list applications, read the draft, update the draft, list documents;
- reviewer (30 %): the queue, read the review draft, save the review draft;
- finance (25 %): list awards, record a disbursement, export the award register (CSV).

Then `bench.reference_app` (one `SELECT` by primary key, same PostgreSQL, same workers) is
loaded by the same driver with the same clients for the same time. Reports throughput and
p50/p95/p99 per traffic class and overall, errors (any unexpected status), and whether the
call still reconciles and the audit chain still verifies after the run:

    .venv/bin/python -m bench.bench_load [--duration 60] [--clients 16] [--workers 4] [--ngos 12]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import httpx

from bench.driver import LoadRun, Operation, drive
from bench.serve import grants, login, serve_grants, service_env, serving
from tests.support.servers import PostgresServer
from tests.support.uploads import pdf_bytes

API = "/api/v1"
PASSWORD = "load-test-password"
AWARD = "1000000.00"
PAYMENT = "1.00"
RUBRIC = {
    "criteria": [
        {"key": "approach", "label": "Approach", "weight": 60, "max_score": 10},
        {"key": "capacity", "label": "Capacity", "weight": 40, "max_score": 5},
    ]
}
TRAFFIC = ("ngo", "reviewer", "finance")


@dataclass(frozen=True)
class World:
    """What the set-up built: who signs in, and what each of them works on."""

    ngos: list[tuple[dict[str, str], str]]  # (headers, id of the draft in the open call)
    reviews: list[tuple[dict[str, str], str]]  # (reviewer headers, assigned application id)
    reviewers: list[dict[str, str]]
    finance: dict[str, str]
    awards: list[tuple[str, str]]  # (award id, milestone id)
    review_call_id: str
    officer: dict[str, str]
    admin: dict[str, str]
    reference_user_id: str


@dataclass(frozen=True)
class LoadResult:
    workers: int
    clients: int
    duration: float
    ngos: int
    service: LoadRun
    reference: LoadRun
    reconciliation_ok: bool
    audit_ok: bool
    audit_events: int

    def lines(self) -> list[str]:
        lines = [
            f"{self.clients} client threads for {self.duration:.0f} s, {self.workers} workers, "
            f"PostgreSQL, {self.ngos} NGOs"
        ]
        for name in TRAFFIC:
            lines.append(f"  {name:<9} {self.service.traffic(name).line()}")
        lines.append(f"  {'overall':<9} {self.service.overall.line()}")
        lines.append(f"  reference (bare FastAPI, one SELECT): {self.reference.overall.line()}")
        lines.append(
            f"after the run: reconciliation ok {self.reconciliation_ok}; audit chain ok "
            f"{self.audit_ok} ({self.audit_events} events)"
        )
        lines.extend(f"  error: {e}" for e in self.service.error_samples)
        return lines


# --- set-up, through the API ---------------------------------------------------------------


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()  # type: ignore[no-any-return]


def _call(api: httpx.Client, officer: dict[str, str], title: str) -> str:
    now = datetime.now(UTC)
    call = _ok(
        api.post(
            f"{API}/calls",
            headers=officer,
            json={
                "title": title,
                "envelope_amount": "100000000.00",
                "min_award": "1000.00",
                "max_award": AWARD,
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now + timedelta(days=30)).isoformat(),
                "timezone": "UTC",
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
                "rubric": RUBRIC,
                "reviewers_per_application": 2,
            },
        ),
        201,
    )
    _ok(api.post(f"{API}/calls/{call['id']}/publish", headers=officer))
    return str(call["id"])


def _application(api: httpx.Client, ngo: dict[str, str], call_id: str, title: str) -> str:
    application = _ok(
        api.post(
            f"{API}/calls/{call_id}/applications",
            headers=ngo,
            json={
                "title": title,
                "summary": "Casas seguras y acompañamiento para niñas y niños.",
                "requested_amount": AWARD,
                "duration_months": 24,
                "objectives": ["protection"],
                "regions": [{"code": "lima", "share_pct": 100}],
            },
        ),
        201,
    )
    _ok(
        api.post(
            f"{API}/applications/{application['id']}/documents",
            headers=ngo,
            files={
                "doc_type": (None, "proposal"),
                "file": ("propuesta.pdf", pdf_bytes(), "application/pdf"),
            },
        ),
        201,
    )
    return str(application["id"])


def build_world(api: httpx.Client, ngos: int) -> World:
    admin = login(api, "admin@example.org")
    officer = login(api, "officer@example.org")
    finance = login(api, "finance@example.org")
    reviewer_emails = [f"reviewer{n}@example.org" for n in (1, 2, 3)]
    reviewers = [login(api, email) for email in reviewer_emails]
    me = _ok(api.get(f"{API}/users/me", headers=admin))
    panel = [_ok(api.get(f"{API}/users/me", headers=r))["id"] for r in reviewers]

    open_call = _call(api, officer, "Load test: open call")
    review_call = _call(api, officer, "Load test: awards and reviews")
    _ok(api.put(f"{API}/calls/{review_call}/panel", headers=officer, json={"reviewer_ids": panel}))

    people: list[tuple[dict[str, str], str]] = []
    awards: list[tuple[str, str]] = []
    today = datetime.now(UTC).date()
    for n in range(ngos):
        email = f"ngo{n}-{uuid.uuid4().hex[:6]}@example.org"
        _ok(
            api.post(
                f"{API}/auth/register",
                json={
                    "email": email,
                    "password": PASSWORD,
                    "full_name": f"Directora {n}",
                    "organization": {"name": f"Asociación {n}", "kind": "ngo", "country": "PE"},
                },
            ),
            201,
        )
        ngo = login(api, email, PASSWORD)
        people.append((ngo, _application(api, ngo, open_call, f"Borrador {n}")))
        reviewed = _application(api, ngo, review_call, f"Proyecto {n}")
        _ok(api.post(f"{API}/applications/{reviewed}/submit", headers=ngo))
        _ok(
            api.post(
                f"{API}/applications/{reviewed}/screening",
                headers=officer,
                json={"eligible": True},
            )
        )
        if n % 2:
            continue
        award = _ok(
            api.post(
                f"{API}/applications/{reviewed}/award",
                headers=officer,
                json={
                    "amount": AWARD,
                    "start_date": today.isoformat(),
                    "end_date": (today + timedelta(days=730)).isoformat(),
                    "milestones": [
                        {
                            "title": "Única",
                            "due_date": (today + timedelta(days=90)).isoformat(),
                            "amount": AWARD,
                        }
                    ],
                },
            ),
            201,
        )
        milestone = award["milestones"][0]["id"]
        _ok(
            api.post(
                f"{API}/milestones/{milestone}/report", headers=ngo, data={"narrative": "Hecho."}
            )
        )
        _ok(api.post(f"{API}/milestones/{milestone}/approve", headers=officer))
        awards.append((award["id"], milestone))

    _ok(api.post(f"{API}/calls/{review_call}/assignments/auto", headers=officer))
    reviews: list[tuple[dict[str, str], str]] = []
    for headers in reviewers:
        queue = _ok(api.get(f"{API}/reviews/assigned", headers=headers, params={"limit": 200}))
        for item in queue["items"]:
            application_id = item["application_id"]
            # A first draft now, so that the load saves drafts that exist, as reviewers mostly do.
            _ok(
                api.put(
                    f"{API}/applications/{application_id}/review",
                    headers=headers,
                    json={"scores": {"approach": 5}, "comment": "Primera lectura."},
                )
            )
            reviews.append((headers, application_id))
    return World(
        ngos=people,
        reviews=reviews,
        reviewers=reviewers,
        finance=finance,
        awards=awards,
        review_call_id=review_call,
        officer=officer,
        admin=admin,
        reference_user_id=me["id"],
    )


def operations(world: World) -> list[Operation]:
    def ngo_list_calls(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(f"{API}/calls", headers=rng.choice(world.ngos)[0], params={"limit": 20})

    def ngo_list_applications(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(f"{API}/applications", headers=rng.choice(world.ngos)[0])

    def ngo_read_draft(client: httpx.Client, rng: Random) -> httpx.Response:
        headers, draft = rng.choice(world.ngos)
        return client.get(f"{API}/applications/{draft}", headers=headers)

    def ngo_update_draft(client: httpx.Client, rng: Random) -> httpx.Response:
        headers, draft = rng.choice(world.ngos)
        return client.patch(
            f"{API}/applications/{draft}",
            headers=headers,
            json={"summary": f"Versión {rng.randrange(10**6)}", "duration_months": 24},
        )

    def ngo_list_documents(client: httpx.Client, rng: Random) -> httpx.Response:
        headers, draft = rng.choice(world.ngos)
        return client.get(f"{API}/applications/{draft}/documents", headers=headers)

    def reviewer_queue(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(f"{API}/reviews/assigned", headers=rng.choice(world.reviewers))

    def reviewer_read(client: httpx.Client, rng: Random) -> httpx.Response:
        headers, application = rng.choice(world.reviews)
        return client.get(f"{API}/applications/{application}/review", headers=headers)

    def reviewer_save(client: httpx.Client, rng: Random) -> httpx.Response:
        headers, application = rng.choice(world.reviews)
        return client.put(
            f"{API}/applications/{application}/review",
            headers=headers,
            json={
                "scores": {"approach": rng.randint(0, 10), "capacity": rng.randint(0, 5)},
                "comment": "Sólida en el enfoque; la capacidad instalada es limitada.",
            },
        )

    def finance_list_awards(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(f"{API}/awards", headers=world.finance)

    def finance_disburse(client: httpx.Client, rng: Random) -> httpx.Response:
        award, milestone = rng.choice(world.awards)
        return client.post(
            f"{API}/awards/{award}/disbursements",
            headers={**world.finance, "Idempotency-Key": uuid.uuid4().hex},
            json={
                "milestone_id": milestone,
                "amount": PAYMENT,
                "value_date": datetime.now(UTC).date().isoformat(),
                "reference": f"TRF-{rng.randrange(10**9)}",
            },
        )

    def finance_export(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(
            f"{API}/reports/awards",
            headers=world.finance,
            params={"call_id": world.review_call_id, "format": "csv"},
        )

    return [
        Operation("ngo", "ngo.list_calls", 2, ngo_list_calls),
        Operation("ngo", "ngo.list_applications", 2, ngo_list_applications),
        Operation("ngo", "ngo.read_draft", 2, ngo_read_draft),
        Operation("ngo", "ngo.update_draft", 1, ngo_update_draft),
        Operation("ngo", "ngo.list_documents", 2, ngo_list_documents),
        Operation("reviewer", "reviewer.queue", 2, reviewer_queue),
        Operation("reviewer", "reviewer.read_review", 2, reviewer_read),
        Operation("reviewer", "reviewer.save_review", 2, reviewer_save),
        Operation("finance", "finance.list_awards", 2, finance_list_awards),
        Operation("finance", "finance.disburse", 2, finance_disburse, frozenset({201})),
        Operation("finance", "finance.export_awards_csv", 1, finance_export),
    ]


def reference_operations(user_id: str) -> list[Operation]:
    def one_row(client: httpx.Client, rng: Random) -> httpx.Response:
        return client.get(f"/users/{user_id}")

    return [Operation("reference", "reference.select_one", 1, one_row)]


def run(
    *,
    duration: float = 60,
    clients: int = 16,
    workers: int = 4,
    ngos: int = 12,
    warmup: float = 5,
) -> LoadResult:
    with tempfile.TemporaryDirectory() as tmp_name, PostgresServer(Path(tmp_name) / "pg") as pg:
        pg.create_database("load")
        env = service_env(
            DATABASE_URL=pg.url("load"), STORAGE_URL=f"file://{Path(tmp_name) / 'docs'}"
        )
        grants("migrate", env=env)
        grants("demo", env=env)
        with serve_grants(env, workers) as served:
            with httpx.Client(base_url=served.base_url, timeout=60) as api:
                world = build_world(api, ngos)
            service = drive(
                served.base_url,
                operations(world),
                clients=clients,
                duration=duration,
                warmup=warmup,
            )
            with httpx.Client(base_url=served.base_url, timeout=120) as api:
                reconciliation = _ok(
                    api.get(
                        f"{API}/calls/{world.review_call_id}/reconciliation", headers=world.officer
                    )
                )
                verified = _ok(api.get(f"{API}/audit/verify", headers=world.admin))
        reference_command = [
            sys.executable, "-m", "uvicorn", "bench.reference_app:create_app", "--factory",
            "--workers", str(workers), "--log-level", "warning",
        ]  # fmt: skip
        with serving(reference_command, env, ready_path="/healthz") as reference_app:
            reference = drive(
                reference_app.base_url,
                reference_operations(world.reference_user_id),
                clients=clients,
                duration=duration,
                warmup=warmup,
            )
    return LoadResult(
        workers=workers,
        clients=clients,
        duration=duration,
        ngos=ngos,
        service=service,
        reference=reference,
        reconciliation_ok=bool(reconciliation["ok"]),
        audit_ok=bool(verified["ok"]),
        audit_events=int(verified["events"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load not counted")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--ngos", type=int, default=12)
    args = parser.parse_args()
    result = run(
        duration=args.duration,
        clients=args.clients,
        workers=args.workers,
        ngos=args.ngos,
        warmup=args.warmup,
    )
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
