"""Authentication fails closed: empty keys never switch it off, several keys are accepted,
and an exposed server without a key says so loudly."""

import logging

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import DeploymentError, Settings

from .test_app import BASIC, COMPLETION, JSON, chat, make_client

TINY = "model: {tiny: true}\nadapters: [{name: uncertainty}]\n"


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


def test_an_empty_key_variable_keeps_the_configured_key(tmp_path, monkeypatch):
    path = tmp_path / "d.yaml"
    path.write_text(TINY + "api_key: s3cret\n")
    monkeypatch.setenv("GRANITE_CERTAINTY_API_KEY", "")  # a missing secret, or `export VAR=`
    assert Settings.load(path).keys == ("s3cret",)


@pytest.mark.parametrize("text", ["api_key: ''\n", "api_key: '  '\n", "api_keys: [a, '']\n"])
def test_an_empty_key_in_the_file_is_refused(tmp_path, text):
    path = tmp_path / "d.yaml"
    path.write_text(TINY + text)
    with pytest.raises(DeploymentError, match="empty"):
        Settings.load(path)


def test_every_configured_key_is_accepted_and_no_other():
    with make_client(ok, api_key="first", api_keys=["second", "third"]) as client:
        for key in ("first", "second", "third"):
            assert chat(client, BASIC, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        for header in ("Bearer fourth", "Bearer ", "Basic first", "first", "Bearer firs"):
            resp = chat(client, BASIC, headers={"Authorization": header})
            assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
            assert resp.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    "settings, warned",
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "0.0.0.0", "api_key": "k"}, False),
        ({"host": "0.0.0.0", "allow_unauthenticated": True}, False),
        ({"host": "127.0.0.1"}, False),
    ],
)
def test_serving_an_open_address_without_a_key_warns_loudly(caplog, settings, warned):
    s = Settings(model={"path": "/m", "served_name": "base"}, **settings)
    with caplog.at_level(logging.WARNING, logger="granite_certainty"):
        with TestClient(create_app(s, intrinsics={}, transport=httpx.MockTransport(ok))):
            pass
    assert ("WITHOUT AUTHENTICATION" in caplog.text) is warned
