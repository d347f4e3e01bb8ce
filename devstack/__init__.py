"""The development stack: the whole of ``granite-certainty serve`` as a child process on free ports.

``make demo``, the integration tests and the benchmarks start the real CLI, launcher, vLLM and
gateway through ``Stack`` and always stop them. Not part of the gateway: nothing in ``server``
imports it, except the ``demo`` command.
"""

from .stack import Stack, free_port

__all__ = ["Stack", "free_port"]
