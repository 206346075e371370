"""The address guard: an httpx transport whose connections open only to addresses the policy admits.

Fetching a URL a user gave must not reach the bot's own network (SSRF): a feed at ``http://10.0.0.5/``, a name
that resolves to ``169.254.169.254`` (cloud metadata), or a public name whose DNS answer changes between a check
and the connection (rebinding). So the check happens where the socket opens: the host is resolved once, every
address it resolves to is checked (``address_kind``), and the connection goes to a checked address. A redirect
opens a new connection, so every hop is checked the same way.

Built only on the public APIs of httpx and httpcore, so it does not depend on either's internals::

    httpx.AsyncClient(transport=GuardedTransport(...))     # httpx.AsyncBaseTransport: handle_async_request
    └── httpcore.AsyncConnectionPool(network_backend=...)  # pooling, HTTP/1.1, TLS, timeouts
        └── _GuardedBackend                                # httpcore.AsyncNetworkBackend: resolve, check, connect

httpcore's errors come out as httpx's (what any httpx transport raises), and a refused address as ``UnsafeURL``.
TLS is verified with certifi's roots; no proxies, no Unix sockets, HTTP/1.1 only. Residual risk:
``allow_private=True`` admits link-local addresses, cloud metadata (169.254.169.254) included, as
ALLOW_PRIVATE_URLS=1 means.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

from bot.errors import UnsafeURL

__all__ = ["GuardedTransport", "Resolver", "address_kind", "system_resolver"]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's clients' default

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolver(host, port)`` -> the host's IP addresses as strings (``system_resolver`` asks the system)."""

# httpcore's errors and the httpx errors an httpx transport raises for them, the most specific first.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)
_HTTPCORE_ERRORS = tuple(core_kind for core_kind, _ in _HTTPX_ERRORS)


def address_kind(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Classify an IP address for the private-address policy.

    Args:
        address: an IPv4 or IPv6 address (a scope such as ``%eth0`` is ignored).

    Returns:
        ``"public"``, or what makes it non-public: ``"unspecified"``, ``"loopback"``, ``"link-local"``,
        ``"multicast"``, ``"private"`` or ``"reserved"``. An IPv6 address that embeds an IPv4 one
        (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is classified by the
        embedded address.

    Raises:
        ValueError: not an IP address.
    """
    ip = ipaddress.ip_address(str(address).split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # These IPv6 forms reach the embedded IPv4 address (DNS64 answers NAT64 ones for IPv4-only sites).
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return "public"


def _address_allowed(kind: str, *, allow_private: bool, allow_loopback: bool) -> bool:
    if kind == "public":
        return True
    if kind in ("unspecified", "multicast"):
        return False  # never a web server, whatever the settings
    return allow_private or (allow_loopback and kind == "loopback")


class _AddressRefused(Exception):
    """Raised where the socket would be opened; the transport turns it into UnsafeURL with the request's URL."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        where = f"{address} is" if host == address else f"{host} resolves to {address},"
        super().__init__(f"{where} a {kind} address")
        self.kind = kind


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The system's answer for ``host`` (``getaddrinfo``, in the event loop's thread pool): its IP addresses."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy admits, resolving each host exactly once."""

    def __init__(self, *, resolver: Resolver, allow_private: bool, allow_loopback: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolver = resolver
        self._allow_private = allow_private
        self._allow_loopback = allow_loopback

    async def _addresses(self, host: str, port: int, seconds: float | None) -> list[str]:
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            return [host]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(seconds):
                found = await self._resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc.strerror or exc})") from None
        addresses = list(dict.fromkeys(found))
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host} (no address)")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        for address in addresses:
            try:
                kind = address_kind(address)
            except ValueError:
                raise httpcore.ConnectError(f"cannot resolve {host} (resolver gave {address!r})") from None
            # A host with one non-public address among public ones is refused too: which one a connection
            # would use is not ours to choose.
            if not _address_allowed(kind, allow_private=self._allow_private, allow_loopback=self._allow_loopback):
                raise _AddressRefused(host, address, kind)
        last_error: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the guard does not open Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over an httpcore connection pool that connects only to admitted addresses.

    Args:
        allow_private: admit private, loopback, link-local and reserved addresses (ALLOW_PRIVATE_URLS=1).
            Unspecified (0.0.0.0, ::) and multicast addresses are refused whatever the setting.
        allow_loopback: admit loopback addresses only (127.0.0.0/8, ::1), still refusing other private ranges.
        resolver: how host names are resolved (``system_resolver`` by default); tests point names at chosen
            addresses with it.
        limits: the pool's connection limits.

    ``ssl_context`` is the context every TLS connection uses (certificates and host names verified).
    ``handle_async_request`` raises ``UnsafeURL`` for a refused address and httpx's errors for the rest.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> None:
        self.ssl_context = httpx.create_ssl_context(verify=True, trust_env=False)
        backend = _GuardedBackend(resolver=resolver, allow_private=allow_private, allow_loopback=allow_loopback)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=self.ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the guarded pool; the response's body streams as it is read."""
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,  # the client's timeouts travel here
        )
        try:
            with _as_httpx_errors():
                response = await self._pool.handle_async_request(core_request)
        except _AddressRefused as exc:
            hint = (
                ""
                if exc.kind in ("unspecified", "multicast")
                else "; ALLOW_PRIVATE_URLS=1 allows private, loopback and link-local addresses"
            )
            raise UnsafeURL(f"refused {url}: {exc}{hint}", url=str(url)) from None
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()


class _ResponseBody(httpx.AsyncByteStream):
    """httpcore's response stream as httpx reads it: its errors as httpx's, closing releases the connection."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Raise httpcore's errors as the httpx errors that name the same failure (the message and cause kept)."""
    try:
        yield
    except _HTTPCORE_ERRORS as exc:
        kind = next(httpx_kind for core_kind, httpx_kind in _HTTPX_ERRORS if isinstance(exc, core_kind))
        raise kind(str(exc)) from exc
