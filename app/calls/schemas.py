"""Call payloads: the notice of funding opportunity, its rubric and document rules."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.models import CallStatus
from app.money import MoneyIn, MoneyOut
from app.reference import CURRENCY_CODES
from app.schemas import InputModel, Instant, OutputModel

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG = "image/png"
JPEG = "image/jpeg"
SUPPORTED_DOCUMENT_TYPES = frozenset({PDF, DOCX, XLSX, PNG, JPEG})
MAX_DOCUMENT_MB = 1024

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
Description = Annotated[str, StringConstraints(max_length=20_000)]
Weight = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]
MaxScore = Annotated[Decimal, Field(gt=0, le=1000, max_digits=6, decimal_places=2)]


def _currency(code: str) -> str:
    if code not in CURRENCY_CODES:
        raise ValueError("must be an ISO 4217 currency code such as USD or PEN")
    return code


def _timezone(name: str) -> str:
    if name not in _iana_zones():
        raise ValueError("must be an IANA time zone name such as America/Lima or UTC")
    return name


@lru_cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must be unique")


Currency = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(_currency),
    Field(json_schema_extra={"enum": sorted(CURRENCY_CODES)}),
]
TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]


def _number(value: Decimal) -> int | float:
    """Weights and scores are JSON numbers; whole ones stay integers."""
    return int(value) if value == value.to_integral_value() else float(value)


class CodeLabel(InputModel):
    code: Code
    label: Label


class DocumentRule(InputModel):
    type: Code
    label: Label
    required: bool = True
    max_size_mb: int = Field(gt=0, le=MAX_DOCUMENT_MB)
    allowed_types: list[str] = Field(min_length=1, max_length=len(SUPPORTED_DOCUMENT_TYPES))

    @model_validator(mode="after")
    def _known_types(self) -> Self:
        unknown = sorted(set(self.allowed_types) - SUPPORTED_DOCUMENT_TYPES)
        if unknown:
            raise ValueError(
                f"unsupported document types {unknown}; supported: "
                + ", ".join(sorted(SUPPORTED_DOCUMENT_TYPES))
            )
        _unique(self.allowed_types, "allowed_types")
        return self


class Criterion(InputModel):
    key: Code
    label: Label
    weight: Weight
    max_score: MaxScore
    guidance: Annotated[str, StringConstraints(max_length=5000)] = ""


class Rubric(InputModel):
    criteria: list[Criterion] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _weights_and_keys(self) -> Self:
        _unique([c.key for c in self.criteria], "criterion keys")
        total = sum((c.weight for c in self.criteria), Decimal(0))
        if total != 100:
            raise ValueError(f"criterion weights must sum to 100 (they sum to {total})")
        return self

    def stored(self) -> dict[str, Any]:
        return {
            "criteria": [
                {**c.model_dump(), "weight": _number(c.weight), "max_score": _number(c.max_score)}
                for c in self.criteria
            ]
        }


class _CallFields(InputModel):
    """Fields shared by create and update; cross-field rules run on the merged result."""

    @staticmethod
    def check_consistency(fields: dict[str, Any]) -> None:
        envelope, low, high = (
            fields.get("envelope_amount"),
            fields.get("min_award"),
            fields.get("max_award"),
        )
        if None not in (envelope, low, high) and not 0 < low <= high <= envelope:  # type: ignore[operator]
            raise ValueError("amounts must satisfy 0 < min_award <= max_award <= envelope_amount")
        opens, closes = fields.get("opens_at"), fields.get("closes_at")
        if opens is not None and closes is not None and not closes > opens:
            raise ValueError("closes_at must be later than opens_at")


class CallIn(_CallFields):
    title: Title
    description: Description = ""
    currency: Currency = "USD"
    envelope_amount: MoneyIn
    min_award: MoneyIn
    max_award: MoneyIn
    opens_at: Instant
    closes_at: Instant
    timezone: TimeZoneName = "UTC"
    objectives: list[CodeLabel] = Field(min_length=1, max_length=50)
    regions: list[CodeLabel] = Field(min_length=1, max_length=100)
    required_documents: list[DocumentRule] = Field(default_factory=list, max_length=30)
    rubric: Rubric
    reviewers_per_application: int = Field(default=2, ge=1, le=20)
    blind_review: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self.check_consistency(self.__dict__)
        _unique([o.code for o in self.objectives], "objective codes")
        _unique([r.code for r in self.regions], "region codes")
        _unique([d.type for d in self.required_documents], "document types")
        return self


class CallUpdate(_CallFields):
    title: Title | None = None
    description: Description | None = None
    envelope_amount: MoneyIn | None = None
    min_award: MoneyIn | None = None
    max_award: MoneyIn | None = None
    opens_at: Instant | None = None
    closes_at: Instant | None = None
    timezone: TimeZoneName | None = None
    objectives: list[CodeLabel] | None = Field(default=None, min_length=1, max_length=50)
    regions: list[CodeLabel] | None = Field(default=None, min_length=1, max_length=100)
    required_documents: list[DocumentRule] | None = Field(default=None, max_length=30)
    rubric: Rubric | None = None
    reviewers_per_application: int | None = Field(default=None, ge=1, le=20)
    blind_review: bool | None = None

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        if self.objectives is not None:
            _unique([o.code for o in self.objectives], "objective codes")
        if self.regions is not None:
            _unique([r.code for r in self.regions], "region codes")
        if self.required_documents is not None:
            _unique([d.type for d in self.required_documents], "document types")
        return self


class CodeLabelOut(OutputModel):
    code: str
    label: str


class DocumentRuleOut(OutputModel):
    type: str
    label: str
    required: bool
    max_size_mb: int
    allowed_types: list[str]


class CriterionOut(OutputModel):
    key: str
    label: str
    weight: int | float
    max_score: int | float
    guidance: str


class RubricOut(OutputModel):
    criteria: list[CriterionOut]


class CallOut(OutputModel):
    id: uuid.UUID
    title: str
    description: str
    currency: str
    envelope_amount: MoneyOut
    min_award: MoneyOut
    max_award: MoneyOut
    opens_at: datetime
    closes_at: datetime
    timezone: str
    status: CallStatus
    is_open: bool = Field(description="Accepting submissions right now")
    objectives: list[CodeLabelOut]
    regions: list[CodeLabelOut]
    required_documents: list[DocumentRuleOut]
    rubric: RubricOut
    reviewers_per_application: int
    blind_review: bool
    terms_frozen: bool = Field(
        description="An application was submitted: rubric, envelope, award limits and "
        "required documents can no longer change"
    )
    published_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PanelIn(InputModel):
    reviewer_ids: list[uuid.UUID] = Field(max_length=500)


class PanelMemberOut(OutputModel):
    id: uuid.UUID
    full_name: str
    email: str


class PanelOut(OutputModel):
    call_id: uuid.UUID
    reviewer_ids: list[uuid.UUID]
    reviewers: list[PanelMemberOut]


class OrganizationRefOut(OutputModel):
    id: uuid.UUID
    name: str
