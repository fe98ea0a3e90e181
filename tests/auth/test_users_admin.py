"""Staff accounts managed by the admin: POST/GET/PATCH /api/v1/users (SPEC §2, §4)."""

from __future__ import annotations

import uuid

import pytest

from app.models import Role
from tests.foundation.api import audit_events, bearer, register, sign_in
from tests.support.factories import DEFAULT_PASSWORD

USERS = "/api/v1/users"
STAFF_ROLES = ["admin", "program_officer", "reviewer", "finance_officer"]
OLD_PASSWORD = DEFAULT_PASSWORD  # what the factory gives every user
NON_ADMIN_ROLES = [Role.program_officer, Role.reviewer, Role.finance_officer, Role.applicant]


def _staff(email: str, role: str = "reviewer", **overrides) -> dict:
    return {
        "email": email,
        "password": "staff-password-123",
        "full_name": "Rosa Reviewer",
        "role": role,
        **overrides,
    }


@pytest.fixture
def admin(factory):
    user, headers = factory.login(Role.admin, email="root@donor.example.org")
    return user, headers


def test_admin_creates_a_staff_account_of_each_role(client, admin):
    _, headers = admin
    for role in STAFF_ROLES:
        response = client.post(
            USERS, json=_staff(f"{role}@donor.example.org", role), headers=headers
        )

        assert response.status_code == 201, role
        body = response.json()
        assert body["role"] == role
        assert body["email"] == f"{role}@donor.example.org"
        assert body["full_name"] == "Rosa Reviewer"
        assert body["organization_id"] is None
        assert body["is_active"] is True
        assert "password" not in response.text
        assert "argon2" not in response.text


def test_a_created_staff_user_signs_in_with_their_role(client, admin):
    _, headers = admin
    client.post(USERS, json=_staff("fin@donor.example.org", "finance_officer"), headers=headers)

    token = sign_in(client, "fin@donor.example.org", "staff-password-123").json()["access_token"]

    me = client.get(f"{USERS}/me", headers=bearer(token))
    assert me.json()["role"] == "finance_officer"
    assert me.json()["organization"] is None


def test_creating_an_applicant_through_user_management_is_refused(client, admin):
    _, headers = admin

    response = client.post(USERS, json=_staff("app@ngo.example.org", "applicant"), headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "applicant_role"
    assert sign_in(client, "app@ngo.example.org", "staff-password-123").status_code == 401


def test_an_unknown_role_is_422(client, admin):
    _, headers = admin

    response = client.post(USERS, json=_staff("x@donor.example.org", "superuser"), headers=headers)

    assert response.status_code == 422


def test_a_short_staff_password_is_422(client, admin):
    _, headers = admin

    response = client.post(
        USERS, json=_staff("x@donor.example.org", password="short-pass"), headers=headers
    )

    assert response.status_code == 422


def test_creating_a_user_with_an_email_in_use_is_409_whatever_the_case(client, admin):
    _, headers = admin
    register(client, "nadia@ngo.example.org")

    response = client.post(USERS, json=_staff("NADIA@ngo.example.org"), headers=headers)

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_other_roles_cannot_manage_users(client, factory):
    target = factory.user(Role.reviewer)
    for role in NON_ADMIN_ROLES:
        _, headers = factory.login(role)

        created = client.post(USERS, json=_staff("new@donor.example.org"), headers=headers)
        listed = client.get(USERS, headers=headers)
        patched = client.patch(f"{USERS}/{target.id}", json={"is_active": False}, headers=headers)

        statuses = (created.status_code, listed.status_code, patched.status_code)
        assert statuses == (403, 403, 403), role
        assert created.json()["code"] == "forbidden_role"


def test_user_management_without_a_token_is_401(client, factory):
    target = factory.user(Role.reviewer)

    created = client.post(USERS, json=_staff("new@donor.example.org"))
    listed = client.get(USERS)
    patched = client.patch(f"{USERS}/{target.id}", json={"is_active": False})

    assert (created.status_code, listed.status_code, patched.status_code) == (401, 401, 401)


def test_role_is_checked_before_the_body_is_validated(client, factory):
    _, headers = factory.login(Role.reviewer)

    response = client.post(USERS, json={"email": "not-an-email"}, headers=headers)

    assert response.status_code == 403


def test_the_user_list_is_a_page_of_every_account(client, factory, admin):
    admin_user, headers = admin
    officer = factory.user(Role.program_officer)
    reviewer = factory.user(Role.reviewer)

    response = client.get(USERS, headers=headers)

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    assert [u["id"] for u in page["items"]] == [
        str(admin_user.id),
        str(officer.id),
        str(reviewer.id),
    ]


def test_the_user_list_pages_with_limit_and_offset(client, factory, admin):
    _, headers = admin
    made = [factory.user(Role.reviewer) for _ in range(4)]

    page = client.get(USERS, params={"limit": 2, "offset": 2}, headers=headers).json()

    # Oldest first: the admin, then made[0..3]; offset 2 skips the admin and made[0].
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert [u["id"] for u in page["items"]] == [str(made[1].id), str(made[2].id)]


def test_the_user_list_refuses_limits_out_of_range(client, admin):
    _, headers = admin
    for params in [{"limit": 201}, {"limit": 0}, {"offset": -1}, {"limit": "ten"}]:
        assert client.get(USERS, params=params, headers=headers).status_code == 422, params


def test_a_limit_of_200_is_accepted(client, admin):
    _, headers = admin

    assert client.get(USERS, params={"limit": 200}, headers=headers).json()["limit"] == 200


def test_the_user_list_filters_by_role_active_flag_and_email(client, factory, admin):
    _, headers = admin
    active_reviewer = factory.user(Role.reviewer, email="rosa@panel.example.org")
    inactive_reviewer = factory.user(Role.reviewer, is_active=False)
    factory.user(Role.finance_officer, email="fernando@panel.example.org")

    def ids(**params):
        items = client.get(USERS, params=params, headers=headers).json()["items"]
        return {u["id"] for u in items}

    assert ids(role="reviewer") == {str(active_reviewer.id), str(inactive_reviewer.id)}
    assert ids(role="reviewer", is_active="false") == {str(inactive_reviewer.id)}
    assert ids(role="reviewer", is_active="true") == {str(active_reviewer.id)}
    assert ids(email="ROSA@panel") == {str(active_reviewer.id)}
    assert len(ids(email="panel.example.org")) == 2
    assert ids(email="%") == set()


def test_the_admin_changes_a_users_role(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer, email="rosa@donor.example.org")

    response = client.patch(f"{USERS}/{user.id}", json={"role": "program_officer"}, headers=headers)

    assert response.status_code == 200
    assert response.json()["role"] == "program_officer"
    token = sign_in(client, "rosa@donor.example.org", OLD_PASSWORD)
    me = client.get(f"{USERS}/me", headers=bearer(token.json()["access_token"]))
    assert me.json()["role"] == "program_officer"


def test_a_role_change_ends_the_users_existing_tokens(client, factory, admin):
    _, headers = admin
    user, user_headers = factory.login(Role.reviewer)
    assert client.get(f"{USERS}/me", headers=user_headers).status_code == 200

    client.patch(f"{USERS}/{user.id}", json={"role": "finance_officer"}, headers=headers)

    assert client.get(f"{USERS}/me", headers=user_headers).status_code == 401


def test_a_staff_account_cannot_become_an_applicant(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer)

    response = client.patch(f"{USERS}/{user.id}", json={"role": "applicant"}, headers=headers)

    assert response.status_code == 422


def test_deactivation_ends_existing_tokens_and_sign_in(client, factory, admin):
    _, headers = admin
    user, user_headers = factory.login(Role.program_officer, email="olivia@donor.example.org")
    assert client.get(f"{USERS}/me", headers=user_headers).status_code == 200

    response = client.patch(f"{USERS}/{user.id}", json={"is_active": False}, headers=headers)

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert client.get(f"{USERS}/me", headers=user_headers).status_code == 401
    refused = sign_in(client, "olivia@donor.example.org", OLD_PASSWORD)
    assert refused.status_code == 401


def test_a_deactivated_user_can_be_reactivated(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer, email="rosa@donor.example.org", is_active=False)

    client.patch(f"{USERS}/{user.id}", json={"is_active": True}, headers=headers)

    assert sign_in(client, "rosa@donor.example.org", OLD_PASSWORD).status_code == 200


def test_the_admin_resets_a_password_and_old_tokens_stop_working(client, factory, admin):
    _, headers = admin
    user, user_headers = factory.login(Role.reviewer, email="rosa@donor.example.org")

    client.patch(f"{USERS}/{user.id}", json={"password": "brand-new-password-9"}, headers=headers)

    assert client.get(f"{USERS}/me", headers=user_headers).status_code == 401
    assert sign_in(client, "rosa@donor.example.org", OLD_PASSWORD).status_code == 401
    assert sign_in(client, "rosa@donor.example.org", "brand-new-password-9").status_code == 200


def test_patching_an_unknown_or_malformed_id_is_404(client, admin):
    _, headers = admin
    for user_id in [str(uuid.uuid4()), "not-a-uuid", "12345", str(uuid.UUID(int=0))]:
        response = client.patch(f"{USERS}/{user_id}", json={"is_active": False}, headers=headers)

        assert response.status_code == 404, user_id
        assert response.json()["code"] == "not_found"


def test_an_admin_cannot_deactivate_themselves(client, admin):
    admin_user, headers = admin

    response = client.patch(f"{USERS}/{admin_user.id}", json={"is_active": False}, headers=headers)

    assert response.status_code == 409
    assert response.json()["code"] == "self_lockout"
    assert client.get(f"{USERS}/me", headers=headers).json()["is_active"] is True


def test_an_admin_cannot_demote_themselves(client, admin):
    admin_user, headers = admin

    response = client.patch(f"{USERS}/{admin_user.id}", json={"role": "reviewer"}, headers=headers)

    assert response.status_code == 409
    assert client.get(f"{USERS}/me", headers=headers).json()["role"] == "admin"


def test_an_admin_may_deactivate_another_admin(client, factory, admin):
    _, headers = admin
    other, other_headers = factory.login(Role.admin)

    response = client.patch(f"{USERS}/{other.id}", json={"is_active": False}, headers=headers)

    assert response.status_code == 200
    assert client.get(f"{USERS}/me", headers=other_headers).status_code == 401


def test_an_unknown_patch_field_is_422(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer)

    response = client.patch(f"{USERS}/{user.id}", json={"email": "x@y.org"}, headers=headers)

    assert response.status_code == 422


def test_a_null_for_a_required_user_field_is_422(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer)
    for field in ["full_name", "role", "is_active", "password"]:
        response = client.patch(f"{USERS}/{user.id}", json={field: None}, headers=headers)

        assert response.status_code == 422, field


def test_an_admin_sending_a_null_role_for_themselves_is_422_not_a_lockout(client, admin):
    admin_user, headers = admin

    response = client.patch(f"{USERS}/{admin_user.id}", json={"role": None}, headers=headers)

    assert response.status_code == 422


def test_user_creation_and_changes_are_audited(client, factory, admin):
    admin_user, headers = admin
    email = "rosa@donor.example.org"
    created = client.post(USERS, json=_staff(email), headers=headers).json()

    client.patch(f"{USERS}/{created['id']}", json={"is_active": False}, headers=headers)

    events = audit_events(client, headers, entity_id=created["id"])
    assert [(e["action"], e["actor_id"], e["data"]) for e in events] == [
        ("user.created", str(admin_user.id), {"email": email, "role": "reviewer"}),
        ("user.updated", str(admin_user.id), {"is_active": False}),
    ]


def test_a_patch_that_changes_nothing_writes_no_audit_event(client, factory, admin):
    _, headers = admin
    user = factory.user(Role.reviewer)

    response = client.patch(f"{USERS}/{user.id}", json={"role": "reviewer"}, headers=headers)

    assert response.status_code == 200
    assert audit_events(client, headers) == []
