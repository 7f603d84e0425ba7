"""The client address: the socket unless a trusted proxy is configured; its rate-limit key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sanic_testing.testing import SanicASGITestClient

from service.abuse.client_ip import client_key, is_ip_address
from tests.abuse.forms import VALID_FORM, post_json

MakeClient = Callable[..., SanicASGITestClient]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("_hidden-proxy-id", "_hidden-proxy-id"),
        ("mockserver", "mockserver"),
    ],
)
def test_client_key_groups_an_ipv6_subscriber_by_its_64(address: str, key: str) -> None:
    assert client_key(address) == key


@pytest.mark.parametrize(
    ("address", "expected"),
    [("203.0.113.7", True), ("2001:db8::1", True), ("mockserver", False), ("", False)],
)
def test_is_ip_address(address: str, expected: bool) -> None:
    assert is_ip_address(address) is expected


async def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="2/minute")
    statuses = [
        (await post_json(client, VALID_FORM, {"x-forwarded-for": f"198.51.100.{n}"})).status
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


async def test_forged_forwarded_and_real_ip_headers_are_ignored_too(
    make_client: MakeClient,
) -> None:
    client = make_client(contact_rate_limit="1/minute")
    forged = [
        {"forwarded": "for=198.51.100.1"},
        {"x-real-ip": "198.51.100.2"},
        {"x-azure-socketip": "198.51.100.3"},
    ]
    assert (await post_json(client, VALID_FORM, forged[0])).status == 200
    for headers in forged[1:]:
        assert (await post_json(client, VALID_FORM, headers)).status == 429


async def test_with_one_trusted_proxy_its_x_forwarded_for_entry_is_the_client(
    make_client: MakeClient,
) -> None:
    client = make_client(contact_rate_limit="1/minute", proxies_count=1)
    # The proxy appends the address it saw; what the visitor wrote before it is not trusted.
    one = {"x-forwarded-for": "10.9.9.9, 198.51.100.1"}
    assert (await post_json(client, VALID_FORM, one)).status == 200
    assert (await post_json(client, VALID_FORM, {"x-forwarded-for": "198.51.100.2"})).status == 200
    again = {"x-forwarded-for": "10.1.1.1, 198.51.100.1"}
    assert (await post_json(client, VALID_FORM, again)).status == 429


async def test_a_real_ip_header_is_read_when_configured(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="1/minute", real_ip_header="X-Azure-SocketIP")
    for address in ("198.51.100.1", "198.51.100.2"):
        response = await post_json(client, VALID_FORM, {"x-azure-socketip": address})
        assert response.status == 200
    repeat = await post_json(client, VALID_FORM, {"x-azure-socketip": "198.51.100.2"})
    assert repeat.status == 429


async def test_forwarded_with_the_secret_is_trusted_and_without_it_is_not(
    make_client: MakeClient,
) -> None:
    client = make_client(contact_rate_limit="1/minute", forwarded_secret="s3cr3t-proxy")
    trusted = {"forwarded": "for=198.51.100.1;secret=s3cr3t-proxy"}
    other = {"forwarded": "for=198.51.100.2;secret=s3cr3t-proxy"}
    assert (await post_json(client, VALID_FORM, trusted)).status == 200
    assert (await post_json(client, VALID_FORM, other)).status == 200
    assert (await post_json(client, VALID_FORM, trusted)).status == 429
    # A guessed secret is not the secret: the socket address is used, once.
    forged = {"forwarded": "for=198.51.100.3;secret=guess"}
    assert (await post_json(client, VALID_FORM, forged)).status == 200
    assert (await post_json(client, VALID_FORM, forged)).status == 429


async def test_ipv6_neighbours_in_one_64_share_a_limit(make_client: MakeClient) -> None:
    client = make_client(contact_rate_limit="1/minute", proxies_count=1)
    first = {"x-forwarded-for": "2001:db8:1:2::1"}
    neighbour = {"x-forwarded-for": "2001:db8:1:2::beef"}
    elsewhere = {"x-forwarded-for": "2001:db8:1:3::1"}
    assert (await post_json(client, VALID_FORM, first)).status == 200
    assert (await post_json(client, VALID_FORM, neighbour)).status == 429
    assert (await post_json(client, VALID_FORM, elsewhere)).status == 200
