"""The client's address, as the login limiter and the audit log see it.

Behind a reverse proxy every request comes from the proxy; the proxy says who the client was in
``X-Forwarded-For``. That header is believed only when the request comes from one of ``web.trusted_proxies``
(anyone else could write it, and spread their failed logins over invented addresses): the client is then the
right-most address in it that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from web.keys import SERVICES

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(request: web.Request) -> str:
    peer = request.remote or "?"
    networks = _networks(tuple(request.app[SERVICES].config.web.trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy that passes garbage on: the proxy is all we know
    return peer
