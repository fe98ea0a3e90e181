"""Form helpers of the staff pages, on top of `app/web/forms.py`.

- Repeated rows (milestones, criteria, objectives…): each row is validated with the API's own
  row model and its errors land next to that row's fields (`milestones-2-amount`), not on the
  list as a whole.
- A rule of a whole model (milestones adding up to the award, weights adding up to 100) is
  placed next to the field it is about by a fragment of the model's own message; the model
  decides, the page only says where and in which language.
- Service refusals with this area's messages: codes such as `incomplete` mean different things
  for an application and for a review, so each page area names its own.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.errors import AppError, Forbidden, NotFound
from app.web.forms import FormErrors, service_message, validate
from app.web.i18n import I18n

Model = TypeVar("Model", bound=BaseModel)

# Upper bound on the rows a form may declare (the API's lists allow at most 100).
MAX_ROWS = 100


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def row_indexes(form: FormData, prefix: str) -> list[int]:
    """The row numbers a form declares in `<prefix>_rows` (the page's count of rows)."""
    declared = text(form, f"{prefix}_rows")
    count = min(int(declared), MAX_ROWS) if declared.isdigit() and len(declared) < 4 else 0
    return list(range(count))


def form_rows(
    form: FormData, prefix: str, keys: Sequence[str], *, lists: Sequence[str] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """Rows that were filled in, as (row number, values); blank spare rows are left out.

    `lists` are multi-valued fields of a row (a group of checkboxes).
    """
    rows = []
    for index in row_indexes(form, prefix):
        row: dict[str, Any] = {key: text(form, f"{prefix}-{index}-{key}") for key in keys}
        for key in lists:
            row[key] = [v for v in form.getlist(f"{prefix}-{index}-{key}") if isinstance(v, str)]
        if any(row[key] for key in keys):
            rows.append((index, row))
    return rows


def filled(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that were filled in: a blank one is then reported as missing (required)
    or takes the API's default (optional), as when a JSON client leaves it out."""
    return {key: value for key, value in values.items() if value != ""}


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def local_datetime(value: str, zone: str) -> str:
    """`2026-06-30T17:00` (a `datetime-local` field) read in `zone`, as ISO 8601 with its
    offset. Anything else is passed on unchanged for the model to refuse."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value
    if naive.tzinfo is not None:
        return value
    tz = zoneinfo.ZoneInfo(zone) if zone in _zones() else UTC
    return naive.replace(tzinfo=tz).isoformat()


def local_input_value(value: datetime | None, zone: str) -> str:
    """A stored time as a `datetime-local` field shows it, in `zone`."""
    if value is None:
        return ""
    tz = zoneinfo.ZoneInfo(zone) if zone in _zones() else UTC
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


# --- validation with rows and whole-model rules -----------------------------------------


@dataclass(frozen=True)
class Rows:
    """Where a list of rows sits in the data, its field prefix in the form, and its model."""

    path: tuple[str, ...]
    prefix: str
    model: type[BaseModel]
    indexes: Sequence[int]
    hints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The field of a row that shows a rule of the row as a whole.
    general_field: str = ""


@dataclass(frozen=True)
class WholeRule:
    """A model rule (a `ValueError` in a validator), found by a fragment of its message."""

    fragment: str
    field: str
    message: str  # a msgid, marked with N_()


def _at(data: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, list) else []


def validate_form(
    model: type[Model],
    data: dict[str, Any],
    errors: FormErrors,
    i18n: I18n,
    *,
    hints: Mapping[str, Mapping[str, str]] | None = None,
    rows: Sequence[Rows] = (),
    rules: Sequence[WholeRule] = (),
) -> Model | None:
    """Validate `data` with the API's `model`; on failure fill `errors` and return None."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        failures = exc.errors()
    top = FormErrors()
    validate(model, data, top, i18n, hints=hints, nested=True)
    inside_rows = tuple(".".join(group.path) + "." for group in rows)
    for name, message in top.fields.items():
        if not name.startswith(inside_rows):
            errors.add(name, message)
    for group in rows:
        for position, row in enumerate(_at(data, group.path)):
            index = group.indexes[position]
            found = FormErrors()
            validate(group.model, row, found, i18n, hints=group.hints)
            for name, message in found.fields.items():
                errors.add(f"{group.prefix}-{index}-{name}", message)
            for message in found.general:
                errors.add(f"{group.prefix}-{index}-{group.general_field}", message)
    unexplained = False
    for failure in failures:
        if failure["type"] != "value_error":
            continue
        rule = next((r for r in rules if r.fragment in str(failure["msg"])), None)
        if rule is not None:
            errors.fields[rule.field] = i18n.gettext(rule.message)
        elif not failure["loc"]:
            unexplained = True
    if unexplained or not errors:
        for message in top.general:
            errors.add(None, message)
    return None


# --- service refusals --------------------------------------------------------------------


class Refusals:
    """Run service calls; a refusal rolls the request's work back and goes into `errors`.

    Like `forms.service_errors`, with this page area's own messages by code (`messages`) and
    the field each code is shown next to (`fields`). 404 and 403 still become error pages.
    The refusal itself stays available as `.error` (its `extra`, such as `missing`).
    """

    def __init__(
        self,
        session: Session,
        errors: FormErrors,
        i18n: I18n,
        messages: Mapping[str, str],
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.errors = errors
        self.i18n = i18n
        self.messages = messages
        self.fields = fields or {}
        self.error: AppError | None = None

    def __enter__(self) -> Refusals:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, AppError) or isinstance(exc, (NotFound, Forbidden)):
            return False
        if not exc.keep_changes:
            self.session.rollback()
        self.error = exc
        self.errors.status_code = exc.status_code
        self.errors.headers.update(exc.headers)
        msgid = self.messages.get(exc.code)
        message = self.i18n.gettext(msgid) if msgid else service_message(self.i18n, exc)
        self.errors.add(self.fields.get(exc.code), message)
        return True
