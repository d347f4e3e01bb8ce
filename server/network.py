"""The gateway's connections to upstream servers: aiohttp's client under httpx's interface.

The gateway speaks httpx — its requests, responses and exception types, so that callers see an
ordinary ``httpx.AsyncBaseTransport`` and tests swap the network for ``httpx.MockTransport``.
The connections are aiohttp's (already installed with vLLM): its pool (``TCPConnector``: keep-alive
and its expiry, TLS), its HTTP/1.1 parser (llhttp) and its proxy support. This module translates
between the two and adds what neither does for an inference call:

- **A request lost to a closed keep-alive connection is sent again.** A server may close an
  idle connection at the moment the pool hands it to a request; the request then fails before
  any byte of its answer arrived. Such a request, on a *reused* connection, is sent once more on
  a new one when ``replayable(request)`` allows it (see there: inference calls, which have no
  side effects). ``Attempt.retried`` tells the caller it happened.
- **A pooled connection is handed out only if it is clean**: one on which the server sent bytes
  nobody asked for (an answer after the answer) is closed, never given the next request.
- **Requests in flight are bounded** (``max_connections``), and a request that finds them all
  busy waits at most the pool timeout (``httpx.PoolTimeout``: the gateway's 503 "busy"); aiohttp
  would count that wait in its connect timeout.
- **The write timeout**: aiohttp has none (its read timeout starts once the body is out); a body
  larger than the socket's buffers is sent under it.

Errors (aiohttp's, as the gateway's one httpx tree)::

    every request slot busy past the pool timeout           → httpx.PoolTimeout
    ConnectionTimeoutError (no connection within connect)   → httpx.ConnectTimeout
    the body not sent within the write timeout              → httpx.WriteTimeout
    SocketTimeoutError (nothing arrived within ``read``)    → httpx.ReadTimeout
    ClientConnectorError (refused, DNS, TLS, proxy)         → httpx.ConnectError
    ServerDisconnectedError (closed before the answer)      → httpx.RemoteProtocolError
    ClientPayloadError (the body cut off or malformed)      → httpx.RemoteProtocolError
    ClientResponseError (what came back is not HTTP)        → httpx.RemoteProtocolError
    ClientOSError (the connection reset)                    → httpx.ReadError
    a header value with CR or LF                            → httpx.LocalProtocolError
    a URL that is not http(s)                               → httpx.UnsupportedProtocol

A failure before any byte of the answer carries ``before_answer = True``; one that ended a request
sent a second time carries the first failure as ``retried``.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from contextvars import ContextVar
from dataclasses import dataclass

import aiohttp
import httpx
import yarl

__all__ = ["READ_WHOLE", "Attempt", "AiohttpTransport", "pooled_transport", "replayable"]

#: A request extension: the caller reads the whole answer, so the transport returns it read (one
#: ``read`` of aiohttp's, the connection and the request's slot given back at once).
READ_WHOLE = "granite_certainty.read_whole"

#: Paths (suffixes below any API root) whose POST has no side effect: sent again when a reused
#: connection fails before any byte of the answer. Not ``/responses`` (it may store what it makes),
#: nor file, batch or adapter-loading endpoints.
REPLAYABLE_POSTS = (
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/score",
    "/rerank",
    "/classify",
    "/pooling",
    "/tokenize",
    "/detokenize",
)
#: Methods that are safe to send again by their definition (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Bodies up to this size go out in one write that cannot wait (aiohttp drains past 64 KiB).
SMALL_BODY = 64 * 1024
#: Headers aiohttp would add on its own; the gateway sends exactly the request's headers.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_BODY_HEADERS = frozenset({"content-length", "transfer-encoding"})


def replayable(request: httpx.Request) -> bool:
    """Whether ``request`` may be sent a second time: an idempotent method, or a POST of an
    inference call (a path ending in one of ``REPLAYABLE_POSTS``)."""
    if request.method in IDEMPOTENT:
        return True
    return request.method == "POST" and request.url.path.endswith(REPLAYABLE_POSTS)


@dataclass
class Attempt:
    """One sending of a request: whether it went out on a pooled (reused) connection, and, for
    a request sent a second time, the failure of the first (``retried``)."""

    reused: bool = False
    retried: httpx.TransportError | None = None


#: The attempt in progress in this task (set around each aiohttp call; marked by the connector).
_ATTEMPT: ContextVar[Attempt | None] = ContextVar("granite_certainty_upstream_attempt", default=None)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, plus three things: a pooled connection on which the server sent bytes
    while it was idle (aiohttp would parse them as the next request's answer) is closed; a request
    sent a second time gets a new connection (the pooled ones it meets are closed: their server
    may have closed them too); and the attempt in progress learns whether its connection is a
    reused one."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._handed_out: weakref.WeakSet = weakref.WeakSet()

    async def connect(self, req, traces, timeout):
        attempt = _ATTEMPT.get()
        again = attempt is not None and attempt.retried is not None
        while True:
            conn = await super().connect(req, traces, timeout)
            protocol = conn.protocol
            reused = protocol in self._handed_out
            if not (protocol is None or protocol.should_close or (again and reused)):
                break
            conn.close()  # stray bytes on it; or a request sent again, which goes on a new connection
        if reused and attempt is not None:
            attempt.reused = True
        elif not reused:
            self._handed_out.add(protocol)
        return conn


class _WriteTimeout(TimeoutError):
    """The request's body did not go out within the write timeout."""


class _TimedPayload(aiohttp.BytesPayload):
    """A request body sent under the write timeout."""

    def __init__(self, value: bytes, timeout: float | None):
        super().__init__(value)
        self._timeout = timeout

    async def write_with_length(self, writer, content_length) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await super().write_with_length(writer, content_length)
        except TimeoutError:
            raise _WriteTimeout(f"could not send the request within {self._timeout} s") from None

    async def write(self, writer) -> None:
        await self.write_with_length(writer, None)


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as it arrives. Closing it gives the connection back when the
    answer was read whole (closes it otherwise) and frees the request's slot."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, slots: asyncio.Semaphore):
        self._response, self._request, self._slots = response, request, slots

    async def __aiter__(self):
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc, self._request, head=True) from exc

    async def aclose(self) -> None:
        response, self._response = self._response, None
        if response is None:
            return
        if response.content.is_eof():
            response.release()
        else:
            response.close()
        self._slots.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one ``aiohttp.ClientSession`` (made on first use, on the loop
    that uses it). ``limits``: ``max_connections`` (requests in flight at once) and
    ``keepalive_expiry`` (idle seconds before a pooled connection is closed); ``proxy``: every
    request through it."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits, proxy: str | None = None):
        self._ssl = ssl_context
        self._limits = limits
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(limits.max_connections or 2**31)  # bound to a loop on first wait
        self._urls: dict[int, tuple[httpx.URL, yarl.URL]] = {}
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its answer with the body unread (once more on a new
        connection if a reused one failed before the answer and ``replayable`` allows it)."""
        url = self._url(request)
        timeouts = request.extensions.get("timeout") or {}
        await self._take_slot(timeouts.get("pool"), request)
        try:
            return await self._send_once_or_twice(request, url, timeouts)
        except BaseException:
            self._slots.release()
            raise

    async def _take_slot(self, timeout: float | None, request: httpx.Request) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: no wait, no timeout to arm
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("every connection is busy", request=request) from None

    async def _send_once_or_twice(self, request: httpx.Request, url: yarl.URL, timeouts: dict) -> httpx.Response:
        attempt = Attempt()
        try:
            return await self._send(request, url, timeouts, attempt)
        except httpx.TransportError as exc:
            if not (attempt.reused and getattr(exc, "before_answer", False) and replayable(request)):
                raise
            try:
                return await self._send(request, url, timeouts, Attempt(retried=exc))
            except httpx.TransportError as again:
                again.retried = exc  # the caller's log names both failures
                raise

    async def _send(self, request: httpx.Request, url: yarl.URL, timeouts: dict, attempt: Attempt) -> httpx.Response:
        session = self._session or self._open()
        token = _ATTEMPT.set(attempt)
        try:
            response = await session.request(
                request.method,
                url,
                data=await _body(request, timeouts.get("write")),
                headers=[(k, v) for k, v in request.headers.multi_items() if k not in _BODY_HEADERS],
                timeout=self._timeout(timeouts),
                allow_redirects=False,
            )
        except _WriteTimeout as exc:
            raise httpx.WriteTimeout(str(exc), request=request) from None
        except Exception as exc:
            raise _httpx_error(exc, request, head=False) from exc
        finally:
            _ATTEMPT.reset(token)
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()}
        if attempt.retried is not None:
            extensions["attempt"] = attempt
        if request.extensions.get(READ_WHOLE):
            content = await _read_whole(response, request)
            headers = response.raw_headers
            whole = httpx.Response(response.status, headers=headers, content=content, extensions=extensions)
            self._slots.release()  # last: anything raised before it is released once, by the caller
            return whole
        stream = _Body(response, request, self._slots)
        return httpx.Response(response.status, headers=response.raw_headers, stream=stream, extensions=extensions)

    def _open(self) -> aiohttp.ClientSession:
        connector = _Connector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            proxy=self._proxy,
            auto_decompress=False,  # httpx decodes, as it would over its own transport
            skip_auto_headers=_AUTO_HEADERS,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    def _url(self, request: httpx.Request) -> yarl.URL:
        # Keyed by the httpx URL object: the gateway's client reuses one per path (and the entry
        # keeps it alive, so its id is not reused); any other URL is converted each time.
        known = self._urls.get(id(request.url))
        if known is not None and known[0] is request.url:
            return known[1]
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"cannot send to a {request.url.scheme!r} URL", request=request)
        url = yarl.URL(str(request.url), encoded=True)
        if len(self._urls) >= 64:  # one-off URLs (a query, a client-built request) must not crowd it
            self._urls.clear()
        self._urls[id(request.url)] = (request.url, url)
        return url

    def _timeout(self, timeouts: dict) -> aiohttp.ClientTimeout:
        key = (timeouts.get("connect"), timeouts.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read = key  # ``connect``: name resolution and the connect together
            timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)
            self._timeouts[key] = timeout
        return timeout

    async def aclose(self) -> None:
        """Close every connection."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


async def _body(request: httpx.Request, write_timeout: float | None) -> bytes | _TimedPayload | None:
    """The request's body, read whole (the gateway's bodies are bounded before they get here);
    one larger than a single write carries the write timeout."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    if not body and request.method in ("GET", "HEAD"):
        return None
    return body if len(body) <= SMALL_BODY or write_timeout is None else _TimedPayload(body, write_timeout)


async def _read_whole(response: aiohttp.ClientResponse, request: httpx.Request) -> bytes:
    """The whole body of ``response``; the connection given back (closed if the read failed)."""
    try:
        return await response.read()
    except Exception as exc:
        response.close()
        raise _httpx_error(exc, request, head=True) from exc
    finally:
        response.release()


_NO_ANSWER = "the server closed the connection without an answer"


def _httpx_error(exc: Exception, request: httpx.Request, *, head: bool) -> Exception:
    """``exc`` (aiohttp's) as httpx's error for ``request``; ``head``: the answer's head had come."""
    if isinstance(exc, httpx.TransportError):
        return exc
    error = _translate(exc, head=head)
    error.request = request
    error.before_answer = _ended_before_answer(exc, head)
    return error


def _ended_before_answer(exc: Exception, head: bool) -> bool:
    """Whether ``exc`` is a connection, made or taken from the pool, that ended (closed or reset)
    before any byte of the answer arrived — not one that could not be made."""
    ended = isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)
    return ended and not head and not isinstance(exc, aiohttp.ClientConnectorError)


def _translate(exc: Exception, *, head: bool) -> httpx.TransportError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            "the server closed the connection before the answer was whole" if head else _NO_ANSWER
        )
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(text)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(f"the server's answer is not HTTP/1.1: {text}")
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text)
    if isinstance(exc, ValueError):  # aiohttp refuses to send a header with CR or LF
        return httpx.LocalProtocolError(text)
    return httpx.TransportError(f"{type(exc).__name__}: {text}")


def pooled_transport(
    *, verify: ssl.SSLContext | str | bool, limits: httpx.Limits, proxy: str | None
) -> AiohttpTransport:
    """The gateway's transport for ``verify`` (httpx's meaning), ``limits`` and ``proxy`` (a URL)."""
    return AiohttpTransport(ssl_context=httpx.create_ssl_context(verify=verify), limits=limits, proxy=proxy)
