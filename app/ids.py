"""Path ids. A malformed id is just an id that matches nothing: it answers 404 like any
unknown resource, and only after the 401/403 checks, never as a 422."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

NO_SUCH_ID = uuid.UUID(int=0)  # uuid4 never produces it


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        return NO_SUCH_ID


def _path_id(id_: Annotated[str, Path(alias="id")]) -> uuid.UUID:
    return parse_id(id_)


ParsedId = Annotated[uuid.UUID, Depends(_path_id)]
