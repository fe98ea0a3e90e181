"""The people and the call most award tests start from (rolled-back tier)."""

from __future__ import annotations

import pytest

from app.models import Call, Role
from tests.awards.helpers import Person, person
from tests.support.factories import Factory


@pytest.fixture
def call(factory: Factory) -> Call:
    """The default published call: envelope 1000000.00, awards 50000.00 to 400000.00."""
    return factory.call()


@pytest.fixture
def officer(factory: Factory) -> Person:
    return person(factory, Role.program_officer)


@pytest.fixture
def finance(factory: Factory) -> Person:
    return person(factory, Role.finance_officer)


@pytest.fixture
def admin(factory: Factory) -> Person:
    return person(factory, Role.admin)
