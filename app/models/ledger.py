"""The double-entry ledger under every figure of money (TigerBeetle's model, in SQL).

Accounts keep posted debit and credit totals; transfers are immutable and move an amount from
a debit account to a credit account. Accounts flagged `no_overdraft` carry a CHECK constraint
`credits_posted >= debits_posted`: the database itself refuses any transfer that would take
an envelope, an award or a milestone below zero, whatever the code above it does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, enum_column, utcnow


class AccountKind(StrEnum):
    funder = "funder"  # the outside world paying the envelope in; may go negative
    envelope = "envelope"  # a call's uncommitted money
    award = "award"  # an award's commitment not yet allocated to a milestone
    milestone = "milestone"  # what remains to be paid on a milestone
    paid = "paid"  # money paid out on an award


class LedgerAccount(UUIDPrimaryKey, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("NOT no_overdraft OR credits_posted >= debits_posted", name="no_overdraft"),
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="posted_not_negative"),
        Index("ix_ledger_accounts_owner", "kind", "owner_id", unique=True),
    )

    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind))
    # The call, award or milestone the account belongs to.
    owner_id: Mapped[uuid.UUID]
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    no_overdraft: Mapped[bool]
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted


class TransferKind(StrEnum):
    fund_envelope = "fund_envelope"
    commit = "commit"  # envelope → award
    decommit = "decommit"  # award → envelope (an amendment lowering the award)
    allocate = "allocate"  # award → milestone
    deallocate = "deallocate"  # milestone → award
    disburse = "disburse"  # milestone → paid
    reverse = "reverse"  # paid → milestone


class LedgerTransfer(UUIDPrimaryKey, Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive_amount"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    )

    debit_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), index=True
    )
    credit_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[TransferKind] = mapped_column(enum_column(TransferKind))
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    # The business record that caused it: an award, amendment, disbursement or reversal.
    cause_type: Mapped[str] = mapped_column(String(30))
    cause_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
