"""Recording a payment once per idempotency key: the one path for the API and the web pages.

The key is claimed first in the transaction (see `idempotency.py`); a retry with the same key
and body gets the first response back instead of a second payment, whether it came from the
API (`Idempotency-Key` header) or from a resubmitted payment form (a hidden field).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.awards import idempotency, service
from app.awards.schemas import DisbursementIn, DisbursementOut
from app.models import Disbursement, User


def disbursement_out(
    d: Disbursement, currency: str, reversed_by: uuid.UUID | None = None
) -> DisbursementOut:
    return DisbursementOut(
        id=d.id,
        award_id=d.award_id,
        milestone_id=d.milestone_id,
        amount=d.amount,
        currency=currency,
        value_date=d.value_date,
        reference=d.reference,
        reverses_id=d.reverses_id,
        reversed_by_id=reversed_by,
        reason=d.reason,
        recorded_by_id=d.recorded_by_id,
        recorded_at=d.recorded_at,
    )


@dataclass(frozen=True)
class RecordedPayment:
    """A new payment (`created`), or the first response to this key replayed (`replayed`)."""

    status_code: int
    created: DisbursementOut | None = None
    replayed: dict[str, Any] | None = None

    @property
    def body(self) -> dict[str, Any]:
        if self.created is not None:
            return self.created.model_dump(mode="json")
        assert self.replayed is not None
        return self.replayed


def record_once(
    session: Session,
    *,
    user: User,
    award_id: uuid.UUID,
    route: str,
    key: str,
    request_body: Any,
    payload: DisbursementIn,
) -> RecordedPayment:
    """Pay against an approved milestone of the award, unless this key already did."""
    claim = idempotency.claim(
        session,
        user=user,
        route=route,
        key=key,
        request_hash=idempotency.body_hash(request_body),
    )
    if isinstance(claim, idempotency.StoredResponse):
        # PostgreSQL's JSONB reorders the stored keys; put them back in the response model's
        # order, so a replay is byte for byte the response the first request got.
        replay = {name: claim.body[name] for name in DisbursementOut.model_fields}
        return RecordedPayment(claim.status_code, replayed=replay)
    award = service.get_award_for(session, user, award_id, lock=True)
    disbursement = service.record_disbursement(session, actor=user, award=award, payload=payload)
    out = disbursement_out(disbursement, award.currency)
    idempotency.complete(session, claim, 201, out.model_dump(mode="json"))
    return RecordedPayment(201, created=out)
