"""Document upload, download and deletion through the API, on both storage backends."""

from __future__ import annotations

import hashlib
import os
import re
import select
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlalchemy import select as sql_select

from app.db import Database
from app.documents.sweeper import sweep_orphans
from app.main import create_app
from app.models import Document, Role
from app.models.base import utcnow
from app.storage import LocalStorage, S3Storage, Storage
from tests.support.factories import Factory
from tests.support.live import serve
from tests.support.servers import S3Server
from tests.support.uploads import (
    XLSX,
    pdf_bytes,
    plain_zip_bytes,
    upload_files,
    windows_executable_bytes,
    xlsx_bytes,
)

MIB = 1024 * 1024
KEY_PATTERN = re.compile(r"^documents/[0-9a-f]{32}$")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "documents")
    return request.getfixturevalue("s3_storage")


def stored_keys(storage: Storage) -> list[str]:
    return [o.key for o in storage.iter_objects("documents/")]


def draft_application(
    client: TestClient, factory: Factory, **call_overrides: object
) -> tuple[str, dict[str, str]]:
    call = factory.call(**call_overrides)
    _, headers = factory.login(Role.applicant)
    response = client.post(
        f"/api/v1/calls/{call.id}/applications",
        json={"title": "Refugio seguro", "requested_amount": "100000.00"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], headers


def document_count(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(sql_select(func.count()).select_from(Document)) or 0


def test_upload_then_download_returns_the_same_bytes(
    client: TestClient, factory: Factory, storage: Storage
) -> None:
    app_id, headers = draft_application(client, factory)
    content = pdf_bytes(padding=300_000)

    created = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", content, "Propuesta técnica.pdf", "text/plain"),
        headers=headers,
    )

    assert created.status_code == 201, created.text
    document = created.json()
    assert document["doc_type"] == "proposal"
    assert document["content_type"] == "application/pdf"  # sniffed, not the client's text/plain
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["filename"] == "Propuesta técnica.pdf"
    downloaded = client.get(f"/api/v1/documents/{document['id']}/content", headers=headers)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["content-type"] == "application/pdf"
    disposition = downloaded.headers["content-disposition"]
    assert "filename*=UTF-8''Propuesta%20t%C3%A9cnica.pdf" in disposition
    listed = client.get(f"/api/v1/applications/{app_id}/documents", headers=headers).json()
    assert [d["id"] for d in listed] == [document["id"]]
    assert all(KEY_PATTERN.match(k) for k in stored_keys(storage))


def test_real_workbook_is_detected_as_xlsx(
    client: TestClient, factory: Factory, storage: Storage
) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("budget_detail", xlsx_bytes(), "budget.xlsx", XLSX),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == XLSX


def test_file_over_its_type_limit_is_413_and_leaves_nothing(
    client: TestClient, factory: Factory, storage: Storage, db: Database
) -> None:
    app_id, headers = draft_application(client, factory)  # proposal: max_size_mb = 1
    too_big = pdf_bytes(padding=MIB)  # 1 MiB of padding plus the PDF structure

    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", too_big),
        headers=headers,
    )

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert document_count(db) == 0
    assert stored_keys(storage) == []


def test_disguised_executable_is_refused_with_415(
    client: TestClient, factory: Factory, storage: Storage, db: Database
) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files(
            "proposal", windows_executable_bytes(), "invoice.pdf", "application/pdf"
        ),
        headers=headers,
    )
    assert response.status_code == 415
    assert response.json()["detected_type"] == "application/x-msdownload"
    assert document_count(db) == 0
    assert stored_keys(storage) == []


def test_zip_that_is_not_an_office_document_is_refused_with_415(
    client: TestClient, factory: Factory, storage: Storage
) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("budget_detail", plain_zip_bytes(), "budget.xlsx", XLSX),
        headers=headers,
    )
    assert response.status_code == 415
    assert response.json()["detected_type"] == "application/zip"
    assert stored_keys(storage) == []


def test_unknown_doc_type_is_422(client: TestClient, factory: Factory, storage: Storage) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("passport_scan", pdf_bytes()),
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_doc_type"
    assert stored_keys(storage) == []


def test_file_sent_before_its_doc_type_is_422(client: TestClient, factory: Factory) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files={"file": ("p.pdf", pdf_bytes(), "application/pdf"), "doc_type": (None, "proposal")},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "doc_type_missing"


def test_empty_file_is_422(client: TestClient, factory: Factory) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", b""),
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "empty_file"


def test_malformed_multipart_body_is_400(client: TestClient, factory: Factory) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        content=b'--xyz\r\nContent-Disposition: form-data; name="doc_type"\r\n\r\nproposal',
        headers={**headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_multipart"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ana\\propuesta.pdf", "propuesta.pdf"),
        ("inf\u202eorme.pdf", "informe.pdf"),
    ],
)
def test_uploaded_filename_is_only_a_display_name(
    client: TestClient, factory: Factory, storage: Storage, raw: str, shown: str
) -> None:
    app_id, headers = draft_application(client, factory)
    response = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes(), raw),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == shown
    keys = stored_keys(storage)
    assert len(keys) == 1
    assert KEY_PATTERN.match(keys[0])


def test_documents_of_a_submitted_application_are_immutable(
    client: TestClient, factory: Factory, storage: Storage
) -> None:
    app_id, headers = draft_application(client, factory)
    document = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=headers,
    ).json()
    complete = {
        "summary": "Casas de acogida en Loreto",
        "duration_months": 24,
        "objectives": ["protection"],
        "regions": [{"code": "loreto", "share_pct": 100}],
    }
    assert (
        client.patch(f"/api/v1/applications/{app_id}", json=complete, headers=headers).status_code
        == 200
    )
    assert client.post(f"/api/v1/applications/{app_id}/submit", headers=headers).status_code == 200

    deleted = client.delete(f"/api/v1/documents/{document['id']}", headers=headers)
    added = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=headers,
    )

    assert deleted.status_code == 409
    assert added.status_code == 409
    assert added.json()["code"] == "documents_immutable"
    assert len(stored_keys(storage)) == 1  # the refused upload's object was removed again
    assert (
        client.get(f"/api/v1/documents/{document['id']}/content", headers=headers).status_code
        == 200
    )


def test_deleting_a_draft_document_removes_its_row_and_its_bytes(
    client: TestClient, factory: Factory, storage: Storage, db: Database
) -> None:
    app_id, headers = draft_application(client, factory)
    document = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=headers,
    ).json()

    response = client.delete(f"/api/v1/documents/{document['id']}", headers=headers)

    assert response.status_code == 204
    assert document_count(db) == 0
    assert stored_keys(storage) == []
    assert (
        client.get(f"/api/v1/documents/{document['id']}/content", headers=headers).status_code
        == 404
    )


def test_another_organisation_cannot_reach_the_documents(
    client: TestClient, factory: Factory
) -> None:
    app_id, headers = draft_application(client, factory)
    document = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=headers,
    ).json()
    _, other = factory.login(Role.applicant)

    assert (
        client.get(f"/api/v1/documents/{document['id']}/content", headers=other).status_code == 404
    )
    assert client.delete(f"/api/v1/documents/{document['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/applications/{app_id}/documents", headers=other).status_code == 404
    refused = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=other,
    )
    assert refused.status_code == 404
    assert (
        client.get(f"/api/v1/documents/{document['id']}/content", headers=headers).status_code
        == 200
    )


# --- faults ----------------------------------------------------------------------------


def test_storage_down_answers_503_and_records_nothing(
    db: Database, settings, factory: Factory, tmp_path: Path
) -> None:
    with S3Server(tmp_path / "s3-down") as s3:
        s3.create_bucket("documents")
        storage = S3Storage("documents", client=s3.client())
        app = _app(db, settings, storage)
        with TestClient(app, raise_server_exceptions=False) as client:
            app_id, headers = draft_application(client, factory)
            s3.stop()
            started = time.monotonic()
            down = client.post(
                f"/api/v1/applications/{app_id}/documents",
                files=upload_files("proposal", pdf_bytes()),
                headers=headers,
            )
            elapsed = time.monotonic() - started
            s3.start()
            again = client.post(
                f"/api/v1/applications/{app_id}/documents",
                files=upload_files("proposal", pdf_bytes()),
                headers=headers,
            )

    assert down.status_code == 503
    assert down.json()["code"] == "storage_unavailable"
    assert elapsed < 30
    assert again.status_code == 201  # back without restarting the service
    assert document_count(db) == 1


def _app(db: Database, settings, storage: Storage) -> FastAPI:

    return create_app(settings, database=db, storage=storage)


@pytest.mark.slow
@pytest.mark.postgres  # the failing trigger needs PostgreSQL; the cleanup logic is shared
def test_database_failure_after_the_object_is_stored_leaves_no_orphan(
    committed_db: Database,
    committed_app_factory: Callable[..., FastAPI],
    committed_factory: Factory,
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "docs")
    with committed_db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_documents() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_documents BEFORE INSERT ON documents "
                "FOR EACH ROW EXECUTE FUNCTION refuse_documents()"
            )
        )
    try:
        with TestClient(committed_app_factory(storage), raise_server_exceptions=False) as client:
            app_id, headers = draft_application(client, committed_factory)
            response = client.post(
                f"/api/v1/applications/{app_id}/documents",
                files=upload_files("proposal", pdf_bytes()),
                headers=headers,
            )
    finally:
        with committed_db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_documents ON documents"))
            conn.execute(text("DROP FUNCTION refuse_documents()"))

    assert response.status_code == 503
    assert document_count(committed_db) == 0
    assert stored_keys(storage) == []


def test_sweep_removes_only_old_objects_without_a_record(
    client: TestClient,
    factory: Factory,
    storage: Storage,
    db: Database,
    request: pytest.FixtureRequest,
) -> None:
    app_id, headers = draft_application(client, factory)
    kept = client.post(
        f"/api/v1/applications/{app_id}/documents",
        files=upload_files("proposal", pdf_bytes()),
        headers=headers,
    ).json()
    storage.put("documents/" + "a" * 32, [b"left behind by a crash"])
    storage.put("documents/" + "b" * 32, [b"an upload being recorded right now"])
    _age(storage, "documents/" + "a" * 32, request)
    with db.transaction(read_only=True) as session:
        kept_key = session.get(Document, uuid.UUID(kept["id"])).storage_key
    _age(storage, kept_key, request)

    removed = sweep_orphans(db, storage, min_age_minutes=60)

    assert removed == 1
    assert sorted(stored_keys(storage)) == sorted([kept_key, "documents/" + "b" * 32])


def _age(storage: Storage, key: str, request: pytest.FixtureRequest) -> None:
    """Make an object two hours old, on disk where the backend keeps it."""
    two_hours_ago = (utcnow() - timedelta(hours=2)).timestamp()
    if isinstance(storage, LocalStorage):
        path = storage.root / key
    else:
        s3: S3Server = request.getfixturevalue("s3_server")
        path = s3.data_dir / storage.bucket / storage.object_key(key)
    os.utime(path, (two_hours_ago, two_hours_ago))
    if not isinstance(storage, LocalStorage):
        time.sleep(0.3)  # rclone caches directory listings for 100 ms


# --- the server stops reading --------------------------------------------------------


def _raw_post(base_url: str, path: str, headers: dict[str, str], body_chunks) -> tuple[int, int]:
    """POST with chunked encoding over a raw socket, stopping when the server answers.

    Returns (status, bytes of body sent). The send buffer is kept small so the count says
    how much the server actually took, not how much the kernel buffered.
    """
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    sent = 0
    try:
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection on us: that is the point
    response = b""
    sock.settimeout(10)
    try:
        while b"\r\n" not in response:
            data = sock.recv(4096)
            if not data:
                break
            response += data
    except OSError:
        pass
    sock.close()
    status = int(response.split(b" ", 2)[1]) if response else 0
    return status, sent


def test_server_stops_reading_an_oversized_file_early(
    app: FastAPI, client: TestClient, factory: Factory
) -> None:
    app_id, headers = draft_application(client, factory)  # limit: 1 MiB
    boundary = "grantsboundary"
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="doc_type"\r\n\r\nproposal\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()
    offered = 200 * MIB

    def body():
        yield preamble
        block = b"x" * (64 * 1024)
        for _ in range(offered // len(block)):
            yield block

    with serve(app) as base_url:
        status, sent = _raw_post(
            base_url,
            f"/api/v1/applications/{app_id}/documents",
            {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            body(),
        )

    assert status == 413
    # The server read past the 1 MiB limit by at most what sockets buffer, not 200 MiB.
    assert sent < 16 * MIB


def test_declared_length_above_every_limit_is_refused_before_reading(
    app: FastAPI, client: TestClient, factory: Factory
) -> None:
    app_id, headers = draft_application(client, factory)
    head = (
        f"POST /api/v1/applications/{app_id}/documents HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {2 * 1024 * MIB}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    with serve(app) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head.encode() + b"--x\r\n")  # then nothing of the promised 2 GiB
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert time.monotonic() - started < 5
