"""Turn a deployment's model and adapter sources into local directories vLLM can load.

A source is a local directory, or a Hugging Face repo id with an optional subfolder (the
Granite adapters live in one repo, e.g. ``ibm-granite/granitelib-core-r1.0`` subfolder
``uncertainty/granite-4.0-micro/lora``). Repos go through ``huggingface_hub.snapshot_download``
restricted to the subfolder, so ``HF_HUB_OFFLINE=1`` with a populated cache works without a
network. The embedded tiny model is built into the cache directory on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..settings import VLLM_LORA_RANKS, DeploymentError, Settings, _Source

IO_YAML = "io.yaml"


@dataclass(frozen=True)
class ResolvedAdapter:
    """An adapter ready for ``--lora-modules``: its local directory, LoRA rank and io.yaml."""

    name: str
    path: Path
    rank: int
    intrinsic: str
    #: An explicit io.yaml from the config, else one shipped with the adapter, else None (registry).
    io_yaml: Path | None


@dataclass(frozen=True)
class Deployment:
    """Local paths for everything vLLM must serve, plus the rank limit derived from them."""

    base: Path
    served_name: str
    adapters: tuple[ResolvedAdapter, ...]

    @property
    def max_lora_rank(self) -> int:
        """The smallest ``--max-lora-rank`` vLLM accepts that fits every adapter."""
        top = max((a.rank for a in self.adapters), default=1)
        return next(r for r in VLLM_LORA_RANKS if r >= top)


def resolve(settings: Settings) -> Deployment:
    """Resolve (download or build if needed) the base model and every adapter of ``settings``.

    Raises ``DeploymentError`` with a message naming the setting and the path or repo at fault."""
    tiny = None
    if settings.model.tiny:
        tiny = _tiny_paths(Path(settings.cache_dir).expanduser() / "tiny")
        base = tiny.base
    else:
        base = resolve_source(settings.model, what="model")
    _require_file(base / "config.json", "model")

    adapters = []
    for i, ad in enumerate(settings.adapters):
        what = f"adapters.{i} ({ad.name})"
        path = resolve_source(ad, what=what) if (ad.path or ad.repo) else _tiny_adapter(tiny, ad, what=what)
        rank = lora_rank(path, what=what)
        limit = settings.vllm.max_lora_rank
        if limit is not None and rank > limit:
            raise DeploymentError(f"{what}: LoRA rank {rank} of {path} is above the limit vllm.max_lora_rank={limit}")
        if rank > VLLM_LORA_RANKS[-1]:
            raise DeploymentError(f"{what}: LoRA rank {rank} of {path} is above vLLM's maximum {VLLM_LORA_RANKS[-1]}")
        io_yaml = Path(ad.io_yaml).expanduser() if ad.io_yaml else shipped_io_yaml(path)
        if io_yaml is not None and not io_yaml.is_file():
            raise DeploymentError(f"{what}: io_yaml {io_yaml} does not exist")
        adapters.append(ResolvedAdapter(ad.name, path, rank, ad.intrinsic or ad.name, io_yaml))
    return Deployment(base, settings.served_name, tuple(adapters))


def resolve_source(src: _Source, *, what: str) -> Path:
    """A local directory for ``src``: its ``path`` (+ ``subfolder``), or a snapshot of its repo."""
    if src.path:
        path = Path(src.path).expanduser()
        if src.subfolder:
            path = path / src.subfolder
        if not path.is_dir():
            raise DeploymentError(f"{what}: local directory {path} does not exist")
        return path
    from huggingface_hub import snapshot_download  # only deployments that name a repo need it

    patterns = None
    if src.subfolder:
        sub = PurePosixPath(src.subfolder.strip("/"))
        # The io.yaml of a Granite adapter may sit beside its lora/ folder, so fetch that too.
        patterns = [f"{sub}/*", f"{sub.parent}/{IO_YAML}"]
    try:
        root = snapshot_download(repo_id=src.repo, revision=src.revision, allow_patterns=patterns)
    except Exception as exc:  # any hub failure is a config problem to report
        raise DeploymentError(
            f"{what}: cannot get {src.repo!r} from the Hugging Face hub or its cache: {exc}"
        ) from None
    path = Path(root) / (src.subfolder or "")
    if not path.is_dir():
        raise DeploymentError(f"{what}: repo {src.repo!r} has no folder {src.subfolder!r}")
    return path


def lora_rank(adapter_dir: Path, *, what: str) -> int:
    """The largest LoRA rank in a PEFT adapter directory (``r`` and any ``rank_pattern``)."""
    cfg = _require_file(adapter_dir / "adapter_config.json", what)
    try:
        data = json.loads(cfg.read_text())
        ranks = [int(data["r"]), *(int(v) for v in (data.get("rank_pattern") or {}).values())]
    except (ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"{what}: {cfg} has no usable LoRA rank 'r' ({exc})") from None
    return max(ranks)


def shipped_io_yaml(adapter_dir: Path) -> Path | None:
    """The io.yaml an adapter ships with: in its folder, or one up (Granite's repo layout)."""
    for candidate in (adapter_dir / IO_YAML, adapter_dir.parent / IO_YAML):
        if candidate.is_file():
            return candidate
    return None


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DeploymentError(f"{what}: {path.parent} is not a model directory (no {path.name})")
    return path


def _tiny_adapter(tiny, ad, *, what: str) -> Path:
    """The tiny model's own adapter for the intrinsic ``ad`` serves (``intrinsic``, else ``name``)."""
    intrinsic = ad.intrinsic or ad.name
    path = tiny.adapters.get(intrinsic) if tiny is not None else None
    if path is None:
        have = ", ".join(tiny.adapters) if tiny is not None else "none (model.tiny is false)"
        raise DeploymentError(
            f"{what}: no path or repo, and the tiny model has no adapter for intrinsic {intrinsic!r}"
            f" (its adapters: {have})"
        )
    return path


def _tiny_paths(out_dir: Path):
    import tiny_granite as tiny_model  # torch is imported there lazily, and only when building

    if not tiny_model.is_built(out_dir):
        print(f"granite-certainty: building the embedded tiny model into {out_dir} (first use, ~3 min)", flush=True)
        return tiny_model.build_tiny_model(out_dir)
    return tiny_model.paths(out_dir)
