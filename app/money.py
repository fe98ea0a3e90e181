"""Exact money: integer minor units inside, two-decimal strings at the API edge.

Input accepts a string or an integer matching `^\\d{1,13}(\\.\\d{1,2})?$`; floats, signs,
exponents, NaN and Infinity are refused, because a float has already lost the cents.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

MONEY_PATTERN = re.compile(r"^\d{1,13}(\.\d{1,2})?$", re.ASCII)
SIGNED_MONEY_PATTERN = r"^-?\d{1,13}\.\d{2}$"
CENTS = 100


def parse_money(value: Any) -> int:
    """Parse API input into minor units, or raise ValueError with a readable message."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError('must be a decimal string such as "1250000.00" or a whole number')
    text = str(value)
    if not MONEY_PATTERN.fullmatch(text):
        raise ValueError("must be a non-negative amount with at most 13 digits and 2 decimals")
    return int(Decimal(text) * CENTS)


def to_decimal(minor: int) -> Decimal:
    """`125000050` → `Decimal("1250000.50")`, always with two decimals."""
    return Decimal(minor).scaleb(-2)


def format_money(minor: int) -> str:
    """`125000000` → `"1250000.00"`; negative amounts (reversals) keep their sign."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), CENTS)
    return f"{sign}{units}.{cents:02d}"


MoneyIn = Annotated[
    int,
    BeforeValidator(parse_money),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": MONEY_PATTERN.pattern},
                {"type": "integer", "minimum": 0, "maximum": 9999999999999},
            ],
            "examples": ["1250000.00"],
        }
    ),
]
"""An amount sent by a client, held as integer minor units."""

MoneyOut = Annotated[
    int,
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": SIGNED_MONEY_PATTERN, "examples": ["1250000.00"]}),
]
"""An amount held as integer minor units, sent as a two-decimal string."""
