"""The gateway's one long-lived HTTP client to vLLM (and one to the certainty fallback).

Pooled keep-alive connections with raised limits, idle ones closed before vLLM's own keep-alive
timeout would close them (``keepalive_s``); transport failures become the gateway's typed errors
(503 unreachable or busy, 504 timeout), and each is logged once — the request id, the upstream,
the cause, whether the request was sent again — and counted by cause
(``granite_certainty_upstream_failures``). The transport is pluggable so unit tests inject
faults with ``httpx.MockTransport`` and no server.

The hot path (``post``, ``stream``) hands its request straight to the pooled transport: a
request to vLLM has no redirects, auth flows, cookies or event hooks for ``AsyncClient.send``
to handle, and those layers were a quarter of the gateway's own CPU per pass-through request
(py-spy, docs/contributing/benchmarks.md). Headers and timeouts are merged once, here, not per request.
"""

from __future__ import annotations

import logging
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from .errors import UpstreamBusy, UpstreamStatus, UpstreamTimeout, UpstreamUnavailable
from .metrics import Metrics
from .network import READ_WHOLE, pooled_transport
from .requestid import current as current_request_id
from .settings import DeploymentError, Settings
from .sse import MEDIA_TYPE as SSE

log = logging.getLogger("granite_certainty")

JSON_HEADERS = {"content-type": "application/json"}
#: The chat endpoint below an OpenAI API root (vLLM's is ``/v1``; a fallback's URL is the root).
CHAT_PATH = "/chat/completions"


class Upstream:
    """Async client for one OpenAI-compatible server at ``base_url`` (vLLM's root URL).

    ``api_prefix`` is where its OpenAI API lives below ``base_url``: ``/v1`` for vLLM, whose
    ``/health`` and ``/tokenize`` sit at the root; ``""`` for a server configured by its OpenAI
    base URL (``https://host/v1``), as the certainty fallback is."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "vllm",
        api_prefix: str = "/v1",
        timeout_s: float = 600.0,
        connect_timeout_s: float = 5.0,
        pool_timeout_s: float | None = None,
        keepalive_s: float = 4.0,
        retry_after_s: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        metrics: Metrics | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        #: Logs and counts this upstream's failures (``name`` labels them: vllm, fallback).
        self.failures = Failures(name, public_url(self.base_url), metrics)
        #: The chat completions path on this server, for every call that asks it for an answer.
        self.chat_path = api_prefix.rstrip("/") + CHAT_PATH
        self.retry_after_s = retry_after_s
        # A short pool timeout: when every connection is busy, shed the request at once
        # (503 + Retry-After) instead of queueing it for the whole read timeout.
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=pool_timeout_s or timeout_s)
        # The default pool (100 connections, 20 kept alive) throttles concurrent clients.
        limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=keepalive_s)
        self.transport = transport or pooled_transport(
            verify=verify, limits=limits, proxy=environment_proxy(self.base_url)
        )
        self.client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=self.transport, headers=headers
        )
        self._post_headers = [(k.encode(), v.encode()) for k, v in {**(headers or {}), **JSON_HEADERS}.items()]
        self._timeouts = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}

    async def _send(self, path: str, body: bytes, *, whole: bool = False) -> httpx.Response:
        # What AsyncClient.send would do for this request, less the layers it does not need.
        url = self._urls.get(path)
        if url is None:  # parsed once per path (a handful, all the gateway's own): parsing costs more than sending
            url = self._urls[path] = httpx.URL(self.base_url + path)
        extensions = {"timeout": self._timeouts, READ_WHOLE: whole}
        request = httpx.Request("POST", url, content=body, headers=self._post_headers, extensions=extensions)
        response = await self.transport.handle_async_request(request)
        response.request = request
        self.failures.check(response)
        return response

    async def post(self, path: str, body: bytes) -> httpx.Response:
        """POST a JSON body and read the whole answer; transport failures raise typed errors."""
        async with self._mapped("POST", path):
            response = await self._send(path, body, whole=True)
            try:
                await response.aread()  # read already, where the transport is the network's
            finally:
                await response.aclose()
            return response

    async def post_json(self, path: str, payload: dict) -> dict:
        """POST ``payload`` and return the decoded JSON answer; a non-2xx answer raises
        ``UpstreamStatus`` carrying vLLM's own message and status."""
        resp = await self.post(path, orjson.dumps(payload))
        if resp.status_code >= 400:
            raise upstream_status_error(resp.status_code, resp.content)
        try:
            answer = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise UpstreamStatus(
                f"vLLM answered {resp.status_code} with a body that is not a JSON object: {resp.content[:200]!r}",
                status=502,
            )
        return answer

    @asynccontextmanager
    async def stream(self, path: str, body: bytes) -> AsyncIterator[httpx.Response]:
        """POST and yield the response unread, for byte-for-byte streaming to the client."""
        async with self._mapped("POST", path):
            resp = await self._send(path, body)
        self.failures.watch(resp, "POST", path)
        try:
            yield resp
        finally:
            await resp.aclose()

    @asynccontextmanager
    async def exchange(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Send any request (``path`` may carry a query) and yield the response: a successful
        SSE stream unread, for relaying as it comes; anything else read whole."""
        async with self._mapped(method, path):
            request = self.client.build_request(method, path, content=body, headers=headers)
            resp = await self.client.send(request, stream=True)
            self.failures.check(resp)
            try:
                if resp.status_code >= 400 or not resp.headers.get("content-type", "").startswith(SSE):
                    await resp.aread()
            except BaseException:
                await resp.aclose()
                raise
        self.failures.watch(resp, method, path)
        try:
            yield resp
        finally:
            await resp.aclose()

    async def get(self, path: str, timeout_s: float | None = None, *, probe: bool = False) -> httpx.Response:
        """GET ``path``; transport failures raise typed errors. A ``probe`` (health, readiness)
        reports its failure in its own answer: it is logged at debug level only."""
        async with self._mapped("GET", path, quiet=probe):
            kwargs = {"timeout": timeout_s} if timeout_s is not None else {}
            resp = await self.client.get(path, **kwargs)
            self.failures.check(resp)
            return resp

    @asynccontextmanager
    async def _mapped(self, method: str, path: str, *, quiet: bool = False):
        try:
            yield
        except httpx.TransportError as exc:
            self.failures.failed(exc, method, path, quiet=quiet)
            raise _gateway_error(exc, self.retry_after_s) from None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def _gateway_error(exc: httpx.TransportError, retry_after_s: int) -> Exception:
    """A transport failure as the gateway's error: busy (503 + Retry-After), unreachable (503),
    too slow (504)."""
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamBusy(
            "Every connection to vLLM is busy; retry shortly.", headers={"Retry-After": str(retry_after_s)}
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamUnavailable(f"vLLM is not reachable: {type(exc).__name__}")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"vLLM did not answer in time ({type(exc).__name__})")
    return UpstreamUnavailable(f"vLLM is not reachable: {type(exc).__name__}: {exc}")


#: Each transport failure's cause, as logged and as the metrics label it (most specific first).
CAUSES: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.PoolTimeout, "pool_timeout"),
    (httpx.ConnectTimeout, "connect_timeout"),
    (httpx.WriteTimeout, "write_timeout"),
    (httpx.ReadTimeout, "read_timeout"),
    (httpx.ConnectError, "connect_error"),
    (httpx.ReadError, "connection_reset"),
    (httpx.RemoteProtocolError, "protocol_error"),
    (httpx.LocalProtocolError, "bad_request_headers"),
    (httpx.UnsupportedProtocol, "bad_url"),
)


def cause_of(exc: httpx.TransportError) -> str:
    """The cause label of ``exc``: ``closed_before_answer`` for a connection that ended before any
    byte of the answer (``server.network`` marks it), else the first of ``CAUSES`` it is."""
    if getattr(exc, "before_answer", False):
        return "closed_before_answer"
    return next((cause for kind, cause in CAUSES if isinstance(exc, kind)), "transport_error")


class Failures:
    """What goes wrong between the gateway and one upstream, logged once each (a warning naming
    the request id, the upstream, the call, the cause, and whether it was sent again) and counted
    in ``granite_certainty_upstream_failures{upstream, cause, outcome}`` (``outcome``: ``failed``,
    or ``retried`` when the request, sent again, was answered)."""

    def __init__(self, name: str, url: str, metrics: Metrics | None):
        self.name, self.url, self.metrics = name, url, metrics

    def failed(self, exc: httpx.TransportError, method: str, path: str, *, quiet: bool = False) -> None:
        """Log and count ``exc``, which ended ``method path``."""
        cause, first = cause_of(exc), getattr(exc, "retried", None)
        again = f"sent again after {cause_of(first)}, failed again" if first is not None else "not sent again"
        level = logging.DEBUG if quiet else logging.WARNING
        where = f"upstream {self.name} ({self.url}) failed on {method} {path}"
        log.log(
            level, "%s: %s: %s: %s; %s (request %s)", where, cause, type(exc).__name__, exc, again, current_request_id()
        )
        self._count(cause, "failed")

    def check(self, response: httpx.Response) -> None:
        """Log and count a request that was answered only when sent a second time."""
        attempt = response.extensions.get("attempt")
        if attempt is None or attempt.retried is None:
            return
        cause, request = cause_of(attempt.retried), response.request
        where = f"upstream {self.name} ({self.url}): {request.method} {request.url.path}"
        lost = f"lost its pooled connection ({cause}: {attempt.retried})"
        log.warning("%s %s; sent again on a new one, answered (request %s)", where, lost, current_request_id())
        self._count(cause, "retried")

    def watch(self, response: httpx.Response, method: str, path: str) -> None:
        """Log and count a failure while ``response``'s body is read later, by the caller."""
        response.stream = _Watched(response.stream, lambda exc: self.failed(exc, method, path))

    def _count(self, cause: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.upstream_failures.labels(self.name, cause, outcome).inc()


class _Watched(httpx.AsyncByteStream):
    """A response body that reports a transport failure while it is read, then raises it."""

    def __init__(self, stream, on_failure: Callable[[httpx.TransportError], None]):
        self._stream, self._on_failure = stream, on_failure

    async def __aiter__(self):
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError as exc:
            self._on_failure(exc)
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()


def public_url(url: str) -> str:
    """``url`` without credentials (``http://user:key@host`` → ``http://host``), fit to show anyone."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def vllm_client(settings: Settings, transport=None, metrics: Metrics | None = None) -> Upstream:
    """The client to the deployment's vLLM (``transport`` replaces the network, in tests)."""
    return Upstream(
        settings.vllm.base_url,
        timeout_s=settings.upstream_timeout_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
        pool_timeout_s=settings.limits.pool_timeout_s,
        keepalive_s=settings.upstream_keepalive_s,
        retry_after_s=settings.limits.retry_after_s,
        transport=transport,
        headers={"authorization": f"Bearer {settings.vllm.api_key}"} if settings.vllm.api_key else None,
        verify=trust(settings.vllm.ca_file),
        metrics=metrics,
    )


def upstream_status_error(status: int, content: bytes) -> UpstreamStatus:
    """vLLM's error answer as our error, keeping its status and, where they are strings, its
    message, type and param (a body that is not an OpenAI error is quoted, shortened)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    err = body.get("error", body) if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    text = lambda key: err.get(key) if isinstance(err.get(key), str) else None
    message = text("message") or content[:500].decode(errors="replace").strip() or f"vLLM answered {status}"
    exc = UpstreamStatus(message, status=status, param=text("param"))
    if text("type"):
        exc.type = text("type")
    return exc


def environment_proxy(url: str) -> str | None:
    """The proxy that ``HTTP(S)_PROXY``/``ALL_PROXY`` name for ``url``, unless ``NO_PROXY`` exempts
    its host (what ``httpx.AsyncClient`` would use; the hot path bypasses the client)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and parts.hostname and urllib.request.proxy_bypass_environment(parts.hostname, proxies):
        return None
    return proxy


def trust(ca_file: str | None) -> ssl.SSLContext | bool:
    """What the client verifies an ``https://`` vLLM against: the certificates in ``ca_file``
    (read once, here, not on the event loop), or the system's trust store when it is unset.
    A file that is missing or holds no certificate is a ``DeploymentError``, never "verify off"."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise DeploymentError(f"vllm.ca_file: cannot load certificates from {ca_file}: {exc}") from None
