"""The granite-certainty gateway: an OpenAI-compatible HTTP server in front of vLLM.

It never imports vLLM: vLLM runs as a child process (``launch``) or elsewhere (``--vllm-url``).

    main, app        the ASGI entry point and ``create_app(settings)`` (no import-time state)
    cli, settings    ``granite-certainty`` and the one ``Settings`` class of a deployment
    deps, errors     per-app state and auth as FastAPI dependencies; the one OpenAI error shape
    protocol         the wire models' base and the one error body (features keep their own)
    upstream, sse    the one long-lived client to vLLM; SSE framing for every streamed answer
    relay            what is answered in place of an upstream answer that cannot be relayed
    passthrough      base-model requests relayed byte for byte
    disconnect       ``@with_cancellation``: a client that leaves cancels its upstream work
    metrics          Prometheus, per app, from a pure ASGI middleware
    chat/            POST /v1/chat/completions: the route and its dispatch on ``model``
    intrinsic/       an intrinsic served as a model name: rewrite, adapter call, transform
    certainty/       answer and certainty in one call: options, scorer, guard, streaming
    switch/          Granite Switch requests (chat_template_kwargs.adapter_name) and the layout mellea reads
    models/, health/ GET /v1/models, GET /health
    playground/      the web page at / and /playground
    launch/          resolve models and adapters to directories; run vLLM as a child process

One request: ``chat.api_router`` (``@with_cancellation``) → ``chat.serving.chat_completion``
(parse once, validate, dispatch) → ``passthrough.forward`` | ``certainty.respond`` |
``intrinsic.run_intrinsic`` → ``upstream.Upstream`` → vLLM. Each feature folder is used only
through its ``__init__``.
"""
