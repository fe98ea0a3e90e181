"""Fixtures that run every storage contract test once per backend.

``storage`` gives a fresh, healthy backend: a temporary folder for "local" and a
fresh bucket on a real ``rclone serve s3`` server for "s3". ``outage`` gives a
backend of its own that a test may take down and bring back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.storage import LocalStorage, S3Storage, Storage
from tests.support.servers import S3Server

BACKENDS = ["local", "s3"]


@dataclass(frozen=True)
class Outage:
    """A backend plus the means to make it unusable (``begin``) and usable again (``end``)."""

    storage: Storage
    begin: Callable[[], None]
    end: Callable[[], None]


def _fresh_bucket(server: S3Server) -> str:
    # A bucket per test keeps tests independent without restarting the server.
    bucket = f"test-{uuid.uuid4().hex}"
    server.create_bucket(bucket)
    return bucket


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "documents")
    # Requested lazily so that a run of the local tests alone never starts rclone.
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Storage(_fresh_bucket(server), prefix="t", client=server.client())


@pytest.fixture(params=BACKENDS)
def outage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Outage]:
    if request.param == "local":
        root = tmp_path / "documents"
        moved = tmp_path / "documents.moved"

        # What an unmounted or replaced volume looks like: the root is no longer a folder.
        def begin() -> None:
            root.rename(moved)
            root.write_bytes(b"")

        def end() -> None:
            root.unlink()
            moved.rename(root)

        yield Outage(LocalStorage(root), begin, end)
        return
    # A server of its own: stopping the shared one would break the other tests.
    with S3Server(tmp_path / "s3") as server:
        bucket = _fresh_bucket(server)
        # Configured from AWS_* variables as in production, which covers default_client().
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield Outage(S3Storage(bucket, prefix="t"), server.stop, server.start)
