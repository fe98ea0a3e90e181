"""The local storage backend's filesystem fills up.

Which full disk the test uses: a real 2 MiB tmpfs mounted for the test when the machine lets
it mount one (root, or CAP_SYS_ADMIN); where mounting is refused it falls back to a simulated
disk of the same size (see `SimulatedDisk`). A loop device is not tried in between: it needs
the same privilege as the tmpfs mount. Each test records which disk it used as the property
`disk` (e.g. in the JUnit XML report).

Expected: an upload that does not fit answers 507 `storage_full`, records nothing and leaves no
partial file; reads keep working and `/readyz` keeps the instance in rotation; once space is
freed the same service stores uploads again.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

import app.storage.local
from app.db import Database
from app.storage import LocalStorage, Storage
from tests.documents.test_upload_api import document_count, draft_application, stored_keys
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

pytestmark = pytest.mark.slow

DISK_BYTES = 2 * 1024 * 1024
STORAGE_FULL = {
    "detail": "Document storage is full; the file was not stored.",
    "code": "storage_full",
}


class Disk(Protocol):
    root: Path
    kind: str

    def fill(self, leave: int = 0) -> None:
        """Take up all the free space but `leave` bytes, with a file outside the storage root."""

    def free_up(self) -> None:
        """Delete what `fill` wrote."""

    def free_bytes(self) -> int: ...


class TmpfsDisk:
    """A real size-limited tmpfs: the kernel itself answers ENOSPC."""

    kind = "tmpfs"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / "filler"

    def fill(self, leave: int = 0) -> None:
        block = b"\0" * 65536
        with self._filler.open("ab", buffering=0) as filler:
            try:
                while True:
                    filler.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave:
            os.truncate(self._filler, self._filler.stat().st_size - leave)

    def free_up(self) -> None:
        self._filler.unlink()

    def free_bytes(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize


class SimulatedDisk:
    """A disk of DISK_BYTES simulated inside `app.storage.local` only, for machines that
    refuse the tmpfs mount: a mock, because a full filesystem cannot be caused otherwise there.

    The storage module's `os` is replaced by a stand-in whose `write` behaves like a write to
    a filesystem of that size holding the files under `root`: a short write when the data does
    not fit, then ENOSPC. Everything else is the real `os`, so the rest of the backend (its
    cleanup of partial files included) runs unchanged.
    """

    kind = "simulated"

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._filler = root / "filler"
        monkeypatch.setattr(app.storage.local, "os", _FilesystemOfSize(self))

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def free_bytes(self) -> int:
        return max(0, DISK_BYTES - self.used())

    def fill(self, leave: int = 0) -> None:
        self._filler.write_bytes(b"\0" * (self.free_bytes() - leave))

    def free_up(self) -> None:
        self._filler.unlink()


class _FilesystemOfSize(ModuleType):
    def __init__(self, disk: SimulatedDisk) -> None:
        super().__init__("os")
        self._disk = disk

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        room = self._disk.free_bytes()
        if room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data[:room])


def _mount_tmpfs(mount_point: Path) -> bool:
    if shutil.which("mount") is None:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


def _unmount(mount_point: Path) -> None:
    for command in (["umount", str(mount_point)], ["umount", "--lazy", str(mount_point)]):
        if subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0:
            return


@pytest.fixture
def disk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> Iterator[Disk]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if _mount_tmpfs(mount_point):
        record_property("disk", "tmpfs")
        try:
            yield TmpfsDisk(mount_point)
        finally:
            _unmount(mount_point)
    else:
        record_property("disk", "simulated (mounting a tmpfs was refused)")
        yield SimulatedDisk(mount_point, monkeypatch)


@pytest.fixture
def storage(disk: Disk) -> Storage:
    """The app's storage (see tests/conftest.py `app`), on the small disk."""
    return LocalStorage(disk.root / "documents")


def leftovers(storage: LocalStorage) -> list[str]:
    """Files under the storage root that are not committed objects (partial uploads, probes)."""
    return sorted(
        p.relative_to(storage.root).as_posix()
        for p in storage.root.rglob("*")
        if p.is_file() and not p.relative_to(storage.root).as_posix().startswith("documents/")
    )


def test_an_upload_that_does_not_fit_is_507_leaves_nothing_and_works_once_space_is_freed(
    client: TestClient, factory: Factory, db: Database, storage: LocalStorage, disk: Disk
) -> None:
    app_id, headers = draft_application(client, factory)  # proposal: PDF up to 1 MiB
    upload_url = f"/api/v1/applications/{app_id}/documents"
    first = client.post(upload_url, files=upload_files("proposal", pdf_bytes()), headers=headers)
    assert first.status_code == 201, first.text
    big = pdf_bytes(padding=900 * 1024)

    # Nearly full: the upload starts writing, runs out of space part-way and is rolled back.
    disk.fill(leave=256 * 1024)
    free_before = disk.free_bytes()
    part_way = client.post(upload_url, files=upload_files("proposal", big), headers=headers)
    free_after = disk.free_bytes()
    ready_nearly_full = client.get("/readyz")

    assert part_way.status_code == 507, part_way.text
    assert part_way.json() == STORAGE_FULL
    assert leftovers(storage) == []
    assert free_after == free_before  # the partial file's space was given back
    assert ready_nearly_full.status_code == 200

    # Completely full: not even the first block fits, nor the readiness probe's two bytes.
    disk.free_up()
    disk.fill()
    no_room = client.post(upload_url, files=upload_files("proposal", big), headers=headers)
    ready_full = client.get("/readyz")
    alive = client.get("/healthz")
    download = client.get(f"/api/v1/documents/{first.json()['id']}/content", headers=headers)

    assert no_room.status_code == 507, no_room.text
    assert no_room.json() == STORAGE_FULL
    assert leftovers(storage) == []  # neither a partial upload nor a readiness probe
    assert alive.status_code == 200
    # Full is not down: downloads work, so the instance stays in rotation and says why.
    assert download.status_code == 200
    assert ready_full.status_code == 200
    assert ready_full.json() == {"status": "ok", "database": "ok", "storage": "full"}
    assert document_count(db) == 1
    assert len(stored_keys(storage)) == 1

    # Space freed: the same running service stores the upload that failed.
    disk.free_up()
    again = client.post(upload_url, files=upload_files("proposal", big), headers=headers)
    ready_again = client.get("/readyz")

    assert again.status_code == 201, again.text
    assert again.json()["size"] == len(big)
    assert ready_again.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert document_count(db) == 2
    assert len(stored_keys(storage)) == 2
    assert leftovers(storage) == []
