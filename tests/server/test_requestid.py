"""Every answer carries a request id: the client's ``X-Request-Id`` when it is usable, a new one
otherwise (the id the gateway's log lines about the request name)."""

import httpx
import pytest

from .apps import COMPLETION, JSON, make_client


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123", True), ("", False), ("has space", False), ("x" * 129, False), ("é", False)],
    ids=["usable", "empty", "a space", "too long", "not ascii"],
)
def test_the_answer_carries_the_clients_request_id_or_a_new_one(sent, kept):
    with make_client(ok) as client:
        given = client.get("/livez", headers={"x-request-id": sent.encode()}).headers["x-request-id"]
        fresh = client.get("/livez").headers["x-request-id"]
    assert (given == sent) is kept
    assert len(fresh) >= 18 and fresh != given
