"""Posting to the double-entry ledger: open accounts, lock them, move money.

Every balance the API shows is read from these accounts, and every change of money is a
transfer here, written in the same transaction as the business record that caused it.
Callers lock the accounts they debit (`lock_accounts`) before checking a balance, so two
concurrent requests can never both spend the same remainder; the `no_overdraft` CHECK
constraint backs that up in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccountKind, Call, LedgerAccount, LedgerTransfer, TransferKind

# Only the outside funder may run a negative balance.
_OVERDRAFT_ALLOWED = frozenset({AccountKind.funder})


class InsufficientBalance(Exception):
    """A transfer would take a no-overdraft account below zero."""

    def __init__(self, account: LedgerAccount, amount: int) -> None:
        super().__init__(f"{account.kind.value} account {account.owner_id} lacks {amount}")
        self.account = account
        self.amount = amount


def open_account(
    session: Session, kind: AccountKind, owner_id: uuid.UUID, call: Call
) -> LedgerAccount:
    account = LedgerAccount(
        kind=kind,
        owner_id=owner_id,
        call_id=call.id,
        currency=call.currency,
        no_overdraft=kind not in _OVERDRAFT_ALLOWED,
        debits_posted=0,
        credits_posted=0,
    )
    session.add(account)
    session.flush()
    return account


def get_account(
    session: Session, kind: AccountKind, owner_id: uuid.UUID, *, lock: bool = False
) -> LedgerAccount | None:
    stmt = select(LedgerAccount).where(
        LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def require_account(
    session: Session, kind: AccountKind, owner_id: uuid.UUID, *, lock: bool = False
) -> LedgerAccount:
    account = get_account(session, kind, owner_id, lock=lock)
    if account is None:
        raise LookupError(f"no {kind.value} account for {owner_id}")
    return account


def lock_accounts(session: Session, accounts: Iterable[LedgerAccount]) -> None:
    """Lock in id order, so two transactions locking the same set never deadlock."""
    ids = sorted(a.id for a in accounts)
    if ids:
        list(
            session.scalars(
                select(LedgerAccount.id)
                .where(LedgerAccount.id.in_(ids))
                .order_by(LedgerAccount.id)
                .with_for_update()
            )
        )
        for account in accounts:
            session.refresh(account)


def transfer(
    session: Session,
    *,
    debit: LedgerAccount,
    credit: LedgerAccount,
    amount: int,
    kind: TransferKind,
    cause_type: str,
    cause_id: uuid.UUID,
) -> LedgerTransfer:
    if amount <= 0:
        raise ValueError("a transfer moves a positive amount")
    if debit.no_overdraft and debit.balance < amount:
        raise InsufficientBalance(debit, amount)
    debit.debits_posted += amount
    credit.credits_posted += amount
    entry = LedgerTransfer(
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        kind=kind,
        call_id=debit.call_id,
        cause_type=cause_type,
        cause_id=cause_id,
    )
    session.add(entry)
    session.flush()
    return entry


def envelope_account(session: Session, call: Call) -> LedgerAccount:
    """The call's envelope account, opened and funded on first use. Lock the call first."""
    envelope = get_account(session, AccountKind.envelope, call.id, lock=True)
    if envelope is not None:
        return envelope
    funder = open_account(session, AccountKind.funder, call.id, call)
    envelope = open_account(session, AccountKind.envelope, call.id, call)
    transfer(
        session,
        debit=funder,
        credit=envelope,
        amount=call.envelope_amount,
        kind=TransferKind.fund_envelope,
        cause_type="call",
        cause_id=call.id,
    )
    return envelope


def balances(
    session: Session, kind: AccountKind, owner_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Balances of many accounts of one kind in one query."""
    ids = list(owner_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            LedgerAccount.owner_id, LedgerAccount.credits_posted - LedgerAccount.debits_posted
        ).where(LedgerAccount.kind == kind, LedgerAccount.owner_id.in_(ids))
    )
    return {owner_id: int(balance) for owner_id, balance in rows}
