"""The one audit writer, and the chain verifier.

Every mutating service calls `record()` inside the request's transaction, so an event exists
exactly when its change was committed. Each event carries the SHA-256 of its predecessor:
`hash = sha256(prev_hash || canonical(event))`. Appends lock the single `audit_head` row, so
concurrent writers queue instead of forking the chain; `seq` and `prev_hash` are unique as a
second line of defence.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuditHead, User
from app.models.base import utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def canonical(event: AuditEvent) -> bytes:
    """The bytes the hash covers: every field but the hash itself, in a fixed form."""
    body = {
        "seq": event.seq,
        "id": str(event.id),
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_email": event.actor_email,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        # Only a database built outside the migrations lacks the genesis row.
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str | None,
    data: Mapping[str, Any] | None = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    head = _lock_head(session)
    event = AuditEvent(
        id=uuid.uuid4(),
        seq=head.seq + 1,
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else actor_email,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        data=_jsonable(dict(data or {})),
        prev_hash=head.hash,
    )
    event.hash = chain_hash(head.hash, event)
    session.add(event)
    head.seq = event.seq
    head.hash = event.hash
    session.flush()
    return event


def _jsonable(value: Any) -> Any:
    """Make `data` survive a JSON round trip unchanged, so the hash stays verifiable."""
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    broken_at: uuid.UUID | None = None
    reason: str | None = None


def _events_in_order(session: Session, up_to: int | None) -> Iterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    if up_to is not None:
        stmt = stmt.where(AuditEvent.seq <= up_to)
    for event in session.scalars(stmt):
        yield event
        session.expunge(event)


def verify(session: Session) -> Verification:
    """Walk the chain from the start and report the first event that does not fit."""
    head = session.get(AuditHead, HEAD_ID)
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    last_id: uuid.UUID | None = None
    # Walk only up to the head just read: on PostgreSQL each statement sees new commits, and
    # an event appended meanwhile by another worker is not a break.
    for event in _events_in_order(session, head.seq if head is not None else None):
        if event.seq != expected_seq:
            return Verification(
                False, count, event.id, f"events {expected_seq} to {event.seq - 1} are missing"
            )
        if event.prev_hash != prev_hash:
            return Verification(False, count, event.id, "the link to the previous event is broken")
        if chain_hash(prev_hash, event) != event.hash:
            return Verification(
                False, count, event.id, "the event was altered after it was written"
            )
        prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
        last_id = event.id
    if head is not None and (head.seq != count or head.hash != prev_hash):
        # The tail was cut: name the last event still in place, after which the gap starts.
        return Verification(
            False,
            count,
            last_id,
            f"the chain should have {head.seq} events; the last ones are missing",
        )
    return Verification(True, count)
