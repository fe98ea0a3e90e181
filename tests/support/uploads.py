"""Real document bytes for upload tests, built in memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from openpyxl import Workbook

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def pdf_bytes(padding: int = 2000) -> bytes:
    """A small, well-formed one-page PDF (plus a comment to reach a given size)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%" + b"x" * padding + b"\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def xlsx_bytes() -> bytes:
    """A real workbook written by openpyxl."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Category", "Amount"])
    sheet.append(["Personal", 120000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def plain_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "not an office document")
        archive.writestr("xl/data.csv", "a,b\n1,2\n")
    return buffer.getvalue()


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def windows_executable_bytes(size: int = 20_000) -> bytes:
    """The start of a PE file: what a disguised `.exe` renamed to `.pdf` looks like."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * (size - 14)


def upload_files(
    doc_type: str, content: bytes, filename: str = "proposal.pdf", content_type: str = PDF
) -> dict[str, tuple[str | None, bytes | str, str] | tuple[None, str]]:
    """The multipart form for POST /applications/{id}/documents (doc_type first)."""
    return {"doc_type": (None, doc_type), "file": (filename, content, content_type)}
