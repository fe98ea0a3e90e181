"""Backup and restore as docs/operations.md tells an operator to do them, rehearsed for real.

A database with users, a call, an application and its document, an award, an approved
milestone, payments and a reversal is built through the API; `pg_dump --format=custom` (the
real program) backs it up, `pg_restore` loads the dump into a new database, `grants migrate`
runs over it, and `rclone sync` copies the document bucket. A new app pointed at the copies
must then verify the audit chain, reconcile the money to the same figures, accept new writes
that extend the chain, report tampering, and serve the documents.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from app.config import get_settings
from app.db import Database, build_engine
from app.main import create_app
from app.models import AuditEvent, Role
from app.storage import S3Storage
from tests.awards.helpers import (
    API,
    approved,
    award,
    cents,
    disburse,
    reconciliation,
    reverse,
    under_review,
)
from tests.conftest import DatabaseFactory, _create_database_on
from tests.foundation.api import PASSWORD, register, token_for
from tests.support.factories import Factory, call_payload
from tests.support.servers import S3Server, _rclone_binary, pg_program
from tests.support.uploads import pdf_bytes

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

VERIFY = f"{API}/audit/verify"
PREFIX = "docs"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (pg_dump, pg_restore): without `+psycopg`."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, f"{command[0]} exited {result.returncode}: {result.stderr}"
    return result.stdout


def empty_database(factory: DatabaseFactory) -> str:
    """A new database with nothing in it (no migrations): what `createdb` gives an operator."""
    name = f"grants_restored_{uuid.uuid4().hex[:8]}"
    if factory.pg is not None:
        factory.pg.create_database(name)
        return factory.pg.url(name)
    return _create_database_on(os.environ["TEST_DATABASE_URL"], name)


@contextmanager
def api_on(url: str, bucket: str, s3: S3Server) -> Iterator[TestClient]:
    """A new app instance on this database and bucket, as a redeployed service would be."""
    database = Database(build_engine(url))
    storage = S3Storage(bucket, prefix=PREFIX, client=s3.client())
    app = create_app(get_settings(), database=database, storage=storage)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        database.engine.dispose()


def rclone_sync(s3: S3Server, source: str, target: str) -> None:
    """`rclone sync src:SOURCE backup:TARGET`, the remotes defined by environment variables
    exactly as docs/operations.md shows (`--config=` keeps any local rclone.conf out of it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    for remote in ("SRC", "BACKUP"):
        env |= {
            f"RCLONE_CONFIG_{remote}_TYPE": "s3",
            f"RCLONE_CONFIG_{remote}_PROVIDER": "Other",
            f"RCLONE_CONFIG_{remote}_ENDPOINT": s3.endpoint_url,
            f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": s3.access_key,
            f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": s3.secret_key,
        }
    run(_rclone_binary(), "sync", "--config=", f"src:{source}", f"backup:{target}", env=env)


@dataclass(frozen=True)
class Backup:
    """The source system at the moment of the dump, and what it held."""

    dump: Path
    source_url: str
    bucket: str
    admin: dict[str, str]
    officer: dict[str, str]
    finance: dict[str, str]
    applicant: dict[str, str]
    call_id: str
    award_id: str
    milestone_id: str
    document_id: str
    verification: dict[str, Any]
    newest_event: dict[str, Any]
    reconciliation: dict[str, Any]
    disbursements: list[dict[str, Any]]


def _staff(client: TestClient, admin: dict[str, str], role: Role) -> dict[str, str]:
    email = f"{role.value}-{uuid.uuid4().hex[:6]}@donor.example.org"
    created = client.post(
        f"{API}/users",
        json={"email": email, "password": PASSWORD, "full_name": role.value, "role": role.value},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return token_for(client, email)


@pytest.fixture(scope="module")
def backup(
    database_factory: DatabaseFactory, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backup]:
    source_url = database_factory.create("backup_source")
    bucket = f"grants-documents-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    # The first administrator comes from outside the API, as `grants create-user` makes it.
    database = Database(build_engine(source_url))
    factory = Factory(database, get_settings())
    admin = factory.headers(factory.user(Role.admin))
    database.engine.dispose()
    with api_on(source_url, bucket, s3_server) as client:
        officer = _staff(client, admin, Role.program_officer)
        finance = _staff(client, admin, Role.finance_officer)
        email = f"ngo-{uuid.uuid4().hex[:6]}@ngo.example.org"
        register(client, email)
        applicant = token_for(client, email)

        created = client.post(f"{API}/calls", json=call_payload(), headers=officer)
        assert created.status_code == 201, created.text
        call_id = created.json()["id"]
        assert client.post(f"{API}/calls/{call_id}/publish", headers=officer).status_code == 200
        application = under_review(client, call_id, applicant, officer)  # uploads a proposal
        awarded = award(client, application["id"], officer, "100000.00", ["60000.00", "40000.00"])
        assert awarded.status_code == 201, awarded.text
        award_id = awarded.json()["id"]
        milestone_id = awarded.json()["milestones"][0]["id"]
        approved(client, milestone_id, applicant, officer)
        paid = disburse(client, award_id, finance, milestone_id, "25000.00", reference="TRF-1")
        assert paid.status_code == 201, paid.text
        assert reverse(client, paid.json()["id"], finance).status_code == 201
        again = disburse(client, award_id, finance, milestone_id, "20000.00", reference="TRF-2")
        assert again.status_code == 201, again.text

        documents = client.get(
            f"{API}/applications/{application['id']}/documents", headers=applicant
        )
        assert documents.status_code == 200, documents.text
        verification = client.get(VERIFY, headers=admin).json()
        newest = client.get(f"{API}/audit", params={"limit": 1}, headers=admin).json()["items"][0]
        money = reconciliation(client, call_id, finance)
        payments = client.get(f"{API}/awards/{award_id}/disbursements", headers=finance).json()

    # The chain and the money are sound before the backup: what the restore must keep.
    assert verification["ok"] is True
    assert money["ok"] is True
    assert cents(money["disbursed"]) == 20_000_00  # 25,000 paid and reversed, then 20,000

    dump = tmp_path_factory.mktemp("backup") / "grants.dump"
    run(pg_program("pg_dump"), "--format=custom", f"--file={dump}", libpq_url(source_url))
    yield Backup(
        dump=dump,
        source_url=source_url,
        bucket=bucket,
        admin=admin,
        officer=officer,
        finance=finance,
        applicant=applicant,
        call_id=call_id,
        award_id=award_id,
        milestone_id=milestone_id,
        document_id=documents.json()[0]["id"],
        verification=verification,
        newest_event=newest,
        reconciliation=money,
        disbursements=payments,
    )


@pytest.fixture
def restored_url(backup: Backup, database_factory: DatabaseFactory) -> str:
    """A new, empty database with the dump restored into it and `grants migrate` run over it."""
    url = empty_database(database_factory)
    run(
        pg_program("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        f"--dbname={libpq_url(url)}",
        backup.dump,
    )
    grants = Path(sys.executable).parent / "grants"
    out = run(grants, "migrate", env={**os.environ, "DATABASE_URL": url})
    assert "latest schema" in out
    return url


@pytest.fixture
def restored(restored_url: str, backup: Backup, s3_server: S3Server) -> Iterator[TestClient]:
    """The API on the restored database (documents still in the original bucket)."""
    with api_on(restored_url, backup.bucket, s3_server) as client:
        yield client


def _alembic_revision(url: str) -> str:
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def test_the_restored_copy_verifies_and_reconciles_to_the_same_figures(
    restored: TestClient, restored_url: str, backup: Backup
):
    verification = restored.get(VERIFY, headers=backup.admin)
    assert verification.status_code == 200
    assert verification.json() == {"ok": True, "events": backup.verification["events"]}

    money = reconciliation(restored, backup.call_id, backup.finance)
    assert money == backup.reconciliation
    assert cents(money["awarded"]) == 100_000_00
    assert cents(money["disbursed"]) == 20_000_00
    payments = restored.get(f"{API}/awards/{backup.award_id}/disbursements", headers=backup.finance)
    assert payments.json() == backup.disbursements
    assert sorted(cents(p["amount"]) for p in payments.json()) == [-25_000_00, 20_000_00, 25_000_00]
    # `grants migrate` over a dump of the same release changes nothing.
    assert _alembic_revision(restored_url) == _alembic_revision(backup.source_url)


def test_a_write_after_the_restore_extends_the_chain_from_the_restored_head(
    restored: TestClient, backup: Backup
):
    # Tokens issued before the backup still work: same SECRET_KEY, same users.
    paid = disburse(
        restored, backup.award_id, backup.finance, backup.milestone_id, "5000.00", reference="TRF-3"
    )
    assert paid.status_code == 201, paid.text

    before = backup.verification["events"]
    verification = restored.get(VERIFY, headers=backup.admin).json()
    assert verification == {"ok": True, "events": before + 1}
    newest = restored.get(f"{API}/audit", params={"limit": 2}, headers=backup.admin).json()
    written, previous = newest["items"]
    assert previous == backup.newest_event
    assert written["action"] == "disbursement.recorded"
    assert written["seq"] == backup.newest_event["seq"] + 1
    assert written["prev_hash"] == backup.newest_event["hash"]

    money = reconciliation(restored, backup.call_id, backup.finance)
    assert money["ok"] is True
    assert cents(money["disbursed"]) == 25_000_00


def test_tampering_with_one_audit_row_of_the_restored_copy_is_reported(
    restored: TestClient, restored_url: str, backup: Backup, s3_server: S3Server
):
    engine = build_engine(restored_url)
    try:
        with engine.begin() as connection:
            target = connection.execute(
                select(AuditEvent.id, AuditEvent.data).where(
                    AuditEvent.action == "disbursement.recorded"
                )
            ).first()
            assert target is not None
            connection.execute(
                update(AuditEvent)
                .where(AuditEvent.id == target.id)
                .values(data={**target.data, "amount": "1.00"})
            )
    finally:
        engine.dispose()

    verification = restored.get(VERIFY, headers=backup.admin).json()
    assert verification["ok"] is False
    assert verification["broken_at"] == str(target.id)
    assert "altered" in verification["reason"]

    # The original is a different database: the tampering did not reach it.
    with api_on(backup.source_url, backup.bucket, s3_server) as source:
        assert source.get(VERIFY, headers=backup.admin).json() == backup.verification


def test_documents_copied_with_rclone_download_through_an_app_on_both_copies(
    restored_url: str, backup: Backup, s3_server: S3Server
):
    copy = f"grants-documents-copy-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(copy)
    content = f"{API}/documents/{backup.document_id}/content"
    with api_on(restored_url, copy, s3_server) as client:
        # The database copy alone does not bring the bytes back.
        missing = client.get(content, headers=backup.applicant)
        assert missing.status_code == 404
        assert missing.json()["code"] == "content_missing"

        rclone_sync(s3_server, backup.bucket, copy)

        downloaded = client.get(content, headers=backup.applicant)
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == pdf_bytes()
        assert downloaded.headers["etag"] == f'"{hashlib.sha256(pdf_bytes()).hexdigest()}"'
