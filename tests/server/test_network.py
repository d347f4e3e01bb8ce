"""The gateway's connections (aiohttp under httpx's interface), against real sockets: a request
and its answer, large bodies both ways, streamed and chunked answers, timeouts, refused, dropped
and broken connections, a pooled connection the server closed (and the request sent again),
answers that are not one clean HTTP/1.1 answer, the pool's limits, and a proxy."""

import asyncio
import socket

import httpx
import pytest

from server.network import READ_WHOLE, Attempt, pooled_transport

#: More than aiohttp reads from the socket at once (its read buffer is 64 KiB).
READ_HIGH_WATER = 256 * 1024
#: Timeouts of a request sent to the transport directly (the pool's wait short).
POOL = httpx.Timeout(5, pool=0.2).as_dict()
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


def answering_every_request(body: bytes, connections: list, *, close: bool = False):
    """A server's handler that answers every request on a connection with ``body`` (saying
    ``connection: close`` when ``close``), keeping the connection (appended to ``connections``)
    open between them."""

    async def handler(reader, writer):
        connections.append(writer)
        while True:
            try:
                await read_request(reader)
            except ConnectionError:
                return
            writer.write(answer(body, close=close))
            await writer.drain()

    return handler


def replying(raw: bytes):
    """A server's handler that answers one request with the bytes ``raw`` and closes."""

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        writer.close()

    return handler


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


def test_through_a_proxy_every_request_goes_to_the_proxy_in_absolute_form():
    seen = []

    async def proxy(reader, writer):
        head, body, _ = await read_request(reader)
        seen.append((head.split(b"\r\n")[0], body))
        writer.write(answer(b"via the proxy", close=True))
        await writer.drain()
        writer.close()

    async def main():
        server, proxy_url = await serve(proxy)
        transport = pooled_transport(verify=True, limits=LIMITS, proxy=proxy_url)
        async with server, httpx.AsyncClient(transport=transport, timeout=5) as c:
            return (await c.post("http://vllm.invalid:8001/v1/chat/completions", content=b"{}")).content

    assert asyncio.run(asyncio.wait_for(main(), 10)) == b"via the proxy"
    assert seen == [(b"POST http://vllm.invalid:8001/v1/chat/completions HTTP/1.1", b"{}")]


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
    async def main():
        server, url = await serve(replying(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it"))
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
    async def main():
        server, url = await serve(replying(reply))
        async with server, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(url, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))


def test_an_answer_that_says_close_is_the_last_on_its_connection():
    connections = []
    handler = answering_every_request(b"ok", connections, close=True)

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            return [(await c.post(url, content=b"{}")).content for _ in range(3)]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"ok"] * 3
    assert len(connections) == 3


@pytest.mark.parametrize("when", ["in the same read", "while the connection is idle"])
def test_a_second_answer_on_one_connection_is_never_given_to_the_next_request(when):
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        first = True
        while True:
            try:
                await read_request(reader)
            except ConnectionError:
                return
            writer.write(answer(b"ok"))
            if first and when == "in the same read":
                writer.write(answer(b"stray"))
            await writer.drain()
            if first and when != "in the same read":
                await asyncio.sleep(0.05)
                writer.write(answer(b"stray"))
                await writer.drain()
            first = False

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            bodies = []
            for _ in range(3):
                bodies.append((await c.post(url, content=b"{}")).content)
                await asyncio.sleep(0.1)  # the stray answer arrives on the idle connection
        return bodies

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"ok"] * 3
    assert len(connections) == 3


def answered_with(raw: bytes) -> httpx.Response:
    """The response a client gets from a server that answers its request with the bytes ``raw``
    (and keeps the connection open)."""

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        await reader.read(1)

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            return await c.post(url, content=b"{}")

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_informational_answers_are_skipped_and_the_final_one_is_returned():
    informational = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
    resp = answered_with(informational + answer(b"final"))
    assert (resp.status_code, resp.content, "link" in resp.headers) == (200, b"final", False)


def test_trailers_after_a_chunked_body_do_not_become_headers():
    resp = answered_with(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-late\r\n\r\n"
        b"4\r\nbody\r\n0\r\nx-late: trailer\r\n\r\n"
    )
    assert (resp.content, "x-late" in resp.headers) == (b"body", False)


@pytest.mark.parametrize(
    "headers",
    [b"x-big: " + b"a" * (1 << 20) + b"\r\n", b"".join(b"x-h%d: %s\r\n" % (i, b"a" * 4000) for i in range(256))],
    ids=["one header of 1 MiB", "256 headers of 4 KB"],
)
def test_an_answer_with_oversized_headers_is_a_protocol_error(headers):
    with pytest.raises(httpx.RemoteProtocolError):
        answered_with(b"HTTP/1.1 200 OK\r\n" + headers + b"content-length: 2\r\n\r\nok")


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\rb"], ids=["CRLF", "LF", "CR"])
def test_a_header_value_with_a_line_break_is_refused_and_nothing_is_sent(value):
    received = []

    async def handler(reader, writer):
        received.append(await reader.read(1 << 16))

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            with pytest.raises(httpx.LocalProtocolError):
                await c.post(url, content=b"{}", headers={"x-key": value})
            await asyncio.sleep(0.1)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert b"x-injected" not in b"".join(received)


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
            with socket.socket() as unused:  # a port nobody listens on
                unused.bind(("127.0.0.1", 0))
                refused = f"http://127.0.0.1:{unused.getsockname()[1]}"
            with pytest.raises(httpx.ConnectError):  # the slot is free: the next request connects at once
                await c.post(refused, content=b"{}", timeout=httpx.Timeout(5, pool=0.1))

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
    handler = answering_every_request(b"ok", connections)

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


def keep_alive_then(after: str):
    """A server that answers each connection's first request with keep-alive, then ``after`` it:
    "closes" at once, or "drops the next" request (reads it and closes without an answer: what a
    client sees when the server closed an idle connection just as a request went out on it)."""
    seen = []

    async def handler(reader, writer):
        try:
            head, body, _ = await read_request(reader)
        except ConnectionError:
            return
        seen.append(head.split(b"\r\n")[0])
        writer.write(answer(b"ok"))
        await writer.drain()
        if after == "drops the next":
            try:
                await read_request(reader)
            except ConnectionError:
                return
        writer.close()

    return handler, seen


def test_a_request_on_a_reused_connection_that_the_server_dropped_is_sent_again_on_a_new_one():
    handler, seen = keep_alive_then("drops the next")

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            return [await c.post(url + "/v1/chat/completions", content=b"{}") for _ in range(4)]

    answers = asyncio.run(asyncio.wait_for(main(), 10))
    assert [a.content for a in answers] == [b"ok"] * 4
    assert "attempt" not in answers[0].extensions
    for later in answers[1:]:  # each went out on the pooled connection, was dropped, and sent again
        attempt = later.extensions["attempt"]
        assert isinstance(attempt, Attempt) and isinstance(attempt.retried, httpx.RemoteProtocolError)
    assert len(seen) == 4


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/files", "/v1/load_lora_adapter"])
def test_a_request_that_may_change_state_is_not_sent_again(path):
    handler, seen = keep_alive_then("drops the next")

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            await c.post(url + path, content=b"{}")
            with pytest.raises(httpx.RemoteProtocolError, match="without an answer"):
                await c.post(url + path, content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))
    assert len(seen) == 1


def test_a_new_connection_that_fails_before_the_answer_is_not_tried_again():
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        await read_request(reader)
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            with pytest.raises(httpx.RemoteProtocolError, match="without an answer"):
                await c.post(url + "/v1/chat/completions", content=b"{}")

    asyncio.run(asyncio.wait_for(main(), 10))
    assert len(connections) == 1


def test_an_upstream_that_closes_after_each_keep_alive_answer_loses_no_request_of_concurrent_clients():
    handler, seen = keep_alive_then("closes")

    async def worker(c: httpx.AsyncClient, url: str) -> list:
        results = []
        for _ in range(75):
            try:
                results.append((await c.post(url, content=b"{}")).content)
            except httpx.TransportError as exc:
                results.append(exc)
        return results

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            runs = await asyncio.gather(*(worker(c, url + "/v1/chat/completions") for _ in range(4)))
        return [r for run in runs for r in run]

    results = asyncio.run(asyncio.wait_for(main(), 60))
    assert [r for r in results if r != b"ok"] == []
    assert len(results) == 300 and len(seen) == 300


def test_an_answer_asked_for_whole_comes_back_read_and_its_connection_and_slot_are_reused():
    connections = []
    handler = answering_every_request(b"whole", connections)

    async def main():
        server, url = await serve(handler)
        transport = pooled_transport(verify=True, limits=httpx.Limits(max_connections=1), proxy=None)
        async with server:
            answers = []
            for _ in range(3):  # one slot: a slot not given back would make the second a pool timeout
                request = httpx.Request("POST", url, content=b"{}", extensions={READ_WHOLE: True, "timeout": POOL})
                answers.append((await transport.handle_async_request(request)).content)
            await transport.aclose()
        return answers

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"whole"] * 3
    assert len(connections) == 1


def test_an_answer_asked_for_whole_that_is_cut_off_is_a_protocol_error():
    async def main():
        server, url = await serve(replying(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part"))
        transport = pooled_transport(verify=True, limits=LIMITS, proxy=None)
        async with server:
            request = httpx.Request("POST", url, content=b"{}", extensions={READ_WHOLE: True, "timeout": POOL})
            with pytest.raises(httpx.RemoteProtocolError):
                await transport.handle_async_request(request)
            await transport.aclose()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_connection_that_cannot_be_made_is_not_counted_as_one_that_ended_before_its_answer():
    async def main():
        with socket.socket() as unused:  # a port nobody listens on
            unused.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{unused.getsockname()[1]}/v1/chat/completions"
        async with client() as c:
            with pytest.raises(httpx.ConnectError) as caught:
                await c.post(refused, content=b"{}")
        return caught.value

    assert getattr(asyncio.run(asyncio.wait_for(main(), 10)), "before_answer", False) is False


def test_a_request_sent_again_goes_on_a_new_connection_not_on_another_pooled_one():
    both_open = asyncio.Event()
    connections = []

    async def handler(reader, writer):  # answers a connection's first request, drops its second
        connections.append(writer)
        if len(connections) == 2:
            both_open.set()
        try:
            await read_request(reader)
            await both_open.wait()  # two connections in the pool, both to be dropped on reuse
            writer.write(answer(b"ok"))
            await writer.drain()
            await read_request(reader)
        except ConnectionError:
            return
        writer.close()

    async def main():
        server, url = await serve(handler)
        async with server, client() as c:
            chat = url + "/v1/chat/completions"
            await asyncio.gather(c.post(chat, content=b"{}"), c.post(chat, content=b"{}"))
            return await c.post(chat, content=b"{}")

    resp = asyncio.run(asyncio.wait_for(main(), 10))
    assert resp.content == b"ok" and isinstance(resp.extensions["attempt"].retried, httpx.RemoteProtocolError)
    assert len(connections) == 3  # the two pooled ones, then one new: never the second pooled one
