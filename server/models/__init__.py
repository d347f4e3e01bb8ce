"""``GET /v1/models``: the served model names."""
