"""Form helpers: the API's own input models validate page forms, errors land next to fields.

A page handler turns the submitted form into the same dictionary a JSON client would send,
validates it with the API's Pydantic model (`validate`), and calls the service inside
`service_errors`, which rolls the request's session back on a refusal and keeps the error for
the page. Messages are translated here, from the error's type or the service error's code,
so that no rule is written twice: the model and the service decide, the page only explains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.errors import AppError, Forbidden, NotFound
from app.web.i18n import I18n
from app.web.templating import N_

Model = TypeVar("Model", bound=BaseModel)

# Pydantic error types → a message in the visitor's language (`%(name)s` from the error ctx).
_TYPE_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_long": N_("Enter at most %(max_length)s characters."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "decimal_max_places": N_("Use at most %(decimal_places)s decimals."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter %(ge)s or more."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "less_than_equal": N_("Enter %(le)s or less."),
    "string_pattern_mismatch": N_("This value is not in the expected format."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "too_long": N_("Too many entries."),
}
_INVALID = N_("This value is not valid.")
_REQUIRED = N_("This field is required.")
_TOO_SHORT = N_("Enter at least %(min_length)s characters.")

# Service error codes → a message in the visitor's language. Codes not listed here show the
# service's own (English) sentence. Page areas add the codes their services raise.
SERVICE_MESSAGES: dict[str, str] = {
    "invalid_credentials": N_("Incorrect email or password."),
    "login_throttled": N_(
        "Too many failed sign-in attempts. Wait a few minutes before trying again."
    ),
    "email_taken": N_("An account with this email already exists."),
    "registration_throttled": N_(
        "Too many registrations from this address. Wait a while before trying again."
    ),
    "duplicate_application": N_("Your organisation already has an application for this call."),
    "call_not_open": N_("The call is not accepting applications."),
    "not_editable": N_("Only a draft application can be changed."),
    "documents_immutable": N_("Documents of a submitted application cannot change."),
    "invalid_state": N_("This cannot be done in the current state."),
    "incomplete": N_("The application is incomplete: see the list of what is missing."),
    "file_too_large": N_("The file is larger than allowed for this document type."),
    "unsupported_file_type": N_("The file's content is not one of the accepted types."),
    "empty_file": N_("The file is empty."),
    "unknown_doc_type": N_("Unknown document type."),
    "file_missing": N_("Choose a file to upload."),
    "narrative": N_("Describe what was achieved (up to 20,000 characters)."),
    "too_large": N_("The report is larger than its evidence limits allow."),
    "unknown_code": N_("Choose only from the options offered."),
}


def service_message(i18n: I18n, exc: AppError) -> str:
    msgid = SERVICE_MESSAGES.get(exc.code)
    return i18n.gettext(msgid) if msgid else exc.detail


@dataclass
class FormErrors:
    """Messages by field name (dotted for nested fields: `organization.name`), plus general ones."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    status_code: int = 422
    headers: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            if message not in self.general:
                self.general.append(message)
        else:
            self.fields.setdefault(name, message)

    def add_service_error(
        self, i18n: I18n, exc: AppError, fields: Mapping[str, str] | None = None
    ) -> None:
        """A service refusal, next to the field `fields[exc.code]` or at the top of the form."""
        self.status_code = exc.status_code
        self.headers.update(exc.headers)
        self.add((fields or {}).get(exc.code), service_message(i18n, exc))


def _message(i18n: I18n, error: Mapping[str, Any], hints: Mapping[str, str]) -> str:
    kind = error["type"]
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        if not isinstance(minimum, int) or minimum <= 1:
            return i18n.gettext(_REQUIRED)
        return i18n.gettext(_TOO_SHORT) % ctx
    msgid = _TYPE_MESSAGES.get(kind)
    if msgid is None or kind in hints:
        return i18n.gettext(hints.get(kind, _INVALID))
    try:
        return i18n.gettext(msgid) % ctx
    except (KeyError, TypeError):
        return i18n.gettext(_INVALID)


def _field_name(loc: tuple[int | str, ...], nested: bool) -> str:
    names = [str(part) for part in loc if isinstance(part, str)]
    return ".".join(names) if nested else names[0]


def validate(
    model: type[Model],
    data: dict[str, Any],
    errors: FormErrors,
    i18n: I18n,
    *,
    hints: Mapping[str, Mapping[str, str]] | None = None,
    nested: bool = False,
) -> Model | None:
    """Validate `data` with the API's model; on failure fill `errors` and return None.

    `hints[field][error type]` gives a field its own message for an error type (e.g. the
    money format for a `value_error` on an amount). A rule of the whole model (shares that
    must add up to 100) is checked on each field alone too, so it is reported next to its
    field in the same round as the other fields' errors, not only once they are fixed.
    """
    hints = hints or {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        failures = [(tuple(e["loc"]), e) for e in exc.errors()]
    whole = [error for loc, error in failures if not loc]
    failures = [(loc, error) for loc, error in failures if loc]
    attributed: list[tuple[tuple[int | str, ...], Any]] = []
    for field_name, value in data.items():
        if any(loc[0] == field_name for loc, _ in failures):
            continue
        try:
            model.model_validate({field_name: value})
        except ValidationError as solo:
            attributed += [((field_name,), e) for e in solo.errors() if not e["loc"]]
    # A whole-model error that no single field explains stays at the top of the form.
    failures += attributed or [((), error) for error in whole]
    for loc, error in failures:
        name = _field_name(loc, nested) if any(isinstance(p, str) for p in loc) else None
        key = name or ""
        field_hints = hints.get(key) or hints.get(key.split(".")[0]) or {}
        errors.add(name, _message(i18n, error, field_hints))
    return None


@contextmanager
def service_errors(
    session: Session,
    errors: FormErrors,
    i18n: I18n,
    fields: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Run a service call; a refusal rolls back the request's work and goes into `errors`.

    404 and 403 are not form errors: they propagate to the error page. Failures marked
    `keep_changes` (a failed sign-in's record) keep them: the session still commits.
    """
    try:
        yield
    except (NotFound, Forbidden):
        raise
    except AppError as exc:
        if not exc.keep_changes:
            session.rollback()
        errors.add_service_error(i18n, exc, fields)
