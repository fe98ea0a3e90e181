"""Keyset pagination over a call's awards, shared by the standards exports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from app.models import Application, Award, Organization


def award_pages(
    session: Session, call_id: Any, columns: Sequence[Any], page_size: int
) -> Iterator[Sequence[Row[Any]]]:
    """The call's awards in reference order, `page_size` at a time, with `columns` (which must
    include `Award.reference`) from the award, its application and its organisation.

    Each page is a complete query, so no cursor stays open while the consumer is between
    chunks, and other queries may run on the session in between.
    """
    after: str | None = None
    while True:
        stmt = (
            select(*columns)
            .join(Application, Application.id == Award.application_id)
            .join(Organization, Organization.id == Award.organization_id)
            .where(Award.call_id == call_id)
            .order_by(Award.reference)
            .limit(page_size)
        )
        if after is not None:
            stmt = stmt.where(Award.reference > after)
        page = session.execute(stmt).all()
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1].reference
