"""Streaming multipart/form-data reading, straight from the request body.

FastAPI's `UploadFile`/`Form` parameters make Starlette read and spool the entire body before
the route runs, so a size limit can only be checked after the bytes have arrived. Here the
route reads `request.stream()` itself through `iter_parts`, which yields the parts in body
order as soon as their headers are parsed:

    parts = iter_parts(request.stream(), request.headers.get("content-type"),
                       max_file_size=MAX_ANY_DOCUMENT)
    async for part in parts:
        if isinstance(part, FieldPart):
            fields[part.name] = part.value          # e.g. doc_type, sent before the file
        elif part.name == "file":
            async for chunk in part.chunks(max_size=limit_for(fields["doc_type"])):
                await sink.write(chunk)             # BodyTooLarge past the limit

Only what the parser is currently looking at is in memory: at most one 64 KiB slice of the
body, plus the text fields (each capped). Limits are enforced while reading, so an oversized
upload stops being read as soon as it crosses its limit and the rest of the body is never
pulled. Reading also stops at the closing boundary: any epilogue is ignored, not read.

Text fields are UTF-8 (RFC 7578 section 5.1); a `_charset_` field and per-part
Content-Transfer-Encoding (deprecated by RFC 7578) are not interpreted.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from enum import Enum, auto

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_SIZE = 64 * 1024
MAX_FIELDS = 100
MAX_FILES = 20
MAX_PART_HEADERS = 8
MAX_HEADER_SIZE = 4 * 1024

# The parser is fed at most this much at a time, whatever the size of the chunks the server
# hands over: it bounds the parsed-but-unconsumed data and how far past a limit we read.
_FEED_SIZE = 64 * 1024

# RFC 2046 section 5.1.1: 1 to 70 characters from a fixed set, not ending with a space.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data, or breaks a count limit (answer 400)."""


class BodyTooLarge(Exception):
    """A part's content went over its size limit while being read (answer 413)."""

    def __init__(self, limit: int, part_name: str) -> None:
        super().__init__(f"part {part_name!r} is larger than {limit} bytes")
        self.limit = limit
        self.part_name = part_name


@dataclass(frozen=True, slots=True)
class FieldPart:
    """A text field, read completely and decoded as UTF-8."""

    name: str
    value: str


class FilePart:
    """A part sent with a filename; its content streams from the body through `chunks`.

    `filename` and `content_type` are what the client claims, for display only: pass the name
    through `filenames.display_name` and detect the type with `sniffing.Sniffer`.
    """

    __slots__ = ("_content", "content_type", "filename", "name")

    def __init__(
        self, name: str, filename: str, content_type: str | None, content: _FileContent
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self._content = content

    def __repr__(self) -> str:
        return (
            f"FilePart(name={self.name!r}, filename={self.filename!r},"
            f" content_type={self.content_type!r})"
        )

    def chunks(self, max_size: int | None = None) -> AsyncIterator[bytes]:
        """The part's content, chunk by chunk (chunks of up to about 64 KiB).

        Raises BodyTooLarge as soon as the content exceeds `max_size`, which can only tighten
        the `max_file_size` given to `iter_parts`. The content can be iterated once; a part
        left unread (or half read) is drained, still within the limit, by the next step of
        the part iterator.
        """
        return self._content.start(max_size)


class _Marker(Enum):
    PART_END = auto()
    BODY_END = auto()


# Parsed events, in body order: a part's headers, a piece of its content, or a marker.
_Event = dict[bytes, bytes] | bytearray | _Marker


def iter_parts(
    stream: AsyncIterable[bytes],
    content_type: str | None,
    *,
    max_file_size: int,
    max_field_size: int = MAX_FIELD_SIZE,
    max_fields: int = MAX_FIELDS,
    max_files: int = MAX_FILES,
) -> AsyncIterator[FieldPart | FilePart]:
    """Iterate over the parts of a multipart/form-data body as it streams in.

    `content_type` is the request's Content-Type header; a missing or invalid boundary raises
    MultipartError immediately. While iterating: MultipartError for a malformed or truncated
    body, a non-UTF-8 field, too many fields or files, or part headers over their limits;
    BodyTooLarge for a text field over `max_field_size` or file content over its limit.
    Each part is finished before the next is yielded: a file part's content must be read (or
    is drained) first, so parts must be handled in order.
    """
    reader = _BodyReader(stream, _boundary(content_type))
    return _Parts(
        reader,
        max_file_size=max_file_size,
        max_field_size=max_field_size,
        max_fields=max_fields,
        max_files=max_files,
    )


def _boundary(content_type: str | None) -> bytes:
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise MultipartError("the request body is not multipart/form-data")
    boundary = params.get(b"boundary", b"")
    if not _BOUNDARY.fullmatch(boundary):
        raise MultipartError("missing or invalid multipart boundary")
    return boundary


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MultipartError(f"{what} is not valid UTF-8") from None


class _BodyReader:
    """Pushes body slices into python-multipart's callback parser and queues what it finds."""

    def __init__(self, stream: AsyncIterable[bytes], boundary: bytes) -> None:
        self._chunks = aiter(stream)
        self._chunk = b""
        self._offset = 0
        self._events: deque[_Event] = deque()
        self._headers: dict[bytes, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_HEADER_SIZE,
        )

    async def next_part_headers(self) -> dict[bytes, bytes] | None:
        """The next part's headers (lower-cased names), None at the closing boundary."""
        event = await self._next_event()
        if event is _Marker.BODY_END:
            return None
        # Parts are consumed up to their end before the next one is asked for.
        assert isinstance(event, dict)
        return event

    async def next_part_data(self) -> bytes | None:
        """The next piece of the current part's content, None once the part has ended."""
        event = await self._next_event()
        if event is _Marker.PART_END:
            return None
        assert isinstance(event, bytearray)
        return bytes(event)

    async def _next_event(self) -> _Event:
        while not self._events:
            await self._feed_next_slice()
        return self._events.popleft()

    async def _feed_next_slice(self) -> None:
        # Loops because ASGI servers may send empty chunks (Starlette ends with one).
        while self._offset >= len(self._chunk):
            try:
                self._chunk = await anext(self._chunks)
            except StopAsyncIteration:
                raise MultipartError("the body ended before the closing boundary") from None
            self._offset = 0
        piece = self._chunk[self._offset : self._offset + _FEED_SIZE]
        self._offset += len(piece)
        try:
            self._parser.write(piece)
        except FormParserError as exc:
            raise MultipartError(f"malformed multipart body: {exc}") from exc

    # python-multipart callbacks. Data arguments are (buffer, start, end) slices of the slice
    # being parsed, and header names and values can arrive split across several calls.

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += memoryview(data)[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += memoryview(data)[start:end]

    def _on_header_end(self) -> None:
        name = bytes(self._header_name).lower()
        if name in self._headers:
            raise MultipartError(f"repeated part header {name.decode('latin-1')!r}")
        self._headers[name] = bytes(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(self._headers)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        # Coalesce the pieces found in one slice into one chunk.
        if self._events and isinstance(self._events[-1], bytearray):
            self._events[-1] += memoryview(data)[start:end]
        else:
            self._events.append(bytearray(memoryview(data)[start:end]))

    def _on_part_end(self) -> None:
        self._events.append(_Marker.PART_END)

    def _on_end(self) -> None:
        self._events.append(_Marker.BODY_END)


class _FileContent:
    """The async iterator behind `FilePart.chunks`, counting bytes against the limit."""

    def __init__(self, reader: _BodyReader, part_name: str, limit: int) -> None:
        self._reader = reader
        self._part_name = part_name
        self._limit = limit
        self._size = 0
        self._started = False
        self._ended = False

    def start(self, max_size: int | None) -> _FileContent:
        if self._started:
            raise RuntimeError("a file part's content can only be iterated once")
        self._started = True
        if max_size is not None:
            self._limit = min(self._limit, max_size)
        return self

    async def drain(self) -> None:
        self._started = True
        async for _ in self:
            pass

    def __aiter__(self) -> _FileContent:
        return self

    async def __anext__(self) -> bytes:
        if self._ended:
            raise StopAsyncIteration
        data = await self._reader.next_part_data()
        if data is None:
            self._ended = True
            raise StopAsyncIteration
        self._size += len(data)
        if self._size > self._limit:
            raise BodyTooLarge(self._limit, self._part_name)
        return data


class _Parts:
    """The async iterator returned by `iter_parts`."""

    def __init__(
        self,
        reader: _BodyReader,
        *,
        max_file_size: int,
        max_field_size: int,
        max_fields: int,
        max_files: int,
    ) -> None:
        self._reader = reader
        self._max_file_size = max_file_size
        self._max_field_size = max_field_size
        self._max_fields = max_fields
        self._max_files = max_files
        self._fields = 0
        self._files = 0
        self._open_file: _FileContent | None = None
        self._finished = False

    def __aiter__(self) -> _Parts:
        return self

    async def __anext__(self) -> FieldPart | FilePart:
        if self._finished:
            raise StopAsyncIteration
        if self._open_file is not None:
            await self._open_file.drain()
            self._open_file = None
        headers = await self._reader.next_part_headers()
        if headers is None:
            self._finished = True
            raise StopAsyncIteration
        name, filename = self._disposition(headers)
        if filename is None:
            return await self._read_field(name)
        self._files += 1
        if self._files > self._max_files:
            raise MultipartError(f"more than {self._max_files} files")
        self._open_file = _FileContent(self._reader, name, self._max_file_size)
        return FilePart(name, filename, _media_type(headers), self._open_file)

    @staticmethod
    def _disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
        raw = headers.get(b"content-disposition")
        if raw is None:
            raise MultipartError("part without a Content-Disposition header")
        # Latin-1 maps bytes to code points one to one, so the parameters come back as the
        # original bytes, to be decoded as UTF-8 (what browsers send in these parameters).
        disposition, params = parse_options_header(raw.decode("latin-1"))
        if disposition != b"form-data" or not params.get(b"name"):
            raise MultipartError("part is not a named form-data part")
        name = _utf8(params[b"name"], "a part name")
        filename = params.get(b"filename")
        # Only shown to people, after clean-up: a bad byte is no reason to refuse the upload.
        return name, None if filename is None else filename.decode("utf-8", "replace")

    async def _read_field(self, name: str) -> FieldPart:
        self._fields += 1
        if self._fields > self._max_fields:
            raise MultipartError(f"more than {self._max_fields} fields")
        value = bytearray()
        while (data := await self._reader.next_part_data()) is not None:
            value += data
            if len(value) > self._max_field_size:
                raise BodyTooLarge(self._max_field_size, name)
        return FieldPart(name, _utf8(bytes(value), f"field {name!r}"))


def _media_type(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"content-type")
    if not raw:
        return None
    return parse_options_header(raw.decode("latin-1"))[0].decode("latin-1") or None
