"""Decompression bombs dressed as Office documents are refused at upload (415), end to end.

The archives are real: valid zips that any reader would inflate to what they declare. One is
a workbook carrying an entry that inflates to 1.1 GiB from about 1.1 MB (above the 1 GiB
total the sniffer allows); the other a Word document whose 64 MiB of padding compress a
thousandfold (above the 200:1 ratio allowed past 10 MiB). Neither is ever inflated by the
service: the sizes are read from the headers as the bytes stream past.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Document, Role
from app.storage import Storage
from tests.support.factories import Factory
from tests.support.uploads import DOCX, XLSX, upload_files, xlsx_bytes

MIB = 1024 * 1024
GIB = 1024 * MIB

DOCX_PARTS = {
    "[Content_Types].xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/word/document.xml" ContentType="application/vnd.'
        b'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    ),
    "_rels/.rels": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    ),
    "word/document.xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>Work plan</w:t></w:r></w:p></w:body></w:document>"
    ),
}


# --- building real archives -------------------------------------------------------------------


def zeros_entry(name: str, mib: int) -> tuple[str, int, int, bytes]:
    """(name, crc32, size, deflate stream) for `mib` MiB of zero bytes, built fast.

    After a full flush the compressor starts afresh, so every MiB of zeros compresses to the
    same block and the stream is that block repeated: exactly what zlib would produce for the
    whole input flushed every MiB, and it inflates to `mib` MiB.
    """
    chunk = bytes(MIB)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return name, crc, mib * MIB, block * mib + compressor.flush(zlib.Z_FINISH)


def deflated_entry(name: str, data: bytes) -> tuple[str, int, int, bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return name, zlib.crc32(data), len(data), compressor.compress(data) + compressor.flush()


def zip_archive(entries: Iterable[tuple[str, int, int, bytes]]) -> bytes:
    """A plain zip (deflate, no data descriptors, no ZIP64) of prepared entries."""
    out, directory, count = bytearray(), bytearray(), 0
    for name, crc, size, stream in entries:
        encoded = name.encode()
        offset = len(out)
        out += b"PK\x03\x04" + struct.pack(
            "<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(stream), size, len(encoded), 0
        )
        out += encoded + stream
        directory += b"PK\x01\x02" + struct.pack(
            "<HHHHHHIIIHHHHHII",
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(stream),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        directory += encoded
        count += 1
    start = len(out)
    out += directory
    out += b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(directory), start, 0)
    return bytes(out)


def workbook_parts() -> list[tuple[str, int, int, bytes]]:
    """The parts of a real openpyxl workbook, recompressed."""
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes())) as workbook:
        return [deflated_entry(n, workbook.read(n)) for n in workbook.namelist()]


def declared_total(archive: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return sum(info.file_size for info in opened.infolist())


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def draft(client: TestClient, factory: Factory) -> tuple[str, dict[str, str]]:
    """A draft application to a call taking a DOCX work plan and an XLSX budget (2 MiB each)."""
    call = factory.call(
        required_documents=[
            {
                "type": "work_plan",
                "label": "Work plan",
                "required": False,
                "max_size_mb": 2,
                "allowed_types": [DOCX],
            },
            {
                "type": "budget_detail",
                "label": "Budget",
                "required": False,
                "max_size_mb": 2,
                "allowed_types": [XLSX],
            },
        ]
    )
    _, applicant = factory.login(Role.applicant)
    created = client.post(
        f"/api/v1/calls/{call.id}/applications",
        json={"title": "Refugio seguro", "requested_amount": "100000.00"},
        headers=applicant,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], applicant


def upload(client, draft, doc_type: str, content: bytes, name: str, mime: str):
    application_id, headers = draft
    return client.post(
        f"/api/v1/applications/{application_id}/documents",
        files=upload_files(doc_type, content, name, mime),
        headers=headers,
    )


def documents(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Document)) or 0


def stored(storage: Storage) -> int:
    return sum(1 for _ in storage.iter_objects("documents/"))


def test_a_workbook_that_inflates_past_a_gibibyte_is_refused(
    client: TestClient, draft, db: Database, storage: Storage
) -> None:
    bomb = zip_archive([*workbook_parts(), zeros_entry("xl/media/image1.bin", 1100)])
    # A real bomb: about 1.1 MB that readers would inflate to more than 1 GiB.
    assert len(bomb) < 2 * MIB
    assert declared_total(bomb) > GIB

    response = upload(client, draft, "budget_detail", bomb, "budget.xlsx", XLSX)

    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_file_type"
    assert response.json()["detected_type"] == "application/zip"
    assert (documents(db), stored(storage)) == (0, 0)


def test_a_document_compressed_a_thousandfold_is_refused(
    client: TestClient, draft, db: Database, storage: Storage
) -> None:
    parts = [deflated_entry(name, data) for name, data in DOCX_PARTS.items()]
    bomb = zip_archive([*parts, zeros_entry("word/media/image1.png", 64)])
    assert declared_total(bomb) / len(bomb) > 900

    response = upload(client, draft, "work_plan", bomb, "plan.docx", DOCX)

    assert response.status_code == 415, response.text
    assert response.json()["detected_type"] == "application/zip"
    assert (documents(db), stored(storage)) == (0, 0)


def test_the_same_documents_without_the_padding_are_accepted(
    client: TestClient, draft, db: Database
) -> None:
    # The builders make documents the sniffer accepts: the refusals above are the bombs'.
    workbook = zip_archive(workbook_parts())
    document = zip_archive([deflated_entry(name, data) for name, data in DOCX_PARTS.items()])
    modest = zip_archive(
        [*(deflated_entry(n, d) for n, d in DOCX_PARTS.items()), zeros_entry("word/x.bin", 2)]
    )

    with zipfile.ZipFile(io.BytesIO(modest)) as opened:
        assert opened.testzip() is None  # every entry inflates to its declared size and CRC
        assert opened.read("word/x.bin") == bytes(2 * MIB)

    for doc_type, content, name, mime in (
        ("budget_detail", workbook, "budget.xlsx", XLSX),
        ("work_plan", document, "plan.docx", DOCX),
        ("work_plan", modest, "plan2.docx", DOCX),
    ):
        response = upload(client, draft, doc_type, content, name, mime)
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == mime
    assert documents(db) == 3
