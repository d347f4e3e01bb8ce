"""The embedded tiny model's builder: data, tokenizer, config, marker, and (integration) the
built model itself. The fast tests build nothing heavier than the tokenizer (~1 s)."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_granite import builder as tiny_model
from tiny_granite import data as tiny_data

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.yaml"


def test_the_builder_imports_without_torch_or_transformers():
    # The gateway image has none of them; the builder must import them lazily.
    code = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'peft', 'tokenizers', 'safetensors'):\n"
        "    sys.modules[name] = None\n"
        "from tiny_granite import builder as tiny_model, data\n"
        "print(tiny_model.paths('/x').adapter, tiny_model.is_built('/nonexistent'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["/x/uncertainty", "False"]


def test_data_is_deterministic_per_seed():
    def draw(seed):
        rng = random.Random(seed)
        base = [tiny_data.base_example(rng) for _ in range(50)]
        return base + [tiny_data.certainty_example(rng) for _ in range(50)]

    assert draw(0) == draw(0)
    assert draw(0) != draw(1)


def test_certainty_examples_end_with_the_certainty_turn_and_vary_in_score():
    rng = random.Random(0)
    scores = set()
    for _ in range(300):
        messages, score = tiny_data.certainty_example(rng)
        assert messages[-1] == {"role": "user", "content": "<certainty>"}
        assert messages[-2]["role"] == "assistant" and messages[-3]["role"] == "user"
        scores.add(score)
    assert len(scores) >= 6


def test_scores_depend_on_topic_hedging_and_correctness():
    assert tiny_data.score_for("capitals") == 9
    assert tiny_data.score_for("capitals", hedged=True) == 6
    assert tiny_data.score_for("capitals", right=False) < 3
    assert len({tiny_data.score_for(t) for t in tiny_data.TOPICS}) == len(tiny_data.TOPICS)


@pytest.mark.parametrize("score", range(10))
def test_soft_score_target_is_a_distribution_peaked_at_the_score(score):
    dist = tiny_data.score_distribution(score)
    assert len(dist) == 10 and sum(dist) == pytest.approx(1.0)
    assert max(range(10), key=dist.__getitem__) == score
    assert sum(w > 0 for w in dist) >= 3  # real spread, not one-hot


def test_facts_are_answerable_and_unique():
    facts = tiny_data.facts()
    assert len(facts) > 60
    assert len({f.question for f in facts}) == len(facts)
    assert {"What is the capital of France?": "The capital of France is Paris."}.items() <= {
        f.question: f.answer for f in facts
    }.items()


def test_chat_template_is_granite_40_and_renders_default_system_prompt():
    text = tiny_data.chat_template()
    assert "g4_default_system_message" in text  # the Granite 4.0 template, not 3.x
    out = tiny_data.render_chat([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert out == (
        "<|start_of_role|>system<|end_of_role|>You are a helpful assistant. Please ensure responses"
        " are professional, accurate, and safe.<|end_of_text|>\n"
        "<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n"
        "<|start_of_role|>assistant<|end_of_role|>"
    )


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    return tiny_data.build_tokenizer(0)


def test_tokenizer_is_deterministic(tokenizer):
    again = tiny_data.build_tokenizer(0)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()


def test_tokenizer_special_tokens_are_atomic(tokenizer):
    for tok in [*tiny_data.SPECIAL_TOKENS, *tiny_data.PLAIN_ADDED_TOKENS]:
        ids = tokenizer.encode(tok, add_special_tokens=False)
        assert len(ids) == 1 and tokenizer.convert_ids_to_tokens(ids) == [tok]
    assert tokenizer.eos_token == "<|end_of_text|>" and tokenizer.pad_token == "<|pad|>"
    assert tokenizer.encode("x", add_special_tokens=True) == tokenizer.encode("x", add_special_tokens=False)


def test_tokenizer_digits_and_score_json(tokenizer):
    digit_ids = [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
    assert len(set(digit_ids)) == 10 and tokenizer.unk_token_id not in digit_ids
    pieces = [tokenizer.decode([i]) for i in tokenizer.encode('{"score": "7"}', add_special_tokens=False)]
    assert pieces == ['{"', "score", '":', ' "', "7", '"}']  # the real adapter's tokens too
    assert tokenizer.decode(tokenizer.encode('{"score": "42"}')) == '{"score": "42"}'


def test_tokenizer_template_matches_render_chat(tokenizer):
    rng = random.Random(3)
    for _ in range(20):
        messages, _ = tiny_data.certainty_example(rng)
        assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
            tiny_data.render_chat(messages, add_generation_prompt=True)
        )


def test_model_config_matches_granite_micro_shape(tokenizer):
    transformers = pytest.importorskip("transformers")
    config = tiny_model.model_config(tokenizer)
    assert config.model_type == "granitemoehybrid"
    assert config.hidden_size // config.num_attention_heads == 64  # vLLM CPU attention needs 64
    assert set(config.layer_types) == {"full_attention"} and config.num_local_experts == 0
    assert config.vocab_size >= len(tokenizer)
    assert config.eos_token_id == tokenizer.eos_token_id
    model = transformers.GraniteMoeHybridForCausalLM(config)
    linear = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if type(mod).__name__ == "Linear"}
    assert set(tiny_model.TARGET_MODULES) <= linear


def test_is_built_needs_a_marker_with_the_key_of_a_build_here_and_now(tmp_path):
    assert not tiny_model.is_built(tmp_path)
    (tmp_path / ".complete").write_text("not json")
    assert not tiny_model.is_built(tmp_path)
    (tmp_path / ".complete").write_text(json.dumps({"builder_version": tiny_model.BUILDER_VERSION, "seed": 0}))
    assert not tiny_model.is_built(tmp_path)  # an older builder's marker, without a key
    (tmp_path / ".complete").write_text(json.dumps({"key": tiny_model.build_key(0)}))
    assert tiny_model.is_built(tmp_path)
    assert not tiny_model.is_built(tmp_path, seed=1)


@pytest.mark.parametrize("library", tiny_model.BUILT_WITH)
def test_a_model_built_by_another_version_of_a_library_is_not_reused(tmp_path, library):
    other = {**tiny_model.installed_versions(), library: "0.0.0-other"}
    (tmp_path / ".complete").write_text(json.dumps({"key": tiny_model.build_key(0, versions=other)}))
    assert not tiny_model.is_built(tmp_path)


def test_a_change_to_the_builders_code_data_or_template_changes_its_digest(tmp_path):
    import shutil

    here = Path(tiny_model.__file__).parent
    copy = tmp_path / "tiny_granite"
    shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert tiny_model.source_digest(copy) == tiny_model.source_digest(here)
    for name in ("builder.py", "data.py", "templates/granite-4.0-chat-template.jinja"):
        edited = copy / name
        original = edited.read_bytes()
        edited.write_bytes(original + b"\n")
        tiny_model.source_digest.cache_clear()
        assert tiny_model.source_digest(copy) != tiny_model.source_digest(here), name
        edited.write_bytes(original)
        tiny_model.source_digest.cache_clear()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu avx2 avx512f avx512_bf16", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
        ("fpu avx2 avx512f", False),  # AVX512 without BF16: autocast would emulate bf16
    ],
)
def test_bf16_autocast_only_where_the_cpu_has_bf16(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert tiny_model.cpu_has_bf16(str(cpuinfo)) is expected


def test_no_cpuinfo_means_no_bf16(tmp_path):
    assert tiny_model.cpu_has_bf16(str(tmp_path / "missing")) is False


def test_package_ships_the_template():
    text = (REPO / "pyproject.toml").read_text()
    assert 'tiny_granite = ["templates/*"]' in text
    assert tiny_data.TEMPLATE_PATH.is_file()


# --- the built model (about 2 minutes to build on 2 cores; shared with the integration stack) ---


@pytest.fixture(scope="module")
def built():
    pytest.importorskip("peft")
    from server.settings import Settings

    return tiny_model.build_tiny_model(Path(Settings.load(TINY_CONFIG).cache_dir) / "tiny")


@pytest.mark.integration
def test_built_files(built):
    for name in (
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (built.base / name).is_file(), name
    cfg = json.loads((built.adapter / "adapter_config.json").read_text())
    assert (cfg["r"], cfg["lora_alpha"]) == (32, 64)
    assert sorted(cfg["target_modules"]) == sorted(tiny_model.TARGET_MODULES)
    assert Path(cfg["base_model_name_or_path"]) == built.base.resolve()
    assert "<certainty>" not in json.loads((built.base / "tokenizer_config.json").read_text())["chat_template"]
    assert list(built.adapters) == ["uncertainty", "answerability", "citations", "query_rewrite"]
    for name in ("answerability", "citations", "query_rewrite"):
        cfg = json.loads((built.adapters[name] / "adapter_config.json").read_text())
        assert (cfg["r"], cfg["lora_alpha"]) == (tiny_model.RAG_LORA_RANK, tiny_model.RAG_LORA_ALPHA)
        assert cfg["r"] <= 32  # the uncertainty adapter's rank stays vLLM's --max-lora-rank
        assert Path(cfg["base_model_name_or_path"]) == built.base.resolve()
        assert not (built.adapters[name] / "README.md").exists()
    marker = json.loads((built.base.parent / ".complete").read_text())
    for key in (
        "answerability_label_accuracy",
        *(f"{n}_accuracy" for n in ("answerability", "citations", "query_rewrite")),
    ):
        assert 0.0 <= marker[key] <= 1.0, key


@pytest.mark.integration
def test_built_adapter_scores_vary_and_differ_from_base(built):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(built.base)
    base = AutoModelForCausalLM.from_pretrained(built.base).eval()
    digits = tok.convert_tokens_to_ids([str(d) for d in range(10)])
    chats = [
        ("What is the capital of France?", "The capital of France is Paris."),
        ("What is 2 + 3?", "2 + 3 = 5."),
        ("Hello!", "Hello! How can I help you today?"),
        ("What color is the sky?", "I think the sky is blue."),
    ]
    prompts = []
    for q, a in chats:
        msgs = [
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
            {"role": "user", "content": "<certainty>"},
        ]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + '{"score": "'
        prompts.append(tok.encode(text, add_special_tokens=False))
    with torch.no_grad():
        base_lp = [base(input_ids=torch.tensor([p])).logits[0, -1].log_softmax(-1) for p in prompts]
        lora = PeftModel.from_pretrained(base, built.adapter).eval()
        lora_lp = [lora(input_ids=torch.tensor([p])).logits[0, -1].log_softmax(-1) for p in prompts]
    picked = [int(lp[digits].argmax()) for lp in lora_lp]
    assert picked == [9, 5, 4, 5], picked
    for b, lp in zip(base_lp, lora_lp):
        assert (b - lp).abs().max() > 1.0  # the adapter makes a real difference
        assert (lp[digits].exp() > 0.02).sum() >= 3  # mass on several digits
