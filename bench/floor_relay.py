"""The floor of any gateway: a raw ASGI app under uvicorn that relays every POST, bytes in and
bytes out, through the gateway's own pooled transport (``server.network.pooled_transport``),
and does nothing else.

Run as ``python bench/floor_relay.py PORT UPSTREAM_URL``. It receives a request as the upstream
does and sends one as a client does: issue 17's floor. ``bench_revisions.py --floor`` times it
beside the gateways, so that what the gateway adds is read against what no gateway can avoid.
"""

from __future__ import annotations

import sys

import httpx
import uvicorn

# zero_upstream sits beside this script.
from zero_upstream import read_body

from server.network import pooled_transport

JSON = [(b"content-type", b"application/json")]


def relay_app(upstream: str, transport: httpx.AsyncBaseTransport):
    """The relay: ``/livez`` answers at once; anything else is POSTed to ``upstream`` + its path."""
    urls: dict[str, httpx.URL] = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/livez":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = await read_body(receive)
        url = urls.get(scope["path"]) or urls.setdefault(scope["path"], httpx.URL(upstream + scope["path"]))
        resp = await transport.handle_async_request(httpx.Request("POST", url, content=body, headers=JSON))
        content = b"".join([chunk async for chunk in resp.stream])
        await resp.stream.aclose()
        await send({"type": "http.response.start", "status": resp.status_code, "headers": JSON})
        await send({"type": "http.response.body", "body": content})

    return app


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2]
    app = relay_app(upstream, pooled_transport(verify=True, limits=httpx.Limits(max_connections=1024), proxy=None))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
