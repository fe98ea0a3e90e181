"""Milestone reports: a narrative and evidence files, stored all-or-nothing.

Evidence goes through the same streamed, sniffed, size-limited path as application
documents. Files are stored first; the report and its documents are then recorded in one
transaction that re-checks the milestone under a row lock. If recording fails, every stored
file is deleted; if the process dies in between, the orphan sweeper removes them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.audit.service import record
from app.awards.service import get_milestone_for, require_planned
from app.calls.schemas import SUPPORTED_DOCUMENT_TYPES
from app.db import Database
from app.documents.multipart import BodyTooLarge, FieldPart, MultipartError, iter_parts
from app.documents.service import (
    FRAMING_ALLOWANCE,
    MIB,
    DocumentRule,
    StoredUpload,
    document_view,
    store_file,
)
from app.errors import BadRequest, PayloadTooLarge, Unprocessable
from app.models import Award, Document, Milestone, MilestoneStatus, User
from app.models.base import utcnow
from app.storage import Storage

EVIDENCE_TYPE = "evidence"
EVIDENCE_MAX_MB = 25
MAX_EVIDENCE_FILES = 10
MAX_NARRATIVE = 20_000

REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["narrative"],
                    "properties": {
                        "narrative": {"type": "string", "maxLength": MAX_NARRATIVE},
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "maxItems": MAX_EVIDENCE_FILES,
                        },
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True)
class ReportTarget:
    milestone_id: uuid.UUID
    application_id: uuid.UUID


@dataclass
class ReceivedReport:
    narrative: str = ""
    files: list[StoredUpload] = field(default_factory=list)


def report_target(db: Database, user: User, milestone_id: uuid.UUID) -> ReportTarget:
    """404 for someone else's milestone, 409 unless it is planned, before any byte is read."""
    with db.transaction(read_only=True) as session:
        milestone = get_milestone_for(session, user, milestone_id)
        require_planned(milestone)
        award = session.get(Award, milestone.award_id)
        assert award is not None
        return ReportTarget(milestone_id=milestone.id, application_id=award.application_id)


def _rule(cap: int) -> DocumentRule:
    return DocumentRule(
        doc_type=EVIDENCE_TYPE,
        label="Evidence",
        max_bytes=min(EVIDENCE_MAX_MB * MIB, cap),
        allowed_types=SUPPORTED_DOCUMENT_TYPES,
    )


async def receive_report(
    stream: AsyncIterable[bytes],
    content_type: str | None,
    content_length: str | None,
    storage: Storage,
    *,
    cap: int,
) -> ReceivedReport:
    rule = _rule(cap)
    if (content_type or "").lower().startswith("application/x-www-form-urlencoded"):
        return await _plain_form_report(stream)
    limit = MAX_EVIDENCE_FILES * (rule.max_bytes + FRAMING_ALLOWANCE) + MAX_NARRATIVE * 4
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge("The report is larger than its evidence limits allow.", "too_large")
    report = ReceivedReport()
    try:
        async for part in iter_parts(
            stream,
            content_type,
            max_file_size=rule.max_bytes,
            max_files=MAX_EVIDENCE_FILES,
            max_field_size=MAX_NARRATIVE * 4,
        ):
            if isinstance(part, FieldPart):
                if part.name == "narrative":
                    report.narrative = part.value.strip()
                continue
            if part.name != "files":
                raise Unprocessable("Evidence files go in parts named 'files'.", "bad_part")
            report.files.append(await store_file(part, rule, storage))
        if not report.narrative or len(report.narrative) > MAX_NARRATIVE:
            raise Unprocessable(
                f"A narrative of 1 to {MAX_NARRATIVE} characters is required.", "narrative"
            )
    except BaseException as exc:
        for upload in report.files:
            await run_in_threadpool(storage.delete, upload.key)
        if isinstance(exc, MultipartError):
            raise BadRequest(f"Malformed multipart body: {exc}", "invalid_multipart") from None
        if isinstance(exc, BodyTooLarge):
            raise PayloadTooLarge(
                f"An evidence file is larger than {rule.max_bytes // MIB} MiB.", "file_too_large"
            ) from None
        raise
    return report


async def _plain_form_report(stream: AsyncIterable[bytes]) -> ReceivedReport:
    """A report without evidence may also come as an ordinary form."""
    body = bytearray()
    async for chunk in stream:
        body += chunk
        if len(body) > MAX_NARRATIVE * 4:
            raise PayloadTooLarge("The narrative is too long.", "too_large")
    try:
        fields = parse_qs(body.decode(), strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("The form is not valid UTF-8.", "invalid_form") from None
    narrative = (fields.get("narrative") or [""])[0].strip()
    if not narrative or len(narrative) > MAX_NARRATIVE:
        raise Unprocessable(
            f"A narrative of 1 to {MAX_NARRATIVE} characters is required.", "narrative"
        )
    return ReceivedReport(narrative=narrative)


def _record(user: User, target: ReportTarget, report: ReceivedReport, db: Database) -> Milestone:
    with db.transaction() as session:
        milestone = get_milestone_for(session, user, target.milestone_id, lock=True)
        require_planned(milestone)
        now = utcnow()
        for upload in report.files:
            session.add(
                Document(
                    application_id=target.application_id,
                    milestone_id=milestone.id,
                    doc_type=upload.doc_type,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    size=upload.size,
                    sha256=upload.sha256,
                    storage_key=upload.key,
                    uploaded_by_id=user.id,
                    created_at=now,
                )
            )
        milestone.status = MilestoneStatus.reported
        milestone.narrative = report.narrative
        milestone.reported_at = now
        milestone.reported_by_id = user.id
        milestone.rejection_reason = None
        session.flush()
        record(
            session,
            actor=user,
            action="milestone.reported",
            entity_type="milestone",
            entity_id=milestone.id,
            data={
                "award_id": str(milestone.award_id),
                "evidence": [{"sha256": u.sha256, "size": u.size} for u in report.files],
            },
        )
        return milestone


async def record_report(
    db: Database, storage: Storage, user: User, target: ReportTarget, report: ReceivedReport
) -> Milestone:
    try:
        return await run_in_threadpool(_record, user, target, report, db)
    except BaseException:
        for upload in report.files:
            await run_in_threadpool(storage.delete, upload.key)
        raise


def list_views(session: Session, milestone_id: uuid.UUID) -> list[dict[str, Any]]:
    documents = session.scalars(
        select(Document)
        .where(Document.milestone_id == milestone_id)
        .order_by(Document.created_at, Document.id)
    )
    return [document_view(d) for d in documents]
