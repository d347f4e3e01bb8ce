"""The files a Granite Switch client reads to find a deployment's adapters, built from the
intrinsics the gateway serves: ``adapter_index.json`` and ``io_configs/<adapter>/io.yaml``.

The format is the one mellea 0.8.0 reads (``EmbeddedIntrinsicAdapter.from_model_directory``):
``{"adapters": [{"adapter_name", "io_config", "technology"}]}``, ``io_config`` the io.yaml's path
relative to the folder, ``technology`` ``"lora"`` (vLLM serves each adapter as a LoRA). Each
``adapter_name`` is the adapter's name in this gateway, the value a client sends back as
``chat_template_kwargs.adapter_name``.
"""

from __future__ import annotations

import orjson
import yaml

import intrinsics

#: The index file's name, at the top of the folder.
INDEX = "adapter_index.json"


def io_config_path(adapter: str) -> str:
    """Where ``adapter``'s io.yaml lies, relative to the folder."""
    return f"io_configs/{adapter}/io.yaml"


def adapter_index(table: dict[str, intrinsics.Intrinsic]) -> bytes:
    """``adapter_index.json`` for the served intrinsics ``table`` (adapter name → intrinsic)."""
    entries = [
        {"adapter_name": name, "io_config": io_config_path(name), "technology": "lora"} for name in sorted(table)
    ]
    return orjson.dumps({"adapters": entries}, option=orjson.OPT_INDENT_2)


def io_yaml(intrinsic: intrinsics.Intrinsic) -> bytes:
    """The io.yaml ``intrinsic`` was loaded from, as the data it holds (its comments left out)."""
    return yaml.safe_dump(intrinsic.config.raw, sort_keys=False, allow_unicode=True).encode()
