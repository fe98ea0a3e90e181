"""Filesystem backend: one file per object under a root directory.

Writes go to a temporary file in ``<root>/.incoming`` (same filesystem, so the
final ``os.replace`` is an atomic rename) and become visible only on commit;
a reader therefore sees either the previous object or the complete new one.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from app.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectNotFound,
    StorageFull,
    StorageUnavailable,
    StoredObject,
    is_valid_key,
    validate_chunk_size,
    validate_key,
    validate_prefix,
    write_all,
)

log = logging.getLogger(__name__)

# Documents are not for other local users; the umask can only restrict further.
_FILE_MODE = 0o640
_DIR_MODE = 0o750
# Keys cannot start with ".", so this folder can never collide with an object.
_INCOMING = ".incoming"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
# The errors the OS gives for a path that does not lead to a regular file.
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
# A full filesystem, or the user's quota on it, used up.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class _LocalWriter:
    """Streams into a private temporary file and renames it into place on commit."""

    def __init__(self, storage: LocalStorage, key: str) -> None:
        self._storage = storage
        self._key = key
        self._temp = storage.root / _INCOMING / f"{secrets.token_hex(16)}.part"
        self._size = 0
        self._finished = False
        try:
            self._fd: int | None = os.open(self._temp, _CREATE_FLAGS, _FILE_MODE)
        except OSError as exc:
            raise storage._unavailable(f"cannot create a temporary file for {key}", exc) from exc

    def write(self, chunk: bytes) -> None:
        fd = self._require_open()
        view = memoryview(chunk)
        try:
            # os.write may write less than asked (signals, pipes); loop until done.
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            self.abort()
            raise self._storage._unavailable(f"cannot write {self._key}", exc) from exc
        self._size += len(chunk)

    def commit(self) -> int:
        fd = self._require_open()
        try:
            os.fsync(fd)
            # Forget the descriptor before closing: a failed close must not lead
            # abort() to close a number the process may already have reused.
            self._fd = None
            os.close(fd)
            final = self._storage._make_parents(self._key) / self._key.rpartition("/")[2]
            self._temp.replace(final)
            # Persist the rename itself, not just the data, before reporting success.
            _fsync_directory(final.parent)
        except OSError as exc:
            self.abort()
            raise self._storage._unavailable(f"cannot commit {self._key}", exc) from exc
        self._finished = True
        return self._size

    def abort(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with suppress(OSError):
                os.close(fd)
        try:
            self._temp.unlink(missing_ok=True)
        except OSError as exc:
            # abort() runs while another error propagates; never mask that error.
            log.warning("could not remove temporary file %s: %s", self._temp, exc)

    def _require_open(self) -> int:
        if self._finished or self._fd is None:
            raise ValueError(f"writer for {self._key} is already committed or aborted")
        return self._fd


class LocalStorage:
    """Stores each object as the file ``<root>/<key>``."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        try:
            self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            (self.root / _INCOMING).mkdir(mode=_DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise self._unavailable("cannot create the storage root", exc) from exc

    def writer(self, key: str) -> _LocalWriter:
        return _LocalWriter(self, validate_key(key))

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        return write_all(self.writer(key), chunks)

    def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        validate_chunk_size(chunk_size)
        path = self._path(key)
        with self._errors(key):
            # Unbuffered: reads go straight into chunks of at most chunk_size bytes.
            file = path.open("rb", buffering=0)
        # Opened now, so a delete during the download cannot cut the stream short.
        return self._stream(key, file, chunk_size)

    def size(self, key: str) -> int:
        path = self._path(key)
        with self._errors(key):
            st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        return st.st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        with suppress(ObjectNotFound), self._errors(key):
            path.unlink()
        # Emptied parent folders stay: removing them would race with a writer
        # that has just created the same folder for its commit.

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        validate_prefix(prefix)
        if not self.root.is_dir():
            raise self._unavailable("the storage root is not a directory")
        # Start at the deepest folder that can hold matches instead of the root.
        start = self.root / prefix.rpartition("/")[0]
        for dirpath, dirnames, filenames in os.walk(start, onerror=self._walk_error):
            directory = Path(dirpath)
            if directory == self.root and _INCOMING in dirnames:
                dirnames.remove(_INCOMING)
            for name in filenames:
                path = directory / name
                key = path.relative_to(self.root).as_posix()
                # Files that are not valid keys were not written by this backend.
                if not key.startswith(prefix) or not is_valid_key(key):
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # deleted while we were listing
                except OSError as exc:
                    raise self._unavailable(f"cannot stat {key}", exc) from exc
                modified_at = datetime.fromtimestamp(st.st_mtime, tz=UTC)
                yield StoredObject(key=key, size=st.st_size, modified_at=modified_at)

    def check(self) -> None:
        # Exercise the same path a real upload takes: create, write, sync, remove.
        probe = self.root / _INCOMING / f"check-{secrets.token_hex(8)}.probe"
        try:
            fd = os.open(probe, _CREATE_FLAGS, _FILE_MODE)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            except OSError:
                # A full disk fails the write, not the create: remove the empty probe too,
                # or every readiness check would leave one behind.
                with suppress(OSError):
                    probe.unlink()
                raise
            finally:
                os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise self._unavailable("the storage root is not writable", exc) from exc

    def _make_parents(self, key: str) -> Path:
        """Create the folders leading to ``key`` and return the innermost one.

        Done segment by segment because ``mkdir(parents=True)`` would create the
        intermediate folders with the default mode instead of ``_DIR_MODE``.
        """
        directory = self.root
        for segment in key.split("/")[:-1]:
            directory /= segment
            directory.mkdir(mode=_DIR_MODE, exist_ok=True)
        return directory

    def _unavailable(self, what: str, exc: OSError | None = None) -> StorageUnavailable:
        """Build the error reported when the filesystem refuses an operation."""
        reason = f": {exc.strerror or exc}" if exc is not None else ""
        if exc is not None and exc.errno in _NO_SPACE:
            return StorageFull(f"local storage {self.root}: {what}{reason}")
        return StorageUnavailable(f"local storage {self.root}: {what}{reason}")

    def _path(self, key: str) -> Path:
        # Validated keys have no empty, "." or ".." segments: the path stays under root.
        return self.root / validate_key(key)

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Translate OSError: a missing path is ObjectNotFound unless the root itself is gone."""
        try:
            yield
        except _MISSING as exc:
            if not self.root.is_dir():
                raise self._unavailable("the storage root is missing", exc) from exc
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise self._unavailable(f"cannot access {key}", exc) from exc

    def _stream(self, key: str, file: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with file, self._errors(key):
            while chunk := file.read(chunk_size):
                yield chunk

    def _walk_error(self, exc: OSError) -> None:
        # A prefix folder that does not exist simply holds no objects.
        if not isinstance(exc, _MISSING):
            raise self._unavailable("cannot list objects", exc) from exc


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
