"""``GET /v1/models``: the served models, as the OpenAPI document describes their cards."""

import httpx

from ..apps import make_client


def test_the_openapi_document_shows_the_model_cards_kind_and_parent():
    with make_client(lambda r: httpx.Response(200)) as client:
        card = client.get("/openapi.json").json()["components"]["schemas"]["ModelCard"]["properties"]
        listed = client.get("/v1/models").json()["data"]
    assert {"kind", "parent"} <= card.keys()
    assert listed == [{"id": "base", "object": "model", "created": 0, "owned_by": "granite-certainty", "kind": "base"}]
