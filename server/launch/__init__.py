"""Deployment: turn the settings into local model directories and a running vLLM.

``resolve`` finds or downloads the base model and adapters (or builds the tiny model),
``engine`` runs vLLM on them as a ``process.ChildProcess``. The HTTP gateway does not use this
package: it only needs vLLM's URL.
"""
