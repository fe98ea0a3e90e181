"""Content type detection from real document bytes, fed in arbitrary chunks."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.documents.sniffing import (
    DOCM,
    DOCX,
    ELF_EXECUTABLE,
    JPEG,
    MACH_O_EXECUTABLE,
    PDF,
    PNG,
    WINDOWS_EXECUTABLE,
    XLSX,
    ZIP,
    Sniffer,
    ZipLimits,
)

# --- fixtures: real files, built in memory -------------------------------------------------

CONTENT_TYPES_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOCUMENT_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>Milestone 2 report</w:t></w:r></w:p></w:body></w:document>"
)
DOCX_PARTS = {
    "[Content_Types].xml": CONTENT_TYPES_XML,
    "_rels/.rels": RELS_XML,
    "word/document.xml": DOCUMENT_XML,
}


class _Pipe:
    """A write-only, unseekable file: zipfile then writes data descriptors (flag bit 3)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def build_zip(
    parts: dict[str, bytes],
    *,
    streamed: bool = False,
    compression: int = zipfile.ZIP_DEFLATED,
    force_zip64: bool = False,
) -> bytes:
    target: _Pipe | io.BytesIO = _Pipe() if streamed else io.BytesIO()
    with zipfile.ZipFile(target, "w", compression=compression) as archive:
        for name, content in parts.items():
            with archive.open(name, "w", force_zip64=force_zip64) as entry:
                entry.write(content)
    return bytes(target.data) if isinstance(target, _Pipe) else target.getvalue()


def build_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Item", "Amount"])
    sheet.append(["Travel", 1250.5])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def build_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def build_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x7f")  # filter byte + one pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def build_jpeg() -> bytes:
    jfif = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + jfif + b"\xff\xd9"


def sniff(data: bytes, chunk_size: int | None = None, limits: ZipLimits | None = None) -> Sniffer:
    sniffer = Sniffer(limits) if limits else Sniffer()
    step = chunk_size or max(len(data), 1)
    for start in range(0, len(data), step):
        sniffer.feed(data[start : start + step])
    return sniffer


def patch_local_header(archive: bytes, entry: str, *, uncompressed_size: int) -> bytes:
    """Rewrite the uncompressed size a local file header declares (central directory untouched)."""
    at = local_header_offset(archive, entry)
    return archive[: at + 22] + struct.pack("<I", uncompressed_size) + archive[at + 26 :]


def local_header_offset(archive: bytes, entry: str) -> int:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return opened.getinfo(entry).header_offset


# --- detection -----------------------------------------------------------------------------

FIXTURES = {
    "pdf": (build_pdf(), PDF),
    "png": (build_png(), PNG),
    "jpeg": (build_jpeg(), JPEG),
    "docx": (build_zip(DOCX_PARTS), DOCX),
    "docx-streamed": (build_zip(DOCX_PARTS, streamed=True), DOCX),
    "docx-stored-streamed": (
        build_zip(DOCX_PARTS, streamed=True, compression=zipfile.ZIP_STORED),
        DOCX,
    ),
    "docx-zip64": (build_zip(DOCX_PARTS, force_zip64=True), DOCX),
    "docx-zip64-streamed": (build_zip(DOCX_PARTS, streamed=True, force_zip64=True), DOCX),
    "xlsx": (build_xlsx(), XLSX),
}


@pytest.mark.parametrize("kind", FIXTURES)
def test_detects_document_types_from_their_bytes(kind: str) -> None:
    data, expected = FIXTURES[kind]
    sniffer = sniff(data)
    assert sniffer.result() == expected
    assert sniffer.zip_problem is None


# Every split point of every small fixture; the 5 KiB workbook gets random splits below.
@pytest.mark.parametrize("kind", [kind for kind, (data, _) in FIXTURES.items() if len(data) < 2048])
def test_every_split_point_gives_the_same_result(kind: str) -> None:
    data, expected = FIXTURES[kind]
    for split in range(len(data) + 1):
        sniffer = Sniffer()
        sniffer.feed(data[:split])
        sniffer.feed(data[split:])
        assert sniffer.result() == expected, split


@pytest.mark.parametrize("kind", FIXTURES)
def test_byte_by_byte_feeding_gives_the_same_result(kind: str) -> None:
    data, expected = FIXTURES[kind]
    assert sniff(data, chunk_size=1).result() == expected


@settings(max_examples=60, database=None, deadline=None)
@given(
    st.sampled_from(sorted(FIXTURES)),
    st.lists(st.integers(min_value=0, max_value=10**9), max_size=12),
)
def test_any_chunking_gives_the_same_result(kind: str, cuts: list[int]) -> None:
    data, expected = FIXTURES[kind]
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    sniffer = Sniffer()
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        sniffer.feed(data[start:end])
    assert sniffer.result() == expected


@settings(max_examples=100, database=None, deadline=None)
@given(
    st.sampled_from(["docx", "docx-streamed", "docx-zip64-streamed", "xlsx"]),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=300),
)
def test_corrupted_archives_are_classified_without_errors(
    kind: str, edits: list[tuple[int, int]], chunk_size: int
) -> None:
    data = bytearray(FIXTURES[kind][0])
    for position, value in edits:
        data[position % len(data)] = value
    result = sniff(bytes(data), chunk_size).result()
    assert result is None or isinstance(result, str)


def test_executable_named_like_a_pdf_is_detected_as_an_executable() -> None:
    # A PE file a client uploads as "report.pdf" with Content-Type application/pdf: only the
    # bytes count, and a PDF header further in does not make it a PDF.
    disguised = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"%PDF-1.7\n" + b"\x00" * 512
    assert sniff(disguised).result() == WINDOWS_EXECUTABLE


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x7fELF\x02\x01\x01\x00", ELF_EXECUTABLE),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", MACH_O_EXECUTABLE),
    ],
)
def test_other_executables_are_recognised(head: bytes, expected: str) -> None:
    assert sniff(head + b"\x00" * 100).result() == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PD",
        b"Plain text notes about the budget.\n",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"\xef\xbb\xbfUTF-8 text with a BOM",
        b"\x89PNG\r\n\x1a\n",  # a PNG signature without its IHDR chunk
    ],
)
def test_text_and_unknown_content_is_not_identified(data: bytes) -> None:
    assert sniff(data).result() is None


def test_zip_that_is_not_an_office_document_is_plain_zip() -> None:
    sniffer = sniff(build_zip({"notes.txt": b"hello", "data/table.csv": b"a,b\n1,2\n"}))
    assert sniffer.result() == ZIP
    assert "[Content_Types].xml" in (sniffer.zip_problem or "")


def test_zip_with_word_document_but_no_content_types_is_not_docx() -> None:
    parts = {name: data for name, data in DOCX_PARTS.items() if name != "[Content_Types].xml"}
    assert sniff(build_zip(parts)).result() == ZIP


def test_zip_with_content_types_but_no_main_part_is_not_a_document() -> None:
    parts = {"[Content_Types].xml": CONTENT_TYPES_XML, "word/other.xml": DOCUMENT_XML}
    sniffer = sniff(build_zip(parts))
    assert sniffer.result() == ZIP
    assert "word/document.xml" in (sniffer.zip_problem or "")


def test_package_with_a_vba_project_is_reported_as_macro_enabled() -> None:
    data = build_zip({**DOCX_PARTS, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0macros"})
    assert sniff(data).result() == DOCM


def test_empty_zip_is_plain_zip() -> None:
    assert sniff(build_zip({})).result() == ZIP


def test_truncated_document_is_not_a_document() -> None:
    data = build_zip(DOCX_PARTS)
    for cut in (10, 200, len(data) // 2, len(data) - 23, len(data) - 1):
        sniffer = sniff(data[:cut])
        assert sniffer.result() == ZIP, cut
        assert sniffer.zip_problem is not None


def test_stored_entry_containing_a_fake_data_descriptor_is_read_past_it() -> None:
    # Stored content that contains the descriptor signature, even followed by plausible
    # numbers, must not be taken for the end of the entry.
    trap = b"PK\x07\x08" + struct.pack("<III", 0, 4, 4) + b"PK\x07\x08" * 3
    parts = {**DOCX_PARTS, "word/media/blob.bin": trap, "customXml/item.xml": b"<a/>"}
    data = build_zip(parts, streamed=True, compression=zipfile.ZIP_STORED)
    for chunk_size in (None, 1, 5, 7):
        assert sniff(data, chunk_size).result() == DOCX


def test_central_directory_that_disagrees_with_the_entries_is_refused() -> None:
    # Zip readers trust the central directory: local headers saying "Word document" are
    # worthless if the directory lists something else.
    data = build_zip(DOCX_PARTS)
    central = data.rindex(b"word/document.xml")
    forged = data[:central] + b"word/documenX.xml" + data[central + len(b"word/document.xml") :]
    sniffer = sniff(forged)
    assert sniffer.result() == ZIP
    assert "central directory" in (sniffer.zip_problem or "")


def test_duplicate_entry_names_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        for name, content in DOCX_PARTS.items():
            archive.writestr(name, content)
        archive.writestr("word/document.xml", b"<other/>")
    sniffer = sniff(out.getvalue())
    assert sniffer.result() == ZIP
    assert "duplicate" in (sniffer.zip_problem or "")


def test_entry_count_and_name_length_are_bounded() -> None:
    many = {f"item{i}.xml": b"<a/>" for i in range(5)}
    sniffer = sniff(build_zip({**DOCX_PARTS, **many}), limits=ZipLimits(max_entries=6))
    assert sniffer.result() == ZIP
    assert "entries" in (sniffer.zip_problem or "")

    long_name = {"word/" + "n" * 1100 + ".xml": b"<a/>"}
    sniffer = sniff(build_zip({**DOCX_PARTS, **long_name}))
    assert sniffer.result() == ZIP
    assert "name length" in (sniffer.zip_problem or "")


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(build_zip(DOCX_PARTS))
    flags_at = local_header_offset(bytes(data), "word/document.xml") + 6
    data[flags_at] |= 0x01
    sniffer = sniff(bytes(data))
    assert sniffer.result() == ZIP
    assert "encrypted" in (sniffer.zip_problem or "")


# --- decompression bombs -------------------------------------------------------------------


def test_declared_uncompressed_size_above_the_limit_is_refused() -> None:
    data = patch_local_header(
        build_zip(DOCX_PARTS), "word/document.xml", uncompressed_size=0xFFFFFFF0
    )
    sniffer = sniff(data)
    assert sniffer.result() == ZIP
    assert "decompression bomb" in (sniffer.zip_problem or "")


@pytest.mark.parametrize("field_offset", [20, 24], ids=["compressed", "uncompressed"])
def test_central_directory_sizes_must_match_the_entries(field_offset: int) -> None:
    # A directory claiming other sizes would let a reader decompress more than was checked,
    # or make entries overlap.
    data = build_zip(DOCX_PARTS)
    at = data.rindex(b"PK\x01\x02") + field_offset  # the record of word/document.xml
    forged = data[:at] + struct.pack("<I", 0xFFFFFFF0) + data[at + 4 :]
    sniffer = sniff(forged)
    assert sniffer.result() == ZIP
    assert "central directory" in (sniffer.zip_problem or "")


def test_highly_compressed_large_content_is_refused_by_ratio() -> None:
    data = build_zip({**DOCX_PARTS, "word/media/padding.bin": bytes(16 * 1024 * 1024)})
    assert len(data) < 64 * 1024
    sniffer = sniff(data, chunk_size=64 * 1024)
    assert sniffer.result() == ZIP
    assert "ratio" in (sniffer.zip_problem or "")


def test_small_highly_compressible_document_is_accepted() -> None:
    # Ratio well above 200, but only 1 MiB in total: harmless, and real spreadsheets do this.
    data = build_zip({**DOCX_PARTS, "word/media/padding.bin": bytes(1024 * 1024)})
    assert sniff(data).result() == DOCX


def test_sizes_declared_in_data_descriptors_count() -> None:
    # With data descriptors the local header declares nothing: the descriptor's size counts.
    data = build_zip(
        {**DOCX_PARTS, "word/media/padding.bin": bytes(3 * 1024 * 1024)}, streamed=True
    )
    limits = ZipLimits(max_uncompressed_total=2 * 1024 * 1024)
    sniffer = sniff(data, chunk_size=4096, limits=limits)
    assert sniffer.result() == ZIP
    assert "decompression bomb" in (sniffer.zip_problem or "")
    assert sniff(data).result() == DOCX  # within the default limits
