"""The HTTP step's guard against server-side request forgery (SSRF).

A merchant's URL must not make our workers call what only our network can reach: this machine
(loopback), private networks, link-local addresses, the cloud metadata service
(169.254.169.254 and its kin), multicast, reserved or unspecified addresses. Names are resolved
once, here, and every address a name resolves to must be public; the connection is then made to
the address that was checked, never to the name again, so a DNS answer that changes between the
check and the connect (DNS rebinding) cannot slip through. TLS keeps the name: SNI and the
certificate check use the URL's host, and so does the Host header.

`GuardedAdapter` does this inside requests, where the connection is chosen, so every request
of the session passes through it. Hosts named in HTTP_STEP_ALLOWED_HOSTS (local development,
tests) skip the address check, not the pinning.

We wrote this rather than take a library: `advocate` is unmaintained since 2020;
`requests-hardened` (kept by Saleor) checks only the first address a name resolves to and can
exempt loopback but not named hosts; `ssrfguard` does all of it but is months old, 0.x, one
author, unaudited, with an API its author says may still move. The rules below are the
standard library's `ipaddress` categories plus the addresses that wrap an IPv4 one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.connection import allowed_gai_family

from connectors import errors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services, named in refusals (each is also caught by the categories below).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
# NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are an IPv4 address a gateway reaches.
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# getaddrinfo errors that mean "no such name" rather than "the resolver failed just now".
NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(errors.Permanent):
    """The URL leads to an address the HTTP step may not call."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why the HTTP step may not call `ip`, in words; None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = refusal(embedded)
            return f"{reason} ({embedded}) inside an IPv6 address" if reason else None
        ip = ipaddress.IPv6Address(ip.compressed.split("%")[0])  # drop a scope id
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata service"
    checks = (
        (ip.is_loopback, "a loopback address (this machine)"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private network address"),
        (ip.is_reserved, "a reserved address"),
        # What is left and not global: shared (carrier-grade NAT), documentation, benchmarking.
        (not ip.is_global, "an address that is not on the public internet"),
    )
    return next((reason for failed, reason in checks if failed), None)


def resolve(hostname: str, port: int) -> list[IPAddress]:
    """Every address `hostname` resolves to, in the resolver's order; one lookup."""
    try:
        infos = socket.getaddrinfo(hostname, port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in NO_SUCH_NAME:
            raise errors.Permanent(f"There is no host named {hostname}.") from None
        raise errors.Transient(f"Could not look up {hostname} just now.") from None
    except UnicodeError:
        raise errors.Permanent(f"{hostname} is not a valid host name.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise errors.Transient(f"Could not look up {hostname} just now.")
    return addresses


def _preferred(addresses: list[IPAddress]) -> IPAddress:
    """IPv4 first: many hosts (containers) have no IPv6 route, and we try one address only."""
    return next((a for a in addresses if a.version == 4), addresses[0])


def checked_address(hostname: str, port: int, allowed_hosts: Iterable[str]) -> IPAddress:
    """The address to connect to, chosen among `hostname`'s answers once all were checked."""
    addresses = resolve(hostname, port)
    if hostname.lower() in allowed_hosts:
        return _preferred(addresses)
    for address in addresses:
        reason = refusal(address)
        if reason:
            shown = hostname if hostname == str(address) else f"{hostname} ({address})"
            raise AddressRefused(
                f"Refused to call {shown}: it is {reason}. The step only calls addresses on "
                "the public internet (an administrator can allow a host with "
                "HTTP_STEP_ALLOWED_HOSTS)."
            )
    return _preferred(addresses)


def host_header(hostname: str, port: int | None) -> str:
    shown = f"[{hostname}]" if ":" in hostname else hostname
    return shown if port is None else f"{shown}:{port}"


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter that connects only to checked addresses, keeping the name for TLS."""

    def __init__(self, allowed_hosts: Iterable[str], **kwargs: Any):
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        scheme, hostname, port = host_params["scheme"], host_params["host"], host_params["port"]
        if not hostname or scheme not in DEFAULT_PORTS:
            raise errors.Permanent("The URL needs an http or https address with a host.")
        address = checked_address(hostname, port or DEFAULT_PORTS[scheme], self.allowed_hosts)
        # Our own copy: a caller's header dict may be shared with other requests.
        request.headers = CaseInsensitiveDict(request.headers)
        request.headers["Host"] = host_header(hostname, port)
        if scheme == "https":
            pool_kwargs["server_hostname"] = hostname  # SNI
            pool_kwargs["assert_hostname"] = hostname  # the certificate names the host
        host_params["host"] = f"[{address}]" if address.version == 6 else str(address)
        return host_params, pool_kwargs

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        # The pre-2.32 entry point would skip the check above: refuse it outright.
        raise NotImplementedError("GuardedAdapter connects through get_connection_with_tls_context")
