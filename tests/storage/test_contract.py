"""The storage contract: every test here runs against the local and the S3 backend.

The S3 side talks to a real ``rclone serve s3`` server (see tests/support/servers.py),
so multipart uploads, aborts and outages are exercised over HTTP, not mocked.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from app.storage import (
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    Storage,
    StorageUnavailable,
    storage_from_url,
)
from app.storage.s3 import PART_SIZE
from tests.storage.conftest import Outage

MiB = 1 << 20
KEY = "documents/2f1c0e6b9a7d4c3e8f5a1b2c3d4e5f60"

# Peak traced allocations while moving a 50 MiB object. The S3 writer holds the
# 8 MiB part being filled and the 8 MiB part in flight, plus the 1 MiB chunk being
# copied; the local one only the chunk. 24 MiB leaves room for HTTP and hashing
# overhead, while any implementation that buffers the object needs at least 50 MiB.
LARGE_OBJECT_CHUNKS = 50
MEMORY_BOUND = 24 * MiB


def pending_writes(storage: Storage) -> list[str]:
    """What unfinished writes left behind: temporary files or multipart uploads."""
    if isinstance(storage, LocalStorage):
        return [path.name for path in (storage.root / ".incoming").iterdir()]
    assert isinstance(storage, S3Storage)
    try:
        listing = storage.client.list_multipart_uploads(Bucket=storage.bucket)
    except ClientError as exc:
        # rclone serve s3 answers NoSuchUpload, not an empty list, for a bucket
        # that has never seen a multipart upload.
        if exc.response["Error"]["Code"] == "NoSuchUpload":
            return []
        raise
    return [upload["Key"] for upload in listing.get("Uploads", [])]


def read_all(storage: Storage, key: str) -> bytes:
    return b"".join(storage.open(key))


@pytest.mark.parametrize(
    "chunks",
    [[], [b""], [b"x"], [b"ab", b"", b"cd"], [random.Random(0).randbytes(300_000)]],
    ids=["no-chunks", "empty-chunk", "one-byte", "several-chunks", "300-kB"],
)
def test_put_then_open_returns_the_same_bytes(storage: Storage, chunks: list[bytes]) -> None:
    body = b"".join(chunks)

    assert storage.put(KEY, chunks) == len(body)

    assert storage.exists(KEY)
    assert storage.size(KEY) == len(body)
    assert read_all(storage, KEY) == body


def test_open_yields_chunks_no_larger_than_chunk_size(storage: Storage) -> None:
    body = bytes(range(256)) * 40
    storage.put(KEY, [body])

    chunks = list(storage.open(KEY, chunk_size=1000))

    assert b"".join(chunks) == body
    assert max(len(chunk) for chunk in chunks) <= 1000


def test_put_replaces_an_existing_object(storage: Storage) -> None:
    storage.put(KEY, [b"first version"])

    storage.put(KEY, [b"second"])

    assert read_all(storage, KEY) == b"second"
    assert storage.size(KEY) == 6


def test_objects_at_part_size_boundaries_round_trip(storage: Storage) -> None:
    # Around PART_SIZE the S3 writer switches from put_object to a multipart upload
    # that ends with no trailing part (exactly PART_SIZE) or a one-byte one.
    bodies = {
        f"documents/size-{size}": random.Random(size).randbytes(size)
        for size in (PART_SIZE - 1, PART_SIZE, PART_SIZE + 1)
    }
    for key, body in bodies.items():
        assert storage.put(key, [body[: 3 * MiB], body[3 * MiB :]]) == len(body)

    for key, body in bodies.items():  # digests keep a failure report readable
        assert hashlib.sha256(read_all(storage, key)).digest() == hashlib.sha256(body).digest()
    assert pending_writes(storage) == []


@pytest.mark.slow
def test_50_mib_object_streams_both_ways_with_bounded_memory(storage: Storage) -> None:
    sent = hashlib.sha256()

    def source() -> Iterator[bytes]:
        rng = random.Random(42)
        for _ in range(LARGE_OBJECT_CHUNKS):
            chunk = rng.randbytes(MiB)
            sent.update(chunk)
            yield chunk

    received = hashlib.sha256()
    tracemalloc.start()
    try:
        size = storage.put(KEY, source())
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        for chunk in storage.open(KEY):
            received.update(chunk)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert size == LARGE_OBJECT_CHUNKS * MiB
    assert storage.size(KEY) == size
    assert received.hexdigest() == sent.hexdigest()
    assert write_peak < MEMORY_BOUND, f"write peak {write_peak / MiB:.1f} MiB"
    assert read_peak < MEMORY_BOUND, f"read peak {read_peak / MiB:.1f} MiB"


@pytest.mark.parametrize("size", [5, PART_SIZE + 5], ids=["below-one-part", "multipart"])
def test_abort_leaves_no_object_and_no_pending_write(storage: Storage, size: int) -> None:
    writer = storage.writer(KEY)
    writer.write(b"x" * size)

    writer.abort()
    writer.abort()

    assert not storage.exists(KEY)
    assert list(storage.iter_objects()) == []
    assert pending_writes(storage) == []


def test_put_aborts_when_the_source_fails(storage: Storage) -> None:
    def failing_source() -> Iterator[bytes]:
        yield b"x" * (PART_SIZE + 5)  # far enough for S3 to have started a multipart upload
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        storage.put(KEY, failing_source())

    assert not storage.exists(KEY)
    assert pending_writes(storage) == []


def test_uncommitted_object_is_invisible_until_commit(storage: Storage) -> None:
    writer = storage.writer(KEY)
    writer.write(b"partial")

    assert not storage.exists(KEY)
    assert list(storage.iter_objects()) == []
    with pytest.raises(ObjectNotFound):
        storage.open(KEY)

    assert writer.commit() == 7
    assert read_all(storage, KEY) == b"partial"


def test_writer_cannot_be_used_after_commit(storage: Storage) -> None:
    writer = storage.writer(KEY)
    writer.write(b"done")
    writer.commit()

    with pytest.raises(ValueError, match="already committed or aborted"):
        writer.write(b"more")
    with pytest.raises(ValueError, match="already committed or aborted"):
        writer.commit()
    writer.abort()  # a no-op: the committed object stays

    assert read_all(storage, KEY) == b"done"


def test_delete_removes_the_object_and_is_idempotent(storage: Storage) -> None:
    storage.put(KEY, [b"bye"])

    storage.delete(KEY)
    storage.delete(KEY)

    assert not storage.exists(KEY)


def test_missing_object_raises_object_not_found_when_opened(storage: Storage) -> None:
    # open() itself raises, before any chunk is requested, so the API can answer 404.
    with pytest.raises(ObjectNotFound):
        storage.open(KEY)
    with pytest.raises(ObjectNotFound):
        storage.size(KEY)
    assert not storage.exists(KEY)


INVALID_KEYS = ["../x", "/abs", "a//b", "A", "", "a/../b", "a/./b", "a/", "a\n", "ü", "a" * 256]


def test_invalid_keys_are_rejected_by_every_operation(storage: Storage) -> None:
    accepted = []
    for key in INVALID_KEYS:
        operations = {
            "writer": lambda key=key: storage.writer(key),
            "put": lambda key=key: storage.put(key, [b"x"]),
            "open": lambda key=key: storage.open(key),
            "size": lambda key=key: storage.size(key),
            "delete": lambda key=key: storage.delete(key),
            "exists": lambda key=key: storage.exists(key),
        }
        for name, operation in operations.items():
            try:
                operation()
            except ValueError as exc:
                assert "invalid storage key" in str(exc)
            else:
                accepted.append(f"{name}({key!r})")

    assert accepted == []
    assert list(storage.iter_objects()) == []
    with pytest.raises(ValueError, match="invalid storage key"):
        list(storage.iter_objects("../"))


def test_iter_objects_lists_committed_objects_with_size_and_utc_time(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    storage.put("documents/a", [b"abc"])
    storage.put("documents/b", [])
    storage.put("other/c", [b"12345"])
    in_progress = storage.writer("documents/in-progress")
    in_progress.write(b"not yet")
    after = datetime.now(UTC) + timedelta(seconds=5)

    listed = {stored.key: stored for stored in storage.iter_objects()}
    documents = {stored.key for stored in storage.iter_objects("documents/")}
    in_progress.abort()

    assert {key: stored.size for key, stored in listed.items()} == {
        "documents/a": 3,
        "documents/b": 0,
        "other/c": 5,
    }
    assert documents == {"documents/a", "documents/b"}
    for stored in listed.values():
        assert stored.modified_at.utcoffset() == timedelta(0)
        assert before <= stored.modified_at <= after


def test_check_passes_on_a_healthy_backend(storage: Storage) -> None:
    storage.check()


@pytest.mark.slow
def test_outage_raises_storage_unavailable_and_recovers(outage: Outage) -> None:
    storage = outage.storage
    storage.put(KEY, [b"kept"])
    outage.begin()

    # Unavailable, never ObjectNotFound: a 404 would tell clients the document is gone.
    with pytest.raises(StorageUnavailable):
        storage.check()
    with pytest.raises(StorageUnavailable):
        storage.open(KEY)
    with pytest.raises(StorageUnavailable):
        list(storage.iter_objects())

    outage.end()
    storage.check()
    assert read_all(storage, KEY) == b"kept"


@pytest.mark.slow
def test_write_during_outage_fails_within_seconds_and_leaves_nothing(outage: Outage) -> None:
    storage = outage.storage
    interrupted = storage.writer("documents/interrupted")
    interrupted.write(b"x" * PART_SIZE)  # S3: the multipart upload is under way
    outage.begin()

    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        storage.put("documents/new", [b"x"])
    interrupted.write(b"tail")
    with pytest.raises(StorageUnavailable):
        interrupted.commit()
    elapsed = time.monotonic() - started
    interrupted.abort()  # safe after a failure
    outage.end()

    assert elapsed < 15, f"took {elapsed:.1f} s to report the outage"
    assert not storage.exists("documents/interrupted")
    assert not storage.exists("documents/new")
    assert list(storage.iter_objects()) == []
    assert storage.put("documents/after", [b"ok"]) == 2


def test_storage_from_url_resolves_relative_file_urls_against_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    storage = storage_from_url("file://./var/documents")

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "var" / "documents"
    assert storage.root.is_dir()


def test_storage_from_url_accepts_absolute_file_urls(tmp_path: Path) -> None:
    storage = storage_from_url(f"file://{tmp_path}/docs")

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "docs"


def test_storage_from_url_builds_an_env_configured_s3_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    storage = storage_from_url("s3://grant-docs/env/prod/")

    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("grant-docs", "env/prod")
    assert storage.object_key("documents/a") == "env/prod/documents/a"
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert storage.client.meta.config.s3 == {"addressing_style": "path"}


@pytest.mark.parametrize(
    "url",
    ["/var/documents", "file://", "http://example.com/x", "s3://", "s3://key:secret@bucket/x"],
)
def test_storage_from_url_rejects_unsupported_urls(url: str) -> None:
    with pytest.raises(ValueError, match="expected file://") as error:
        storage_from_url(url)
    assert "secret" not in str(error.value)


def test_local_backend_keeps_files_and_folders_private(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        storage = LocalStorage(tmp_path / "root")
        storage.put("documents/ab/cd", [b"x"])
    finally:
        os.umask(umask)

    def mode(relative: str) -> int:
        return stat.S_IMODE((storage.root / relative).stat().st_mode)

    assert [mode(folder) for folder in (".", "documents", "documents/ab")] == [0o750] * 3
    assert mode("documents/ab/cd") == 0o640
