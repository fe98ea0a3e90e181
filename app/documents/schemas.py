"""Document payloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.schemas import OutputModel


class DocumentOut(OutputModel):
    id: uuid.UUID
    application_id: uuid.UUID
    doc_type: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["doc_type", "file"],
                    "properties": {
                        "doc_type": {
                            "type": "string",
                            "description": "One of the call's required document types. "
                            "Must come before the file part.",
                        },
                        "file": {"type": "string", "format": "binary"},
                    },
                },
                "encoding": {"doc_type": {"contentType": "text/plain"}},
            }
        },
    }
}
