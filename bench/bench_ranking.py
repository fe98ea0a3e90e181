"""Ranking benchmark: 10,000 applications × 3 submitted reviews, on PostgreSQL and SQLite.

Loads the data with bulk inserts, then times `ranking()` (what GET /calls/{id}/ranking runs)
and counts its SQL statements:

    .venv/bin/python -m bench.bench_ranking [--applications 10000] [--reviews-each 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert

from app.db import Database, build_engine
from app.models import (
    Application,
    ApplicationStatus,
    Call,
    CallStatus,
    Organization,
    OrganizationKind,
    Review,
    ReviewStatus,
    Role,
    User,
)
from app.reviews.ranking import ranking
from tests.support.migrations import migrate
from tests.support.servers import PostgresServer

RUBRIC = {
    "criteria": [
        {"key": "approach", "label": "Approach", "weight": 60, "max_score": 10, "guidance": ""},
        {"key": "capacity", "label": "Capacity", "weight": 40, "max_score": 5, "guidance": ""},
    ]
}


def load(db: Database, applications: int, reviews_each: int, reviewers: int) -> uuid.UUID:
    rng = random.Random(7)
    now = datetime.now(UTC)
    call_id = uuid.uuid4()
    with db.transaction() as session:
        officer = User(
            email="bench@example.org",
            full_name="Bench",
            password_hash="x",
            role=Role.program_officer,
        )
        session.add(officer)
        session.flush()
        session.add(
            Call(
                id=call_id,
                title="Bench",
                description="",
                currency="USD",
                envelope_amount=500_000_000_00,
                min_award=1_000_00,
                max_award=500_000_00,
                opens_at=now - timedelta(days=30),
                closes_at=now - timedelta(days=1),
                timezone="UTC",
                status=CallStatus.closed,
                objectives=[],
                regions=[],
                required_documents=[],
                rubric=RUBRIC,
                reviewers_per_application=3,
                blind_review=False,
                created_by_id=officer.id,
            )
        )
        reviewer_ids = [uuid.uuid4() for _ in range(reviewers)]
        session.execute(
            insert(User),
            [
                {
                    "id": r,
                    "email": f"r{i}@example.org",
                    "full_name": f"Reviewer {i}",
                    "password_hash": "x",
                    "role": Role.reviewer,
                    "is_active": True,
                    "token_generation": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, r in enumerate(reviewer_ids)
            ],
        )
        org_ids = [uuid.uuid4() for _ in range(applications)]
        session.execute(
            insert(Organization),
            [
                {
                    "id": o,
                    "name": f"Organización {i}",
                    "kind": OrganizationKind.ngo,
                    "country": "PE",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, o in enumerate(org_ids)
            ],
        )
        app_ids = [uuid.uuid4() for _ in range(applications)]
        session.execute(
            insert(Application),
            [
                {
                    "id": a,
                    "reference": f"APP-2026-{i + 1:05d}",
                    "call_id": call_id,
                    "organization_id": org_ids[i],
                    "created_by_id": officer.id,
                    "status": ApplicationStatus.under_review,
                    "title": f"Proyecto {i}",
                    "requested_amount": rng.randrange(50_000_00, 500_000_00),
                    "submitted_at": now - timedelta(seconds=i),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, a in enumerate(app_ids)
            ],
        )
        rows = []
        for i, application_id in enumerate(app_ids):
            for k in range(reviews_each):
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "call_id": call_id,
                        "application_id": application_id,
                        "reviewer_id": reviewer_ids[(i * reviews_each + k) % reviewers],
                        "status": ReviewStatus.submitted,
                        "scores": {"approach": rng.randint(0, 10), "capacity": rng.randint(0, 5)},
                        "comment": "",
                        "excluded": False,
                        "submitted_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        for start in range(0, len(rows), 5000):
            session.execute(insert(Review), rows[start : start + 5000])
    return call_id


@dataclass(frozen=True)
class RankingTiming:
    backend: str
    median_ms: float
    min_ms: float
    statements: int


@dataclass(frozen=True)
class RankingResult:
    applications: int
    reviews_each: int
    runs: int
    timings: list[RankingTiming]

    def lines(self) -> list[str]:
        return [
            f"{t.backend:<10} {self.applications} applications × {self.reviews_each} reviews: "
            f"median {t.median_ms:.0f} ms, min {t.min_ms:.0f} ms, {t.statements} SQL statements"
            for t in self.timings
        ]


def measure(
    backend: str, url: str, applications: int, reviews_each: int, reviewers: int, runs: int
) -> RankingTiming:
    migrate(url)
    db = Database(build_engine(url))
    call_id = load(db, applications, reviews_each, reviewers)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    timings = []
    for _ in range(runs):
        statements = 0
        with db.transaction(read_only=True) as session:
            call = session.get(Call, call_id)
            assert call is not None
            started = time.perf_counter()
            rows = ranking(session, call)
            timings.append(time.perf_counter() - started)
        assert len(rows) == applications
    per_run = statements
    db.engine.dispose()
    return RankingTiming(
        backend=backend,
        median_ms=statistics.median(timings) * 1000,
        min_ms=min(timings) * 1000,
        statements=per_run,
    )


def run(
    *, applications: int = 10_000, reviews_each: int = 3, reviewers: int = 60, runs: int = 5
) -> RankingResult:
    shape = (applications, reviews_each, reviewers, runs)
    with tempfile.TemporaryDirectory() as tmp, PostgresServer(Path(tmp) / "pg") as pg:
        pg.create_database("bench")
        timings = [
            measure("postgresql", pg.url("bench"), *shape),
            measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", *shape),
        ]
    return RankingResult(applications, reviews_each, runs, timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--reviews-each", type=int, default=3)
    parser.add_argument("--reviewers", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = run(
        applications=args.applications,
        reviews_each=args.reviews_each,
        reviewers=args.reviewers,
        runs=args.runs,
    )
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
