"""The gateway's connections to upstream servers: aiohttp's client under httpx's interface.

The gateway speaks httpx — its requests, responses and exception types, so that callers see an
ordinary ``httpx.AsyncBaseTransport`` and tests swap the network for ``httpx.MockTransport``.
The connections are aiohttp's (already installed with vLLM): its pool (``TCPConnector``: the
connection limit, keep-alive expiry, TLS), its HTTP/1.1 parser (llhttp) and its proxy support.
This module translates between the two and adds what neither does for an inference call:

- **A request lost to a closed keep-alive connection is sent again.** A server may close an
  idle connection at the moment the pool hands it to a request; the request then fails before
  any byte of its answer arrived. Such a request, on a *reused* connection, is sent once more on
  a new one when ``replayable(request)`` allows it (see there: inference calls, which have no
  side effects). ``Attempt.retried`` tells the caller it happened.
- **A pooled connection is handed out only if it is clean**: one on which the server sent bytes
  nobody asked for (an answer after the answer) is closed, never given the next request.
- **A full pool is told apart from a slow connect**: aiohttp's ``connect`` timeout covers both
  the wait for a free connection and the connect; its tracing hooks say which one ran out.

Errors (aiohttp's, as the gateway's one httpx tree)::

    ConnectionTimeoutError while queued for a connection    → httpx.PoolTimeout
    ConnectionTimeoutError / timeout while connecting       → httpx.ConnectTimeout
    SocketTimeoutError (nothing arrived within ``read``)    → httpx.ReadTimeout
    ClientConnectorError (refused, DNS, TLS, proxy)         → httpx.ConnectError
    ServerDisconnectedError (closed before the answer)      → httpx.RemoteProtocolError
    ClientPayloadError (the body cut off or malformed)      → httpx.RemoteProtocolError
    ClientResponseError (what came back is not HTTP)        → httpx.RemoteProtocolError
    ClientOSError (the connection reset)                    → httpx.ReadError
    a header value with CR or LF; a URL that is not http(s) → httpx.LocalProtocolError / UnsupportedProtocol

Timeouts come from the request's ``timeout`` extension (httpx's): ``pool`` bounds the wait for a
free connection, ``connect`` the connect, ``write`` the sending of the body (aiohttp has no write
timeout; the body's payload carries one), ``read`` each wait for bytes of the answer.
"""

from __future__ import annotations

import asyncio
import ssl
from contextvars import ContextVar
from dataclasses import dataclass

import aiohttp
import httpx
import yarl

__all__ = ["Attempt", "AiohttpTransport", "pooled_transport", "replayable"]

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
    """What happened to one request on its way out: whether it took a pooled connection, waited
    for one, and was sent again after its first connection failed (``retried``: that failure)."""

    reused: bool = False
    queued: bool = False
    retried: httpx.TransportError | None = None
    #: Bounds the wait for a free connection (armed while queued for one; see ``_on_queued``).
    deadline: asyncio.Timeout | None = None
    pool_timeout: float | None = None


#: The attempt in progress in this task (set around each aiohttp call; read by the tracing hooks).
_ATTEMPT: ContextVar[Attempt | None] = ContextVar("granite_certainty_upstream_attempt", default=None)


async def _on_reuse(session, ctx, params) -> None:
    _ATTEMPT.get().reused = True


async def _on_queued(session, ctx, params) -> None:
    attempt = _ATTEMPT.get()
    attempt.queued = True
    if attempt.pool_timeout is not None:
        attempt.deadline.reschedule(asyncio.get_running_loop().time() + attempt.pool_timeout)


async def _on_dequeued(session, ctx, params) -> None:
    attempt = _ATTEMPT.get()
    attempt.queued = False
    attempt.deadline.reschedule(None)


def _tracing() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_on_reuse)
    config.on_connection_queued_start.append(_on_queued)
    config.on_connection_queued_end.append(_on_dequeued)
    return config


class _CleanConnector(aiohttp.TCPConnector):
    """aiohttp's connector, less one case: a pooled connection on which the server sent bytes
    while it was idle (aiohttp would parse them as the next request's answer) is closed."""

    async def connect(self, req, traces, timeout):
        while True:
            conn = await super().connect(req, traces, timeout)
            if conn.protocol is None or not conn.protocol.should_close:
                return conn
            conn.close()


class _WriteTimeout(TimeoutError):
    """The request's body did not go out within the write timeout."""


class _TimedPayload(aiohttp.BytesPayload):
    """A request body whose sending is bounded by the write timeout (aiohttp's read timeout
    starts only once the body is out, and it has no write timeout of its own)."""

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
    """An aiohttp response body as it arrives; closing it gives the connection back when the
    answer was read whole, and closes it otherwise."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request):
        self._response, self._request = response, request

    async def __aiter__(self):
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc, self._request, head=True) from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.is_eof():
            response.release()
        else:
            response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one ``aiohttp.ClientSession`` (made on first use, on the loop
    that uses it). ``limits``: ``max_connections`` (in use at once) and ``keepalive_expiry``
    (idle seconds before a pooled connection is closed); ``proxy``: every request through it."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits, proxy: str | None = None):
        self._ssl = ssl_context
        self._limits = limits
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its answer with the body unread (once more on a new
        connection if a reused one failed before the answer and ``replayable`` allows it)."""
        attempt = Attempt()
        try:
            return await self._send(request, attempt)
        except httpx.TransportError as exc:
            if not (attempt.reused and _before_answer(exc) and replayable(request)):
                raise
            try:
                return await self._send(request, Attempt(retried=exc))
            except httpx.TransportError as again:
                again.retried = exc  # the caller's log names both failures
                raise

    async def _send(self, request: httpx.Request, attempt: Attempt) -> httpx.Response:
        session = self._session or self._open()
        timeouts = request.extensions.get("timeout") or {}
        attempt.pool_timeout = timeouts.get("pool")
        token = _ATTEMPT.set(attempt)
        try:
            async with asyncio.timeout(None) as attempt.deadline:
                response = await session.request(
                    request.method,
                    self._url(request),
                    data=await _body(request, timeouts.get("write")),
                    headers=[(k, v) for k, v in request.headers.multi_items() if k not in _BODY_HEADERS],
                    timeout=self._timeout(timeouts),
                    allow_redirects=False,
                )
        except TimeoutError as exc:
            if attempt.queued:  # the deadline ran out while waiting for a free connection
                raise httpx.PoolTimeout("every connection is busy", request=request) from None
            if isinstance(exc, _WriteTimeout):
                raise httpx.WriteTimeout(str(exc), request=request) from None
            raise _httpx_error(exc, request, head=False) from exc
        except Exception as exc:
            raise _httpx_error(exc, request, head=False) from exc
        finally:
            _ATTEMPT.reset(token)
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()}
        if attempt.retried is not None:
            extensions["attempt"] = attempt
        return httpx.Response(
            response.status, headers=response.raw_headers, stream=_Body(response, request), extensions=extensions
        )

    def _open(self) -> aiohttp.ClientSession:
        connector = _CleanConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            proxy=self._proxy,
            auto_decompress=False,  # httpx decodes, as it would over its own transport
            skip_auto_headers=_AUTO_HEADERS,
            trace_configs=[_tracing()],
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    def _url(self, request: httpx.Request) -> yarl.URL:
        key = str(request.url)
        url = self._urls.get(key)
        if url is None:
            if request.url.scheme not in ("http", "https"):
                raise httpx.UnsupportedProtocol(f"cannot send to a {request.url.scheme!r} URL", request=request)
            url = yarl.URL(key, encoded=True)
            if len(self._urls) < 1024:  # the gateway's own paths: a handful (a query makes a new one)
                self._urls[key] = url
        return url

    def _timeout(self, timeouts: dict) -> aiohttp.ClientTimeout:
        key = (timeouts.get("connect"), timeouts.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read = key
            # aiohttp's ``connect`` bounds name resolution and connecting, but also counts the wait
            # for a free connection: that wait has its own deadline (``Attempt.deadline``), and a
            # timeout while queued is the pool's whichever ran out.
            timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)
            self._timeouts[key] = timeout
        return timeout

    async def aclose(self) -> None:
        """Close every connection."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


async def _body(request: httpx.Request, write_timeout: float | None) -> _TimedPayload | None:
    """The request's body, read whole (the gateway's bodies are bounded before they get here)."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    if not body and request.method in ("GET", "HEAD"):
        return None
    return _TimedPayload(body, write_timeout)


def _before_answer(exc: httpx.TransportError) -> bool:
    """Whether ``exc`` is a connection that ended before any byte of the answer arrived."""
    return isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError) and getattr(exc, "before_answer", False)


_NO_ANSWER = "the server closed the connection without an answer"


def _httpx_error(exc: Exception, request: httpx.Request, *, head: bool, queued: bool = False) -> Exception:
    """``exc`` (aiohttp's) as httpx's error for ``request``; ``head``: the answer's head had come."""
    if isinstance(exc, httpx.TransportError | asyncio.CancelledError):
        return exc
    error = _translate(exc, head=head, queued=queued)
    error.request = request
    error.before_answer = not head and isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)
    return error


def _translate(exc: Exception, *, head: bool, queued: bool) -> httpx.TransportError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.PoolTimeout("every connection is busy") if queued else httpx.ConnectTimeout(text)
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
    *, verify: ssl.SSLContext | str | bool, limits: httpx.Limits, proxy: httpx.Proxy | str | None
) -> AiohttpTransport:
    """The gateway's transport for ``verify`` (httpx's meaning), ``limits`` and ``proxy``."""
    if isinstance(proxy, httpx.Proxy):
        proxy = str(proxy.url)
    return AiohttpTransport(ssl_context=httpx.create_ssl_context(verify=verify), limits=limits, proxy=proxy)
