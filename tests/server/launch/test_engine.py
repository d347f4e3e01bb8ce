"""The launched vLLM: its command line, its own random API key (sent by the gateway, never on its command line)
and an environment trimmed to what vLLM needs, so no secret of the gateway reaches it."""

import httpx

from server.launch.engine import vllm_command, vllm_env, with_run_key
from server.launch.resolve import Deployment
from server.settings import Settings

from ..apps import make_client
from ..test_cli import adapter, model


def settings(**vllm):
    return Settings(model={"path": "/m", "served_name": "base"}, vllm=vllm)


def test_a_started_vllm_gets_a_fresh_random_key_unless_one_is_configured():
    first, second = with_run_key(settings()), with_run_key(settings())
    assert first.vllm.api_key and second.vllm.api_key and first.vllm.api_key != second.vllm.api_key
    assert len(first.vllm.api_key) >= 32
    assert with_run_key(settings(api_key="mine")).vllm.api_key == "mine"


def test_the_key_goes_in_the_environment_not_on_the_command_line():
    s = with_run_key(settings())
    env = vllm_env(s, {"PATH": "/bin"})
    assert env["VLLM_API_KEY"] == s.vllm.api_key
    cmd = vllm_command(s, Deployment(base="/m", served_name="base", adapters=()))
    assert s.vllm.api_key not in " ".join(cmd)


def test_vllm_inherits_only_what_it_needs_and_no_gateway_secret():
    environ = {
        "PATH": "/bin",
        "HF_TOKEN": "hf",
        "CUDA_VISIBLE_DEVICES": "0",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_API_KEY": "stale",
        "GRANITE_CERTAINTY_API_KEY": "gateway-secret",
        "AWS_SECRET_ACCESS_KEY": "cloud-secret",
        "DATABASE_URL": "postgres://u:p@db",
    }
    env = vllm_env(settings(env={"EXTRA": "x"}), environ)
    assert env == {
        "PATH": "/bin",
        "HF_TOKEN": "hf",
        "CUDA_VISIBLE_DEVICES": "0",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "EXTRA": "x",
    }


def test_the_gateway_sends_vllms_key_on_every_call():
    seen = []

    def handler(request):
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"choices": []})

    with make_client(handler, vllm={"api_key": "k3y"}) as client:
        client.post("/v1/chat/completions", json={"model": "base", "messages": [{"role": "user", "content": "hi"}]})
        client.get("/health")
    assert seen == ["Bearer k3y", "Bearer k3y"]


def test_scale_up_knobs_become_vllms_flags_only_when_set():
    from server.launch.resolve import ResolvedAdapter

    adapter = ResolvedAdapter(name="uncertainty", path="/a", rank=32, intrinsic="uncertainty", io_yaml=None)
    dep = Deployment(base="/m", served_name="base", adapters=(adapter,))
    plain = vllm_command(settings(), dep)
    assert "--data-parallel-size" not in plain and plain[plain.index("--max-loras") + 1] == "2"
    cmd = vllm_command(settings(data_parallel_size=2, tensor_parallel_size=4, max_loras=3, max_cpu_loras=8), dep)
    flag = lambda name: cmd[cmd.index(name) + 1]
    assert (flag("--data-parallel-size"), flag("--tensor-parallel-size")) == ("2", "4")
    assert (flag("--max-loras"), flag("--max-cpu-loras")) == ("3", "8")


def test_a_seed_becomes_vllms_seed_flag_only_when_set():
    from server.launch.resolve import ResolvedAdapter

    adapter = ResolvedAdapter(name="uncertainty", path="/a", rank=32, intrinsic="uncertainty", io_yaml=None)
    dep = Deployment(base="/m", served_name="base", adapters=(adapter,))
    assert "--seed" not in vllm_command(settings(), dep)
    for seed in (0, 4242):
        cmd = vllm_command(settings(seed=seed), dep)
        assert cmd[cmd.index("--seed") + 1] == str(seed)


def test_launcher_command_line(tmp_path):
    from server.launch.resolve import resolve

    s = Settings(
        model={"path": str(model(tmp_path)), "served_name": "g"},
        adapters=[{"name": "uncertainty", "path": str(adapter(tmp_path, 32))}],
        vllm={"port": 8123, "args": ["--dtype", "float32"], "python": "/opt/py"},
    )
    cmd = vllm_command(s, resolve(s))
    assert cmd[:3] == ["/opt/py", "-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert f"--model {tmp_path / 'm'} --served-model-name g" in joined and "--port 8123" in joined
    assert "--enable-lora" in cmd and cmd[cmd.index("--max-lora-rank") + 1] == "32"
    assert f"uncertainty={tmp_path / 'lora'}" in cmd and cmd[-2:] == ["--dtype", "float32"]
