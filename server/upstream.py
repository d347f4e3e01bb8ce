"""The gateway's one long-lived HTTP client to vLLM.

Pooled keep-alive connections with raised limits; transport failures become the gateway's
typed errors (503 unreachable, 504 timeout); the transport is pluggable so unit tests inject
faults with ``httpx.MockTransport`` and no server.

The hot path (``post``, ``stream``) hands its request straight to the pooled transport: a
request to vLLM has no redirects, auth flows, cookies or event hooks for ``AsyncClient.send``
to handle, and those layers were a quarter of the gateway's own CPU per pass-through request
(py-spy, docs/benchmarks.md). Headers and timeouts are merged once, here, not per request.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import orjson

from .errors import UpstreamBusy, UpstreamStatus, UpstreamTimeout, UpstreamUnavailable
from .network import pooled_transport
from .settings import DeploymentError
from .sse import MEDIA_TYPE as SSE

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
        api_prefix: str = "/v1",
        timeout_s: float = 600.0,
        connect_timeout_s: float = 5.0,
        pool_timeout_s: float | None = None,
        retry_after_s: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        #: The chat completions path on this server, for every call that asks it for an answer.
        self.chat_path = api_prefix.rstrip("/") + CHAT_PATH
        self.retry_after_s = retry_after_s
        # A short pool timeout: when every connection is busy, shed the request at once
        # (503 + Retry-After) instead of queueing it for the whole read timeout.
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=pool_timeout_s or timeout_s)
        # The default pool (100 connections, 20 kept alive) throttles concurrent clients.
        limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=30)
        self.transport = transport or pooled_transport(
            verify=verify, limits=limits, proxy=environment_proxy(self.base_url)
        )
        self.client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=self.transport, headers=headers
        )
        self._post_headers = [(k.encode(), v.encode()) for k, v in {**(headers or {}), **JSON_HEADERS}.items()]
        self._timeouts = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}

    async def _send(self, path: str, body: bytes) -> httpx.Response:
        # What AsyncClient.send would do for this request, less the layers it does not need.
        url = self._urls.get(path)
        if url is None:  # parsed once per path (a handful, all the gateway's own): parsing costs more than sending
            url = self._urls[path] = httpx.URL(self.base_url + path)
        extensions = {"timeout": self._timeouts}
        request = httpx.Request("POST", url, content=body, headers=self._post_headers, extensions=extensions)
        response = await self.transport.handle_async_request(request)
        response.request = request
        return response

    async def post(self, path: str, body: bytes) -> httpx.Response:
        """POST a JSON body and read the whole answer; transport failures raise typed errors."""
        async with _mapped(self.retry_after_s):
            response = await self._send(path, body)
            try:
                await response.aread()
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
        async with _mapped(self.retry_after_s):
            resp = await self._send(path, body)
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
        async with _mapped(self.retry_after_s):
            request = self.client.build_request(method, path, content=body, headers=headers)
            resp = await self.client.send(request, stream=True)
            try:
                if resp.status_code >= 400 or not resp.headers.get("content-type", "").startswith(SSE):
                    await resp.aread()
            except BaseException:
                await resp.aclose()
                raise
        try:
            yield resp
        finally:
            await resp.aclose()

    async def get(self, path: str, timeout_s: float | None = None) -> httpx.Response:
        """GET ``path``; transport failures raise typed errors."""
        async with _mapped(self.retry_after_s):
            kwargs = {"timeout": timeout_s} if timeout_s is not None else {}
            return await self.client.get(path, **kwargs)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


@asynccontextmanager
async def _mapped(retry_after_s: int):
    try:
        yield
    except httpx.PoolTimeout:
        raise UpstreamBusy(
            "Every connection to vLLM is busy; retry shortly.", headers={"Retry-After": str(retry_after_s)}
        ) from None
    except httpx.TimeoutException as exc:
        if isinstance(exc, httpx.ConnectTimeout):
            raise UpstreamUnavailable(f"vLLM is not reachable: {type(exc).__name__}") from None
        raise UpstreamTimeout(f"vLLM did not answer in time ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(f"vLLM is not reachable: {type(exc).__name__}: {exc}") from None


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
