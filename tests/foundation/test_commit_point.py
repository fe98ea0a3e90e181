"""The request's one commit point (ARCHITECTURE rule 1): a COMMIT that fails becomes an
error response, never a 2xx followed by a lost write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.db import Database
from app.models import AuditEvent, Organization, User
from tests.foundation.api import registration

# Deferred constraint triggers make the COMMIT itself fail; SQLite has none.
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def commit_refusing_users_table(committed_db: Database) -> Iterator[None]:
    """A deferred constraint trigger: every INSERT into users fails, but only at COMMIT."""
    with committed_db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused at commit by the test'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_users_at_commit AFTER INSERT ON users "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()"
            )
        )
    try:
        yield
    finally:
        with committed_db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_users_at_commit ON users"))
            conn.execute(text("DROP FUNCTION refuse_at_commit()"))


def test_a_failing_commit_answers_503_and_leaves_nothing_behind(
    commit_refusing_users_table, committed_app_factory, committed_db
):
    with TestClient(committed_app_factory(), raise_server_exceptions=False) as client:
        response = client.post("/api/v1/auth/register", json=registration("lost@ngo.example.org"))

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    with committed_db.transaction(read_only=True) as session:
        assert session.scalar(select(User).where(User.email == "lost@ngo.example.org")) is None
        assert session.scalar(select(func.count()).select_from(Organization)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
