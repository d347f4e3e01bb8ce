"""The embedded tiny Granite model: a stand-in for Granite 4.0 Micro and its intrinsic LoRAs
(uncertainty, answerability, citations, query_rewrite).

Development and CI have no GPU and no model hub, so the integration tier serves a model this
package trains on the CPU in about three and a half minutes (``builder``) from deterministic data and a
byte-level tokenizer with Granite 4.0's chat template (``data``, ``templates/``); the RAG adapters'
examples are client requests rewritten by the project's io.yaml files (``rag``). It is not
part of the gateway: ``server`` imports it only when a deployment says ``model.tiny: true``.

    build_tiny_model(out_dir)  ->  TinyModelPaths(base, adapter, adapters)   # python -m tiny_granite OUT_DIR
    # adapter: the uncertainty LoRA dir; adapters: {intrinsic name: LoRA dir}, uncertainty first
"""

from .builder import BUILDER_VERSION, TinyModelPaths, build_tiny_model, is_built, paths

__all__ = ["BUILDER_VERSION", "TinyModelPaths", "build_tiny_model", "is_built", "paths"]
