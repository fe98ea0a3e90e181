"""Awards, milestones, disbursements, the double-entry ledger, idempotency keys, co-funding.

Revision ID: 2c95c0778f10
Revises: 03efc6a2ba2b
Create Date: 2026-12-01 14:40:09.917475
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = "2c95c0778f10"
down_revision: str | None = "03efc6a2ba2b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotency_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "user_id", "route", "key", name=op.f("uq_idempotency_keys_user_id_route_key")
        ),
    )
    op.create_table(
        "cofunding_pledges",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("funder", sa.String(length=300), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pledged_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_cofunding_pledges_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_cofunding_pledges_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cofunding_pledges")),
    )
    with op.batch_alter_table("cofunding_pledges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cofunding_pledges_call_id"), ["call_id"], unique=False)

    op.create_table(
        "ledger_accounts",
        sa.Column(
            "kind",
            sa.Enum(
                "funder",
                "envelope",
                "award",
                "milestone",
                "paid",
                name="accountkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("no_overdraft", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "NOT no_overdraft OR credits_posted >= debits_posted",
            name=op.f("ck_ledger_accounts_no_overdraft"),
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_posted_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_ledger_accounts_call_id_calls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_accounts_call_id"), ["call_id"], unique=False)
        batch_op.create_index("ix_ledger_accounts_owner", ["kind", "owner_id"], unique=True)

    op.create_table(
        "awards",
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_awards_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_awards_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_awards_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_awards_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_awards")),
        sa.UniqueConstraint("application_id", name=op.f("uq_awards_application_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_awards_reference")),
    )
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_awards_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_awards_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "cofunding_contributions",
        sa.Column("pledge_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("contributed_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pledge_id"],
            ["cofunding_pledges.id"],
            name=op.f("fk_cofunding_contributions_pledge_id_cofunding_pledges"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_cofunding_contributions_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cofunding_contributions")),
    )
    with op.batch_alter_table("cofunding_contributions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cofunding_contributions_pledge_id"), ["pledge_id"], unique=False
        )

    op.create_table(
        "ledger_transfers",
        sa.Column("debit_account_id", sa.Uuid(), nullable=False),
        sa.Column("credit_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "fund_envelope",
                "commit",
                "decommit",
                "allocate",
                "deallocate",
                "disburse",
                "reverse",
                name="transferkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("cause_type", sa.String(length=30), nullable=False),
        sa.Column("cause_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_positive_amount")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id",
            name=op.f("ck_ledger_transfers_distinct_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_ledger_transfers_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_transfers_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_cause_id"), ["cause_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_credit_account_id"), ["credit_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_debit_account_id"), ["debit_account_id"], unique=False
        )

    op.create_table(
        "award_amendments",
        sa.Column("award_id", sa.Uuid(), nullable=False),
        sa.Column("previous_amount", sa.BigInteger(), nullable=False),
        sa.Column("new_amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "previous_schedule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "new_schedule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("amended_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["amended_by_id"], ["users.id"], name=op.f("fk_award_amendments_amended_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_award_amendments_award_id_awards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_amendments")),
    )
    with op.batch_alter_table("award_amendments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_award_amendments_award_id"), ["award_id"], unique=False
        )

    op.create_table(
        "milestones",
        sa.Column("award_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "reported",
                "approved",
                "paid",
                name="milestonestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("reported_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_by_id", sa.Uuid(), nullable=True),
        sa.Column("approved_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by_id", sa.Uuid(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_milestones_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_milestones_award_id_awards")
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"], ["users.id"], name=op.f("fk_milestones_reported_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestones_award_id"), ["award_id"], unique=False)

    op.create_table(
        "disbursements",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("award_id", sa.Uuid(), nullable=False),
        sa.Column("milestone_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_disbursements_award_id_awards")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_disbursements_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["milestones.id"],
            name=op.f("fk_disbursements_milestone_id_milestones"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_disbursements_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["disbursements.id"],
            name=op.f("fk_disbursements_reverses_id_disbursements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursements")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_disbursements_reverses_id")),
    )
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disbursements_award_id"), ["award_id"], unique=False)
        batch_op.create_index(
            "ix_disbursements_call_value_date", ["call_id", "value_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disbursements_milestone_id"), ["milestone_id"], unique=False
        )

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("milestone_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_documents_milestone_id"), ["milestone_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_milestone_id_milestones"),
            "milestones",
            ["milestone_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_documents_milestone_id_milestones"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_documents_milestone_id"))
        batch_op.drop_column("milestone_id")

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decline_reason")

    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disbursements_milestone_id"))
        batch_op.drop_index("ix_disbursements_call_value_date")
        batch_op.drop_index(batch_op.f("ix_disbursements_award_id"))

    op.drop_table("disbursements")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestones_award_id"))

    op.drop_table("milestones")
    with op.batch_alter_table("award_amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_award_amendments_award_id"))

    op.drop_table("award_amendments")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_debit_account_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_credit_account_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_cause_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_call_id"))

    op.drop_table("ledger_transfers")
    with op.batch_alter_table("cofunding_contributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cofunding_contributions_pledge_id"))

    op.drop_table("cofunding_contributions")
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_awards_organization_id"))
        batch_op.drop_index(batch_op.f("ix_awards_call_id"))

    op.drop_table("awards")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_accounts_owner")
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_call_id"))

    op.drop_table("ledger_accounts")
    with op.batch_alter_table("cofunding_pledges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cofunding_pledges_call_id"))

    op.drop_table("cofunding_pledges")
    op.drop_table("idempotency_keys")
