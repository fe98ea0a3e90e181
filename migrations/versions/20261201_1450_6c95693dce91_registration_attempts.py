"""Registration attempts per client address, for the hourly self-registration limit.

Revision ID: 6c95693dce91
Revises: 2c95c0778f10
Create Date: 2026-12-01 14:50:05.099607
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "6c95693dce91"
down_revision: str | None = "2c95c0778f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_attempts",
        sa.Column("client_ip", sa.String(length=45), nullable=False),
        sa.Column("attempted_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_attempts")),
    )
    with op.batch_alter_table("registration_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_attempts_client_ip_attempted_at",
            ["client_ip", "attempted_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("registration_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_attempts_client_ip_attempted_at")

    op.drop_table("registration_attempts")
