"""Builders for the reviewer and programme-officer page tests.

Applications reach `under_review` through the API (`tests/reviews/helpers.py`), with any
client that speaks HTTP: the test's `TestClient`, or an `httpx.Client` on the live server of
the browser tests. The organisation of a review scenario carries names that must never reach
a blind reviewer's pages (`identifying_strings`).

The factory's default call scores approach (weight 60, max 10) and capacity (weight 40,
max 5): a review's total is 6 * approach + 8 * capacity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import quote

from app.models import Call, Organization, Role, User
from tests.reviews.helpers import (
    API,
    Applicant,
    Headers,
    assigned,
    draft,
    screen,
    set_panel,
    submit,
)
from tests.support.factories import DEFAULT_PASSWORD, Factory
from tests.support.uploads import PDF, pdf_bytes

ORG_NAME = "Quillfeather Guardians of Childhood"
REGISTRATION = "RUC-20600417725"
UEI = "QF8K2M4N6P1R"
CONTACT = "office@quillfeather-guardians.org"
MEMBERS = [
    ("Octavia Brightwater-Lund", "o.brightwater@quillfeather-guardians.org"),
    ("Casimir Thornbury", "c.thornbury@quillfeather-guardians.org"),
]
# The proposal is uploaded under a name that carries the organisation's.
FILENAME = f"{ORG_NAME} - technical proposal (final).pdf"
TITLE = "Community protection networks in Loreto"


def identifying_strings(organization: Organization) -> list[str]:
    """Every trace of the organisation, also as it looks HTML- or percent-encoded."""
    plain = [
        ORG_NAME,
        "Quillfeather",
        REGISTRATION,
        UEI,
        CONTACT,
        "quillfeather-guardians.org",
        str(organization.id),
        organization.id.hex,
    ]
    for name, email in MEMBERS:
        plain += [name, email]
    return plain + [quote(s) for s in plain if quote(s) != s]


def leaks(text: str, organization: Organization) -> list[str]:
    lowered = text.lower()
    return [s for s in identifying_strings(organization) if s.lower() in lowered]


def identified_organization(factory: Factory) -> tuple[Organization, Applicant]:
    """The organisation with a registration, a UEI, a contact address and two named members."""
    organization = factory.organization(
        ORG_NAME, registration_number=REGISTRATION, uei=UEI, contact_email=CONTACT
    )
    members = [
        factory.user(Role.applicant, organization=organization, email=email) for _, email in MEMBERS
    ]
    with factory.db.transaction() as session:
        for member, (name, _) in zip(members, MEMBERS, strict=True):
            stored = session.get(User, member.id)
            assert stored is not None
            stored.full_name = name
    author = members[0]
    return organization, Applicant(author, factory.headers(author), organization)


@dataclass
class ReviewSetup:
    call: Call
    officer: User
    officer_headers: Headers
    reviewer: User
    organization: Organization
    applicant: Applicant
    application: dict[str, Any]
    document: dict[str, Any]


def under_review_with_documents(
    api: Any,
    call: Call,
    who: Applicant,
    officer: Headers,
    *,
    filename: str = "proposal.pdf",
    **body: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An application with a PDF for each of the call's required documents (the proposal under
    `filename`), submitted and screened eligible: (application, proposal document)."""
    application = draft(api, call.id, who, **body)
    proposal: dict[str, Any] = {}
    for rule in call.required_documents:
        if not rule["required"]:
            continue
        assert PDF in rule["allowed_types"], rule
        name = filename if rule["type"] == "proposal" else f"{rule['type']}.pdf"
        sent = api.post(
            f"{API}/applications/{application['id']}/documents",
            files={"doc_type": (None, rule["type"]), "file": (name, pdf_bytes(), PDF)},
            headers=who.headers,
        )
        assert sent.status_code == 201, sent.text
        if rule["type"] == "proposal":
            proposal = sent.json()
    submit(api, application["id"], who)
    screened = screen(api, application["id"], officer)
    assert screened.status_code == 200, screened.text
    return screened.json(), proposal


def review_setup(
    api: Any,
    factory: Factory,
    *,
    blind: bool,
    call: Call | None = None,
    requested_amount: str = "100000.00",
    **call_overrides: Any,
) -> ReviewSetup:
    """A reviewer on the call's panel, assigned to the identified organisation's application
    (under review, its proposal uploaded under the organisation's name)."""
    officer = factory.user(Role.program_officer)
    officer_headers = factory.headers(officer)
    reviewer = factory.user(Role.reviewer)
    call = call or factory.call(actor=officer, blind_review=blind, **call_overrides)
    set_panel(api, call.id, officer_headers, reviewer)
    organization, author = identified_organization(factory)
    application, document = under_review_with_documents(
        api,
        call,
        author,
        officer_headers,
        filename=FILENAME,
        title=TITLE,
        summary="Village committees trained to spot and report trafficking.",
        requested_amount=requested_amount,
    )
    assigned(api, application["id"], reviewer, officer_headers)
    return ReviewSetup(
        call, officer, officer_headers, reviewer, organization, author, application, document
    )


def visible_text(html: str) -> str:
    """The page's text as a reader gets it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def sign_in_page(page: Any, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the sign-in page of a browser tab."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def assign(api: Any, application_id: str, reviewer: User, officer: Headers) -> None:
    """The API's manual assignment, through any HTTP client."""
    assigned(api, application_id, reviewer, officer)


def review(
    api: Any,
    application_id: str,
    reviewer: Headers,
    scores: dict[str, Any],
    recommendation: str | None = "fund",
    *,
    submit: bool = True,
) -> None:
    """A review saved (and submitted) through the API, as the reviewer."""
    saved = api.put(
        f"{API}/applications/{application_id}/review",
        json={"scores": scores, "recommendation": recommendation, "comment": ""},
        headers=reviewer,
    )
    assert saved.status_code == 200, saved.text
    if submit:
        sent = api.post(f"{API}/applications/{application_id}/review/submit", headers=reviewer)
        assert sent.status_code == 200, sent.text
