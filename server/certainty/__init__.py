"""Answer and certainty in one call: the ``certainty`` extension of base-model chat requests.

A chat request to the base model may carry ``"certainty": true`` or
``{"threshold": 0.6, "action": "flag" | "abstain" | "fallback"}`` (server defaults in the
``certainty`` settings). The gateway generates the answer, scores every choice with the
uncertainty intrinsic concurrently, and adds ``choices[i].certainty``; below the threshold the
guard flags, abstains or asks the fallback model. A choice that cannot be scored, or whose
scoring failed, keeps its answer with ``certainty: null`` and a ``certainty_error``. Other
intrinsics come with the answer the same way, named in ``"intrinsics": [...]`` (``judge``).

One request, in reading order::

    options.resolve        the request's field over the server defaults (None: don't score)
    serving.respond        the one entry: streamed or not, with or without a guard
    call.CertaintyCall     one request's answer, then every choice scored and guarded
    serving.answer_json    non-streamed: the whole answer with its certainties, as JSON
    headers                the same certainties as response headers (``x-certainty``...)
    streaming.answer_sse   streamed: relay the chunks, score each choice as it finishes
    scorer.Scorer          one choice's certainty (a call to the uncertainty adapter)
    judge.Judge            the other intrinsics asked for (``intrinsics``) on the question and each choice
    guard.Guard            flag / abstain / fallback on a scored choice
    usage.Usage            tokens of every call, for ``usage.breakdown``
    cache.CertaintyCache   certainties of identical scoring requests (``certainty.cache_entries``)
"""

from .cache import CertaintyCache
from .call import CertaintyCall
from .guard import fallback_client
from .headers import certainty_headers
from .judge import asked as asked_intrinsics
from .options import EXTENSIONS, FIELD, Options, strip_extension
from .options import resolve as resolve_options
from .protocol import CertaintyError, CertaintyRequest, FallbackError, GuardAction, IntrinsicAsk
from .serving import respond

__all__ = [
    "EXTENSIONS",
    "FIELD",
    "CertaintyCache",
    "CertaintyCall",
    "CertaintyError",
    "CertaintyRequest",
    "FallbackError",
    "GuardAction",
    "IntrinsicAsk",
    "Options",
    "asked_intrinsics",
    "certainty_headers",
    "fallback_client",
    "resolve_options",
    "respond",
    "strip_extension",
]
