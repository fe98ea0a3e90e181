"""MAX_JSON_BODY_KB also covers multipart bodies, except on the streamed upload routes.

FastAPI reads the whole body of a JSON or form route into memory whatever its content type,
so a `multipart/form-data` label must not be a way around the cap.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.models import Role
from tests.support.factories import Factory
from tests.support.uploads import pdf_bytes, upload_files

CAP = 1024 * 1024  # the default MAX_JSON_BODY_KB of 1024
BOUNDARY = "grants-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart_body(size: int) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + b"x" * size + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/token"])
def test_a_large_multipart_body_to_an_ordinary_route_is_413(client: TestClient, path: str) -> None:
    response = client.post(path, content=multipart_body(2 * CAP), headers=MULTIPART)

    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_a_chunked_multipart_body_to_an_ordinary_route_is_413(client: TestClient) -> None:
    body = multipart_body(2 * CAP)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = client.post("/api/v1/auth/register", content=chunks(), headers=MULTIPART)

    assert response.status_code == 413


@pytest.mark.parametrize(
    "template", ["/api/v1/applications/{id}/documents", "/api/v1/milestones/{id}/report"]
)
def test_the_streamed_upload_routes_are_not_held_to_the_json_cap(
    client: TestClient, template: str
) -> None:
    # Without a token the route answers 401; with the cap applied it would be 413 unread.
    path = template.format(id=uuid.uuid4())
    response = client.post(path, content=multipart_body(2 * CAP), headers=MULTIPART)

    assert response.status_code == 401


def test_a_file_larger_than_the_json_cap_uploads(client: TestClient, factory: Factory) -> None:
    call = factory.call(
        required_documents=[
            {
                "type": "proposal",
                "label": "Technical proposal",
                "required": True,
                "max_size_mb": 3,
                "allowed_types": ["application/pdf"],
            }
        ]
    )
    _, applicant = factory.login(Role.applicant)
    draft = client.post(
        f"/api/v1/calls/{call.id}/applications",
        json={"title": "Refugio", "requested_amount": "100000.00"},
        headers=applicant,
    ).json()
    content = pdf_bytes(padding=2 * CAP)

    response = client.post(
        f"/api/v1/applications/{draft['id']}/documents",
        files=upload_files("proposal", content),
        headers=applicant,
    )

    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(content)
