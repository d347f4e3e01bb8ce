"""An intrinsic served as a model name: the table of served intrinsics (``catalog``) and the
rewrite → adapter call → transform of one request (``serving``). ``adapter_call`` is also how
the certainty feature scores an answer."""

from .catalog import load_intrinsics
from .serving import adapter_call, run_intrinsic

__all__ = ["adapter_call", "load_intrinsics", "run_intrinsic"]
