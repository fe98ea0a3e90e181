"""S3 backend, for AWS S3 and S3-compatible servers (MinIO, Ceph, rclone, ...).

Uploads are buffered one part (8 MiB) at a time: objects smaller than a part go
up with a single ``put_object`` on commit, larger ones as a multipart upload
that only becomes visible when it is completed. Downloads stream the response
body. Memory per transfer is therefore bounded by one part, whatever the size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.response import StreamingBody

from app.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    StoredObject,
    is_valid_key,
    validate_chunk_size,
    validate_key,
    validate_prefix,
    write_all,
)

log = logging.getLogger(__name__)

# Above S3's 5 MiB minimum for every part but the last; also the memory bound per upload.
PART_SIZE = 8 * 1024 * 1024

# The server could not be reached or dropped the connection: EndpointConnectionError
# and ConnectTimeoutError are ConnectionErrors; ReadTimeoutError, ConnectionClosedError
# and ResponseStreamingError (a body cut off mid-download) are HTTPClientErrors.
_UNREACHABLE = (BotoConnectionError, HTTPClientError, IncompleteReadError, NoCredentialsError)
# get_object answers NoSuchKey; head_object has no body, so only the status is left.
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


def default_client() -> BaseClient:
    """Build an S3 client configured by boto3's standard AWS_* environment variables."""
    options: dict[str, Any] = {
        # Fail fast so that /readyz and uploads report an outage within seconds.
        "connect_timeout": 3,
        "read_timeout": 30,
        "retries": {"mode": "standard", "total_max_attempts": 2},
    }
    if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        # S3-compatible servers are addressed by host or IP, where virtual-hosted
        # bucket names do not resolve, and many reject the CRC checksums that
        # botocore adds by default since 1.36; send checksums only when required.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return boto3.session.Session().client("s3", config=Config(**options))


class _S3Writer:
    """Buffers one part at a time; turns into a multipart upload past the first part.

    A full part is sent by a background thread while the next one fills, so receiving and
    sending overlap; at most one part is in flight, so memory stays at two parts.
    """

    def __init__(self, storage: S3Storage, key: str) -> None:
        self._object_key = storage.object_key(key)  # validates the key first
        self._storage = storage
        self._key = key
        # Grows up to PART_SIZE only as data arrives, so small uploads stay small.
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0
        self._finished = False
        self._sender: ThreadPoolExecutor | None = None
        self._in_flight: Future[dict[str, Any]] | None = None

    def write(self, chunk: bytes) -> None:
        self._require_open()
        view = memoryview(chunk)
        try:
            while view:
                room = PART_SIZE - len(self._buffer)
                self._buffer += view[:room]
                view = view[room:]
                if len(self._buffer) == PART_SIZE:
                    self._upload_part()
        except BaseException:
            self.abort()
            raise
        self._size += len(chunk)

    def commit(self) -> int:
        self._require_open()
        client, bucket = self._storage.client, self._storage.bucket
        try:
            if self._upload_id is None:
                with self._storage._errors("upload", self._key):
                    client.put_object(Bucket=bucket, Key=self._object_key, Body=self._buffer)
            else:
                if self._buffer:
                    self._upload_part()
                self._collect_in_flight()
                with self._storage._errors("complete the upload", self._key):
                    client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=self._object_key,
                        UploadId=self._upload_id,
                        MultipartUpload={"Parts": self._parts},
                    )
        except BaseException:
            self.abort()
            raise
        self._finished = True
        self._buffer = bytearray()
        self._stop_sender()
        return self._size

    def abort(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._buffer = bytearray()
        if self._in_flight is not None:
            # Let the part in flight finish (or fail) before the upload is aborted.
            self._in_flight.exception()
            self._in_flight = None
        self._stop_sender()
        if self._upload_id is None:
            return  # nothing reached the server yet
        try:
            with self._storage._errors("abort the upload", self._key):
                self._storage.client.abort_multipart_upload(
                    Bucket=self._storage.bucket, Key=self._object_key, UploadId=self._upload_id
                )
        except Exception as exc:
            # abort() runs while another error propagates; never mask that error. The
            # parts stay invisible; a bucket lifecycle rule (AbortIncompleteMultipartUpload)
            # reclaims them.
            log.warning("could not abort multipart upload of %s: %s", self._object_key, exc)

    def _upload_part(self) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        if self._upload_id is None:
            with self._storage._errors("upload", self._key):
                created = client.create_multipart_upload(Bucket=bucket, Key=self._object_key)
            self._upload_id = created["UploadId"]
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part")
        self._collect_in_flight()
        number = len(self._parts) + 1
        body, self._buffer = self._buffer, bytearray()
        assert self._sender is not None
        self._in_flight = self._sender.submit(self._send_part, number, body)

    def _send_part(self, number: int, body: bytearray) -> dict[str, Any]:
        with self._storage._errors("upload", self._key):
            uploaded = self._storage.client.upload_part(
                Bucket=self._storage.bucket,
                Key=self._object_key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
            )
        return {"PartNumber": number, "ETag": uploaded["ETag"]}

    def _collect_in_flight(self) -> None:
        """Wait for the part in flight; its failure surfaces here, in the caller's thread."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            self._parts.append(in_flight.result())

    def _stop_sender(self) -> None:
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None

    def _require_open(self) -> None:
        if self._finished:
            raise ValueError(f"writer for {self._key} is already committed or aborted")


class S3Storage:
    """Stores each object as ``<prefix>/<key>`` in one bucket."""

    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", client: BaseClient | None = None) -> None:
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        self.client = client if client is not None else default_client()
        self._base = f"{self.prefix}/" if self.prefix else ""

    def object_key(self, key: str) -> str:
        """Return the S3 object key that holds ``key``."""
        return self._base + validate_key(key)

    def writer(self, key: str) -> _S3Writer:
        return _S3Writer(self, key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        return write_all(self.writer(key), chunks)

    def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        validate_chunk_size(chunk_size)
        object_key = self.object_key(key)
        with self._errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"]
        return self._stream(key, body, chunk_size)

    def size(self, key: str) -> int:
        object_key = self.object_key(key)
        with self._errors("stat", key):
            head = self.client.head_object(Bucket=self.bucket, Key=object_key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        object_key = self.object_key(key)
        # S3 itself answers 204 for a missing key, but not every compatible server does.
        with suppress(ObjectNotFound), self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=object_key)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list objects"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._base + prefix):
                for item in page.get("Contents", []):
                    key = item["Key"].removeprefix(self._base)
                    # Skip what this backend cannot have written (folder markers, foreign keys).
                    if not is_valid_key(key):
                        continue
                    yield StoredObject(
                        key=key,
                        size=int(item["Size"]),
                        modified_at=item["LastModified"].astimezone(UTC),
                    )

    def check(self) -> None:
        with self._errors("reach the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Translate botocore errors; ``key`` is given for operations on one object."""
        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, action, key) from exc
        except _UNREACHABLE as exc:
            raise StorageUnavailable(f"{self._where(key)}: cannot {action}: {exc}") from exc

    def _client_error(self, exc: ClientError, action: str, key: str | None) -> StorageError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if key is not None and code in _NOT_FOUND_CODES:
            return ObjectNotFound(key)
        message = f"{self._where(key)}: cannot {action}: {code} {error.get('Message', '')}"
        # 5xx is the server failing. 403, a missing bucket and any refusal of a
        # bucket-level request (wrong region, redirect) mean the configured
        # credentials or bucket cannot be used: unavailable, not a bug in the request.
        if key is None or status >= 500 or status in {403, 404}:
            return StorageUnavailable(message.rstrip())
        return StorageError(message.rstrip())

    def _where(self, key: str | None) -> str:
        return f"s3://{self.bucket}/{self._base}{key}" if key else f"s3://{self.bucket}"

    def _stream(self, key: str, body: StreamingBody, chunk_size: int) -> Iterator[bytes]:
        # The finally also runs when the consumer closes the generator early,
        # returning the connection instead of leaving it half-read.
        try:
            with self._errors("read", key):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()
