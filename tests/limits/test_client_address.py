"""Which address is the client: X-Forwarded-For is read only from trusted proxies, from the
right, stopping at the first address that is not a trusted proxy."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from app.client_address import ClientAddressMiddleware, TrustedProxies, parse_address
from app.config import Settings


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded_for", "client"),
    [
        # The nearest hop is the client once the proxies are peeled off.
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9, 10.1.1.1", "203.0.113.9"),
        # Whatever the client wrote itself sits left of what the proxy appended.
        (["10.0.0.0/8"], "10.0.0.5", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        # Only proxies in the chain: the leftmost is as far as anyone can tell.
        (["10.0.0.0/8"], "10.0.0.5", "10.2.2.2, 10.3.3.3", "10.2.2.2"),
        # A malformed entry stops the walk at the last trusted hop.
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9, garbage, 10.3.3.3", "10.3.3.3"),
        (["10.0.0.0/8"], "10.0.0.5", "not-an-address", "10.0.0.5"),
        # Ports and brackets are dropped; IPv6 is compressed.
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9:4711", "203.0.113.9"),
        (["::1"], "::1", "[2001:db8:0:0::7]:443", "2001:db8::7"),
        (["*"], "192.0.2.1", "198.51.100.3, 203.0.113.9", "198.51.100.3"),
    ],
)
def test_the_client_behind_trusted_proxies(
    trusted: list[str], peer: str, forwarded_for: str, client: str
) -> None:
    assert TrustedProxies(trusted).client_from(peer, forwarded_for) == client


async def _resolved(trusted: list[str], peer: str, headers: dict[str, str]) -> tuple[str, str]:
    seen = {}

    async def app(scope, receive, send):
        seen["client"], seen["scheme"] = scope["client"][0], scope["scheme"]

    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await ClientAddressMiddleware(app, trusted=TrustedProxies(trusted))(scope, None, None)
    return seen["client"], seen["scheme"]


def resolved(trusted: list[str], peer: str, headers: dict[str, str]) -> tuple[str, str]:
    return asyncio.run(_resolved(trusted, peer, headers))


def test_headers_from_an_untrusted_peer_change_nothing() -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert resolved([], "192.0.2.1", headers) == ("192.0.2.1", "http")
    assert resolved(["10.0.0.0/8"], "192.0.2.1", headers) == ("192.0.2.1", "http")
    assert resolved(["10.0.0.0/8"], "10.0.0.5", headers) == ("203.0.113.9", "https")


def test_only_http_and_https_are_taken_as_the_scheme() -> None:
    headers = {"X-Forwarded-Proto": "javascript"}
    assert resolved(["10.0.0.0/8"], "10.0.0.5", headers) == ("10.0.0.5", "http")


def test_parse_address_refuses_what_is_not_an_address() -> None:
    assert parse_address("unknown") is None
    assert parse_address("") is None
    assert parse_address("[::1") is None
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "example.org", "10.0.0.1, nope"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValidationError, match=r"TRUSTED_PROXIES|trusted_proxies"):
        Settings(TRUSTED_PROXIES=value)


def test_trusted_proxies_default_to_none() -> None:
    assert Settings.model_fields["trusted_proxies"].default == ""
    assert not TrustedProxies(Settings(TRUSTED_PROXIES="").trusted_proxy_list)
