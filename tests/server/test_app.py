"""The app factory: what ``create_app`` checks and looks up once at start, and what it says
when it starts."""

import logging

import httpx
import pytest

from server.app import create_app
from server.settings import Settings

from .apps import COMPLETION, JSON, make_client


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


def test_a_deployment_whose_certainty_intrinsic_names_nothing_it_serves_refuses_to_start():
    from server.settings import DeploymentError

    other = object()  # any served intrinsic other than the scoring one
    s = Settings(model={"path": "/m", "served_name": "base"}, certainty={"intrinsic": "uncertainty"})
    with pytest.raises(DeploymentError, match="certainty.intrinsic names 'uncertainty'.*citations"):
        create_app(s, intrinsics={"citations": other})
    always = Settings(model={"path": "/m", "served_name": "base"}, certainty={"always": True})
    with pytest.raises(DeploymentError, match="certainty.intrinsic"):
        create_app(always, intrinsics={})
    assert create_app(s, intrinsics={})  # a plain front for vLLM, no intrinsic at all, starts


def test_the_scoring_intrinsic_is_looked_up_once_at_start():
    scoring = object()
    s = Settings(model={"path": "/m", "served_name": "base"}, certainty={"intrinsic": "judge"})
    app = create_app(s, intrinsics={"judge": scoring, "other": object()})
    assert app.state.gateway.scoring_intrinsic is scoring


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
    with caplog.at_level(logging.WARNING, logger="granite_certainty"):
        with make_client(ok, **settings):
            pass
    assert ("WITHOUT AUTHENTICATION" in caplog.text) is warned
