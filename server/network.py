"""The gateway's connections to vLLM: HTTP/1.1 on asyncio's transports, parsed by httptools.

Why not httpx's own pool: one upstream call through it (httpcore's HTTP/1.1 on h11, a
pure-Python parser and state machine, under anyio or an asyncio backend) cost about 320 µs of
CPU on these machines; the same exchange here costs about 190 µs (on uvloop, which uvicorn
runs the gateway on; docs/benchmarks.md), and an upstream call is about half of everything the
gateway spends on a request. aiohttp's client under httpx (``httpx-aiohttp``) measured 212 µs
and maps a dropped connection to a connect timeout. What this module keeps from the libraries:
httpx's request and response models and exception types (callers see an ordinary
``httpx.AsyncBaseTransport``), and httptools — llhttp, the parser uvicorn serves with — for
every byte that comes back (status line, headers, chunked or fixed-length bodies). What it
does itself is only what a connection pool is:

- a request goes out in one ``transport.write`` (head and body together, one segment);
- a connection is reused while both sides keep it alive; an idle one that the server closed
  (or sent stray bytes on) is known without a syscall, since asyncio reads eagerly;
- at most ``max_connections`` requests in flight (then the pool timeout: ``httpx.PoolTimeout``),
  at most ``max_keepalive_connections`` idle, each for at most ``keepalive_expiry`` seconds;
- connect, read (per wait for bytes) and write (per wait for room) timeouts from the request's
  ``timeout`` extension, as httpcore applies them;
- a response body read as it arrives, the socket paused past ``READ_HIGH_WATER`` unread bytes;
- TLS by ``loop.create_connection(ssl=...)``.

Errors are httpx's: ``ConnectError``/``ConnectTimeout``, ``ReadTimeout``/``WriteTimeout``,
``ReadError`` (the connection reset), ``RemoteProtocolError`` (the server closed before the
answer was whole, or sent something that is not HTTP). Through a proxy, or for ``HEAD`` (whose
answer announces a body it does not carry), httpx's own transport is used.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time

import httptools
import httpx

#: Unread response bytes beyond which the socket stops being read until the reader catches up.
READ_HIGH_WATER = 256 * 1024
#: Methods this pool sends; the others go to httpx's own transport.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the socket's side and the parser's, for one answer at a time."""

    def __init__(self, origin: tuple[str, str, int]):
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.ended = False  # the server closed its side (or the connection is gone)
        self.lost: Exception | None = None
        self.broken: Exception | None = None  # what the server sent is not HTTP
        self.waiter: asyncio.Future | None = None
        self.drained: asyncio.Future | None = None
        self.paused_reading = self.paused_writing = False
        self.idle_since = 0.0
        self.expecting = False  # a request is out and its answer not yet whole
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.head_done = self.complete = self.keep_alive = False

    # asyncio's side
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.expecting:  # bytes on an idle connection: it cannot be trusted with a request
            self.broken = httpx.RemoteProtocolError("the server sent bytes nobody asked for")
            self.transport.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.broken = httpx.RemoteProtocolError(f"the server's answer is not HTTP/1.1: {exc}")
            self.transport.close()
        if self.buffered > READ_HIGH_WATER and not self.paused_reading:
            self.paused_reading = True  # until the reader drains the body
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended, self.lost = True, exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # httptools' side
    def on_message_begin(self) -> None:
        if not self.expecting:  # a second answer after the one asked for, in the same read
            self.broken = httpx.RemoteProtocolError("the server sent bytes nobody asked for")

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # here: llhttp resets it for the next answer
        self.complete = True
        self.expecting = False

    # the pool's side
    def usable(self, now: float, expiry: float | None) -> bool:
        """Whether this idle connection can take a request."""
        fresh = expiry is None or now - self.idle_since < expiry
        return fresh and not (self.ended or self.broken or self.transport.is_closing())

    def reusable(self) -> bool:
        """Whether the answer just read left the connection fit for the next request."""
        return self.keep_alive and not (self.ended or self.broken)

    def send(self, data: bytes) -> None:
        """Write one whole request and expect its answer."""
        self._reset()
        self.expecting = True
        self.transport.write(data)

    def take(self) -> bytes:
        """The body bytes that have arrived (resuming a paused socket)."""
        data = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.body.clear()
        self.buffered = 0
        if self.paused_reading and not self.ended:
            self.paused_reading = False
            self.transport.resume_reading()
        return data

    async def wait(self, timeout: float | None, request: httpx.Request) -> None:
        """Until more arrives or the connection ends, at most ``timeout`` seconds."""
        await self._woken("waiter", timeout, httpx.ReadTimeout, f"no answer within {timeout} s", request)

    async def drain(self, timeout: float | None, request: httpx.Request) -> None:
        """Until the socket takes what was written, at most ``timeout`` seconds."""
        await self._woken("drained", timeout, httpx.WriteTimeout, f"could not send within {timeout} s", request)

    async def _woken(self, slot: str, timeout: float | None, timed_out: type, message: str, request) -> None:
        """Until the protocol resolves the future it finds in ``self.<slot>``; past ``timeout``
        seconds, ``timed_out(message)``."""
        setattr(self, slot, asyncio.get_running_loop().create_future())
        try:
            async with asyncio.timeout(timeout):
                await getattr(self, slot)
        except TimeoutError:
            raise timed_out(message, request=request) from None
        finally:
            setattr(self, slot, None)

    def failure(self, request: httpx.Request) -> httpx.TransportError:
        """Why the answer cannot be read on: what the server sent, or how the connection ended."""
        if self.broken is not None:
            self.broken.request = request
            return self.broken
        if isinstance(self.lost, OSError):
            return httpx.ReadError(str(self.lost), request=request)
        if not self.head_done:
            return httpx.RemoteProtocolError("the server closed the connection without an answer", request=request)
        return httpx.RemoteProtocolError(
            "the server closed the connection before the answer was whole", request=request
        )

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def _until_close(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an answer's body runs until the connection closes (neither a length nor chunks)."""
    names = {name.lower() for name, _ in headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives; closing it gives the connection back (or closes it)."""

    def __init__(self, pool: AsyncioTransport, conn: _Connection, request: httpx.Request, read_timeout):
        self._pool, self._conn, self._request, self._timeout = pool, conn, request, read_timeout

    async def __aiter__(self):
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        while True:
            if conn.buffered:
                yield conn.take()
                continue
            if conn.complete:
                return
            if conn.broken is not None or conn.ended:
                if conn.ended and conn.lost is None and _until_close(conn.headers):
                    return  # a body without a length ends where the connection does
                raise conn.failure(self._request)
            await conn.wait(self._timeout, self._request)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._release(conn, keep=conn.reusable() and not conn.buffered)


class AsyncioTransport(httpx.AsyncBaseTransport):
    """A pool of HTTP/1.1 connections on asyncio (see the module docstring)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits, fallback: httpx.AsyncBaseTransport):
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(limits.max_connections or 2**31)  # bound to a loop on first wait
        self._max_idle = 2**31 if limits.max_keepalive_connections is None else limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._fallback = fallback

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection and return its answer with the body unread."""
        if request.method not in METHODS:
            return await self._fallback.handle_async_request(request)
        url = request.url
        if url.scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"cannot send to a {url.scheme!r} URL", request=request)
        origin = (url.scheme, url.host, url.port or _PORTS[url.scheme])
        timeouts = request.extensions.get("timeout") or {}
        if self._slots.locked():
            await self._wait_for_slot(timeouts.get("pool"), request)
        else:
            await self._slots.acquire()  # a free slot: no wait, no timeout to arm
        conn = None
        try:
            conn = self._checkout(origin) or await self._connect(origin, request, timeouts.get("connect"))
            conn.send(await _serialised(request))
            if conn.paused_writing:
                await conn.drain(timeouts.get("write"), request)
            read = timeouts.get("read")
            while not conn.head_done:
                if conn.broken is not None or conn.ended:
                    raise conn.failure(request)
                await conn.wait(read, request)
        except BaseException:
            if conn is None:
                self._slots.release()
            else:
                self._release(conn, keep=False)
            raise
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": conn.reason}
        return httpx.Response(
            conn.status, headers=conn.headers, stream=_Body(self, conn, request, read), extensions=extensions
        )

    async def aclose(self) -> None:
        """Close every idle connection (those in use close as their answers are closed)."""
        for conns in self._idle.values():
            for conn in conns:
                conn.transport.close()
        self._idle.clear()
        self._idle_count = 0
        await self._fallback.aclose()

    async def _wait_for_slot(self, timeout: float | None, request: httpx.Request) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("every connection is busy", request=request) from None

    def _checkout(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the likeliest to be alive
            self._idle_count -= 1
            if conn.usable(now, self._expiry):
                return conn
            conn.transport.close()
        return None

    async def _connect(
        self, origin: tuple[str, str, int], request: httpx.Request, timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        tls = {"ssl": self._ssl, "server_hostname": request.extensions.get("sni_hostname", host)}
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_connection(
                    lambda: _Connection(origin), host, port, **(tls if scheme == "https" else {})
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within {timeout} s", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _release(self, conn: _Connection, *, keep: bool) -> None:
        self._slots.release()
        if keep and self._idle_count < self._max_idle:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(conn.origin, []).append(conn)
            self._idle_count += 1
        else:
            conn.transport.close()


_PORTS = {"http": 80, "https": 443}


async def _serialised(request: httpx.Request) -> bytes:
    """The request as it goes on the wire: request line, headers, body (a streamed body is read
    whole and sent with its length: the gateway's bodies are bounded before they get here)."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    headers = request.headers.raw
    if any(name.lower() == b"transfer-encoding" for name, _ in headers):
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
        headers.append((b"content-length", b"%d" % len(body)))
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)]
    lines.extend(b"%s: %s\r\n" % header for header in headers)
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


def pooled_transport(
    *, verify: ssl.SSLContext | str | bool, limits: httpx.Limits, proxy: httpx.Proxy | str | None
) -> httpx.AsyncBaseTransport:
    """The gateway's transport for ``verify``/``limits``/``proxy``: this module's pool, or through a
    proxy httpx's own (which also takes what this pool does not send, such as ``HEAD``)."""
    fallback = httpx.AsyncHTTPTransport(verify=verify, limits=limits, proxy=proxy)
    if proxy is not None:
        return fallback
    return AsyncioTransport(ssl_context=httpx.create_ssl_context(verify=verify), limits=limits, fallback=fallback)
