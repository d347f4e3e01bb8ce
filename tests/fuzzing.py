"""Sending a schemathesis case, shared by the unit tier's fuzz test (tests/server/test_fuzz.py) and
the real stack's (tests/integration/test_conformance.py)."""

from __future__ import annotations

import httpx
from hypothesis import reject


def send_case(client: httpx.Client, case) -> httpx.Response:
    """Send ``case`` with ``client`` as a client would; a case no client can send (e.g. a
    multipart "file" part that is a number) is rejected, not counted as a request."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    kwargs.pop("cookies", None)  # none are generated; per-request cookies are deprecated in httpx
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    request = client.build_request(**kwargs)
    try:
        request.read()  # a multipart upload is a stream: read it here, where a part no client can send fails
    except (TypeError, AttributeError, ValueError):
        reject()
    return client.send(request)
