"""Sign-in (OAuth2 password flow) and bearer-token checks (SPEC §3)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from app.auth.tokens import ALGORITHM, AUDIENCE
from app.models import Role
from tests.foundation.api import PASSWORD, audit_events, bearer, register, sign_in, token_for

ME = "/api/v1/users/me"


def _claims(user_id: str, **overrides) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "gen": 0,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=10),
        "aud": AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def test_sign_in_returns_a_bearer_token_and_its_lifetime(client, settings):
    register(client, "nadia@ngo.example.org")

    response = sign_in(client, "nadia@ngo.example.org")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    # ACCESS_TOKEN_MINUTES defaults to 60.
    assert settings.access_token_minutes == 60
    assert body["expires_in"] == 3600


def test_the_issued_token_opens_users_me(client):
    user = register(client, "nadia@ngo.example.org")
    token = sign_in(client, "nadia@ngo.example.org").json()["access_token"]

    me = client.get(ME, headers=bearer(token))

    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["email"] == "nadia@ngo.example.org"


def test_sign_in_sets_last_login_at(client):
    register(client, "nadia@ngo.example.org")

    headers = token_for(client, "nadia@ngo.example.org")

    assert client.get(ME, headers=headers).json()["last_login_at"] is not None


def test_a_wrong_password_is_401(client):
    register(client, "nadia@ngo.example.org")

    response = sign_in(client, "nadia@ngo.example.org", "not-the-right-password")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert "access_token" not in response.json()


def test_an_unknown_email_is_401_with_the_same_answer_as_a_wrong_password(client):
    register(client, "nadia@ngo.example.org")

    unknown = sign_in(client, "nobody@ngo.example.org", PASSWORD)
    wrong = sign_in(client, "nadia@ngo.example.org", "not-the-right-password")

    assert unknown.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_staff_user_signs_in_with_the_password_they_were_given(client, factory):
    factory.user(Role.finance_officer, email="fin@donor.example.org", password="finance-pass-1234")

    assert sign_in(client, "fin@donor.example.org", "finance-pass-1234").status_code == 200


def test_no_token_is_401(client):
    response = client.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_non_bearer_authorization_header_is_401(client):
    response = client.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401


def test_an_expired_token_is_401(client, factory, settings):
    user = factory.user(Role.admin)
    past = datetime.now(UTC) - timedelta(hours=2)
    token = jwt.encode(
        _claims(str(user.id), iat=past, nbf=past, exp=past + timedelta(minutes=60)),
        settings.secret_key,
        algorithm=ALGORITHM,
    )

    response = client.get(ME, headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_hand_made_token_with_valid_claims_is_accepted(client, factory, settings):
    # The control for the forged-token tests below: the same claims, correctly signed, work.
    user = factory.user(Role.admin)
    token = jwt.encode(_claims(str(user.id)), settings.secret_key, algorithm=ALGORITHM)

    assert client.get(ME, headers=bearer(token)).status_code == 200


def _flip_a_signature_char(token: str) -> str:
    head, _, signature = token.rpartition(".")
    # Flip a middle character: the last one can carry unused base64 padding bits.
    i = len(signature) // 2
    flipped = "A" if signature[i] != "A" else "B"
    return f"{head}.{signature[:i]}{flipped}{signature[i + 1 :]}"


def test_a_token_with_a_tampered_signature_is_401(client, factory, settings):
    user = factory.user(Role.admin)
    token = jwt.encode(_claims(str(user.id)), settings.secret_key, algorithm=ALGORITHM)

    response = client.get(ME, headers=bearer(_flip_a_signature_char(token)))

    assert response.status_code == 401


def test_a_token_with_a_tampered_payload_is_401(client, factory, settings):
    victim = factory.user(Role.admin)
    attacker = factory.user(Role.applicant)
    token = jwt.encode(_claims(str(attacker.id)), settings.secret_key, algorithm=ALGORITHM)
    header, _, signature = token.split(".")
    forged_payload = json.dumps(
        {**jwt.decode(token, options={"verify_signature": False}), "sub": str(victim.id)}
    ).encode()
    payload = base64.urlsafe_b64encode(forged_payload).rstrip(b"=").decode()

    response = client.get(ME, headers=bearer(f"{header}.{payload}.{signature}"))

    assert response.status_code == 401


def test_a_token_signed_with_another_key_is_401(client, factory):
    user = factory.user(Role.admin)
    token = jwt.encode(
        _claims(str(user.id)), "another-secret-key-of-sufficient-length-0000", algorithm=ALGORITHM
    )

    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_an_unsigned_alg_none_token_is_401(client, factory):
    user = factory.user(Role.admin)
    token = jwt.encode(_claims(str(user.id)), key=None, algorithm="none")

    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_a_token_without_a_required_claim_is_401(client, factory, settings):
    user = factory.user(Role.admin)
    for missing in ["gen", "aud", "exp", "sub"]:
        claims = _claims(str(user.id))
        del claims[missing]
        token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)

        assert client.get(ME, headers=bearer(token)).status_code == 401, missing


def test_a_token_for_another_audience_is_401(client, factory, settings):
    user = factory.user(Role.admin)
    token = jwt.encode(
        _claims(str(user.id), aud="some-other-api"), settings.secret_key, algorithm=ALGORITHM
    )

    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_a_token_for_a_user_that_does_not_exist_is_401(client, settings):
    token = jwt.encode(_claims(str(uuid.uuid4())), settings.secret_key, algorithm=ALGORITHM)

    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_a_garbage_token_is_401(client):
    assert client.get(ME, headers=bearer("not.a.jwt")).status_code == 401


def test_every_sign_in_and_failed_sign_in_is_audited(client, factory):
    _, admin = factory.login(Role.admin)
    user = register(client, "nadia@ngo.example.org")

    assert sign_in(client, "nadia@ngo.example.org").status_code == 200
    assert sign_in(client, "nadia@ngo.example.org", "wrong-password-1").status_code == 401
    assert sign_in(client, "ghost@ngo.example.org", "wrong-password-2").status_code == 401

    events = audit_events(client, admin, action="auth.")
    assert [(e["action"], e["actor"], e["entity_id"], e["data"]) for e in events] == [
        ("auth.login", "nadia@ngo.example.org", user["id"], {}),
        ("auth.login_failed", "nadia@ngo.example.org", user["id"], {"reason": "bad_password"}),
        ("auth.login_failed", "ghost@ngo.example.org", None, {"reason": "unknown_account"}),
    ]
    assert events[0]["actor_id"] == user["id"]
    assert events[1]["actor_id"] is None


def test_a_failed_sign_in_never_writes_the_attempted_password_to_the_audit_log(client, factory):
    _, admin = factory.login(Role.admin)
    register(client, "nadia@ngo.example.org")

    sign_in(client, "nadia@ngo.example.org", "my-secret-guess-123")

    listing = client.get("/api/v1/audit", headers=admin)
    assert "my-secret-guess-123" not in listing.text


def test_an_overlong_username_is_401_and_audited(client, factory):
    _, admin = factory.login(Role.admin)
    username = "x" * 400 + "@ngo.example.org"

    response = sign_in(client, username, "whatever-password")

    assert response.status_code == 401
    [event] = audit_events(client, admin, action="auth.login_failed")
    assert event["data"] == {"reason": "unknown_account"}
