"""Document storage: one streaming interface with a local and an S3 backend.

The backend is chosen by a URL (see ``storage_from_url``)::

    file://./var/documents      relative to the current working directory
    file:///srv/documents       absolute path
    s3://bucket/optional/prefix credentials, region and endpoint from AWS_* variables
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from app.storage.base import (
    ObjectNotFound,
    ObjectWriter,
    Storage,
    StorageError,
    StorageFull,
    StorageUnavailable,
    StoredObject,
    validate_key,
)
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage

__all__ = [
    "LocalStorage",
    "ObjectNotFound",
    "ObjectWriter",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
    "StoredObject",
    "storage_from_url",
    "validate_key",
]

# S3's bucket naming rules, checked early so a typo fails at startup, not on first upload.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_EXPECTED = "expected file://<path> or s3://<bucket>[/<prefix>]"


def storage_from_url(url: str) -> Storage:
    """Build the backend a storage URL describes; raise ValueError for anything else."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise ValueError(f"storage URL has no scheme: {_EXPECTED}")
    if scheme == "file":
        # Everything after "file://" is the path, so "file://./var/documents" can be
        # relative (RFC 8089 would read "." as a host name). An absolute path wins
        # over the working directory when joined.
        path = unquote(rest)
        if not path:
            raise ValueError(f"file:// storage URL needs a path: {_EXPECTED}")
        return LocalStorage(Path.cwd() / path)
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        # The bucket is not echoed: a mistyped URL may carry credentials ("key:secret@").
        if not _BUCKET_RE.fullmatch(bucket):
            raise ValueError(
                "s3:// storage URL needs a valid bucket name "
                f"(3-63 characters of a-z, 0-9, '.', '-'): {_EXPECTED}"
            )
        return S3Storage(bucket, prefix=unquote(prefix))
    raise ValueError(f"unsupported storage URL scheme {scheme!r}: {_EXPECTED}")
