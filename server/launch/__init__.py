"""Deployment: turn the settings into local model directories and a running vLLM.

``resolve`` finds or downloads the base model and adapters (or builds the tiny model),
``engine`` runs vLLM on them as a ``process.ChildProcess``. The HTTP gateway does not use this
package: it only needs vLLM's URL.
"""

from .engine import VLLMProcess, vllm_command, with_run_key
from .gateway import DrainingServer, run_gateway, run_workers, use_shared_metrics
from .process import ChildProcess, StartupError
from .resolve import Deployment, ResolvedAdapter, resolve
from .supervisor import Supervisor

__all__ = [
    "ChildProcess",
    "Deployment",
    "DrainingServer",
    "ResolvedAdapter",
    "StartupError",
    "Supervisor",
    "VLLMProcess",
    "resolve",
    "run_gateway",
    "run_workers",
    "use_shared_metrics",
    "vllm_command",
    "with_run_key",
]
