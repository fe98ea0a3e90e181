"""Wire types shared by every feature: strict input models and common field types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, model_validator

# Free text from a query string: anything but NUL, which PostgreSQL cannot store or compare.
NO_NUL_PATTERN = r"^[^\x00]*$"

# A day's margin inside Python's range, so that the instant can be shown in any time zone.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def _representable(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise ValueError("must lie between 0001-01-02 and 9999-12-30 in UTC")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable)]
"""A timestamp with its zone, within the range every time zone can represent: stored in UTC
and shown in a call's zone, so one at the very edge of the calendar would overflow."""


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(v) for v in value)
    return False


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped.

    No text may contain a NUL character: PostgreSQL refuses it in text columns, so it would
    otherwise get past validation and fail in the database (SQLite would store it).
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text may not contain NUL (U+0000) characters")
        return data


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
