"""The storage contract shared by every document backend.

Documents are stored as opaque objects under keys the application generates
(for example ``documents/2f1c...``). Backends stream in both directions so that
memory use is bounded by a chunk or part size, never by the size of an object.

This module holds what all backends share: the protocols, the error hierarchy
the API layer maps to HTTP statuses, key validation and the ``put`` helper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

DEFAULT_CHUNK_SIZE = 1 << 16

# Lower case only: S3 is case-sensitive while some local filesystems are not,
# so mixed case could make two keys share one file on one backend only.
_KEY_RE = re.compile(r"[a-z0-9][a-z0-9/_.-]{0,254}")


class StorageError(Exception):
    """Base class for every storage failure."""


class StorageUnavailable(StorageError):
    """The backend is unreachable or failing; the request may succeed later (HTTP 503)."""


class StorageFull(StorageUnavailable):
    """The backend has no space left for the object (HTTP 507).

    A subclass of StorageUnavailable, so code that handles an outage handles this too; the
    API tells it apart because retrying will not help until space is freed.
    """


class ObjectNotFound(StorageError):
    """No object exists under the requested key."""


@dataclass(frozen=True)
class StoredObject:
    """One committed object, as listed by ``Storage.iter_objects``."""

    key: str
    size: int
    modified_at: datetime  # timezone-aware, UTC


class ObjectWriter(Protocol):
    """An in-progress upload that stays invisible to readers until ``commit``."""

    def write(self, chunk: bytes) -> None:
        """Append a chunk of any size; may be called any number of times."""
        ...

    def commit(self) -> int:
        """Make the object visible under its key and return its total size."""
        ...

    def abort(self) -> None:
        """Discard everything written; a no-op once committed, aborted or failed."""
        ...


class Storage(Protocol):
    """A flat key/value store for document bodies."""

    name: str

    def writer(self, key: str) -> ObjectWriter:
        """Start writing ``key``; the caller must ``commit`` or ``abort`` the writer."""
        ...

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write all ``chunks`` under ``key`` and return the size; aborts on any error."""
        ...

    def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream the object in chunks of at most ``chunk_size`` bytes.

        Raises ObjectNotFound from this call already, not from the first ``next()``,
        so that callers can answer 404 before they start a streaming response.
        """
        ...

    def size(self, key: str) -> int:
        """Return the object's size in bytes; raises ObjectNotFound when missing."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether a committed object exists under ``key``."""
        ...

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """List committed objects whose key starts with ``prefix``, in no particular order."""
        ...

    def check(self) -> None:
        """Probe the backend; raises StorageUnavailable when it cannot serve requests."""
        ...


def is_valid_key(key: str) -> bool:
    """Tell whether ``key`` is acceptable as an object key (see ``validate_key``)."""
    if not _KEY_RE.fullmatch(key):
        return False
    # Empty, "." and ".." segments would make distinct keys name the same file (or
    # a file outside the root) on the local backend while S3 keeps them apart.
    return all(segment not in {"", ".", ".."} for segment in key.split("/"))


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid object key, else raise ValueError.

    Every backend calls this on every key it receives: it is the one place that
    guarantees a key cannot escape the storage root or alias another key.
    """
    if not is_valid_key(key):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def validate_prefix(prefix: str) -> None:
    """Validate a listing prefix: empty, or a key optionally followed by one slash."""
    if prefix:
        validate_key(prefix.removesuffix("/"))


def validate_chunk_size(chunk_size: int) -> None:
    """Reject chunk sizes that would make a reader yield nothing or loop forever."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")


def write_all(writer: ObjectWriter, chunks: Iterable[bytes]) -> int:
    """Feed ``chunks`` into ``writer`` and commit it, aborting on any failure.

    BaseException on purpose: a cancelled request must not leave a half-written
    temporary file or multipart upload behind either.
    """
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
