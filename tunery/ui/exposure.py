"""Who may reach the UI: the ``Host`` check (DNS rebinding) and the token for reads.

A browser page from another site can reach a server on this machine by a name its owner
points at 127.0.0.1 (DNS rebinding); what gives it away is the ``Host`` header, which carries
that name.  So the server answers only ``Host`` names it is reachable by:

- bound to a loopback address (the default): ``localhost``, ``127.0.0.1``, ``[::1]`` and the
  address itself;
- bound to one address or name: that address or name (and its addresses), the machine's host
  names, and the loopback names when it is a loopback one;
- bound to every interface (``0.0.0.0``, ``::``): the machine's host names and addresses and
  the loopback names;

plus the names given with ``--allow-host`` (a name a proxy in front forwards; ``*.example.org``
for every subdomain).  Anything else gets 421 and a one-line JSON error.

Bound beyond loopback, every ``/api`` call needs ``Authorization: Bearer <token>`` (reads
too), unless the server was started with ``--public-read``.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from collections.abc import Iterable
from typing import Any

__all__ = [
    "LOOPBACK_NAMES",
    "HostNames",
    "bearer_ok",
    "host_names",
    "is_loopback",
    "machine_names",
]

#: What a loopback server answers to.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
#: Bind addresses that mean every interface.
WILDCARDS = ("", "0.0.0.0", "::", "[::]")

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def normal_name(text: str) -> str:
    """``text`` (a name, an IPv4 or IPv6 address, bracketed or not) as Host headers carry it:
    lowercased, IPv6 in brackets and in its short form.  ValueError when it is none of those."""
    text = text.strip().lower()
    address = _address(text)
    if address is not None:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    name = text[2:] if text.startswith("*.") else text
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise ValueError(f"not a host name or address: {text[:80]!r}")
    return text


def _host_of(header: str) -> str | None:
    """The name or address in a ``Host`` header without its port; None when malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, port = header[: end + 1], header[end + 1 :]
    else:
        name, colon, rest = header.partition(":")
        port = colon + rest
    if port and not (port[0] == ":" and len(port) <= 6 and port[1:].isascii()):
        return None
    if port[1:] and not port[1:].isdigit():
        return None
    try:
        return normal_name(name)
    except ValueError:
        return None


class HostNames:
    """The ``Host`` names a server answers to (exact names and ``*.suffix`` patterns)."""

    def __init__(self, names: Iterable[str]) -> None:
        exact: list[str] = []
        suffixes: list[str] = []
        for raw in names:
            name = normal_name(raw)
            if name.startswith("*."):
                if name[1:] not in suffixes:
                    suffixes.append(name[1:])
            elif name not in exact:
                exact.append(name)
        if not exact and not suffixes:
            raise ValueError("the Host check needs at least one name")
        self.exact = tuple(exact)
        self.suffixes = tuple(suffixes)

    @property
    def names(self) -> tuple[str, ...]:
        return self.exact + tuple("*" + s for s in self.suffixes)

    def allows(self, header: str | None) -> bool:
        name = _host_of(header or "")
        if name is None:
            return False
        if name in self.exact:
            return True
        return not name.startswith("[") and any(name.endswith(s) for s in self.suffixes)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on loopback only (an address or a name that resolves
    only to loopback addresses)."""
    if host.strip().lower() in WILDCARDS:
        return False
    address = _address(host.strip())
    if address is not None:
        return address.is_loopback
    if host.strip().lower() == "localhost":
        return True
    found = _resolve(host)
    return bool(found) and all(a.is_loopback for a in found)


def _resolve(name: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return out
    for info in infos:
        address = _address(str(info[4][0]).split("%", 1)[0])
        if address is not None:
            out.add(address)
    return out


def _interface_addresses() -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """This machine's own addresses, as far as Linux's /proc tells (nothing elsewhere)."""
    out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    try:
        with open("/proc/net/if_inet6") as fh:
            for line in fh:
                digits = line.split()[0] if line.split() else ""
                if len(digits) == 32:
                    out.add(ipaddress.IPv6Address(int(digits, 16)))
    except (OSError, ValueError):
        pass
    try:
        last: str | None = None
        with open("/proc/net/fib_trie") as fh:
            for line in fh:
                match = re.search(r"\|-- (\d+\.\d+\.\d+\.\d+)$", line.rstrip())
                if match:
                    last = match.group(1)
                elif last and "/32 host LOCAL" in line:
                    out.add(ipaddress.IPv4Address(last))
    except (OSError, ValueError):
        pass
    return out


def machine_names() -> list[str]:
    """The machine's host names (short and fully qualified) and addresses, loopback ones
    first; link-local IPv6 addresses are left out (a Host header cannot name their zone)."""
    names: list[str] = list(LOOPBACK_NAMES)
    hostnames = [socket.gethostname(), socket.getfqdn()]
    addresses = set(_interface_addresses())
    for hostname in hostnames:
        if hostname:
            addresses |= _resolve(hostname)
    for hostname in hostnames:
        try:
            names.append(normal_name(hostname))
        except ValueError:
            continue
    for address in sorted(addresses, key=lambda a: (a.version, a.packed)):
        if isinstance(address, ipaddress.IPv6Address) and address.is_link_local:
            continue
        names.append(normal_name(address.compressed))
    return list(dict.fromkeys(names))


def host_names(bind: str, extra: Iterable[str] = ()) -> list[str]:
    """The ``Host`` names a server bound to ``bind`` answers to, then ``extra``."""
    bind = bind.strip()
    names: list[str]
    if bind.lower() in WILDCARDS:
        names = machine_names()
    elif is_loopback(bind):
        names = [*LOOPBACK_NAMES, normal_name(bind)]
        names += [normal_name(a.compressed) for a in _resolve(bind) if _address(bind) is None]
    else:
        names = [normal_name(bind)]
        if _address(bind) is None:
            names += [normal_name(a.compressed) for a in sorted(_resolve(bind), key=str)]
        for hostname in (socket.gethostname(), socket.getfqdn()):
            try:
                names.append(normal_name(hostname))
            except ValueError:
                continue
    for name in extra:
        if name.strip() in ("*", ""):
            raise ValueError(
                "--allow-host takes a name or *.domain; the Host check cannot be turned off"
            )
        names.append(normal_name(name))
    return list(dict.fromkeys(names))


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return False
    return secrets.compare_digest(given.encode(), token.encode())


class Gate:
    """ASGI middleware: 421 for a ``Host`` not in ``hosts``; with ``reads_need_token``, 401
    for an ``/api`` call without the token.  Both answer ``{"detail": "<one line>"}``."""

    def __init__(self, app: Any, *, hosts: HostNames, token: str, reads_need_token: bool):
        self.app = app
        self.hosts = hosts
        self.token = token
        self.reads_need_token = reads_need_token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers
        from starlette.responses import JSONResponse

        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.hosts.allows(host):
            shown = (host or "")[:60]
            detail = (
                f"host: {shown!r} is not a name this server answers to (a guard against DNS "
                "rebinding); start it with --allow-host NAME to add one"
                if host
                else "host: the request has no Host header"
            )
            await JSONResponse({"detail": detail}, 421)(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if (
            self.reads_need_token
            and path.startswith("/api/")
            and not bearer_ok(headers.get("authorization"), self.token)
        ):
            detail = (
                "authorization: this server is reachable from the network, so reads need "
                "the bearer token too (the token `tunery ui` printed)"
            )
            response = JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
