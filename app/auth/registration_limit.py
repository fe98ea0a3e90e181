"""The self-registration limit: `REGISTRATION_MAX_PER_HOUR` attempts per client address.

Every registration that passes validation counts, whether it creates an account or finds the
e-mail address taken (so the limit also slows down probing for registered addresses); a
refused attempt does not count, so hammering does not extend the block. Past the limit the
answer is 429 with `Retry-After`, the seconds until the oldest counted attempt leaves the hour.

Attempts are rows in the database, so the limit holds across worker processes and hosts. One
address's attempts take turns: on PostgreSQL under a transaction-level advisory lock keyed by
the address, on SQLite under the write lock every writing transaction takes first.
"""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import TooManyRequests
from app.models import RegistrationAttempt
from app.models.base import utcnow

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
# The width of the column; anything longer is not an address (a server's placeholder name).
MAX_ADDRESS_LENGTH = 45


def admit(session: Session, settings: Settings, client_ip: str) -> None:
    """Count this attempt, or raise 429 when the address has used up its hour."""
    client_ip = client_ip[:MAX_ADDRESS_LENGTH]
    now = utcnow()
    _lock(session, client_ip)
    session.execute(
        delete(RegistrationAttempt).where(
            RegistrationAttempt.client_ip == client_ip,
            RegistrationAttempt.attempted_at <= now - WINDOW,
        )
    )
    recent = list(
        session.scalars(
            select(RegistrationAttempt.attempted_at)
            .where(RegistrationAttempt.client_ip == client_ip)
            .order_by(RegistrationAttempt.attempted_at)
        )
    )
    limit = settings.registration_max_per_hour
    if len(recent) >= limit:
        frees_at = recent[-limit] + WINDOW
        retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
        logger.warning(
            "registration refused: %d attempts from %s within the hour", len(recent), client_ip
        )
        raise TooManyRequests(
            "Too many registrations from this address; try again later.",
            "registration_throttled",
            headers={"Retry-After": str(retry_after)},
        )
    session.add(RegistrationAttempt(client_ip=client_ip, attempted_at=now))
    session.flush()


def _lock(session: Session, client_ip: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the database's write lock.
    digest = hashlib.blake2b(f"registration:{client_ip}".encode(), digest_size=8).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))
