"""Authentication on ``/v1``: every configured key is accepted and no other; health and metrics
need none."""

import httpx

from .apps import BASIC, COMPLETION, JSON, chat, make_client


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


def test_api_key_is_enforced_on_v1_only():
    with make_client(ok, api_key="s3cret") as client:
        assert chat(client, BASIC).status_code == 401
        assert chat(client, BASIC, headers={"Authorization": "Bearer wrong"}).status_code == 401
        denied = client.get("/v1/models")
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        assert chat(client, BASIC, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/health").status_code == 200


def test_every_configured_key_is_accepted_and_no_other():
    with make_client(ok, api_key="first", api_keys=["second", "third"]) as client:
        for key in ("first", "second", "third"):
            assert chat(client, BASIC, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        for header in ("Bearer fourth", "Bearer ", "Basic first", "first", "Bearer firs"):
            resp = chat(client, BASIC, headers={"Authorization": header})
            assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
            assert resp.json()["error"]["code"] == "invalid_api_key"
