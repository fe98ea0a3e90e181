"""Organisation payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from app.models import OrganizationKind
from app.reference import COUNTRY_CODES
from app.schemas import InputModel, OutputModel

UEI_PATTERN = r"^[A-Z0-9]{12}$"


def _country(code: str) -> str:
    if code not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as PE or US")
    return code


# The document lists the accepted codes, so that a client (or a fuzzer) knows them.
CountryCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2),
    AfterValidator(_country),
    Field(json_schema_extra={"enum": sorted(COUNTRY_CODES)}),
]
Uei = Annotated[str, StringConstraints(pattern=UEI_PATTERN)]
OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class OrganizationIn(InputModel):
    name: OrgName
    kind: OrganizationKind
    country: CountryCode
    registration_number: ShortText | None = None
    uei: Uei | None = None
    contact_email: EmailStr | None = None
    website: LongText | None = None
    address: LongText | None = None


class OrganizationUpdate(InputModel):
    name: OrgName | None = None
    kind: OrganizationKind | None = None
    country: CountryCode | None = None
    registration_number: ShortText | None = None
    uei: Uei | None = None
    contact_email: EmailStr | None = None
    website: LongText | None = None
    address: LongText | None = None


class OrganizationOut(OutputModel):
    id: uuid.UUID
    name: str
    kind: OrganizationKind
    country: str
    registration_number: str | None
    uei: str | None
    contact_email: str | None
    website: str | None
    address: str | None
    created_at: datetime
