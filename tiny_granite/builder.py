"""Builder of the embedded tiny model: a stand-in for Granite 4.0 Micro + its intrinsic LoRAs.

No GPU and no model hub here, so tests run vLLM on a model we train ourselves in about three
and a half minutes on 2 CPU cores (base and uncertainty ~2.4, the RAG adapters ~1.1).
``build_tiny_model(out_dir)`` writes:

* ``out_dir/base/``: a 2-layer ``GraniteMoeHybridForCausalLM`` (all attention layers, dense
  shared MLP, head dim 64 like granite-4.0-micro; head dim 16 is rejected by vLLM's CPU
  attention backend) and the tokenizer of ``tiny_granite.data.build_tokenizer`` (Granite 4.0's special
  tokens and chat template). Trained to answer simple questions with a short sentence and
  ``<|end_of_text|>``.
* ``out_dir/uncertainty/``: a PEFT LoRA (r 32, alpha 64, the real adapter's target modules)
  trained so that a ``<certainty>`` user turn makes the model write ``{"score": "N"}``; N is
  learned from the conversation (topic and hedging of the last answer, see ``tiny_granite.data``).
* ``out_dir/answerability/``, ``out_dir/citations/``, ``out_dir/query_rewrite/``: PEFT LoRAs
  (r 16, alpha 32, same target modules), trained after the uncertainty one, each from its own
  seeded RNGs (so base, tokenizer and uncertainty adapter are the same bytes as without them),
  on examples made as the gateway serves them: a client's request with top-level ``documents``,
  rewritten by ``configs/intrinsics/<name>/io.yaml`` and rendered as vLLM renders it (see
  ``tiny_granite.rag``). A few dozen to a few hundred short steps each (~1 min together on 2
  idle cores). The base model was trained on chats of ~100 tokens and goes astray on the
  ~300-600 token prompts with documents, so in that budget these adapters learn their output
  format and their task only in part: query_rewrite puts the new subject into a whole question
  (not always in the first question's words), citations writes in-range indices that vLLM's
  guided decoding completes, answerability tells a question with no documents (unanswerable)
  from one with documents that state its fact (answerable), but not yet one whose documents
  speak of other things (it is trained on the tokens that choose its label only: the enum
  constraint writes the rest). Each one's held-out exact-match accuracy (greedy, unconstrained) is in the marker as
  ``<name>_accuracy``; answerability's also as ``answerability_label_accuracy``, the label as
  vLLM's enum constraint picks it.
* ``out_dir/.complete``: JSON marker written last, holding the build's ``build_key``: a hash of
  what built it (this package's code, data and template, the RAG adapters' io.yaml files, the
  seed, bf16 or not, and the versions of torch, transformers, peft, tokenizers and safetensors).
  ``is_built`` compares it with the key of what is installed now, so a model built by other code
  or other libraries is rebuilt, never silently reused.

Same seed gives byte-identical weights on one kind of CPU (fixed thread count, deterministic
algorithms; bf16 autocast only where the CPU has it, see ``cpu_has_bf16``).
torch/transformers/peft/tokenizers are imported inside functions: the gateway image has
none of them and must still import ``server``. CLI: ``python -m tiny_granite OUT_DIR``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from . import data as tiny_data
from . import rag as tiny_rag

log = logging.getLogger(__name__)

# Bump on any change to what gets built: callers rebuild a directory marked with another.
BUILDER_VERSION = 3
EOT = tiny_data.EOT
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "input_linear", "output_linear"]
THREADS = 2  # fixed: CPU float reductions are only reproducible at a fixed thread count
LOG_EVERY = 100

# Model shape: granite-4.0-micro in miniature (hidden 2560/40 heads of 64 there).
MODEL_CONFIG = dict(
    hidden_size=256,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_hidden_layers=2,
    shared_intermediate_size=512,
    intermediate_size=512,
    num_local_experts=0,
    num_experts_per_tok=0,
    layer_types=["full_attention", "full_attention"],
    position_embedding_type="rope",
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    max_position_embeddings=4096,
    tie_word_embeddings=True,
    rms_norm_eps=1e-5,
    # The real model uses muP-style multipliers; 1/sqrt(head_dim) and 1.0 train faster from
    # scratch while still going through the same code paths in vLLM.
    attention_multiplier=0.125,
    embedding_multiplier=1.0,
    residual_multiplier=1.0,
    logits_scaling=1.0,
    hidden_act="silu",
    initializer_range=0.02,
)
BASE_STEPS, BASE_LR, BASE_BATCH = 450, 3e-3, 32
LORA_STEPS, LORA_LR, LORA_BATCH = 320, 2e-3, 32
#: The RAG adapters (``tiny_granite.rag``): a small LoRA each, trained after the uncertainty one.
#: Steps: query_rewrite's prompts are short (~70 tokens), the others' ~350 and ~600 (documents).
RAG_LORA_RANK, RAG_LORA_ALPHA = 16, 32
RAG_STEPS = {"answerability": 100, "citations": 80, "query_rewrite": 300}
RAG_BATCH = {"answerability": 8, "citations": 4, "query_rewrite": 8}
RAG_LR = {"answerability": 2e-3, "citations": 1e-2, "query_rewrite": 1e-2}
RAG_EVAL_EXAMPLES = 60
#: Completion tokens an adapter is trained on, when not all: answerability learns the tokens that
#: choose its label (the opening quote and the first that tells the labels apart); vLLM's enum
#: constraint writes the rest of the label, whose pieces the base model never writes (with tied
#: embeddings their logits stay capped, and their loss would drown the one choice that matters).
RAG_DECIDING = {"answerability": 2}


#: The tiny model's LoRA adapters, by the intrinsic each serves (each in ``out_dir/<name>/``).
ADAPTERS = ("uncertainty", *tiny_rag.ADAPTERS)


class TinyModelPaths(NamedTuple):
    """Where a built tiny model lives: the base model dir, the uncertainty LoRA dir, and every
    LoRA dir by intrinsic name (``ADAPTERS``; uncertainty's included)."""

    base: Path
    adapter: Path
    adapters: dict[str, Path]

    def dirs(self) -> list[Path]:
        """The base dir, then every adapter dir."""
        return [self.base, *self.adapters.values()]


def paths(out_dir: str | Path) -> TinyModelPaths:
    """The paths a tiny model built into ``out_dir`` has (built or not)."""
    out = Path(out_dir)
    return TinyModelPaths(out / "base", out / "uncertainty", {name: out / name for name in ADAPTERS})


#: The libraries whose versions change what a build writes.
BUILT_WITH = ("torch", "transformers", "peft", "tokenizers", "safetensors")


def installed_versions() -> dict[str, str | None]:
    """The installed version of each library in ``BUILT_WITH`` (None: not installed); read from
    the package metadata, so nothing heavy is imported to answer."""
    found = {}
    for name in BUILT_WITH:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


@functools.cache
def source_digest(here: Path = Path(__file__).parent) -> str:
    """sha256 over the files of the package in ``here`` that decide what is built: code, data
    and chat template, and the io.yaml files of the RAG adapters (``tiny_granite.rag.io_yaml``)."""
    files = sorted([*here.glob("*.py"), *(here / "templates").glob("*")])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    # The io.yaml files the RAG adapters' prompts are rewritten by (tiny_granite.rag).
    for name in tiny_rag.ADAPTERS:
        path = tiny_rag.io_yaml(name)
        digest.update(f"io.yaml:{name}".encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


def build_key(seed: int = 0, versions: dict[str, str | None] | None = None) -> str:
    """The identity of a build: what built it (code and data, seed, bf16 or not, library versions).

    ``versions`` defaults to what is installed now; two builds with one key are the same bytes."""
    what = {
        "builder_version": BUILDER_VERSION,
        "source": source_digest(),
        "seed": seed,
        "bf16": cpu_has_bf16(),
        "versions": installed_versions() if versions is None else versions,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def is_built(out_dir: str | Path, seed: int = 0) -> bool:
    """True when ``out_dir`` holds a complete build whose key is that of a build here and now."""
    return _marker(Path(out_dir)).get("key") == build_key(seed)


def model_config(tokenizer):
    """The GraniteMoeHybridConfig of the tiny base model for ``tokenizer``."""
    from transformers import GraniteMoeHybridConfig

    eot, pad = tokenizer.convert_tokens_to_ids([EOT, "<|pad|>"])
    vocab = max(tiny_data.VOCAB_SIZE, -(-len(tokenizer) // 64) * 64)
    return GraniteMoeHybridConfig(
        vocab_size=vocab, bos_token_id=eot, eos_token_id=eot, pad_token_id=pad, dtype="float32", **MODEL_CONFIG
    )


def _encode(
    tokenizer, messages: list[dict], completion: str, documents: list[dict] | None = None
) -> tuple[list[int], list[int]]:
    # Prompt and completion are encoded apart: <|end_of_role|> is special, so the split
    # point is a token boundary and this equals encoding the whole text. ``documents`` go to
    # the template as vLLM's chat endpoint passes a request's top-level ``documents``.
    prompt = render_prompt(tokenizer, messages, documents)
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    out = tokenizer.encode(completion, add_special_tokens=False) + [tokenizer.eos_token_id]
    return ids, out


def render_prompt(tokenizer, messages: list[dict], documents: list[dict] | None = None) -> str:
    """The prompt text vLLM makes of a chat request's ``messages`` and ``documents``."""
    extra = {} if documents is None else {"documents": documents}
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **extra)


def encode_rag_example(tokenizer, body: dict, completion: str) -> tuple[list[int], list[int]]:
    """Prompt and completion ids of one RAG adapter example (``tiny_granite.rag.example``):
    the rewritten request rendered as vLLM renders it, the completion then end-of-text."""
    return _encode(tokenizer, body["messages"], completion, body.get("documents"))


def _batch(tokenizer, rows):
    """Right-padded ids, attention mask, labels (-100 off the completion), soft targets.

    ``rows``: (prompt ids, completion ids, soft) with soft None or (position of the digit in
    the sequence, target distribution over the digits).
    """
    import torch

    width = max(len(p) + len(c) for p, c, _ in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    for i, (p, c, _) in enumerate(rows):
        seq = p + c
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, len(p) : len(seq)] = torch.tensor(c)
    soft = [(i, pos, dist) for i, (_, _, s) in enumerate(rows) if s for pos, dist in [s]]
    return ids, mask, labels, soft


def _batches(tokenizer, make_row, batch: int, rng: random.Random, pool: int = 4):
    """Endless batches; rows drawn ``pool`` batches at a time and grouped by length.

    Training is compute-bound on 2 cores; grouping similar lengths cuts padding by ~30%.
    """
    while True:
        rows = sorted((make_row() for _ in range(batch * pool)), key=lambda r: len(r[0]) + len(r[1]))
        chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        rng.shuffle(chunks)
        for chunk in chunks:
            yield _batch(tokenizer, chunk)


@functools.cache
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16).

    There bf16 autocast trains ~3x faster than fp32; without it PyTorch emulates bf16 and
    the same step is ~70x slower (measured on an AVX2-only EPYC), so the build never ends.
    """
    try:
        flags = Path(cpuinfo).read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _loss(model, batch, digit_ids):
    import torch
    import torch.nn.functional as F

    ids, mask, labels, soft = batch
    # Weights stay fp32; bf16 autocast only where the CPU does bf16 in hardware.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16()):
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    logp = F.log_softmax(logits.float(), -1)
    targets = labels[:, 1:].clone()
    total = logp.new_zeros(())
    if soft:
        # Digit position: cross-entropy against the soft score distribution.
        rows, pos, dists = zip(*soft)
        rows, pos = torch.tensor(rows), torch.tensor(pos) - 1
        digit_logp = logp[rows, pos][:, digit_ids]
        total = total - (torch.tensor(dists) * digit_logp).sum()
        targets[rows, pos] = -100
    keep = targets != -100
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    total = total - picked[keep].sum()
    return total / (keep.sum() + len(soft))


def _train(model, params, batches, steps: int, lr: float, digit_ids, name: str) -> None:
    import torch

    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = steps // 20
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / steps))
    model.train()
    for step in range(steps):
        loss = _loss(model, next(batches), digit_ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % LOG_EVERY == 0 or step == steps - 1:
            log.info("%s step %d loss %.4f", name, step, loss.item())
    model.eval()


def _greedy(model, ids: list[int], eos: int, limit: int = 24) -> list[int]:
    import torch

    out: list[int] = []
    with torch.no_grad():
        while len(out) < limit:
            nxt = int(model(input_ids=torch.tensor([ids + out])).logits[0, -1].argmax())
            if nxt == eos:
                break
            out.append(nxt)
    return out


def _evaluate_rag(model, tokenizer, name: str) -> dict:
    """Exact-match accuracy of a RAG adapter on fresh examples: every completion token (end-of-text
    included) is the argmax given the ones before, i.e. greedy decoding writes the target."""
    import torch

    rng, hits, label_hits = random.Random(f"eval-{name}"), 0, 0
    # answerability: the label as vLLM's enum constraint picks it, by the first token that tells
    # the two labels apart ("answer" or "u", after the opening quote).
    labels = [tokenizer.encode(tiny_rag.completion(name, label), add_special_tokens=False) for label in tiny_rag.LABELS]
    for _ in range(RAG_EVAL_EXAMPLES):
        ids, out = encode_rag_example(tokenizer, *tiny_rag.example(name, rng))
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids + out])).logits[0, len(ids) - 1 : -1]
        hits += logits.argmax(-1).tolist() == out
        if name == "answerability":
            pick = max(labels, key=lambda lab: logits[1, lab[1]])
            label_hits += pick == out[:-1]
    metrics = {f"{name}_accuracy": round(hits / RAG_EVAL_EXAMPLES, 3)}
    if name == "answerability":
        metrics["answerability_label_accuracy"] = round(label_hits / RAG_EVAL_EXAMPLES, 3)
    return metrics


def _train_rag_adapter(model, tokenizer, name: str, seed: int, dest: Path) -> dict:
    """Train adapter ``name`` of ``tiny_granite.rag`` on the frozen base ``model`` (from its own
    seeded RNGs), save it into ``dest``, take it off ``model`` again; its held-out accuracy."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(int(hashlib.sha256(f"{name}-{seed}".encode()).hexdigest()[:8], 16))
    config = LoraConfig(
        r=RAG_LORA_RANK,
        lora_alpha=RAG_LORA_ALPHA,
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=TARGET_MODULES,
    )
    lora = get_peft_model(model, config)
    rng = random.Random(f"{name}-{seed}")

    def row():
        ids, out = encode_rag_example(tokenizer, *tiny_rag.example(name, rng))
        return ids, out[: RAG_DECIDING.get(name)], None

    params = [p for p in lora.parameters() if p.requires_grad]
    _train(lora, params, _batches(tokenizer, row, RAG_BATCH[name], rng), RAG_STEPS[name], RAG_LR[name], None, name)
    metrics = _evaluate_rag(lora, tokenizer, name)
    lora.save_pretrained(dest)
    lora.unload()
    return metrics


def _evaluate(model, tokenizer, digit_ids, adapter: bool) -> dict:
    """Base: exact-answer accuracy on every fact. Adapter: digit accuracy, right and wrong."""
    import torch

    facts = tiny_data.facts()
    if not adapter:
        hits = 0
        for fact in facts:
            ids, _ = _encode(tokenizer, [{"role": "user", "content": fact.question}], "")
            hits += tokenizer.decode(_greedy(model, ids, tokenizer.eos_token_id)) == fact.answer
        return {"base_answer_accuracy": round(hits / len(facts), 3)}
    rng, hits, seen, total = random.Random(1), 0, set(), 200
    for _ in range(total):
        messages, score = tiny_data.certainty_example(rng)
        ids, out = _encode(tokenizer, messages, tiny_data.score_json(score))
        pos = len(ids) + out.index(digit_ids[score])
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids + out])).logits[0, pos - 1, digit_ids]
        guess = int(logits.argmax())
        hits += guess == score
        seen.add(guess)
    return {"adapter_score_accuracy": round(hits / total, 3), "adapter_scores_seen": sorted(seen)}


def _import_torch():
    # Spinning OpenMP workers turn CPU contention (vLLM, tests or a second build on the same
    # 2 cores) into a ~5x slowdown; passive waiting costs nothing when alone. libgomp reads the
    # variable once, when torch loads it, so it is set only around that import and then
    # restored: vLLM processes started later by this process keep their own defaults.
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            import torch
        finally:
            del os.environ["OMP_WAIT_POLICY"]
    import torch

    return torch


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock: concurrent builders of one directory build it once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_tiny_model(out_dir: str | Path, *, seed: int = 0, force: bool = False) -> TinyModelPaths:
    """Build (train and save) the tiny base model and its LoRAs (``ADAPTERS``) into ``out_dir``.

    Deterministic: the same seed gives byte-identical weights. Takes about three and a half
    minutes on 2 idle CPU cores. Returns at once if ``out_dir`` already holds a complete build of this
    seed (unless ``force``). The build happens in a scratch folder inside ``out_dir`` and is
    moved into place at the end, under a file lock, with ``.complete`` written last: an
    interrupted or concurrent build never leaves a half-written model that looks finished.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dest = paths(out)
    with _locked(out / ".lock"):
        if not force and is_built(out, seed):
            return dest
        (out / ".complete").unlink(missing_ok=True)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
        try:
            metrics = _train_and_save(paths(work), dest.base.resolve(), seed)
            for src, dst in zip(paths(work).dirs(), dest.dirs()):
                shutil.rmtree(dst, ignore_errors=True)
                src.rename(dst)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        marker = {
            "key": build_key(seed),
            "builder_version": BUILDER_VERSION,
            "seed": seed,
            "bf16": cpu_has_bf16(),
            "versions": installed_versions(),
            **metrics,
        }
        (out / ".complete").write_text(json.dumps(marker, indent=2) + "\n")
    log.info("tiny model built in %.1f s: %s", time.monotonic() - started, metrics)
    return dest


def _marker(out: Path) -> dict:
    try:
        return json.loads((out / ".complete").read_text())
    except (OSError, ValueError):
        return {}


def _train_and_save(dest: TinyModelPaths, final_base: Path, seed: int) -> dict:
    """Train base, uncertainty LoRA, then the RAG LoRAs; save all into ``dest``; each adapter
    names ``final_base``."""
    torch = _import_torch()
    from peft import LoraConfig, get_peft_model
    from transformers import GenerationConfig, GraniteMoeHybridForCausalLM

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        tokenizer = tiny_data.build_tokenizer(seed)
        digit_ids = tokenizer.convert_tokens_to_ids([str(d) for d in range(10)])
        config = model_config(tokenizer)
        model = GraniteMoeHybridForCausalLM(config).float()

        rng = random.Random(f"base-{seed}")
        batches = _batches(
            tokenizer, lambda: (*_encode(tokenizer, *tiny_data.base_example(rng)), None), BASE_BATCH, rng
        )
        _train(model, list(model.parameters()), batches, BASE_STEPS, BASE_LR, digit_ids, "base")
        metrics = _evaluate(model, tokenizer, digit_ids, adapter=False)
        model.save_pretrained(dest.base)
        GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
        ).save_pretrained(dest.base)
        # One tokenizer_config.json holding the template, as Granite's own repo ships it.
        tokenizer.save_pretrained(dest.base, save_jinja_files=False)

        for p in model.parameters():
            p.requires_grad_(False)
        lora = get_peft_model(
            model,
            LoraConfig(
                r=32, lora_alpha=64, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", target_modules=TARGET_MODULES
            ),
        )
        rng = random.Random(f"lora-{seed}")

        def lora_row():
            messages, score = tiny_data.certainty_example(rng)
            ids, comp = _encode(tokenizer, messages, tiny_data.score_json(score))
            pos = len(ids) + comp.index(digit_ids[score])
            return ids, comp, (pos, tiny_data.score_distribution(score))

        params = [p for p in lora.parameters() if p.requires_grad]
        batches = _batches(tokenizer, lora_row, LORA_BATCH, rng)
        _train(lora, params, batches, LORA_STEPS, LORA_LR, digit_ids, "lora")
        metrics.update(_evaluate(lora, tokenizer, digit_ids, adapter=True))
        lora.save_pretrained(dest.adapter)
        lora.unload()  # the base model again, for the RAG adapters

        # The RAG adapters, after the uncertainty one: each from its own seeded RNGs, so adding
        # them changes no byte of the base model, the tokenizer or the uncertainty adapter.
        for name in tiny_rag.ADAPTERS:
            metrics.update(_train_rag_adapter(model, tokenizer, name, seed, dest.adapters[name]))
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    for adapter_dir in dest.adapters.values():
        cfg_path = adapter_dir / "adapter_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["base_model_name_or_path"] = str(final_base)
        cfg["target_modules"] = sorted(cfg["target_modules"])  # PEFT writes a set: hash order
        cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        (adapter_dir / "README.md").unlink(missing_ok=True)  # PEFT's empty model-card stub
    tok_path = dest.base / "tokenizer_config.json"
    tok_cfg = json.loads(tok_path.read_text())
    # transformers 5 writes its own class name; this one also loads in transformers 4.x.
    tok_cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    tok_path.write_text(json.dumps(tok_cfg, indent=2, sort_keys=True) + "\n")
    for f in (f for d in dest.dirs() for f in d.iterdir()):
        f.chmod(0o644)  # safetensors come out 0600; a container's other user must read them
    return metrics


def main(argv: list[str] | None = None) -> None:
    """``python -m tiny_granite OUT_DIR [--seed N]``: build the tiny model."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(build_tiny_model(args.out_dir, seed=args.seed, force=args.force))
