"""Who the client is: the socket peer, or what a trusted proxy says it is.

`X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the connection comes from a
proxy listed in `TRUSTED_PROXIES`; anyone else could write whatever they like in them. The
chain is read from the right (the hop nearest to us) and the first address that is not itself
a trusted proxy is the client, so a client cannot spoof its address by sending its own
`X-Forwarded-For` through a proxy that appends to it. A malformed entry stops the walk at the
last trusted hop. The result replaces `scope["client"]` (and the scheme), so the access log,
the registration limit and everything else see the same address.

`grants serve` turns uvicorn's own proxy-header handling off, so the peer seen here is the
real socket peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SCHEMES = frozenset({"http", "https"})


class TrustedProxies:
    """A set of proxy addresses and networks, or every peer (`*`)."""

    def __init__(self, entries: Iterable[str]) -> None:
        items = list(entries)
        self.everyone = "*" in items
        self.networks = tuple(ipaddress.ip_network(i, strict=False) for i in items if i != "*")

    def __bool__(self) -> bool:
        return self.everyone or bool(self.networks)

    def __contains__(self, address: IPAddress | None) -> bool:
        if address is None:
            return self.everyone
        return self.everyone or any(address in network for network in self.networks)

    def client_from(self, peer: str, forwarded_for: str) -> str:
        """The client address for a request from a trusted `peer` with this header value."""
        client = peer
        for entry in reversed([e.strip() for e in forwarded_for.split(",")]):
            address = parse_address(entry)
            if address is None:
                break
            client = address.compressed
            if address not in self:
                break
        return client


def parse_address(value: str) -> IPAddress | None:
    """An IP address from `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`; else None."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            self._resolve(scope)
        await self.app(scope, receive, send)

    def _resolve(self, scope: Scope) -> None:
        client = scope.get("client")
        peer = client[0] if client else None
        if peer is None or parse_address(peer) not in self.trusted:
            return
        forwarded_for: list[bytes] = []
        proto: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for.append(value)
            elif name == b"x-forwarded-proto":
                proto = value
        if forwarded_for:
            header = b",".join(forwarded_for).decode("latin-1")
            scope["client"] = (self.trusted.client_from(peer, header), 0)
        if proto is not None:
            scheme = proto.decode("latin-1").strip().lower()
            if scheme in _SCHEMES:
                scope["scheme"] = (
                    scheme if scope["type"] == "http" else scheme.replace("http", "ws")
                )
