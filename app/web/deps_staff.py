"""Role dependencies and menu entries of the staff pages: reviewers and programme officers.

The roles mirror the API's (`app/auth/deps.py`): `ReviewerPage` is `ReviewerUser`,
`OfficerPage` is `ProgramOfficer` (screening, panels, assignments, decisions, approvals) and
`CallManagerPage` is `CallManager` (calls, ranking, statistics: admins read them too).

The menu entries and landing pages of these roles are added to the foundation's lists here,
once, when the page modules are imported (docs/web.md, "Navigation").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.models import Role, User
from app.web.deps import require_page_roles
from app.web.templating import HOME_PAGES, N_, NAV_ITEMS, NavItem

ReviewerPage = Annotated[User, Depends(require_page_roles(Role.reviewer))]
OfficerPage = Annotated[User, Depends(require_page_roles(Role.program_officer))]
CallManagerPage = Annotated[User, Depends(require_page_roles(Role.admin, Role.program_officer))]

_CALL_MANAGERS = frozenset({Role.admin, Role.program_officer})

STAFF_NAV_ITEMS = (
    NavItem("/review", N_("My reviews"), roles=frozenset({Role.reviewer})),
    NavItem("/officer/calls", N_("Calls"), roles=_CALL_MANAGERS),
    NavItem("/officer/milestones", N_("Milestone reports"), roles=_CALL_MANAGERS),
)
STAFF_HOME_PAGES = {Role.reviewer: "/review", Role.program_officer: "/officer/calls"}


def register_staff_navigation() -> None:
    """Add the staff entries to the main menu and the landing pages (idempotent)."""
    present = {item.path for item in NAV_ITEMS}
    NAV_ITEMS.extend(item for item in STAFF_NAV_ITEMS if item.path not in present)
    for role, path in STAFF_HOME_PAGES.items():
        HOME_PAGES.setdefault(role, path)


register_staff_navigation()
