"""All tables, imported in one place so Alembic sees one metadata."""

from app.models.accounts import (
    STAFF_ROLES,
    LoginFailure,
    Organization,
    OrganizationKind,
    RegistrationAttempt,
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
from app.models.awards import (
    Award,
    AwardAmendment,
    CoFundingContribution,
    CoFundingPledge,
    Disbursement,
    IdempotencyKey,
    Milestone,
    MilestoneStatus,
)
from app.models.base import Base
from app.models.calls import Call, CallReviewer, CallStatus, ReferenceCounter
from app.models.ledger import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from app.models.reviews import (
    Assignment,
    ConflictOfInterest,
    Recommendation,
    Review,
    ReviewStatus,
)

__all__ = [
    "STAFF_ROLES",
    "AccountKind",
    "Application",
    "ApplicationObjective",
    "ApplicationRegion",
    "ApplicationStatus",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "Award",
    "AwardAmendment",
    "Base",
    "BudgetLine",
    "Call",
    "CallReviewer",
    "CallStatus",
    "CoFundingContribution",
    "CoFundingPledge",
    "ConflictOfInterest",
    "Disbursement",
    "Document",
    "IdempotencyKey",
    "LedgerAccount",
    "LedgerTransfer",
    "LoginFailure",
    "Milestone",
    "MilestoneStatus",
    "Organization",
    "OrganizationKind",
    "Recommendation",
    "ReferenceCounter",
    "RegistrationAttempt",
    "Review",
    "ReviewStatus",
    "Role",
    "TransferKind",
    "User",
]
