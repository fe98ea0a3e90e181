"""Content type detection from the uploaded bytes alone, fed incrementally as they stream in.

The client's Content-Type and filename are never consulted: both are whatever the client wants
them to be. `Sniffer` keeps the first 8 KiB for magic numbers. A zip archive additionally goes
through `_ZipScanner`, which walks the archive's records as they stream past, because "starts
with PK" says nothing about whether the archive is a Word or Excel document.

OOXML verification (all of it must hold, else the archive is plain `application/zip`):

* every local file header is well formed, unencrypted, stored or deflated (the only methods
  ECMA-376 allows), with a name of at most `ZipLimits.max_name_bytes` and no duplicate names,
  and there are at most `ZipLimits.max_entries` entries;
* the central directory that follows lists exactly the entries seen, at the offsets they were
  seen at, with the same sizes. Zip readers (Office included) trust the central directory, so
  an archive whose local headers say "Word document" while its directory says something else,
  or whose directory makes entries overlap, is refused;
* the end-of-central-directory record is reached (truncated uploads are refused). ZIP64
  end records are not supported: they only occur past 65,535 entries or 4 GiB, both far
  beyond the limits;
* the package has `[Content_Types].xml` and `word/document.xml` (DOCX) or `xl/workbook.xml`
  (XLSX). With a VBA project inside, the macro-enabled type is returned instead so that the
  caller refuses it.

Decompression bombs: nothing is ever decompressed (inflating on the event loop would cost
seconds of CPU per crafted upload). Uncompressed sizes are added up as they are *declared*
and the archive is refused as soon as the total exceeds `ZipLimits.max_uncompressed_total`;
at the end it must also respect `max_ratio` against the archive size. Since the central
directory must repeat the same sizes, a reader trusting either place sees sizes within the
limits. Whatever decompresses these files later (Office on a user's machine, a preview
worker) must still enforce its own limits on what it actually inflates.

Entries with a data descriptor (general purpose flag bit 3, what streaming zip writers
produce) declare their sizes only after their data, so their end is found by scanning for the
descriptor signature followed by a compressed size equal to the number of bytes scanned:
compressed data that merely contains the signature does not pass. A descriptor without its
(optional, but near universal) signature is never found: such an archive counts as truncated.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Generator
from dataclasses import dataclass

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCM = "application/vnd.ms-word.document.macroEnabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
ZIP = "application/zip"
WINDOWS_EXECUTABLE = "application/x-msdownload"
ELF_EXECUTABLE = "application/x-executable"
MACH_O_EXECUTABLE = "application/x-mach-binary"

HEAD_SIZE = 8 * 1024

_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_END_SIG = b"PK\x05\x06"
_DESCRIPTOR_SIG = b"PK\x07\x08"

# Checked in order against the start of the content. Text is deliberately not detected: the
# service has no text document type, and calling something "text/plain" from its first 8 KiB
# would wave through HTML, SVG and scripts, which are text too.
_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    # The signature plus the IHDR chunk that must come first, with its fixed length of 13.
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"MZ", WINDOWS_EXECUTABLE),
    (b"\x7fELF", ELF_EXECUTABLE),
    (b"\xfe\xed\xfa\xce", MACH_O_EXECUTABLE),
    (b"\xfe\xed\xfa\xcf", MACH_O_EXECUTABLE),
    (b"\xce\xfa\xed\xfe", MACH_O_EXECUTABLE),
    (b"\xcf\xfa\xed\xfe", MACH_O_EXECUTABLE),
    # Empty and spanned archives: zips, but never documents.
    (_END_SIG, ZIP),
    (_DESCRIPTOR_SIG, ZIP),
)

# After the 4-byte signatures: version needed, flags, method, time, date, crc, compressed size,
# uncompressed size, name length, extra length.
_LOCAL_HEADER = struct.Struct("<HHHHHIIIHH")
# Version made by, version needed, flags, method, time, date, crc, compressed size,
# uncompressed size, name length, extra length, comment length, disk, internal attributes,
# external attributes, offset of the local header.
_CENTRAL_HEADER = struct.Struct("<HHHHHHIIIHHHHHII")
# Disk number, directory disk, entries on this disk, total entries, directory size, directory
# offset, comment length.
_END_RECORD = struct.Struct("<HHHHIIH")
_EXTRA_HEADER = struct.Struct("<HH")
_DESCRIPTOR_SIZES = struct.Struct("<II")
_DESCRIPTOR_SIZES_ZIP64 = struct.Struct("<QQ")

_FLAG_ENCRYPTED = 0x0001
_FLAG_DATA_DESCRIPTOR = 0x0008
_STORED = 0
_DEFLATED = 8
_ZIP64_EXTRA_ID = 0x0001
_ZIP64_MARKER = 0xFFFFFFFF

_CONTENT_TYPES = b"[content_types].xml"
_WORD_DOCUMENT = b"word/document.xml"
_EXCEL_WORKBOOK = b"xl/workbook.xml"
_VBA_PROJECT = b"vbaproject.bin"


@dataclass(frozen=True)
class ZipLimits:
    """Bounds on what a zip may contain before it stops being treated as a document."""

    max_entries: int = 10_000
    max_name_bytes: int = 1024
    max_uncompressed_total: int = 1024**3
    max_ratio: float = 200.0
    # Totals up to this size are never refused for their ratio: a small, very regular
    # spreadsheet can compress extremely well and is harmless however well it compresses.
    ratio_exempt_total: int = 10 * 1024**2


class _NotOoxmlError(Exception):
    """Raised inside the zip scan; its message says why the archive is only a zip."""


class Sniffer:
    """Detects a MIME type from content fed chunk by chunk; chunking never changes the answer.

    Memory use is bounded: the first `HEAD_SIZE` bytes, plus for zips a small carry-over
    buffer and a few dozen bytes per entry (a digest of its name, its sizes).
    """

    def __init__(self, zip_limits: ZipLimits = ZipLimits()) -> None:
        self._head = bytearray()
        self._size = 0
        self._zip = _ZipScanner(zip_limits)

    def feed(self, chunk: bytes) -> None:
        """Account for the next chunk of content."""
        self._size += len(chunk)
        if len(self._head) < HEAD_SIZE:
            self._head += chunk[: HEAD_SIZE - len(self._head)]
        self._zip.feed(chunk)

    def result(self) -> str | None:
        """The detected MIME type of everything fed so far, None when unrecognised."""
        if self._head.startswith(_LOCAL_SIG):
            return self._zip.mime_type(self._size)
        for magic, mime_type in _MAGIC_NUMBERS:
            if self._head.startswith(magic):
                return mime_type
        return None

    @property
    def zip_problem(self) -> str | None:
        """Why a zip archive was not accepted as an OOXML document (for logs and tests)."""
        if self._head.startswith(_LOCAL_SIG):
            return self._zip.problem(self._size)
        return None


class _ZipScanner:
    """Walks zip records as the bytes stream past, without seeking and without keeping them.

    The record grammar is written as a generator (`_scan`) that yields how many bytes it needs
    next and receives exactly that many; yielding 0 asks for "whatever is buffered, at least one
    byte", with any excess handed back through `_unread`. `feed` drives it, so the parsing logic
    never sees chunk boundaries and the carry-over buffer holds at most one record header.
    """

    def __init__(self, limits: ZipLimits) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._position = 0  # offset in the archive of the first byte in _buffer
        self._complete = False
        self._failure: str | None = None
        self._entries = 0
        self._names: set[bytes] = set()
        # Entries not yet matched by a central directory record:
        # local header offset -> (name digest, compressed size, uncompressed size).
        self._unlisted: dict[int, tuple[bytes, int, int]] = {}
        self._uncompressed_total = 0
        self._has_content_types = False
        self._has_document = False
        self._has_workbook = False
        self._has_macros = False
        self._scan_steps = self._scan()
        self._wanted = next(self._scan_steps)

    def feed(self, data: bytes) -> None:
        if self._complete or self._failure is not None:
            return
        self._buffer += data
        try:
            while True:
                wanted = self._wanted
                if wanted == 0 and self._buffer:
                    piece = bytes(self._buffer)
                    self._buffer.clear()
                elif 0 < wanted <= len(self._buffer):
                    piece = bytes(self._buffer[:wanted])
                    del self._buffer[:wanted]
                else:
                    return
                self._position += len(piece)
                self._wanted = self._scan_steps.send(piece)
        except StopIteration:
            self._complete = True
        except _NotOoxmlError as exc:
            self._failure = str(exc)
        # Finished either way: later bytes (an archive comment, trailing junk) are ignored.
        self._buffer = bytearray()

    def mime_type(self, size: int) -> str:
        if self.problem(size) is not None:
            return ZIP
        if self._has_document:
            return DOCM if self._has_macros else DOCX
        return XLSM if self._has_macros else XLSX

    def problem(self, size: int) -> str | None:
        if self._failure is not None:
            return self._failure
        if not self._complete:
            return "incomplete zip archive: the end of central directory record was not reached"
        total = self._uncompressed_total
        limits = self._limits
        if total > limits.ratio_exempt_total and total > limits.max_ratio * size:
            return f"compression ratio above {limits.max_ratio:g}: possible decompression bomb"
        if not self._has_content_types:
            return "no [Content_Types].xml: not an OOXML package"
        if not (self._has_document or self._has_workbook):
            return "neither word/document.xml nor xl/workbook.xml: not a DOCX or XLSX package"
        return None

    def _unread(self, data: bytes) -> None:
        self._buffer[0:0] = data
        self._position -= len(data)

    def _scan(self) -> Generator[int, bytes, None]:
        signature = yield 4
        if signature != _LOCAL_SIG:
            raise _NotOoxmlError("not a zip archive")
        while signature == _LOCAL_SIG:
            yield from self._local_entry(self._position - 4)
            signature = yield 4
        directory_offset = self._position - 4
        listed = 0
        while signature == _CENTRAL_SIG:
            yield from self._central_entry()
            listed += 1
            signature = yield 4
        if signature != _END_SIG:
            raise _NotOoxmlError("unexpected record after the central directory (ZIP64?)")
        end = _END_RECORD.unpack((yield _END_RECORD.size))
        total_entries, recorded_offset = end[3], end[5]
        if self._unlisted:
            raise _NotOoxmlError("the central directory omits entries present in the archive")
        if total_entries != listed or recorded_offset != directory_offset:
            raise _NotOoxmlError("the end of central directory record disagrees with the directory")

    def _local_entry(self, offset: int) -> Generator[int, bytes, None]:
        header = _LOCAL_HEADER.unpack((yield _LOCAL_HEADER.size))
        _, flags, method, _, _, _, compressed, uncompressed, name_length, extra_length = header
        self._entries += 1
        if self._entries > self._limits.max_entries:
            raise _NotOoxmlError(f"more than {self._limits.max_entries} entries")
        if flags & _FLAG_ENCRYPTED:
            raise _NotOoxmlError("encrypted entry")
        if method not in (_STORED, _DEFLATED):
            raise _NotOoxmlError(f"compression method {method} is not allowed in OOXML")
        name = yield from self._read_name(name_length)
        extra = (yield extra_length) if extra_length else b""
        digest = self._record_name(name)
        zip64_sizes = _zip64_values(extra)
        has_descriptor = bool(flags & _FLAG_DATA_DESCRIPTOR)
        if has_descriptor:
            compressed, uncompressed = yield from self._find_descriptor(zip64=bool(zip64_sizes))
        elif _ZIP64_MARKER in (uncompressed, compressed):
            # A local ZIP64 extra field always carries both sizes, uncompressed first.
            if len(zip64_sizes) < 2:
                raise _NotOoxmlError("ZIP64 sizes announced but missing")
            uncompressed, compressed = zip64_sizes[:2]
        if method == _STORED and compressed != uncompressed:
            raise _NotOoxmlError("stored entry whose compressed and uncompressed sizes differ")
        self._add_uncompressed(uncompressed)
        self._unlisted[offset] = (digest, compressed, uncompressed)
        if not has_descriptor:
            yield from self._skip(compressed)

    def _central_entry(self) -> Generator[int, bytes, None]:
        header = _CENTRAL_HEADER.unpack((yield _CENTRAL_HEADER.size))
        compressed, uncompressed, name_length, extra_length, comment_length = header[7:12]
        offset = header[15]
        name = yield from self._read_name(name_length)
        extra = (yield extra_length) if extra_length else b""
        yield from self._skip(comment_length)
        # Central ZIP64 values are present only for the fields set to the marker, in this order.
        zip64_values = iter(_zip64_values(extra))
        try:
            if uncompressed == _ZIP64_MARKER:
                uncompressed = next(zip64_values)
            if compressed == _ZIP64_MARKER:
                compressed = next(zip64_values)
            if offset == _ZIP64_MARKER:
                offset = next(zip64_values)
        except StopIteration:
            raise _NotOoxmlError("ZIP64 values announced but missing") from None
        if self._unlisted.pop(offset, None) != (_digest(name), compressed, uncompressed):
            raise _NotOoxmlError("the central directory disagrees with the local file headers")

    def _read_name(self, length: int) -> Generator[int, bytes, bytes]:
        limit = self._limits.max_name_bytes
        if not 0 < length <= limit:
            raise _NotOoxmlError(f"entry name length {length} outside 1..{limit}")
        return (yield length)

    def _record_name(self, name: bytes) -> bytes:
        digest = _digest(name)
        if digest in self._names:
            raise _NotOoxmlError("duplicate entry name")
        self._names.add(digest)
        # OPC part names compare case-insensitively.
        lowered = name.lower()
        self._has_content_types |= lowered == _CONTENT_TYPES
        self._has_document |= lowered == _WORD_DOCUMENT
        self._has_workbook |= lowered == _EXCEL_WORKBOOK
        self._has_macros |= lowered.rsplit(b"/", 1)[-1] == _VBA_PROJECT
        return digest

    def _add_uncompressed(self, size: int) -> None:
        self._uncompressed_total += size
        if self._uncompressed_total > self._limits.max_uncompressed_total:
            raise _NotOoxmlError(
                f"uncompressed size above {self._limits.max_uncompressed_total} bytes:"
                " possible decompression bomb"
            )

    def _skip(self, count: int) -> Generator[int, bytes, None]:
        while count > 0:
            data = yield 0
            if len(data) > count:
                self._unread(data[count:])
                return
            count -= len(data)

    def _find_descriptor(self, *, zip64: bool) -> Generator[int, bytes, tuple[int, int]]:
        """Skip an entry's data up to its data descriptor; returns (compressed, uncompressed).

        A candidate is the signature, a CRC, then a compressed size equal to the number of
        data bytes before it. Only a possibly incomplete candidate (or a partial signature)
        is carried over to the next chunk.
        """
        sizes = _DESCRIPTOR_SIZES_ZIP64 if zip64 else _DESCRIPTOR_SIZES
        record_length = len(_DESCRIPTOR_SIG) + 4 + sizes.size
        window = b""
        before_window = 0
        while True:
            window += yield 0
            hit = window.find(_DESCRIPTOR_SIG)
            while hit != -1 and hit + record_length <= len(window):
                compressed, uncompressed = sizes.unpack_from(window, hit + 8)
                if compressed == before_window + hit:
                    self._unread(window[hit + record_length :])
                    return compressed, uncompressed
                hit = window.find(_DESCRIPTOR_SIG, hit + 1)
            keep_from = hit if hit != -1 else max(len(window) - (len(_DESCRIPTOR_SIG) - 1), 0)
            before_window += keep_from
            window = window[keep_from:]


def _digest(name: bytes) -> bytes:
    return hashlib.blake2b(name, digest_size=16).digest()


def _zip64_values(extra: bytes) -> tuple[int, ...]:
    """The 8-byte values of the ZIP64 extended information field, empty when there is none."""
    position = 0
    while position + _EXTRA_HEADER.size <= len(extra):
        field_id, length = _EXTRA_HEADER.unpack_from(extra, position)
        position += _EXTRA_HEADER.size
        if field_id == _ZIP64_EXTRA_ID:
            body = extra[position : position + length]
            return struct.unpack(f"<{len(body) // 8}Q", body[: len(body) // 8 * 8])
        position += length
    return ()
