"""Registration, sign-in and sign-out, through the API's own services and throttle."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from app.auth import registration_limit
from app.auth.deps import AppSettings
from app.auth.service import authenticate, register_applicant
from app.db import DbSession
from app.models import OrganizationKind, User
from app.reference import COUNTRY_CODES
from app.users.schemas import MIN_PASSWORD_LENGTH, RegistrationIn
from app.web.deps import OptionalUser, PageForm
from app.web.forms import FormErrors, service_errors, validate
from app.web.i18n import I18n, i18n_for
from app.web.routing import page_router
from app.web.sessions import end_session, issue_session
from app.web.templating import N_, home_for, label, redirect, render, safe_next

router = page_router()

_REGISTRATION_HINTS = {
    "email": {"value_error": N_("Enter an email address such as name@example.org.")},
    "organization.country": {"value_error": N_("Choose a country.")},
    "organization.uei": {"string_pattern_mismatch": N_("A UEI is 12 capital letters and digits.")},
    "organization.contact_email": {
        "value_error": N_("Enter an email address such as name@example.org.")
    },
}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def countries(i18n: I18n) -> list[tuple[str, str]]:
    """ISO codes with their names in the visitor's language, sorted by name."""
    names = i18n.locale.territories
    return sorted(((code, names.get(code, code)) for code in COUNTRY_CODES), key=lambda c: c[1])


# --- sign-in -----------------------------------------------------------------------------


def _sign_in_page(
    request: Request, values: dict[str, str], errors: FormErrors | None = None
) -> Response:
    errors = errors or FormErrors()
    return render(
        request,
        "account/sign_in.html",
        {"values": values, "errors": errors},
        status_code=errors.status_code if errors else 200,
        headers=errors.headers,
    )


@router.get("/sign-in")
def sign_in_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return redirect(request, safe_next(next, home_for(user)))
    return _sign_in_page(request, {"email": "", "next": safe_next(next, "")})


@router.post("/sign-in")
def sign_in(
    request: Request, form: PageForm, session: DbSession, settings: AppSettings
) -> Response:
    """The API's credential check and throttle: failures are recorded and audited the same."""
    i18n = i18n_for(request)
    values = {"email": _text(form, "email"), "next": safe_next(_text(form, "next"), "")}
    password = form.get("password")
    errors = FormErrors()
    user: User | None = None
    with service_errors(session, errors, i18n):
        user = authenticate(
            session, settings, values["email"], password if isinstance(password, str) else ""
        )
    if errors or user is None:
        return _sign_in_page(request, values, errors)
    response = redirect(request, safe_next(values["next"], home_for(user)))
    issue_session(request, response, user)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: PageForm) -> Response:
    response = redirect(
        request, "/", message=i18n_for(request).gettext("You have signed out."), level="info"
    )
    end_session(request, response)
    return response


# --- registration ------------------------------------------------------------------------


_ORGANIZATION_FIELDS = ("name", "kind", "country", "registration_number", "uei")
_OPTIONAL = frozenset({"registration_number", "uei"})


def _registration_values(form: FormData) -> dict[str, Any]:
    """What was typed, to show again (never the password)."""
    return {
        "email": _text(form, "email"),
        "full_name": _text(form, "full_name"),
        "organization": {f: _text(form, f"organization.{f}") for f in _ORGANIZATION_FIELDS},
    }


def _registration_data(values: dict[str, Any], password: str) -> dict[str, Any]:
    """The API's registration body; optional fields left blank are left out."""
    organization = {
        name: value
        for name, value in values["organization"].items()
        if value or name not in _OPTIONAL
    }
    return {**values, "password": password, "organization": organization}


def _registration_page(
    request: Request, values: dict[str, Any], errors: FormErrors | None = None
) -> Response:
    errors = errors or FormErrors()
    i18n = i18n_for(request)
    return render(
        request,
        "account/register.html",
        {
            "values": values,
            "errors": errors,
            "kinds": [(k.value, label(i18n, k)) for k in OrganizationKind],
            "countries": countries(i18n),
            "min_password_length": MIN_PASSWORD_LENGTH,
        },
        status_code=errors.status_code if errors else 200,
        headers=errors.headers,
    )


@router.get("/register")
def registration_form(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return redirect(request, home_for(user))
    empty = dict.fromkeys(_ORGANIZATION_FIELDS, "") | {"kind": "ngo", "country": "PE"}
    return _registration_page(request, {"email": "", "full_name": "", "organization": empty})


@router.post("/register")
def register(
    request: Request, form: PageForm, session: DbSession, settings: AppSettings
) -> Response:
    """The API's registration limit and service, then its sign-in (audited as a sign-in)."""
    i18n = i18n_for(request)
    values = _registration_values(form)
    password = form.get("password")
    data = _registration_data(values, password if isinstance(password, str) else "")
    errors = FormErrors()
    payload = validate(RegistrationIn, data, errors, i18n, hints=_REGISTRATION_HINTS, nested=True)
    if payload is None:
        return _registration_page(request, values, errors)
    user: User | None = None
    client_ip = request.client.host if request.client else "unknown"
    with service_errors(session, errors, i18n, fields={"email_taken": "email"}):
        # The API's per-address registration limit counts the pages' registrations too.
        registration_limit.admit(session, settings, client_ip)
        register_applicant(session, payload)
        user = authenticate(session, settings, payload.email, payload.password)
    if errors or user is None:
        return _registration_page(request, values, errors)
    response = redirect(
        request,
        home_for(user),
        message=i18n.gettext("Welcome! Your organisation's account is ready."),
    )
    issue_session(request, response, user)
    return response
