"""Export benchmark: 100,000 disbursements on PostgreSQL as CSV and XLSX, next to COPY.

Loads the rows with bulk inserts, starts `grants serve` (one worker), downloads the
disbursement report in both formats, and runs `COPY (SELECT …) TO STDOUT` of the same rows as
the physical floor. Reports times, ratios and the server's peak memory growth:

    .venv/bin/python -m bench.bench_exports [--rows 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert

from app.auth.passwords import hash_password
from app.db import Database, build_engine
from app.models import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    ApplicationStatus,
    Award,
    Call,
    CallStatus,
    Disbursement,
    Milestone,
    MilestoneStatus,
    Organization,
    OrganizationKind,
    Role,
    User,
)
from app.reports.queries import DisbursementFilter, disbursement_statement
from bench.serve import login, peak_rss_mib, serve_grants, service_env
from tests.support.migrations import migrate
from tests.support.servers import PostgresServer

PASSWORD = "bench-password-123"


def load(db: Database, rows: int, awards: int = 200) -> uuid.UUID:
    now = datetime.now(UTC)
    call_id = uuid.uuid4()
    with db.transaction() as session:
        finance = User(
            email="finance@example.org",
            full_name="Finance",
            role=Role.finance_officer,
            password_hash=hash_password(PASSWORD),
        )
        session.add(finance)
        session.flush()
        session.add(
            Call(
                id=call_id,
                title="Bench",
                description="",
                currency="USD",
                envelope_amount=10**13,
                min_award=1,
                max_award=10**12,
                opens_at=now - timedelta(days=400),
                closes_at=now - timedelta(days=300),
                timezone="America/Lima",
                status=CallStatus.closed,
                objectives=[{"code": "protection", "label": "Protection"}],
                regions=[{"code": "lima", "label": "Lima"}],
                required_documents=[],
                rubric={"criteria": []},
                reviewers_per_application=1,
                blind_review=False,
                created_by_id=finance.id,
            )
        )
        session.flush()
        org_ids, app_ids, award_ids, milestone_ids = [], [], [], []
        for _ in range(awards):
            org_ids.append(uuid.uuid4())
            app_ids.append(uuid.uuid4())
            award_ids.append(uuid.uuid4())
            milestone_ids.append(uuid.uuid4())
        session.execute(
            insert(Organization),
            [
                {
                    "id": o,
                    "name": f"Asociación {i}",
                    "kind": OrganizationKind.ngo,
                    "country": "PE",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, o in enumerate(org_ids)
            ],
        )
        session.execute(
            insert(Application),
            [
                {
                    "id": a,
                    "reference": f"APP-2026-{i + 1:04d}",
                    "call_id": call_id,
                    "organization_id": org_ids[i],
                    "created_by_id": finance.id,
                    "status": ApplicationStatus.awarded,
                    "title": f"Proyecto {i}",
                    "requested_amount": 10**11,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, a in enumerate(app_ids)
            ],
        )
        session.execute(
            insert(ApplicationRegion),
            [
                {"application_id": a, "code": "lima", "share_hundredths": 10000, "position": 0}
                for a in app_ids
            ],
        )
        session.execute(
            insert(ApplicationObjective),
            [{"application_id": a, "code": "protection", "position": 0} for a in app_ids],
        )
        session.execute(
            insert(Award),
            [
                {
                    "id": w,
                    "reference": f"AWD-2026-{i + 1:04d}",
                    "call_id": call_id,
                    "application_id": app_ids[i],
                    "organization_id": org_ids[i],
                    "currency": "USD",
                    "amount": 10**11,
                    "start_date": date(2025, 1, 1),
                    "end_date": date(2028, 12, 31),
                    "decided_by_id": finance.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, w in enumerate(award_ids)
            ],
        )
        session.execute(
            insert(Milestone),
            [
                {
                    "id": m,
                    "award_id": award_ids[i],
                    "position": 1,
                    "title": "Tramo único",
                    "due_date": date(2026, 6, 30),
                    "amount": 10**11,
                    "status": MilestoneStatus.approved,
                    "cancelled": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, m in enumerate(milestone_ids)
            ],
        )
        batch = []
        for n in range(rows):
            k = n % awards
            batch.append(
                {
                    "id": uuid.uuid4(),
                    "call_id": call_id,
                    "award_id": award_ids[k],
                    "milestone_id": milestone_ids[k],
                    "amount": 1000 + n % 997,
                    "value_date": date(2025, 1, 1) + timedelta(days=n % 600),
                    "reference": f"TRF-{n}",
                    "recorded_by_id": finance.id,
                    "recorded_at": now - timedelta(seconds=rows - n),
                }
            )
            if len(batch) == 10_000:
                session.execute(insert(Disbursement), batch)
                batch = []
        if batch:
            session.execute(insert(Disbursement), batch)
    return call_id


@dataclass(frozen=True)
class ExportTiming:
    format: str
    seconds: float
    bytes: int
    rss_peak_mib: float


@dataclass(frozen=True)
class ExportResult:
    rows: int
    copy_seconds: float
    copy_bytes: int
    rss_before_mib: float
    exports: list[ExportTiming]

    def lines(self) -> list[str]:
        lines = [
            f"{self.rows} disbursements, PostgreSQL, one worker",
            f"COPY (SELECT …) TO STDOUT: {self.copy_seconds:.2f} s, {self.copy_bytes / 1e6:.1f} MB",
        ]
        for export in self.exports:
            lines.append(
                f"{export.format.upper():<4} export: {export.seconds:.2f} s, "
                f"{export.bytes / 1e6:.1f} MB, {export.seconds / self.copy_seconds:.1f}x COPY, "
                f"server peak RSS {self.rss_before_mib:.0f} → {export.rss_peak_mib:.0f} MiB "
                f"(+{export.rss_peak_mib - self.rss_before_mib:.0f})"
            )
        return lines


def run(*, rows: int = 100_000) -> ExportResult:
    with tempfile.TemporaryDirectory() as tmp, PostgresServer(Path(tmp) / "pg") as pg:
        pg.create_database("exports")
        url = pg.url("exports")
        migrate(url)
        db = Database(build_engine(url))
        call_id = load(db, rows)

        statement = disbursement_statement(DisbursementFilter(call_id))
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        db.engine.dispose()
        started = time.perf_counter()
        copied = 0
        with (
            psycopg.connect(pg.url("exports", driver="postgresql")) as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy,
        ):
            for block in copy:
                copied += len(block)
        copy_time = time.perf_counter() - started

        env = service_env(DATABASE_URL=url, STORAGE_URL=f"file://{Path(tmp) / 'docs'}")
        exports = []
        with (
            serve_grants(env, workers=1) as served,
            httpx.Client(base_url=served.base_url, timeout=600) as api,
        ):
            headers = login(api, "finance@example.org", PASSWORD)
            baseline = peak_rss_mib(served.pid)
            for fmt in ("csv", "xlsx"):
                started = time.perf_counter()
                size = 0
                with api.stream(
                    "GET",
                    "/api/v1/reports/disbursements",
                    headers=headers,
                    params={"call_id": str(call_id), "format": fmt},
                ) as response:
                    assert response.status_code == 200, response.read()
                    for block in response.iter_bytes():
                        size += len(block)
                exports.append(
                    ExportTiming(fmt, time.perf_counter() - started, size, peak_rss_mib(served.pid))
                )
    return ExportResult(rows, copy_time, copied, baseline, exports)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print("\n".join(run(rows=args.rows).lines()))


if __name__ == "__main__":
    main()
