"""Award, milestone, disbursement, allocation and co-funding payloads."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.calls.schemas import Currency
from app.models import MilestoneStatus
from app.money import MoneyIn, MoneyOut
from app.schemas import InputModel, OutputModel

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000)]
PaymentReference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class MilestoneIn(InputModel):
    title: Title
    due_date: date
    amount: MoneyIn


class AwardIn(InputModel):
    amount: MoneyIn
    start_date: date
    end_date: date
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _schedule(self) -> Self:
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        outside = [
            m.title for m in self.milestones if not self.start_date <= m.due_date <= self.end_date
        ]
        if outside:
            raise ValueError(f"milestone due dates must lie inside the award period: {outside}")
        if any(m.amount <= 0 for m in self.milestones):
            raise ValueError("every milestone amount must be positive")
        if sum(m.amount for m in self.milestones) != self.amount:
            raise ValueError("milestone amounts must add up to the award amount")
        return self


class DeclineIn(InputModel):
    reason: Reason


class AmendedMilestoneIn(InputModel):
    id: uuid.UUID | None = Field(
        default=None, description="An existing milestone; omit for a new one"
    )
    title: Title
    due_date: date
    amount: MoneyIn


class AmendmentIn(InputModel):
    amount: MoneyIn
    reason: Reason
    end_date: date | None = None
    milestones: list[AmendedMilestoneIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _schedule(self) -> Self:
        if sum(m.amount for m in self.milestones) != self.amount:
            raise ValueError("milestone amounts must add up to the amended award amount")
        ids = [m.id for m in self.milestones if m.id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("a milestone may appear once")
        return self


class MilestoneOut(OutputModel):
    id: uuid.UUID
    award_id: uuid.UUID
    position: int
    title: str
    due_date: date
    amount: MoneyOut
    disbursed: MoneyOut
    remaining: MoneyOut
    status: MilestoneStatus
    narrative: str | None
    reported_at: datetime | None
    approved_at: datetime | None
    approved_by_id: uuid.UUID | None
    rejection_reason: str | None
    cancelled: bool


class AwardOut(OutputModel):
    id: uuid.UUID
    reference: str
    call_id: uuid.UUID
    application_id: uuid.UUID
    application_reference: str
    organization_id: uuid.UUID
    organization_name: str
    currency: str
    amount: MoneyOut
    disbursed: MoneyOut
    remaining: MoneyOut
    start_date: date
    end_date: date
    milestones: list[MilestoneOut]
    created_at: datetime


class AmendmentOut(OutputModel):
    id: uuid.UUID
    award_id: uuid.UUID
    previous_amount: MoneyOut
    new_amount: MoneyOut
    reason: str
    created_at: datetime
    award: AwardOut


class RejectIn(InputModel):
    reason: Reason


class DisbursementIn(InputModel):
    milestone_id: uuid.UUID
    amount: MoneyIn
    value_date: date
    reference: PaymentReference


class ReverseIn(InputModel):
    reason: Reason


class DisbursementOut(OutputModel):
    id: uuid.UUID
    award_id: uuid.UUID
    milestone_id: uuid.UUID
    amount: MoneyOut
    currency: str
    value_date: date
    reference: str
    reverses_id: uuid.UUID | None
    reversed_by_id: uuid.UUID | None = None
    reason: str | None
    recorded_by_id: uuid.UUID
    recorded_at: datetime


class SplitOut(OutputModel):
    code: str
    awarded: MoneyOut
    disbursed: MoneyOut


class CoFundingOut(OutputModel):
    id: uuid.UUID
    funder: str
    currency: str
    pledged: MoneyOut
    contributed: MoneyOut
    outstanding: MoneyOut
    pledged_on: date


class AllocationOut(OutputModel):
    currency: str
    envelope: MoneyOut
    awarded: MoneyOut
    disbursed: MoneyOut
    uncommitted: MoneyOut
    undisbursed: MoneyOut
    by_region: list[SplitOut]
    by_objective: list[SplitOut]
    cofunding: list[CoFundingOut] = Field(
        description="Pledges from other funders, each in its own currency; never added to the sums"
    )


class ReconciliationCheck(OutputModel):
    name: str
    ok: bool
    detail: str


class ReconciliationOut(OutputModel):
    ok: bool
    currency: str
    envelope: MoneyOut
    awarded: MoneyOut
    disbursed: MoneyOut
    uncommitted: MoneyOut
    transfers: int
    checks: list[ReconciliationCheck]


class PledgeIn(InputModel):
    funder: Title
    currency: Currency
    amount: MoneyIn
    pledged_on: date
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class ContributionIn(InputModel):
    amount: MoneyIn
    contributed_on: date
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
