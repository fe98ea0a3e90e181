"""Document upload (streamed multipart), listing, download and deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.applications.service import get_application_for
from app.auth.deps import ApplicantUser, CurrentUser
from app.calls.schemas import SUPPORTED_DOCUMENT_TYPES
from app.db import Database, DbSession
from app.documents import service
from app.documents.filenames import content_disposition
from app.documents.schemas import UPLOAD_BODY, DocumentOut
from app.errors import PayloadTooLarge, error_responses
from app.ids import ParsedId
from app.storage import Storage

router = APIRouter(tags=["documents"], responses=error_responses(401, 503))


@router.post(
    "/applications/{id}/documents",
    status_code=201,
    response_model=DocumentOut,
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(
        403,
        404,
        described={
            400: "Malformed multipart body",
            409: "The application is no longer a draft",
            413: "The file exceeds its document type's size limit",
            415: "The file's content is not an allowed type",
            422: "Unknown doc_type, or no file",
            503: "Document storage or the database is unavailable; nothing was recorded",
            507: "Document storage is full; nothing was recorded",
        },
    ),
)
async def upload_document(request: Request, user: ApplicantUser, app_id: ParsedId) -> DocumentOut:
    """Upload one file: a `doc_type` field, then the `file` part, streamed to storage."""
    db: Database = request.app.state.db
    storage: Storage = request.app.state.storage
    cap = request.app.state.settings.max_upload_bytes
    target = await run_in_threadpool(service.upload_target, db, user, app_id, cap)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > target.max_body:
        raise PayloadTooLarge(
            "The request is larger than any document this call accepts.", "file_too_large"
        )
    upload = await service.receive_upload(
        request.stream(), request.headers.get("content-type"), target, storage
    )
    try:
        document = await run_in_threadpool(service.record_document, db, user, app_id, upload)
    except BaseException:
        await run_in_threadpool(storage.delete, upload.key)
        raise
    return DocumentOut.model_validate(service.document_view(document))


@router.get(
    "/applications/{id}/documents", response_model=list[DocumentOut], responses=error_responses(404)
)
def list_documents(user: CurrentUser, app_id: ParsedId, session: DbSession) -> list[DocumentOut]:
    application = get_application_for(session, user, app_id)
    blind = application.call.blind_review
    return [
        DocumentOut.model_validate(service.document_view(d, service.shown_filename(d, user, blind)))
        for d in service.list_documents(session, application.id)
    ]


@router.get(
    "/documents/{id}/content",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The bytes, with the type detected from them at upload",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in sorted(SUPPORTED_DOCUMENT_TYPES)
            },
        },
        **error_responses(described={404: "No such document, or its content is missing"}),
    },
)
def download_document(
    request: Request,
    user: CurrentUser,
    document_id: ParsedId,
    session: DbSession,
    disposition: Annotated[str, Query(pattern="^(attachment|inline)$")] = "attachment",
) -> StreamingResponse:
    """Stream the stored bytes, with the display name in Content-Disposition."""
    document, application = service.get_document_for(session, user, document_id)
    filename = service.shown_filename(document, user, application.call.blind_review)
    storage: Storage = request.app.state.storage
    chunks = storage.open(document.storage_key)
    return StreamingResponse(
        chunks,
        media_type=document.content_type,
        headers={
            "Content-Length": str(document.size),
            "Content-Disposition": content_disposition(filename, disposition),
            "ETag": f'"{document.sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.delete(
    "/documents/{id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404, described={409: "The application is no longer a draft"}),
)
def delete_document(
    request: Request,
    user: ApplicantUser,
    document_id: ParsedId,
    session: DbSession,
    background: BackgroundTasks,
) -> Response:
    """Delete a document of a draft application. The bytes go once the deletion is committed."""
    document, _ = service.get_document_for(session, user, document_id)
    key = service.delete_document(session, actor=user, document=document)
    # Runs after the commit; if it fails, the orphan sweeper removes the object later.
    background.add_task(request.app.state.storage.delete, key)
    return Response(status_code=204)
