"""The S3 server dies in the middle of a multipart upload, and is down when the next one starts.

The app runs on a real uvicorn server against a real `rclone serve s3` that the test stops
while a 40 MiB upload is streaming in, after the multipart upload has begun on the server.
The upload must answer 503 with the error body, record nothing and leave no object; uploads
must work again once the server is back, without restarting the service.

`tests/documents/test_upload_api.py` covers a server that is already down when a small upload
starts (`test_storage_down_answers_503_and_records_nothing`); this module adds the upload cut
off mid-multipart, the probes during the outage and what is left in the bucket afterwards.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Document
from app.storage import S3Storage
from app.storage.s3 import PART_SIZE
from tests.documents.test_upload_api import document_count, draft_application, stored_keys
from tests.faults.streaming import MIB, multipart_upload, post_streamed
from tests.support.factories import Factory, call_payload
from tests.support.live import serve
from tests.support.servers import S3Server
from tests.support.uploads import pdf_bytes, upload_files

pytestmark = pytest.mark.slow

BUCKET = "fault-documents"
FILE_SIZE = 40 * MIB
# Two parts handed over: the multipart upload has been created and its first part sent.
STOP_AFTER = 2 * PART_SIZE + 4 * MIB
# How long any answer may take while S3 is down (connect timeout 3 s, two attempts).
BOUND_SECONDS = 20.0
STORAGE_DOWN = {
    "detail": "Document storage is unavailable; try again shortly.",
    "code": "storage_unavailable",
}


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """An S3 server of this test's own (stopping it leaves the shared one alone), and the
    AWS_* variables that point the app's production S3 client at it."""
    with S3Server(tmp_path / "s3") as server:
        server.create_bucket(BUCKET)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def documents_call() -> dict[str, object]:
    """Call settings whose proposal may be large enough for a multipart upload."""
    documents = call_payload()["required_documents"]
    documents[0]["max_size_mb"] = 64
    return {"required_documents": documents}


def in_progress_uploads(s3: S3Server) -> list[dict[str, object]]:
    try:
        uploads = s3.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    except ClientError as exc:
        # rclone answers NoSuchUpload, not an empty list, when there is none.
        if exc.response["Error"]["Code"] == "NoSuchUpload":
            return []
        raise
    return list(uploads)


def wait_for_a_stored_part(s3: S3Server, timeout: float = 30) -> None:
    """Block until the server holds a multipart upload with at least one part."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for upload in in_progress_uploads(s3):
            parts = s3.client().list_parts(
                Bucket=BUCKET, Key=str(upload["Key"]), UploadId=str(upload["UploadId"])
            )
            if parts.get("Parts"):
                return
        time.sleep(0.05)
    raise AssertionError("the multipart upload never started on the server")


def files_in_bucket(s3: S3Server) -> list[str]:
    root = s3.data_dir / BUCKET
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_s3_dying_mid_multipart_upload_answers_503_leaves_nothing_and_recovers(
    committed_app_factory: Callable[..., FastAPI],
    committed_factory: Factory,
    committed_db: Database,
    s3: S3Server,
    record_property: Callable[[str, object], None],
) -> None:
    storage = S3Storage(BUCKET, prefix="docs")  # the production client, from AWS_* variables
    app = committed_app_factory(storage)
    with TestClient(app, raise_server_exceptions=False) as client:
        app_id, headers = draft_application(client, committed_factory, **documents_call())
    path = f"/api/v1/applications/{app_id}/documents"
    content = pdf_bytes(padding=FILE_SIZE)
    stopped_at: list[float] = []

    def kill_s3() -> None:
        wait_for_a_stored_part(s3)
        s3.stop()
        stopped_at.append(time.monotonic())

    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as http:
        before = http.post(path, files=upload_files("proposal", pdf_bytes()), headers=headers)
        assert before.status_code == 201, before.text
        content_url = f"/api/v1/documents/{before.json()['id']}/content"
        cut_off = post_streamed(
            base_url,
            path,
            headers,
            multipart_upload("proposal", content, after=(STOP_AFTER, kill_s3)),
        )
        answered_at = time.monotonic()

        # Down before an upload starts: refused at once, the same way.
        started = time.monotonic()
        refused = http.post(path, files=upload_files("proposal", pdf_bytes()), headers=headers)
        refused_seconds = time.monotonic() - started
        alive, ready = http.get("/healthz"), http.get("/readyz")
        download_while_down = http.get(content_url, headers=headers)
        rows_while_down = document_count(committed_db)

        s3.start()
        # Back, and the same running service stores small and multipart uploads again.
        small = http.post(path, files=upload_files("proposal", pdf_bytes()), headers=headers)
        large_content = pdf_bytes(padding=3 * PART_SIZE)
        large = post_streamed(base_url, path, headers, multipart_upload("proposal", large_content))
        downloaded = http.get(f"/api/v1/documents/{large.json()['id']}/content", headers=headers)
        ready_again = http.get("/readyz")
        download_again = http.get(content_url, headers=headers)

    assert stopped_at, "the upload ended before the server was stopped"
    cut_off_seconds = answered_at - stopped_at[0]
    record_property("cut_off_answer_seconds", round(cut_off_seconds, 3))
    record_property("cut_off_body_bytes_sent", cut_off.sent)
    record_property("refused_answer_seconds", round(refused_seconds, 3))
    assert cut_off.status == 503, cut_off.body
    assert cut_off.json() == STORAGE_DOWN
    assert cut_off.headers.get("retry-after") == "5"
    # The server answered once its storage failed, not after reading the whole 40 MiB.
    assert cut_off.sent < FILE_SIZE
    assert cut_off_seconds < BOUND_SECONDS

    assert refused.status_code == 503
    assert refused.json() == STORAGE_DOWN
    assert refused_seconds < BOUND_SECONDS
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "ok", "storage": "unavailable"}
    assert download_while_down.status_code == 503
    assert download_while_down.json() == STORAGE_DOWN
    assert rows_while_down == 1  # the document stored before the outage, nothing since

    assert small.status_code == 201, small.text
    assert large.status == 201, large.body
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == large.json()["sha256"]
    assert hashlib.sha256(large_content).hexdigest() == large.json()["sha256"]
    assert ready_again.status_code == 200
    assert download_again.status_code == 200
    assert hashlib.sha256(download_again.content).hexdigest() == before.json()["sha256"]
    # Only the three documents that were recorded are in the bucket: the cut-off upload left
    # no object behind. (No multipart upload is listed as in progress either, though rclone
    # forgets them when it restarts, hence the look at its disk below.)
    recorded = [before.json()["id"], small.json()["id"], large.json()["id"]]
    assert document_count(committed_db) == 3
    assert sorted(stored_keys(storage)) == sorted(storage_keys_of(committed_db, recorded))
    assert in_progress_uploads(s3) == []
    # rclone keeps the parts it had received in a hidden temporary file, which it neither
    # lists as an object nor cleans up after a restart (AWS would keep them as an incomplete
    # multipart upload until a lifecycle rule reclaims them). Everything else is a document.
    leftovers = [f for f in files_in_bucket(s3) if not f.startswith("docs/documents/")]
    assert all(f.startswith("docs/.rclone_temp_multipart_") for f in leftovers), leftovers


def storage_keys_of(db: Database, document_ids: list[str]) -> list[str]:
    with db.transaction(read_only=True) as session:
        keys = session.scalars(
            select(Document.storage_key).where(Document.id.in_([UUID(i) for i in document_ids]))
        )
        return list(keys)
