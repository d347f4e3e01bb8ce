"""The gateway's pool of HTTP/1.1 connections on asyncio, against real sockets: a request and its
answer, large bodies both ways, streamed and chunked answers, timeouts, refused, dropped and
broken connections, a pooled connection the server closed, the pool's limits, and the proxy case
left to httpx."""

import asyncio

import httpcore
import httpx
import pytest

from server.network import READ_HIGH_WATER, AsyncioTransport, pooled_transport

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


def client(timeout: float | httpx.Timeout = 5, limits: httpx.Limits = LIMITS) -> httpx.AsyncClient:
    transport = pooled_transport(verify=True, limits=limits, proxy=None)
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def test_without_a_proxy_the_pool_is_the_gateways_own_and_with_one_httpx_keeps_its_own():
    assert isinstance(pooled_transport(verify=True, limits=LIMITS, proxy=None), AsyncioTransport)
    proxied = pooled_transport(verify=True, limits=LIMITS, proxy="http://proxy.internal:3128")
    assert isinstance(proxied._pool, httpcore.AsyncHTTPProxy)


@pytest.mark.parametrize("limits", [LIMITS, httpx.Limits(max_connections=10)], ids=["bounded", "no idle bound"])
def test_a_request_goes_out_in_one_write_and_its_answer_comes_back_on_a_reused_connection(limits):
    seen, connections = [], []

    async def handler(reader, writer):
        connections.append(writer)
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
        async with server, client(limits=limits) as c:
            answers = [(await c.post(url, content=b'{"n": %d}' % i)).content for i in range(3)]
        return answers

    answers = asyncio.run(main())
    assert answers == [b'echo:{"n": %d}' % i for i in range(3)]
    # Headers and body in one read, all three requests on the one connection the handler served.
    assert seen == [(b'{"n": %d}' % i, 1) for i in range(3)]
    assert len(connections) == 1


def test_bodies_larger_than_the_buffers_go_through_whole_both_ways():
    big = bytes(range(256)) * (4 * 1024 * 1024 // 256 + 7)  # past the socket's buffers: a drain
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


def test_a_chunked_answer_is_read_part_by_part_as_it_arrives():
    release = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()  # the second part only after the client has the first
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            async with c.stream("POST", url, content=b"{}") as resp:
                parts = []
                async for part in resp.aiter_raw():
                    parts.append(part)
                    release.set()
        return parts

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"first", b"second"]


def test_an_answer_without_a_length_ends_where_the_connection_does():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            return (await c.post(url, content=b"{}")).content

    assert asyncio.run(asyncio.wait_for(main(), 10)) == b"all of it"


@pytest.mark.parametrize(
    "reply",
    [
        b"this is not http\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n",
        b"",
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part",
    ],
    ids=["garbage", "a bad length", "closed at once", "cut off, not a short body"],
)
def test_a_server_that_answers_no_http_is_a_protocol_error(reply):
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(reply)
        await writer.drain()
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(url, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))


def test_an_answer_that_says_close_and_an_idle_connection_with_stray_bytes_are_not_reused():
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        await read_request(reader)
        close = len(connections) == 1
        writer.write(answer(b"ok", close=close))
        if not close:
            writer.write(b"HTTP/1.1 200 OK\r\n")  # stray bytes after the answer
        await writer.drain()
        await asyncio.sleep(1)

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            bodies = []
            for _ in range(3):
                bodies.append((await c.post(url, content=b"{}")).content)
                await asyncio.sleep(0.05)
        return bodies

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"ok"] * 3
    assert len(connections) == 3


def test_past_max_connections_a_request_waits_for_the_pool_timeout_and_a_freed_slot_is_taken():
    hold = asyncio.Event()

    async def handler(reader, writer):
        while True:
            try:
                await read_request(reader)
            except ConnectionError:
                return
            await hold.wait()
            writer.write(answer(b"ok"))
            await writer.drain()

    async def main():
        server, url = await serve(handler)
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with server, client(timeout=httpx.Timeout(5, pool=0.2), limits=one) as c:
            first = asyncio.create_task(c.post(url, content=b"{}"))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await c.post(url, content=b"{}")
            hold.set()
            assert (await first).content == b"ok"
            return (await c.post(url, content=b"{}")).content  # the slot came back

    assert asyncio.run(asyncio.wait_for(main(), 10)) == b"ok"


def test_a_request_cancelled_while_waiting_closes_its_connection_and_frees_its_slot():
    closed = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        if await reader.read(1) == b"":
            closed.set()  # the client hung up

    async def main():
        server, url = await serve(handler)
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with server, client(limits=one) as c:
            task = asyncio.create_task(c.post(url, content=b"{}"))
            await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.wait_for(closed.wait(), 5)
            transport = c._transport
            assert transport._slots._value == 1 and transport._idle_count == 0

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_server_that_does_not_read_the_request_is_a_write_timeout():
    async def handler(reader, writer):
        await asyncio.sleep(5)  # never reads: the client's socket buffers fill up

    async def main():
        server, url = await serve(handler)
        async with server, client(timeout=httpx.Timeout(5, write=0.2)) as c:
            with pytest.raises(httpx.WriteTimeout):
                await c.post(url, content=b"x" * (64 * 1024 * 1024))

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_connection_idle_past_the_keepalive_expiry_is_closed_not_reused():
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        while True:
            try:
                await read_request(reader)
            except ConnectionError:
                return
            writer.write(answer(b"ok"))
            await writer.drain()

    async def main():
        server, url = await serve(handler)
        short = httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=0.1)
        async with server, client(limits=short) as c:
            await c.post(url, content=b"{}")
            await c.post(url, content=b"{}")  # at once: the same connection
            await asyncio.sleep(0.2)
            await c.post(url, content=b"{}")  # past the expiry: a new one

    asyncio.run(asyncio.wait_for(main(), 10))
    assert len(connections) == 2


def test_a_head_request_and_a_streamed_request_body_are_sent_correctly():
    seen = []

    async def handler(reader, writer):
        while True:
            try:
                head, body, _ = await read_request(reader) if not seen else await read_head_only(reader)
            except ConnectionError:
                return
            seen.append((head.split(b"\r\n")[0], body))
            # HEAD's answer announces a body it does not carry
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n" if head.startswith(b"HEAD") else answer(body))
            await writer.drain()

    async def read_head_only(reader):
        data = await reader.readuntil(b"\r\n\r\n")
        return data[:-4], b"", 1

    async def chunks():
        yield b'{"a": '
        yield b"1}"

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            streamed = (await c.post(url, content=chunks())).content
            head = await c.head(url)
        return streamed, head.status_code, head.content

    assert asyncio.run(asyncio.wait_for(main(), 10)) == (b'{"a": 1}', 200, b"")
    assert seen[0] == (b"POST / HTTP/1.1", b'{"a": 1}')
    assert seen[1][0] == b"HEAD / HTTP/1.1"


def test_an_answer_the_reader_does_not_keep_up_with_stays_in_the_socket_not_in_memory():
    size = 64 * 1024 * 1024  # far beyond what the kernel buffers on loopback
    sent = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size + b"x" * size)
        await writer.drain()
        sent.set()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            async with c.stream("POST", url, content=b"{}") as resp:
                received, parts = 0, resp.aiter_raw()
                received += len(await anext(parts))
                await asyncio.sleep(0.5)  # a stalled reader: the socket is paused, the server waits
                stalled = not sent.is_set()
                async for part in parts:
                    received += len(part)
        return stalled, received

    assert asyncio.run(asyncio.wait_for(main(), 30)) == (True, 64 * 1024 * 1024)


def test_a_url_that_is_not_http_is_refused_before_a_slot_is_taken():
    async def main():
        transport = pooled_transport(verify=True, limits=httpx.Limits(max_connections=1), proxy=None)
        for _ in range(2):  # a slot taken and not given back would make the second a pool timeout
            with pytest.raises(httpx.UnsupportedProtocol):
                await transport.handle_async_request(httpx.Request("POST", "ftp://upstream/", content=b"{}"))

    asyncio.run(asyncio.wait_for(main(), 10))
