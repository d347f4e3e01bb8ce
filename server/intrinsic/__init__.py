"""An intrinsic served as a model name: the table of served intrinsics (``catalog``) and the
rewrite → adapter call → transform of one request (``serving``). ``adapter_request`` (the
rewrite alone) and ``adapter_call`` are also how the certainty feature scores an answer."""

from .catalog import load_intrinsics
from .serving import adapter_call, adapter_request, run_intrinsic

__all__ = ["adapter_call", "adapter_request", "load_intrinsics", "run_intrinsic"]
