"""``GET /`` and ``GET /playground``: the playground page; ``GET /playground/static/{name}``: its files.

No API key is needed to load them (they hold nothing secret); the page's own calls to ``/v1``
carry the key the person types in. Kept out of the OpenAPI document: they are not the API. The
files are served by one route with a path template, so ``/metrics`` labels them all with it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from . import assets

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
@router.api_route("/playground", methods=["GET", "HEAD"])
async def playground() -> FileResponse:
    """The page."""
    return assets.page()


@router.api_route("/playground/static/{name}", methods=["GET", "HEAD"])
async def static_file(name: str) -> FileResponse:
    """One of the page's files (HTML, CSS, JS modules), by name."""
    return assets.file_response(name)
