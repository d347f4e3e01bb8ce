"""The gateway's connections to vLLM on asyncio's own transports: an httpcore network backend.

httpx's pooled transport runs its connections on anyio by default; per request that layer (cancel
scopes around every read and write, a socket poll to see whether an idle connection still lives,
a separate send for the headers and for the body) cost about 140 µs of CPU of the ~460 µs a whole
upstream call takes on these machines (docs/benchmarks.md). This backend is httpcore's documented
extension point (``AsyncConnectionPool(network_backend=...)``) on an ``asyncio.Protocol``:

- a read waits on one future, bounded by ``asyncio.timeout`` (httpcore's read timeout);
- writes are kept until the next read and go out in one ``transport.write``: HTTP/1.1 sends a
  whole request before it reads, so the headers and the body leave in one segment; past
  ``FLUSH_BYTES`` they go out at once, with the write timeout on the drain;
- whether an idle connection is still usable is known without a syscall: asyncio reads eagerly,
  so a peer's close (or stray bytes) has already arrived;
- TLS (``vllm.ca_file``, a fallback model over HTTPS) is asyncio's ``loop.start_tls``.

``pooled_transport`` is httpx's ``AsyncHTTPTransport`` (its request and response models, its
exception mapping) with its pool on this backend; through a proxy, httpx's own pool is kept.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import httpcore
import httpx

#: Buffered request bytes beyond which a write goes out at once instead of at the next read.
FLUSH_BYTES = 64 * 1024
#: Unread response bytes beyond which the socket stops being read until the relay catches up.
READ_HIGH_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    """The socket's side: what has arrived, whether it ended, and who waits for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.lost: Exception | None = None
        self.waiter: asyncio.Future | None = None
        self.drained: asyncio.Future | None = None
        self.paused_writing = self.paused_reading = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH_WATER and not self.paused_reading:
            self.paused_reading = True  # until a read drains the buffer
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

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def _woken(conn: _Connection, slot: str, timeout: float | None, timed_out: Exception) -> None:
    """Wait until the protocol resolves the future it finds in ``conn.<slot>`` (data, the end, or
    room to write), or raise ``timed_out`` after ``timeout`` seconds."""
    setattr(conn, slot, asyncio.get_running_loop().create_future())
    try:
        async with asyncio.timeout(timeout):
            await getattr(conn, slot)
    except TimeoutError:
        raise timed_out from None
    finally:
        setattr(conn, slot, None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore reads and writes it."""

    def __init__(self, connection: _Connection):
        self._conn = connection
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` that have arrived (waiting up to ``timeout``); ``b""`` at the end."""
        self._flush()
        conn = self._conn
        if not conn.buffer and not conn.ended:
            await _woken(conn, "waiter", timeout, httpcore.ReadTimeout(f"no answer within {timeout} s"))
        if conn.buffer:
            data = bytes(conn.buffer[:max_bytes])
            del conn.buffer[:max_bytes]
            if conn.paused_reading and len(conn.buffer) <= READ_HIGH_WATER and not conn.ended:
                conn.paused_reading = False
                conn.transport.resume_reading()
            return data
        if conn.lost is not None:
            raise httpcore.ReadError(str(conn.lost))
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Keep ``buffer`` for the next read's single write, or send now past ``FLUSH_BYTES``."""
        if not buffer:
            return
        if self._conn.ended or self._conn.transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._pending.append(buffer)
        self._pending_bytes += len(buffer)
        if self._pending_bytes >= FLUSH_BYTES:
            self._flush()
            await self._drain(timeout)

    async def aclose(self) -> None:
        """Close the connection (what is buffered still goes out first)."""
        self._flush()
        self._conn.transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> AsyncioStream:
        """Upgrade the connection to TLS in place (``loop.start_tls``)."""
        self._flush()
        conn, loop = self._conn, asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                conn.transport = await loop.start_tls(
                    conn.transport, conn, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of a connection: its TLS object, addresses, socket, and whether an
        idle one has something to read (then the peer closed it or broke the protocol)."""
        transport = self._conn.transport
        if info == "is_readable":
            return self._conn.ended or bool(self._conn.buffer)
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return transport.get_extra_info(names[info]) if info in names else None

    def _flush(self) -> None:
        if self._pending:
            self._conn.transport.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0

    async def _drain(self, timeout: float | None) -> None:
        conn = self._conn
        if not conn.paused_writing:
            return
        await _woken(conn, "drained", timeout, httpcore.WriteTimeout(f"could not send within {timeout} s"))
        if conn.lost is not None:
            raise httpcore.WriteError(str(conn.lost))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio transports."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> AsyncioStream:
        """Open a TCP connection (``TCP_NODELAY``, and ``socket_options``) within ``timeout``."""
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_connection(_Connection, host, port, local_addr=local)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), *(socket_options or ()):
            sock.setsockopt(*option)
        return AsyncioStream(conn)

    async def sleep(self, seconds: float) -> None:
        """httpcore's retry back-off."""
        await asyncio.sleep(seconds)


def pooled_transport(
    *, verify: ssl.SSLContext | str | bool, limits: httpx.Limits, proxy: httpx.Proxy | str | None
) -> httpx.AsyncHTTPTransport:
    """httpx's pooled transport for ``verify``/``limits``/``proxy``; without a proxy its pool runs on
    ``AsyncioBackend``. (httpx takes no network backend, so the pool it built is replaced: its
    ``_pool``, checked by tests/server/test_network.py against the locked httpx.)"""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, proxy=proxy)
    if proxy is None:
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
    return transport
