"""Build test databases the way production does: `alembic upgrade head`."""

from __future__ import annotations

from alembic import command

from app.cli import alembic_config
from app.db import build_engine


def migrate(url: str, revision: str = "head") -> None:
    engine = build_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()
