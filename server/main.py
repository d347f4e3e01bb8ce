"""ASGI entry point for ``uvicorn server.main:app --factory``: settings from the environment.

``GRANITE_CERTAINTY_CONFIG`` names a deployment YAML file; any setting can also be given as
``GRANITE_CERTAINTY_<NAME>`` (nested with ``__``). The CLI (``granite-certainty serve``) is
the usual way in; this is for running the gateway under another ASGI server.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from .app import create_app
from .settings import ENV_PREFIX, SETTINGS_ENV, Settings


def app() -> FastAPI:
    """Build the app from the environment (uvicorn ``--factory``): the settings ``serve`` passed
    to its workers, else ``GRANITE_CERTAINTY_CONFIG`` and the environment."""
    given = os.environ.get(SETTINGS_ENV)
    if given:
        return create_app(Settings(**json.loads(given)))
    return create_app(Settings.load(os.environ.get(f"{ENV_PREFIX}CONFIG")))
