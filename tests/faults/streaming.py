"""A streaming multipart upload over a raw socket, for faults that strike mid-body.

httpx and TestClient either buffer the body or give up on the response when the server answers
before the body is complete, which is exactly what a server does when its storage fails
mid-upload. This client sends the body in chunks (chunked transfer encoding), stops as soon as
the server has answered and then reads that answer.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024
BOUNDARY = "faultsboundary"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # bytes of the request body the server took before answering

    def json(self) -> Any:
        return json.loads(self.body)


def multipart_upload(
    doc_type: str,
    content: bytes,
    *,
    block: int = MIB,
    after: tuple[int, Callable[[], None]] | None = None,
) -> Iterator[bytes]:
    """The body of a document upload, in blocks; `after=(n, f)` calls f once n file bytes
    have been handed to the socket (the fault is injected there, mid-body)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="doc_type"\r\n\r\n{doc_type}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    for offset in range(0, len(content), block):
        if after is not None and offset >= after[0]:
            after[1]()
            after = None
        yield content[offset : offset + block]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def post_streamed(
    base_url: str, path: str, headers: dict[str, str], chunks: Iterable[bytes], timeout: float = 60
) -> RawResponse:
    """POST `chunks` with chunked encoding; stop sending once the server answers."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    # A small send buffer, so that what was sent is close to what the server has read.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
    head += f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sent = 0
    with sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server answered before the end of the body
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed the connection after answering: read that answer
        return _read_response(sock, sent)


def _read_response(sock: socket.socket, sent: int) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        received = sock.recv(65536)
        if not received:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += received
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        received = sock.recv(65536)
        if not received:
            break
        body += received
    return RawResponse(int(status_line.split(" ", 2)[1]), headers, body[:length], sent)
