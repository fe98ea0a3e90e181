"""`grants sweep-orphans`: remove stored objects that no document row points to.

Objects younger than the minimum age are left alone: they may belong to an upload whose
record is being written right now.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import islice

from sqlalchemy import select

from app.db import Database
from app.documents.service import KEY_PREFIX
from app.models import Document
from app.models.base import utcnow
from app.storage import Storage

logger = logging.getLogger(__name__)
BATCH = 500


def sweep_orphans(db: Database, storage: Storage, *, min_age_minutes: int = 60) -> int:
    cutoff = utcnow() - timedelta(minutes=min_age_minutes)
    candidates = (o.key for o in storage.iter_objects(KEY_PREFIX) if o.modified_at < cutoff)
    removed = 0
    while keys := list(islice(candidates, BATCH)):
        with db.transaction(read_only=True) as session:
            known = set(
                session.scalars(select(Document.storage_key).where(Document.storage_key.in_(keys)))
            )
        for key in keys:
            if key not in known:
                storage.delete(key)
                removed += 1
                logger.info("removed orphaned object %s", key)
    return removed
