"""Documents: streamed, validated, all-or-nothing uploads, and authorised downloads.

An upload is stored first and recorded second. If storing fails nothing is recorded (503);
if recording fails the stored object is deleted; if the process dies in between, the object
has no row and `grants sweep-orphans` removes it later. The route owns these two steps, so
the upload holds no database transaction while the bytes stream in.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.applications.service import get_application_for
from app.audit.service import record
from app.db import Database
from app.documents.filenames import display_name
from app.documents.multipart import (
    BodyTooLarge,
    FieldPart,
    FilePart,
    MultipartError,
    iter_parts,
)
from app.documents.sniffing import HEAD_SIZE, Sniffer
from app.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from app.models import Application, ApplicationStatus, Document, Role, User
from app.models.base import utcnow
from app.storage import ObjectWriter, Storage

MIB = 1024 * 1024
KEY_PREFIX = "documents/"
# Multipart framing around the file: boundaries, part headers, the doc_type field.
FRAMING_ALLOWANCE = 64 * 1024
# Bytes handed to storage per thread hop: fewer hops than the parser's 64 KiB slices.
WRITE_BLOCK = MIB
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class DocumentRule:
    doc_type: str
    label: str
    max_bytes: int
    allowed_types: frozenset[str]


@dataclass(frozen=True)
class UploadTarget:
    application_id: uuid.UUID
    rules: dict[str, DocumentRule]

    @property
    def max_body(self) -> int:
        return max((r.max_bytes for r in self.rules.values()), default=0) + FRAMING_ALLOWANCE


@dataclass(frozen=True)
class StoredUpload:
    key: str
    doc_type: str
    filename: str
    content_type: str
    size: int
    sha256: str


def new_key() -> str:
    return f"{KEY_PREFIX}{uuid.uuid4().hex}"


def _require_draft(application: Application) -> None:
    if application.status is not ApplicationStatus.draft:
        raise Conflict("Documents of a submitted application cannot change.", "documents_immutable")


def upload_target(db: Database, user: User, application_id: uuid.UUID, cap: int) -> UploadTarget:
    """Who may upload where, and the call's rules, read before any byte of the file."""
    with db.transaction(read_only=True) as session:
        application = get_application_for(session, user, application_id)
        rules = {
            r["type"]: DocumentRule(
                doc_type=r["type"],
                label=r["label"],
                max_bytes=min(r["max_size_mb"] * MIB, cap),
                allowed_types=frozenset(r["allowed_types"]),
            )
            for r in application.call.required_documents
        }
        return UploadTarget(application_id=application.id, rules=rules)


async def receive_upload(
    stream: AsyncIterable[bytes],
    content_type: str | None,
    target: UploadTarget,
    storage: Storage,
) -> StoredUpload:
    """Read the multipart body and stream its file to storage; 4xx for anything off."""
    doc_type: str | None = None
    stored: StoredUpload | None = None
    try:
        async for part in iter_parts(stream, content_type, max_file_size=target.max_body):
            if isinstance(part, FieldPart):
                if part.name == "doc_type":
                    doc_type = part.value.strip()
                continue
            if part.name != "file" or stored is not None:
                raise Unprocessable("Send exactly one file, in a part named 'file'.", "bad_part")
            if doc_type is None:
                raise Unprocessable(
                    "The doc_type field must come before the file.", "doc_type_missing"
                )
            rule = target.rules.get(doc_type)
            if rule is None:
                raise Unprocessable(
                    f"Unknown document type {doc_type!r}; the call accepts "
                    + ", ".join(sorted(target.rules) or ["none"])
                    + ".",
                    "unknown_doc_type",
                )
            stored = await store_file(part, rule, storage)
    except MultipartError as exc:
        if stored is not None:
            await run_in_threadpool(storage.delete, stored.key)
        raise BadRequest(f"Malformed multipart body: {exc}", "invalid_multipart") from None
    except BodyTooLarge as exc:
        raise PayloadTooLarge(
            f"The file is larger than the {exc.limit // MIB} MiB allowed for this document type.",
            "file_too_large",
        ) from None
    if stored is None:
        raise Unprocessable("No file was sent.", "file_missing")
    return stored


async def store_file(part: FilePart, rule: DocumentRule, storage: Storage) -> StoredUpload:
    """Stream one file part to storage: sniffed, hashed, size-limited; aborted on any error."""
    key = new_key()
    writer: ObjectWriter = await run_in_threadpool(storage.writer, key)
    sniffer, digest, size = Sniffer(), hashlib.sha256(), 0
    block = bytearray()
    checked_head = False
    try:
        async for chunk in part.chunks(max_size=rule.max_bytes):
            sniffer.feed(chunk)
            digest.update(chunk)
            size += len(chunk)
            block += chunk
            if not checked_head and size >= HEAD_SIZE:
                # Refuse as soon as the magic number rules the file out (an executable, say);
                # a zip is only judged at its end. `block` still holds the start here, since
                # it is flushed at WRITE_BLOCK, well past HEAD_SIZE.
                checked_head = True
                if not block.startswith(_ZIP_MAGIC) and sniffer.result() not in rule.allowed_types:
                    raise _refusal(sniffer.result(), rule)
            if len(block) >= WRITE_BLOCK:
                await run_in_threadpool(writer.write, bytes(block))
                block.clear()
        if size == 0:
            raise Unprocessable("The file is empty.", "empty_file")
        detected = sniffer.result()
        if detected not in rule.allowed_types:
            raise _refusal(detected, rule)
        if block:
            await run_in_threadpool(writer.write, bytes(block))
        await run_in_threadpool(writer.commit)
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise
    return StoredUpload(
        key=key,
        doc_type=rule.doc_type,
        filename=display_name(part.filename),
        content_type=detected,
        size=size,
        sha256=digest.hexdigest(),
    )


def _refusal(detected: str | None, rule: DocumentRule) -> UnsupportedMediaType:
    found = detected or "an unrecognised format"
    return UnsupportedMediaType(
        f"The file's content is {found}; {rule.label} accepts "
        + ", ".join(sorted(rule.allowed_types))
        + ".",
        "unsupported_file_type",
        extra={"detected_type": detected},
    )


def record_document(
    db: Database, user: User, application_id: uuid.UUID, upload: StoredUpload
) -> Document:
    """Record a stored upload. Re-checks the draft state under a row lock, in one transaction."""
    with db.transaction() as session:
        application = get_application_for(session, user, application_id, lock=True)
        _require_draft(application)
        document = Document(
            application_id=application.id,
            doc_type=upload.doc_type,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            storage_key=upload.key,
            uploaded_by_id=user.id,
            created_at=utcnow(),
        )
        session.add(document)
        session.flush()
        record(
            session,
            actor=user,
            action="document.uploaded",
            entity_type="document",
            entity_id=document.id,
            data={
                "application_id": str(application.id),
                "doc_type": upload.doc_type,
                "size": upload.size,
                "sha256": upload.sha256,
                "content_type": upload.content_type,
            },
        )
        return document


def get_document_for(
    session: Session, user: User, document_id: uuid.UUID
) -> tuple[Document, Application]:
    """The document and its application, if the application is visible to this user; else 404."""
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound("Document not found.")
    try:
        application = get_application_for(session, user, document.application_id)
    except NotFound:
        raise NotFound("Document not found.") from None
    return document, application


def list_documents(session: Session, application_id: uuid.UUID) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.application_id == application_id, Document.milestone_id.is_(None))
            .order_by(Document.created_at, Document.id)
        )
    )


def delete_document(session: Session, *, actor: User, document: Document) -> str:
    """Delete the record; returns the storage key, to remove once the deletion is committed."""
    application = get_application_for(session, actor, document.application_id, lock=True)
    _require_draft(application)
    key = document.storage_key
    session.delete(document)
    session.flush()
    record(
        session,
        actor=actor,
        action="document.deleted",
        entity_type="document",
        entity_id=document.id,
        data={"application_id": str(application.id), "doc_type": document.doc_type},
    )
    return key


_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


def shown_filename(document: Document, viewer: User, blind: bool) -> str:
    """A blind panel sees `proposal.pdf`, never a name that may carry the organisation's."""
    if blind and viewer.role is Role.reviewer:
        return document.doc_type + _EXTENSIONS.get(document.content_type, "")
    return document.filename


def document_view(document: Document, filename: str | None = None) -> dict[str, Any]:
    view = {
        c: getattr(document, c)
        for c in (
            "id",
            "application_id",
            "doc_type",
            "content_type",
            "size",
            "sha256",
            "created_at",
        )
    }
    view["filename"] = filename or document.filename
    return view
