"""Who is asking: the client's address, and the key its rate limit is counted under.

The address is the socket's peer unless the operator configured a trusted
proxy with Sanic's own settings (``REAL_IP_HEADER``, ``PROXIES_COUNT``,
``FORWARDED_SECRET``); only then does Sanic read a forwarding header into
``request.remote_addr``. A forged ``X-Forwarded-For`` is ignored otherwise.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from sanic import Request

__all__ = ["client_ip", "client_key", "is_ip_address"]

# One IPv6 subscriber usually gets a whole /64: counting single addresses would
# let one visitor rotate through 2**64 of them.
_IPV6_PREFIX = 64


def client_ip(request: Request) -> str:
    """The client's address: the trusted proxy's word when one is configured, else the peer.

    IPv6 comes without Sanic's brackets, as captcha providers expect it.
    """
    address = request.remote_addr or request.ip
    return address.removeprefix("[").removesuffix("]")


def is_ip_address(address: str) -> bool:
    """True for an IPv4 or IPv6 address (not a Unix socket or an obfuscated identifier)."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def client_key(address: str) -> str:
    """The rate-limit key for ``address``: the IPv4 address, or the IPv6 /64 network.

    Anything that is not an IP address (a Unix socket, a proxy's obfuscated
    identifier) is its own key. Cached: a client posts more than once, and
    parsing the address is most of a rate-limit check's time.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, _IPV6_PREFIX), strict=False))
    return str(ip)
