"""Deployment settings: one YAML file per deployment, then environment overrides.

A deployment names the base model, the LoRA adapters (each one serving an intrinsic), how
vLLM runs (started by us as a child process, or attached to by URL) and the gateway's own
options. ``Settings.load(path)`` reads the YAML file; any field can then be overridden from
the environment with the ``GRANITE_CERTAINTY_`` prefix and ``__`` between nested names, e.g.
``GRANITE_CERTAINTY_PORT=9000`` or ``GRANITE_CERTAINTY_VLLM__URL=http://vllm:8000``.

Unknown keys are errors (a typo in a deployment file must not be silently ignored).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, SettingsConfigDict

ENV_PREFIX = "GRANITE_CERTAINTY_"
#: Set by ``serve --workers N`` for its worker processes: the settings it resolved, as JSON.
SETTINGS_ENV = f"{ENV_PREFIX}SETTINGS_JSON"

#: Command-line overrides for the ``Settings`` being built by ``Settings.load`` (see there).
_FLAGS: ContextVar[dict[str, Any]] = ContextVar("granite_certainty_flags", default=None)

#: Ranks vLLM accepts for ``--max-lora-rank`` (vLLM 0.32 ``--help=LoRA``).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class DeploymentError(Exception):
    """A deployment that cannot be used: its file, a key, a model source or an adapter's io.yaml.

    The message says which and why. (An io.yaml that is itself invalid is first an
    ``intrinsics.ConfigError``; the gateway reports it as a ``DeploymentError`` naming the adapter.)"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Source(_Strict):
    """Where weights come from: a local directory, or a Hugging Face repo id (+ subfolder)."""

    #: A local directory holding the weights (relative paths: to the config file).
    path: str | None = None
    #: A Hugging Face repo id, downloaded through ``huggingface_hub`` (``HF_HOME``, ``HF_HUB_OFFLINE``).
    repo: str | None = None
    #: The folder inside ``repo`` that holds the weights.
    subfolder: str | None = None
    #: The branch, tag or commit of ``repo``; unset: its default branch.
    revision: str | None = None


class BaseModelSettings(_Source):
    """The base model vLLM serves for ordinary chat."""

    #: Build the embedded tiny Granite model (and its adapter) into ``cache_dir`` on first use.
    tiny: bool = False
    #: The model name clients use (vLLM ``--served-model-name``); defaults to the repo id or dir name.
    served_name: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BaseModelSettings:
        given = sum(bool(x) for x in (self.tiny, self.path, self.repo))
        if given != 1:
            raise ValueError("give exactly one of 'tiny: true', 'path' or 'repo'")
        return self


class AdapterSettings(_Source):
    """One LoRA adapter loaded into vLLM, serving one intrinsic under ``name``.

    With ``model.tiny`` the adapter may name no source: it is the tiny model's own adapter."""

    #: The model name clients send to use this adapter (vLLM's LoRA module name).
    name: str
    #: Which intrinsic (``configs/intrinsics/<intrinsic>/io.yaml``) this adapter serves; default: ``name``.
    intrinsic: str | None = None
    #: An explicit io.yaml (relative to the config file); wins over a shipped one and the registry's.
    io_yaml: str | None = None


class VLLMSettings(_Strict):
    """How the gateway reaches vLLM."""

    #: Attach to a running vLLM at this URL instead of starting one.
    url: str | None = None
    #: The address a vLLM that ``serve`` starts listens on.
    host: str = "127.0.0.1"
    #: The port a vLLM that ``serve`` starts listens on (not the gateway's ``port``).
    port: int = 8001
    #: Interpreter that has vLLM installed (default: the gateway's own).
    python: str | None = None
    #: Extra vLLM command-line flags, passed as given.
    args: list[str] = Field(default_factory=list)
    #: Extra environment for the vLLM process (e.g. VLLM_CPU_KVCACHE_SPACE); it gets only these
    #: and an allow-list of the gateway's own (``launch.engine.INHERITED_ENV``), no secrets.
    env: dict[str, str] = Field(default_factory=dict)
    #: The key vLLM requires on ``/v1`` and the gateway sends. An attached vLLM's (if it has one);
    #: for a vLLM that ``serve`` starts, left unset, a random key made for that run.
    api_key: str | None = None
    #: PEM file of the certificates to trust for an ``https://`` vLLM (a KServe workload serves
    #: TLS with its own self-signed certificate); unset: the system's trust store.
    ca_file: str | None = None
    #: Upper bound on --max-lora-rank; an adapter above it is a config error.
    max_lora_rank: int | None = None
    #: Scale-up on one host (vLLM's own flags, passed when set, like the three below): engine
    #: replicas across GPUs (``--data-parallel-size``).
    data_parallel_size: int | None = Field(default=None, ge=1)
    #: GPUs per engine replica (``--tensor-parallel-size``).
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    #: Adapters in one batch (``--max-loras``); default: the number of adapters plus one slot left
    #: empty (vLLM's CPU build applies the last slot's adapter to base-model requests batched with
    #: adapter requests; an empty last slot makes that a no-op). Set it above the number of adapters.
    max_loras: int | None = Field(default=None, ge=1)
    #: Adapters kept in CPU memory (``--max-cpu-loras``).
    max_cpu_loras: int | None = Field(default=None, ge=1)
    #: vLLM's ``--seed``: the seed of requests that sample without their own ``seed``. Passed when set;
    #: the test suite's ``--vllm-seed`` sets it to audit tests that depend on what sampling writes.
    seed: int | None = Field(default=None, ge=0)
    #: How long ``serve`` waits for a vLLM it started to answer ``/health`` before it gives up.
    startup_timeout_s: float = 900.0

    #: Restarts of a vLLM that ``serve`` started and that died, before ``serve`` gives up (exits 1).
    restart_attempts: int = Field(default=5, ge=0)
    #: Wait before the first restart; doubles with each failed one, up to ``restart_backoff_max_s``.
    restart_backoff_s: float = Field(default=1.0, ge=0)
    #: The longest wait between two restarts.
    restart_backoff_max_s: float = Field(default=60.0, ge=0)

    @property
    def base_url(self) -> str:
        """Where vLLM is: the configured ``url``, or the host and port ``serve`` starts it on."""
        return self.url or f"http://{self.host}:{self.port}"


class FallbackSettings(_Strict):
    """A second OpenAI-compatible server that answers when certainty is too low."""

    #: The fallback server's base URL (its ``/v1/chat/completions`` is called).
    url: str
    #: The model name sent to the fallback server.
    model: str
    #: Sent as ``Authorization: Bearer <api_key>`` to the fallback server.
    api_key: str | None = None
    #: Seconds to wait for the fallback server's answer.
    timeout_s: float = 120.0


class CertaintySettings(_Strict):
    """Server-wide defaults of the ``certainty`` extension of base-model chat requests."""

    #: The adapter (intrinsic name) that scores answers.
    intrinsic: str = "uncertainty"
    #: Score every base-model answer even when the request does not ask for it.
    always: bool = False
    #: Below this certainty the guard acts; ``None`` means no guard unless the request sets one.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    #: What the guard does below the threshold: mark the choice ``low_certainty``, replace its
    #: content with ``abstain_message``, or ask the ``fallback`` server.
    action: Literal["flag", "abstain", "fallback"] = "flag"
    #: The content of an answer the guard abstains from (the answer moves to ``original_content``).
    abstain_message: str = "I am not certain enough of an answer to this question to give one."
    fallback: FallbackSettings | None = None
    #: Certainties kept for identical scoring requests (greedy: the same request, the same
    #: certainty); 0 turns the cache off. Hits and misses: ``granite_certainty_certainty_cache``.
    cache_entries: int = Field(default=0, ge=0)


class LimitSettings(_Strict):
    """Bounds on the work one request, and all requests together, can cause (docs/deployment/reliability.md)."""

    #: Largest request body accepted (413 above it, checked before the body is parsed).
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: A body must arrive whole within this many seconds of its first byte being awaited (else 408).
    body_read_timeout_s: float = Field(default=30.0, gt=0)
    #: Deepest JSON nesting accepted; at most 254, the deepest orjson writes back.
    max_json_depth: int = Field(default=64, ge=8, le=254)
    #: Requests being answered at once, gateway-wide; above it 503 ``server_overloaded`` with
    #: ``Retry-After`` (/health, /livez, /readyz and /metrics are never refused).
    max_in_flight: int = Field(default=512, ge=1)
    #: Most ``messages`` in one chat request (400 above it).
    max_messages: int = Field(default=1024, ge=1)
    #: Most ``documents`` in one chat request (400 above it).
    max_documents: int = Field(default=256, ge=0)
    #: Most choices (``n``) of a request whose answers are scored for certainty.
    max_n: int = Field(default=8, ge=1)
    #: Scoring calls of one request that run at once.
    scoring_per_request: int = Field(default=4, ge=1)
    #: Scoring calls of the whole gateway that run at once.
    scoring_total: int = Field(default=64, ge=1)
    #: How long a scoring call waits for a gateway-wide slot before its choice is left unscored.
    scoring_wait_s: float = Field(default=10.0, gt=0)
    #: How long a call waits for a free connection to vLLM before 503 ``upstream_busy``.
    pool_timeout_s: float = Field(default=1.0, gt=0)
    #: The ``Retry-After`` (seconds) sent with every load-shedding answer.
    retry_after_s: int = Field(default=1, ge=0)


class AdminSettings(_Strict):
    """vLLM's admin endpoints (adapters, sleep, profiling, caches): closed (404) unless a key is set."""

    #: When set, the admin endpoints pass through to vLLM for ``Authorization: Bearer <api_key>``
    #: only (the other keys get 403); unset, they do not exist. An empty key is refused.
    api_key: str | None = None

    @model_validator(mode="after")
    def _no_empty_key(self) -> AdminSettings:
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("admin.api_key is empty; remove it to keep the admin endpoints closed")
        return self


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class Settings(BaseSettings):
    """Everything one deployment needs; built once and handed to ``create_app``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
        # A variable that is set but empty (a missing Kubernetes secret, ``export VAR=``) is as
        # if unset: it must never turn authentication off by replacing a configured key with "".
        env_ignore_empty=True,
    )

    #: The address the gateway listens on; ``0.0.0.0`` for every interface (then set ``api_key``).
    host: str = "127.0.0.1"
    #: The port the gateway listens on.
    port: int = 8000
    #: When set, ``/v1/*`` requires ``Authorization: Bearer <api_key>``.
    api_key: str | None = None
    #: More keys, each accepted like ``api_key`` (for rotation, or one key per client).
    api_keys: list[str] = Field(default_factory=list)
    #: Serve without a key on an address other than loopback without the start-up warning.
    allow_unauthenticated: bool = False
    #: Seconds to wait for vLLM on one request (connect and read).
    upstream_timeout_s: float = 600.0
    #: Seconds to wait for a connection to vLLM (or the fallback) to open.
    upstream_connect_timeout_s: float = 5.0
    #: Idle seconds after which a pooled connection to vLLM (or the fallback) is closed: below
    #: vLLM's own keep-alive timeout (uvicorn's 5 s), so that the gateway closes first.
    upstream_keepalive_s: float = Field(default=4.0, gt=0)
    #: Directory of ``<name>/io.yaml`` intrinsic definitions (default: the project's configs/intrinsics).
    intrinsics_dir: str | None = None
    #: Gateway processes on one port (uvicorn workers) in front of one vLLM; limits are per process.
    workers: int = Field(default=1, ge=1)
    #: On SIGTERM, how long requests and streams in flight may take to finish before they are cut.
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    #: Where the tiny model is built and logs are written.
    cache_dir: str = Field(default_factory=lambda: str(Path.home() / ".cache" / "granite-certainty"))
    #: The gateway's log level: ``debug``, ``info``, ``warning`` or ``error``.
    log_level: str = "info"

    model: BaseModelSettings
    adapters: list[AdapterSettings] = Field(default_factory=list)
    vllm: VLLMSettings = Field(default_factory=VLLMSettings)
    certainty: CertaintySettings = Field(default_factory=CertaintySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)

    @model_validator(mode="after")
    def _no_empty_keys(self) -> Settings:
        # An empty key would mean "no authentication" to a careless check: refuse it outright.
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key is empty; remove it to serve without authentication")
        if any(not k.strip() for k in self.api_keys):
            raise ValueError("api_keys holds an empty key")
        return self

    @property
    def keys(self) -> tuple[str, ...]:
        """Every API key the gateway accepts; empty: no authentication."""
        return tuple(k for k in (self.api_key, *self.api_keys) if k)

    @property
    def unauthenticated_exposure(self) -> bool:
        """Serving without a key on an address others can reach, and not explicitly allowed."""
        return not self.keys and not _is_loopback(self.host) and not self.allow_unauthenticated

    @model_validator(mode="after")
    def _adapter_sources(self) -> Settings:
        for i, ad in enumerate(self.adapters):
            if bool(ad.path) and bool(ad.repo):
                raise ValueError(f"adapters.{i} ({ad.name}): give 'path' or 'repo', not both")
            if not (ad.path or ad.repo or self.model.tiny):
                raise ValueError(f"adapters.{i} ({ad.name}): needs 'path' (a local directory) or 'repo'")
        names = [ad.name for ad in self.adapters]
        if len(set(names)) != len(names) or self.served_name in names:
            raise ValueError("adapter names must be unique and differ from the base model's served name")
        return self

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Where settings come from (the pydantic-settings hook)."""
        # Highest first: command-line flags, then the environment, then the YAML file (init kwargs).
        return InitSettingsSource(settings_cls, init_kwargs=_FLAGS.get() or {}), env_settings, init_settings

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Read a deployment YAML file (or none: environment only), apply ``overrides`` (from the
        command line) on top, and validate. Raises ``DeploymentError`` naming file, key and problem."""
        data: dict[str, Any] = {}
        where = str(path) if path else "environment"
        if path is not None:
            try:
                data = yaml.safe_load(Path(path).read_text()) or {}
            except FileNotFoundError:
                raise DeploymentError(f"{where}: no such config file") from None
            except yaml.YAMLError as exc:
                raise DeploymentError(f"{where}: not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise DeploymentError(f"{where}: the top level must be a mapping of settings")
            _anchor_paths(data, Path(path).resolve().parent)
        flags: dict[str, Any] = {}
        for dotted, value in overrides.items():
            if value is not None:
                _set_dotted(flags, dotted, value)
        token = _FLAGS.set(flags)
        try:
            return cls(**data)
        except ValidationError as exc:
            raise DeploymentError(_describe(where, exc)) from None
        finally:
            _FLAGS.reset(token)

    @property
    def served_name(self) -> str:
        """The base model's name as clients send it."""
        m = self.model
        if m.served_name:
            return m.served_name
        if m.tiny:
            return "tiny-granite"
        return m.repo or Path(m.path or "model").name


def _anchor_paths(data: dict[str, Any], base: Path) -> None:
    """Relative paths in a deployment file are relative to that file, not to the working directory."""

    def anchor(section: Any, key: str) -> None:
        if isinstance(section, dict) and isinstance(section.get(key), str) and not section[key].startswith("~"):
            section[key] = str(base / section[key])  # an absolute path stays as it is

    anchor(data, "intrinsics_dir")
    anchor(data.get("model"), "path")
    for adapter in data.get("adapters") or []:
        anchor(adapter, "path")
        anchor(adapter, "io_yaml")


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[leaf] = value


def _describe(where: str, exc: ValidationError) -> str:
    lines = [f"{where}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)
