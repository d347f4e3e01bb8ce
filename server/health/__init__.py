"""``GET /health``: the gateway and its vLLM, for humans and health checks."""
