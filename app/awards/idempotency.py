"""Idempotency keys: a retried request gets the first response, never a second payment.

The key is claimed by inserting its row first thing in the request's transaction. A
concurrent retry's insert waits on the unique index until the first transaction ends, then
finds the row and replays its stored response; if the first request failed, its claim was
rolled back with everything else and the retry runs afresh. Keys are scoped to the user and
the request path; the same key with a different body is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from app.models import IdempotencyKey, User


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def body_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(
    session: Session, *, user: User, route: str, key: str, request_hash: str
) -> uuid.UUID | StoredResponse:
    """Claim the key (returns the claim's id) or return the response it already produced."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(
            id=uuid.uuid4(),
            user_id=user.id,
            route=route,
            key=key,
            request_hash=request_hash,
            status_code=0,
            response={},
        )
        .on_conflict_do_nothing(index_elements=["user_id", "route", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if claimed is not None:
        return claimed
    existing = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user.id,
            IdempotencyKey.route == route,
            IdempotencyKey.key == key,
        )
    )
    assert existing is not None
    if existing.request_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request body.",
            "idempotency_key_reused",
        )
    return StoredResponse(existing.status_code, existing.response)


def complete(session: Session, claim_id: uuid.UUID, status_code: int, body: dict[str, Any]) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim_id)
        .values(status_code=status_code, response=body)
    )
