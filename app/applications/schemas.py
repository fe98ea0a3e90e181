"""Application payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.calls.schemas import Code, Currency
from app.models import ApplicationStatus
from app.money import MoneyIn, MoneyOut
from app.schemas import InputModel, OutputModel

SharePct = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]
AppTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Summary = Annotated[str, StringConstraints(max_length=20_000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LineDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class RegionShare(InputModel):
    code: Code
    share_pct: SharePct


class BudgetLineIn(InputModel):
    category: Category
    description: LineDescription = ""
    amount: MoneyIn


class CostShare(InputModel):
    amount: MoneyIn
    currency: Currency


class _ApplicationFields(InputModel):
    """Every field may be missing in a draft; submission checks completeness."""

    title: AppTitle | None = None
    summary: Summary | None = None
    requested_amount: MoneyIn | None = None
    duration_months: int | None = Field(default=None, ge=1, le=120)
    objectives: list[Code] | None = Field(default=None, max_length=50)
    regions: list[RegionShare] | None = Field(default=None, max_length=100)
    budget: list[BudgetLineIn] | None = Field(default=None, max_length=500)
    cost_share: CostShare | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.objectives is not None and len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives must not repeat")
        if self.regions:
            codes = [r.code for r in self.regions]
            if len(set(codes)) != len(codes):
                raise ValueError("regions must not repeat")
            total = sum((r.share_pct for r in self.regions), Decimal(0))
            if total != 100:
                raise ValueError(f"region shares must sum to 100 (they sum to {total})")
        return self


class ApplicationIn(_ApplicationFields):
    pass


class ApplicationUpdate(_ApplicationFields):
    pass


class RegionShareOut(OutputModel):
    code: str
    share_pct: int | float


class BudgetLineOut(OutputModel):
    category: str
    description: str
    amount: MoneyOut


class CostShareOut(OutputModel):
    amount: MoneyOut
    currency: str


class ApplicationOut(OutputModel):
    id: uuid.UUID
    reference: str
    call_id: uuid.UUID
    organization_id: uuid.UUID
    status: ApplicationStatus
    submitted_at: datetime | None
    title: str | None
    summary: str | None
    currency: str
    requested_amount: MoneyOut | None
    duration_months: int | None
    objectives: list[str]
    regions: list[RegionShareOut]
    budget: list[BudgetLineOut]
    cost_share: CostShareOut | None
    withdrawn_at: datetime | None
    decline_reason: str | None = Field(default=None, description="Why it was declined")
    created_at: datetime
    updated_at: datetime
    screening: ScreeningOut | None = Field(
        default=None, description="Staff only: the screening decision and its notes"
    )


class ScreeningOut(OutputModel):
    eligible: bool
    notes: str | None
    screened_at: datetime
    screened_by_id: uuid.UUID | None


class MissingItem(OutputModel):
    item: str
    kind: str = Field(description="field, document, amount or budget")
    message: str


class IncompleteOut(OutputModel):
    detail: str
    code: str = "incomplete"
    missing: list[MissingItem]
