"""All tables, imported in one place so Alembic sees one metadata."""

from app.models.accounts import (
    STAFF_ROLES,
    LoginFailure,
    Organization,
    OrganizationKind,
    Role,
    User,
)
from app.models.applications import (
    Application,
    ApplicationObjective,
    ApplicationRegion,
    ApplicationStatus,
    BudgetLine,
    Document,
)
from app.models.audit import AuditEvent, AuditHead
from app.models.base import Base
from app.models.calls import Call, CallReviewer, CallStatus, ReferenceCounter
from app.models.reviews import (
    Assignment,
    ConflictOfInterest,
    Recommendation,
    Review,
    ReviewStatus,
)

__all__ = [
    "STAFF_ROLES",
    "Application",
    "ApplicationObjective",
    "ApplicationRegion",
    "ApplicationStatus",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "BudgetLine",
    "Call",
    "CallReviewer",
    "CallStatus",
    "ConflictOfInterest",
    "Document",
    "LoginFailure",
    "Organization",
    "OrganizationKind",
    "Recommendation",
    "ReferenceCounter",
    "Review",
    "ReviewStatus",
    "Role",
    "User",
]
