"""The granite-certainty gateway: an OpenAI-compatible HTTP server in front of vLLM.

It never imports vLLM: vLLM runs as a child process (``launch``) or elsewhere (``--vllm-url``).

    main, app        the ASGI entry point and ``create_app(settings)`` (no import-time state)
    cli, settings    ``granite-certainty`` and the one ``Settings`` class of a deployment
    deps, errors     per-app state and auth as FastAPI dependencies; the one OpenAI error shape
    protocol         the wire models: OpenAI's requests and the gateway's extensions
    upstream, sse    the one long-lived client to vLLM; SSE framing for every streamed answer
    passthrough      base-model requests relayed byte for byte
    disconnect       a client that leaves cancels its upstream work
    metrics          Prometheus, per app, from a pure ASGI middleware
    chat/            POST /v1/chat/completions: the route and its dispatch on ``model``
    intrinsic/       an intrinsic served as a model name: rewrite, adapter call, transform
    certainty/       answer and certainty in one call: options, scorer, guard, streaming
    models/, health/ GET /v1/models, GET /health
    launch/          resolve models and adapters to directories; run vLLM as a child process

One request: ``chat.api_router`` → ``chat.serving.chat_completion`` (parse once, validate,
dispatch) → ``passthrough.forward`` | ``certainty.serving``/``certainty.streaming`` |
``intrinsic.serving.run_intrinsic`` → ``upstream.Upstream`` → vLLM.
"""
