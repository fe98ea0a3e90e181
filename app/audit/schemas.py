"""Audit payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.schemas import OutputModel


class AuditEventOut(OutputModel):
    id: uuid.UUID
    seq: int
    at: datetime
    actor: str | None = Field(description="Email of the acting user, or the attempted email")
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    data: dict[str, Any]
    hash: str
    prev_hash: str


class VerificationOut(BaseModel):
    ok: bool
    events: int
    broken_at: uuid.UUID | None = None
    reason: str | None = None
