"""The asyncio network backend under httpx's pooled transport, against real sockets: a request and
its answer, large bodies both ways, timeouts, refused and dropped connections, a pooled connection
the server closed, and the proxy case left to httpx."""

import asyncio

import httpcore
import httpx
import pytest

from server.network import FLUSH_BYTES, READ_HIGH_WATER, AsyncioBackend, pooled_transport

LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=30)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes, int]:
    """One HTTP/1.1 request: its head, its body, and how many reads the server needed for it."""
    data, reads = b"", 0
    while b"\r\n\r\n" not in data:
        chunk = await reader.read(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        data, reads = data + chunk, reads + 1
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body, reads = body + await reader.read(1 << 20), reads + 1
    return head, body, reads


def answer(body: bytes, *, close: bool = False) -> bytes:
    extra = b"connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def serve(handler):
    """A server on a free port whose connections ``handler(reader, writer)`` answers."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def client(timeout: float = 5) -> httpx.AsyncClient:
    transport = pooled_transport(verify=True, limits=LIMITS, proxy=None)
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def test_without_a_proxy_the_pool_runs_on_the_asyncio_backend_and_with_one_httpx_keeps_its_own():
    plain = pooled_transport(verify=True, limits=LIMITS, proxy=None)
    assert isinstance(plain._pool, httpcore.AsyncConnectionPool)
    assert isinstance(plain._pool._network_backend, AsyncioBackend)
    proxied = pooled_transport(verify=True, limits=LIMITS, proxy="http://proxy.internal:3128")
    assert isinstance(proxied._pool, httpcore.AsyncHTTPProxy)


def test_a_request_goes_out_in_one_write_and_its_answer_comes_back_on_a_reused_connection():
    seen = []

    async def handler(reader, writer):
        while True:
            try:
                head, body, reads = await read_request(reader)
            except ConnectionError:
                return
            seen.append((body, reads))
            writer.write(answer(b"echo:" + body))
            await writer.drain()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            answers = [(await c.post(url, content=b'{"n": %d}' % i)).content for i in range(3)]
        return answers

    answers = asyncio.run(main())
    assert answers == [b'echo:{"n": %d}' % i for i in range(3)]
    # Headers and body in one read, all three requests on the one connection the handler served.
    assert seen == [(b'{"n": %d}' % i, 1) for i in range(3)]


def test_bodies_larger_than_the_buffers_go_through_whole_both_ways():
    big = bytes(range(256)) * (4 * FLUSH_BYTES // 256 + 7)
    huge = b"x" * (16 * READ_HIGH_WATER + 13)  # the socket is paused and resumed on the way

    async def handler(reader, writer):
        head, body, _ = await read_request(reader)
        writer.write(answer(body + huge))
        await writer.drain()
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            async with c.stream("POST", url, content=big) as resp:
                parts = []
                async for part in resp.aiter_raw():
                    if len(parts) < 3:
                        await asyncio.sleep(0.05)  # a slow reader: the unread bytes pile up
                    parts.append(part)
        return b"".join(parts)

    assert asyncio.run(asyncio.wait_for(main(), 20)) == big + huge


class RecordingTransport(asyncio.Transport):
    """Stands in for the socket: records each write."""

    def __init__(self):
        super().__init__()
        self.writes = []

    def write(self, data):
        self.writes.append(data)

    def is_closing(self):
        return False


def test_the_headers_and_body_of_a_request_leave_in_one_write_at_the_first_read():
    from server.network import AsyncioStream, _Connection

    async def main():
        conn = _Connection()
        conn.connection_made(RecordingTransport())
        stream = AsyncioStream(conn)
        await stream.write(b"POST / HTTP/1.1\r\ncontent-length: 2\r\n\r\n")
        await stream.write(b"{}")
        assert conn.transport.writes == []  # nothing yet: the request may have more
        conn.data_received(b"HTTP/1.1 200 OK\r\n")
        assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"
        return conn.transport.writes

    assert asyncio.run(main()) == [b"POST / HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_server_that_does_not_answer_is_a_read_timeout():
    async def handler(reader, writer):
        await read_request(reader)
        await asyncio.sleep(5)

    async def main():
        server, url = await serve(handler)
        async with server, client(timeout=0.2) as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(url, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_refused_connection_is_a_connect_error():
    async def main():
        server, url = await serve(lambda r, w: None)
        server.close()
        await server.wait_closed()
        async with client() as c:
            with pytest.raises(httpx.ConnectError):
                await c.post(url, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))


def test_an_answer_cut_off_is_a_protocol_error_not_a_short_body():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part")
        await writer.drain()
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(url, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_pooled_connection_the_server_closed_is_not_reused():
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        head, body, _ = await read_request(reader)
        writer.write(answer(b"ok"))  # keep-alive announced, then closed at once: the pool must notice
        await writer.drain()
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            first = await c.post(url, content=b"{}")
            await asyncio.sleep(0.05)  # the close reaches the idle pooled connection
            second = await c.post(url, content=b"{}")
        return first.content, second.content

    assert asyncio.run(asyncio.wait_for(main(), 10)) == (b"ok", b"ok")
    assert len(connections) == 2


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tls_works_on_both_event_loops_and_an_untrusted_certificate_is_a_connect_error(tmp_path, loop):
    import ssl

    import uvloop

    from server.upstream import trust

    from .test_upstream_tls import self_signed

    cert, key = self_signed(tmp_path, "workload")
    other, _ = self_signed(tmp_path, "other")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)

    async def handler(reader, writer):
        try:
            await read_request(reader)
        except (ConnectionError, ssl.SSLError):
            return  # the client refused the certificate
        writer.write(answer(b"over tls", close=True))
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_side)
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            trusted = pooled_transport(verify=trust(cert), limits=LIMITS, proxy=None)
            async with httpx.AsyncClient(transport=trusted, timeout=5) as c:
                body = (await c.post(url, content=b"{}")).content
            untrusted = pooled_transport(verify=trust(other), limits=LIMITS, proxy=None)
            async with httpx.AsyncClient(transport=untrusted, timeout=5) as c:
                with pytest.raises(httpx.ConnectError):
                    await c.post(url, content=b"{}")
        return body

    run = uvloop.run if loop == "uvloop" else asyncio.run
    assert run(asyncio.wait_for(main(), 20)) == b"over tls"
