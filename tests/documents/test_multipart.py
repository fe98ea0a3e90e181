"""Streaming multipart/form-data parsing: order, limits enforced while reading, malformed bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.documents.filenames import display_name
from app.documents.multipart import (
    MAX_FIELD_SIZE,
    BodyTooLarge,
    FieldPart,
    FilePart,
    MultipartError,
    iter_parts,
)
from app.documents.sniffing import PDF, Sniffer

BOUNDARY = "----grantsBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
KIB = 1024
MIB = 1024 * KIB
T = TypeVar("T")


def field(name: str, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + raw


def file(name: str, filename: str, content: bytes, content_type: str = "application/pdf") -> bytes:
    return (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content


def encode(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    delimiter = f"--{boundary}".encode()
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    return body + delimiter + b"--\r\n"


class CountingStream:
    """An async body stream that records how many chunks were pulled from it."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None
        self.pulled += 1
        return chunk


def split(body: bytes, size: int) -> list[bytes]:
    return [body[start : start + size] for start in range(0, len(body), size)]


async def read_all(
    chunks: Iterable[bytes], content_type: str = CONTENT_TYPE, **limits: int
) -> list[tuple[Any, ...]]:
    """Consume every part the way a route would, returning what was seen."""
    limits.setdefault("max_file_size", 10 * MIB)
    seen: list[tuple[Any, ...]] = []
    async for part in iter_parts(CountingStream(chunks), content_type, **limits):
        if isinstance(part, FieldPart):
            seen.append(("field", part.name, part.value))
        else:
            content = b"".join([chunk async for chunk in part.chunks()])
            seen.append(("file", part.name, part.filename, part.content_type, content))
    return seen


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


# --- well-formed bodies --------------------------------------------------------------------

# File content with near-misses of the delimiter, which the parser must hand back as data.
TRICKY_CONTENT = PDF_BYTES + f"\r\n--{BOUNDARY[:-1]}x\r\n--{BOUNDARY}-x\r\n-".encode() + PDF_BYTES
SMALL_BODY = encode(
    field("doc_type", "budget"),
    file("file", "plan.pdf", TRICKY_CONTENT),
    field("narrative", "Año 2026 — done.\r\nSecond line."),
)
SMALL_BODY_PARTS = [
    ("field", "doc_type", "budget"),
    ("file", "file", "plan.pdf", "application/pdf", TRICKY_CONTENT),
    ("field", "narrative", "Año 2026 — done.\r\nSecond line."),
]


def test_parts_come_in_body_order_with_their_content() -> None:
    assert run(read_all([SMALL_BODY])) == SMALL_BODY_PARTS


def test_every_split_point_gives_the_same_parts() -> None:
    async def each_split() -> None:
        for point in range(len(SMALL_BODY) + 1):
            chunks = [SMALL_BODY[:point], SMALL_BODY[point:]]
            assert await read_all(chunks) == SMALL_BODY_PARTS, point

    run(each_split())


def test_byte_by_byte_and_empty_chunks_give_the_same_parts() -> None:
    # Starlette's request.stream() ends with an empty chunk; some servers send more.
    chunks = [piece for byte in split(SMALL_BODY, 1) for piece in (byte, b"")]
    assert run(read_all(chunks)) == SMALL_BODY_PARTS


def test_body_built_by_a_real_client_is_parsed() -> None:
    request = httpx.Request(
        "POST",
        "http://test/documents",
        data={"doc_type": "report", "narrative": "Ünïcode ✓"},
        files=[("files", ("a.pdf", PDF_BYTES, "application/pdf")), ("files", ("b.txt", b"x"))],
    )
    body = request.read()
    parts = run(read_all(split(body, 7), request.headers["content-type"]))
    assert parts == [
        ("field", "doc_type", "report"),
        ("field", "narrative", "Ünïcode ✓"),
        ("file", "files", "a.pdf", "application/pdf", PDF_BYTES),
        ("file", "files", "b.txt", "text/plain", b"x"),
    ]


def test_several_file_parts_and_fields_after_them() -> None:
    body = encode(
        field("narrative", "milestone met"),
        file("files", "one.pdf", b"1" * 100_000),
        file("files", "two.pdf", b"2" * 10, content_type="image/png"),
        field("confirm", "yes"),
    )
    assert run(read_all(split(body, 4096))) == [
        ("field", "narrative", "milestone met"),
        ("file", "files", "one.pdf", "application/pdf", b"1" * 100_000),
        ("file", "files", "two.pdf", "image/png", b"2" * 10),
        ("field", "confirm", "yes"),
    ]


def test_empty_file_part_and_missing_content_type() -> None:
    body = encode(
        b'Content-Disposition: form-data; name="file"; filename=""\r\n\r\n',
    )
    assert run(read_all([body])) == [("file", "file", "", None, b"")]


def test_filename_is_given_raw_for_display_name_to_clean() -> None:
    body = encode(
        file("file", "../../etc/passwd", b"x"),
        file("file", "a\u202etxt.exe", b"y"),
        b'Content-Disposition: form-data; name="file"; filename="caf\xe9.pdf"\r\n\r\nz',
    )
    names = [seen[2] for seen in run(read_all([body]))]
    assert names == ["../../etc/passwd", "a\u202etxt.exe", "caf\ufffd.pdf"]
    assert [display_name(name) for name in names] == ["passwd", "atxt.exe", "caf\ufffd.pdf"]


def test_unread_file_part_is_drained_before_the_next_part() -> None:
    async def fields_only() -> list[FieldPart]:
        body = encode(file("file", "a.pdf", b"a" * 200_000), field("after", "value"))
        stream = CountingStream(split(body, 8192))
        return [
            part
            async for part in iter_parts(stream, CONTENT_TYPE, max_file_size=MIB)
            if isinstance(part, FieldPart)
        ]

    assert run(fields_only()) == [FieldPart("after", "value")]


def test_half_read_file_part_is_drained_before_the_next_part() -> None:
    async def first_chunk_then_fields() -> list[Any]:
        body = encode(file("file", "a.pdf", b"a" * 300_000), field("after", "value"))
        seen: list[Any] = []
        async for part in iter_parts(CountingStream([body]), CONTENT_TYPE, max_file_size=MIB):
            if isinstance(part, FilePart):
                async for chunk in part.chunks():
                    seen.append(len(chunk))
                    break
            else:
                seen.append(part)
        return seen

    first_chunk_size, after = run(first_chunk_then_fields())
    assert 0 < first_chunk_size <= 64 * KIB
    assert after == FieldPart("after", "value")


def test_file_content_can_be_iterated_only_once() -> None:
    async def twice() -> None:
        async for part in iter_parts(CountingStream([SMALL_BODY]), CONTENT_TYPE, max_file_size=MIB):
            if isinstance(part, FilePart):
                [chunk async for chunk in part.chunks()]
                part.chunks()

    with pytest.raises(RuntimeError, match="once"):
        run(twice())


def test_epilogue_after_the_closing_boundary_is_not_read() -> None:
    def endless_epilogue() -> Iterable[bytes]:
        yield SMALL_BODY
        while True:
            yield b"epilogue " * 1000

    stream = CountingStream(endless_epilogue())

    async def consume() -> int:
        return len([part async for part in iter_parts(stream, CONTENT_TYPE, max_file_size=MIB)])

    assert run(consume()) == 3
    assert stream.pulled == 1


# --- limits enforced while reading ---------------------------------------------------------


def oversized_upload() -> Iterable[bytes]:
    """A doc_type field, then a file part of 100 chunks of 64 KiB, in 64 KiB body chunks."""
    delimiter = f"--{BOUNDARY}\r\n".encode()
    yield (
        delimiter + field("doc_type", "budget") + b"\r\n" + delimiter + file("file", "big.pdf", b"")
    )
    for _ in range(100):
        yield b"%" * (64 * KIB)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


LIMITS = {"budget": 1 * MIB, "report": 4 * MIB}


async def route_like_upload(stream: CountingStream, *, max_file_size: int) -> int:
    """What the upload route does: the limit comes from the doc_type field sent first."""
    fields: dict[str, str] = {}
    stored = 0
    async for part in iter_parts(stream, CONTENT_TYPE, max_file_size=max_file_size):
        if isinstance(part, FieldPart):
            fields[part.name] = part.value
        else:
            async for chunk in part.chunks(max_size=LIMITS[fields["doc_type"]]):
                stored += len(chunk)
    return stored


def test_file_over_its_limit_fails_before_the_body_is_read() -> None:
    stream = CountingStream(oversized_upload())
    with pytest.raises(BodyTooLarge) as raised:
        run(route_like_upload(stream, max_file_size=8 * MIB))
    assert raised.value.limit == 1 * MIB
    assert raised.value.part_name == "file"
    # 16 chunks hold exactly 1 MiB; the 17th crosses the limit. Of 102 chunks, no more are read.
    assert stream.pulled <= 18


def test_per_part_limit_cannot_exceed_max_file_size() -> None:
    stream = CountingStream(oversized_upload())
    with pytest.raises(BodyTooLarge) as raised:
        run(route_like_upload(stream, max_file_size=512 * KIB))
    assert raised.value.limit == 512 * KIB
    assert stream.pulled <= 10


def test_skipped_file_part_is_still_limited() -> None:
    stream = CountingStream(oversized_upload())

    async def skip_files() -> None:
        async for _ in iter_parts(stream, CONTENT_TYPE, max_file_size=MIB):
            pass

    with pytest.raises(BodyTooLarge):
        run(skip_files())
    assert stream.pulled <= 18


def test_file_exactly_at_the_limit_is_accepted() -> None:
    body = encode(field("doc_type", "budget"), file("file", "a.pdf", b"a" * MIB))
    assert run(route_like_upload(CountingStream(split(body, 64 * KIB)), max_file_size=MIB)) == MIB


def test_text_field_over_its_limit_fails() -> None:
    body = encode(field("narrative", "x" * (MAX_FIELD_SIZE + 1)))
    with pytest.raises(BodyTooLarge) as raised:
        run(read_all(split(body, 1000)))
    assert raised.value.limit == MAX_FIELD_SIZE
    assert raised.value.part_name == "narrative"


def test_too_many_fields_or_files_fail() -> None:
    with pytest.raises(MultipartError, match="fields"):
        run(read_all([encode(*(field(f"f{i}", "v") for i in range(4)))], max_fields=3))
    with pytest.raises(MultipartError, match="files"):
        run(read_all([encode(*(file("files", "a.pdf", b"") for _ in range(3)))], max_files=2))


def test_part_header_count_and_size_are_limited() -> None:
    many_headers = "".join(f"X-Extra-{i}: {i}\r\n" for i in range(8)).encode()
    with pytest.raises(MultipartError):
        run(read_all([encode(many_headers + field("a", "b"))]))
    long_header = b"X-Long: " + b"v" * 5000 + b"\r\n"
    with pytest.raises(MultipartError):
        run(read_all([encode(long_header + field("a", "b"))]))


# --- malformed bodies and headers ----------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary=""',
        "multipart/form-data; charset=utf-8",
        "multipart/mixed; boundary=abc",
        "multipart/form-data; boundary=" + "a" * 71,
        'multipart/form-data; boundary="ends with space "',
        'multipart/form-data; boundary="semi;colon"',
        "multipart/form-data; boundary=caf\u00e9",
    ],
)
def test_missing_or_invalid_boundary_is_refused(content_type: str | None) -> None:
    with pytest.raises(MultipartError):
        iter_parts(CountingStream([SMALL_BODY]), content_type, max_file_size=MIB)


def test_quoted_boundary_and_parameter_case_are_accepted() -> None:
    content_type = f'Multipart/Form-Data; charset=utf-8; Boundary="{BOUNDARY}"'
    assert run(read_all([SMALL_BODY], content_type)) == SMALL_BODY_PARTS


def test_every_truncation_of_the_body_is_refused() -> None:
    async def each_truncation() -> None:
        # Cutting anywhere before the closing "--" of the last boundary leaves it incomplete.
        for cut in range(len(SMALL_BODY) - len(b"\r\n")):
            with pytest.raises(MultipartError):
                await read_all([SMALL_BODY[:cut]])

    run(each_truncation())


def test_body_with_another_boundary_is_refused() -> None:
    with pytest.raises(MultipartError):
        run(read_all([encode(field("a", "b"), boundary="somethingElse")]))


def test_non_utf8_field_value_is_refused() -> None:
    with pytest.raises(MultipartError, match="UTF-8"):
        run(read_all([encode(field("narrative", b"caf\xe9"))]))


@pytest.mark.parametrize(
    "part",
    [
        b"Content-Type: text/plain\r\n\r\nvalue",
        b'Content-Disposition: attachment; name="a"\r\n\r\nvalue',
        b"Content-Disposition: form-data\r\n\r\nvalue",
        b'Content-Disposition: form-data; name=""\r\n\r\nvalue',
        b'Content-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"'
        b"\r\n\r\nvalue",
        b'Content-Disposition: form-data; name="\xff"\r\n\r\nvalue',
        b'Bad Header: form-data; name="a"\r\n\r\nvalue',
    ],
)
def test_parts_without_a_usable_form_data_disposition_are_refused(part: bytes) -> None:
    with pytest.raises(MultipartError):
        run(read_all([encode(part)]))


# --- driven by a real ASGI route -----------------------------------------------------------


async def upload(request: Request) -> JSONResponse:
    fields: dict[str, str] = {}
    sniffer = Sniffer()
    size = 0
    try:
        async for part in iter_parts(
            request.stream(), request.headers.get("content-type"), max_file_size=4 * MIB
        ):
            if isinstance(part, FieldPart):
                fields[part.name] = part.value
                continue
            async for chunk in part.chunks(max_size=LIMITS[fields["doc_type"]]):
                sniffer.feed(chunk)
                size += len(chunk)
            fields["filename"] = display_name(part.filename)
    except MultipartError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except BodyTooLarge as exc:
        return JSONResponse({"detail": str(exc)}, status_code=413)
    return JSONResponse({**fields, "type": sniffer.result(), "size": size})


def post(files: dict[str, Any], data: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        app = Starlette(routes=[Route("/upload", upload, methods=["POST"])])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/upload", data=data, files=files)

    return run(send())


def test_route_streams_a_document_from_request_stream() -> None:
    response = post(
        {"file": ("C:\\Users\\me\\plan.pdf", PDF_BYTES, "text/plain")}, {"doc_type": "budget"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "doc_type": "budget",
        "filename": "plan.pdf",
        "type": PDF,
        "size": len(PDF_BYTES),
    }


def test_route_refuses_a_document_over_the_limit_for_its_type() -> None:
    response = post(
        {"file": ("big.pdf", b"%PDF-" + bytes(MIB), "application/pdf")}, {"doc_type": "budget"}
    )
    assert response.status_code == 413
    assert str(MIB) in response.json()["detail"]
