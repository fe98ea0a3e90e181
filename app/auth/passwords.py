"""Argon2id password hashing (argon2-cffi), with parameters from the settings.

Tests lower the memory and time cost through the settings; production keeps the defaults.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import get_settings

# Compared against when the account does not exist, so that a missing account and a wrong
# password take the same time and cannot be told apart.
_DUMMY_PASSWORD = "not-a-real-password-for-timing"  # noqa: S105


@lru_cache
def _hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=1)


def hasher() -> PasswordHasher:
    settings = get_settings()
    return _hasher(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@lru_cache
def _dummy_hash(memory_kib: int, time_cost: int) -> str:
    return _hasher(memory_kib, time_cost).hash(_DUMMY_PASSWORD)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; runs a full hash even when there is no account."""
    settings = get_settings()
    target = password_hash or _dummy_hash(
        settings.password_hash_memory_kib, settings.password_hash_time_cost
    )
    try:
        hasher().verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)
