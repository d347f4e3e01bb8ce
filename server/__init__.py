"""The granite-certainty gateway: settings, app factory, routes, vLLM client and launcher, CLI.

It never imports vLLM: vLLM runs as a child process (``launcher``) or elsewhere (``--vllm-url``).
"""
