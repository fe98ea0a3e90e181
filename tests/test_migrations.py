"""Alembic is the only schema path: it builds every database, and it matches the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from app.cli import alembic_config
from app.db import build_engine
from app.models import Base
from tests.conftest import DatabaseFactory


def test_upgrade_from_empty_reaches_the_single_head(engine: Engine) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    assert current == heads[0]
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_seed_the_audit_chain_genesis(engine: Engine) -> None:
    with engine.connect() as conn:
        head = conn.execute(text("SELECT id, seq, hash FROM audit_head")).one()
    assert tuple(head) == (1, 0, "0" * 64)


def test_downgrade_to_base_and_back_up(database_factory: DatabaseFactory) -> None:
    url = database_factory.create("roundtrip")
    engine = build_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.connect() as conn:
            assert "audit_events" in inspect(conn).get_table_names()
    finally:
        engine.dispose()
