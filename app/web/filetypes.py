"""How document types are named to people, and what a file picker should offer."""

from __future__ import annotations

from collections.abc import Iterable

from app.calls.schemas import DOCX, JPEG, PDF, PNG, XLSX
from app.web.i18n import I18n
from app.web.templating import N_

# MIME type → (a name people know, the file extensions a picker should offer).
FILE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    PDF: (N_("PDF"), (".pdf",)),
    DOCX: (N_("Word document (.docx)"), (".docx",)),
    XLSX: (N_("Excel workbook (.xlsx)"), (".xlsx",)),
    PNG: (N_("PNG image"), (".png",)),
    JPEG: (N_("JPEG image"), (".jpg", ".jpeg")),
}


def type_names(i18n: I18n, mime_types: Iterable[str]) -> list[str]:
    return [i18n.gettext(FILE_TYPES[m][0]) if m in FILE_TYPES else m for m in sorted(mime_types)]


def accept_attribute(mime_types: Iterable[str]) -> str:
    """The `accept` of a file input: extensions and MIME types (a hint; the server sniffs)."""
    values: list[str] = []
    for mime in sorted(mime_types):
        values.extend(FILE_TYPES.get(mime, ("", ()))[1])
        values.append(mime)
    return ",".join(values)
