"""The Kubernetes manifests: rendered with `kubectl kustomize` (no cluster needed), every object
valid against the Kubernetes 1.32 schemas offline (kubernetes-validate, strict: no unknown
fields), and the facts that matter checked against the code: probe paths the app serves, the
config a gateway accepts, keys that fail closed, the LoRA rank flag and the GPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from server.app import create_app
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes" / "base"
KUBERNETES = "1.32.0"


OVERLAYS = ROOT / "deploy" / "kubernetes" / "overlays"
#: Kinds of custom resources (their schemas are the operators', not Kubernetes'): checked below.
CUSTOM = {"ServiceMonitor"}


def render(path: Path) -> list[dict]:
    """``kubectl kustomize path``, as objects."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it renders kustomize without a cluster)")
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    return render(BASE)


@pytest.mark.parametrize("overlay", sorted(p.name for p in OVERLAYS.iterdir()))
def test_every_overlay_renders_to_valid_objects(overlay):
    objects = render(OVERLAYS / overlay)
    for obj in objects:
        if obj["kind"] not in CUSTOM:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    assert objects


def test_the_servicemonitor_scrapes_the_gateways_metrics_port_and_path():
    objects = render(OVERLAYS / "servicemonitor")
    monitor = one(objects, "ServiceMonitor", "granite-certainty")
    service = one(objects, "Service", "granite-certainty")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    s = Settings(model={"path": "/m", "served_name": "base"})
    paths = {r.path for r in create_app(s, intrinsics={}, transport=httpx.MockTransport(lambda r: None)).routes}
    assert endpoint["path"] in paths


def one(objects: list[dict], kind: str, name: str) -> dict:
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    return obj


def container(deployment: dict, name: str) -> dict:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def test_every_object_is_valid_for_kubernetes(rendered):
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    for obj in rendered:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_the_configmap_holds_a_config_the_gateway_accepts(rendered, tmp_path):
    config = one(rendered, "ConfigMap", "granite-certainty-config")["data"]["gateway.yaml"]
    path = tmp_path / "gateway.yaml"
    path.write_text(config)
    settings = Settings.load(path)
    assert settings.vllm.url == "http://vllm:8000"  # the vllm Service's port
    for adapter in settings.adapters:  # the image's registry holds each adapter's io.yaml
        assert (ROOT / "configs" / "intrinsics" / (adapter.intrinsic or adapter.name) / "io.yaml").is_file()
    assert settings.intrinsics_dir == "/app/configs/intrinsics"


def test_the_gateway_probes_paths_the_app_serves_and_drains_longer_than_a_stream(rendered, tmp_path):
    deployment = one(rendered, "Deployment", "granite-certainty")
    gateway = container(deployment, "gateway")
    s = Settings(model={"path": "/m", "served_name": "base"})
    paths = {r.path for r in create_app(s, intrinsics={}, transport=httpx.MockTransport(lambda r: None)).routes}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert gateway[probe]["httpGet"]["path"] in paths
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/livez"  # never depends on vLLM
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = yaml.safe_load(one(rendered, "ConfigMap", "granite-certainty-config")["data"]["gateway.yaml"])
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= config["shutdown_grace_s"] + gateway["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert config["shutdown_grace_s"] >= config["upstream_timeout_s"]  # the longest stream it allows
    assert deployment["spec"]["replicas"] >= 2


def test_keys_come_from_a_secret_and_a_missing_one_fails_closed(rendered):
    gateway = container(one(rendered, "Deployment", "granite-certainty"), "gateway")
    vllm = container(one(rendered, "Deployment", "vllm"), "vllm")
    env = {e["name"]: e for e in gateway["env"]}
    for name in ("GRANITE_CERTAINTY_API_KEY", "GRANITE_CERTAINTY_VLLM__API_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert not ref.get("optional", False)
    vllm_key = next(e for e in vllm["env"] if e["name"] == "VLLM_API_KEY")["valueFrom"]["secretKeyRef"]
    assert vllm_key == env["GRANITE_CERTAINTY_VLLM__API_KEY"]["valueFrom"]["secretKeyRef"]


def test_vllm_serves_the_lora_on_a_gpu_without_service_links(rendered):
    deployment = one(rendered, "Deployment", "vllm")
    spec = deployment["spec"]["template"]["spec"]
    vllm = container(deployment, "vllm")
    args = vllm["args"]
    assert "--enable-lora" in args and args[args.index("--max-lora-rank") + 1] == "32"
    assert args[args.index("--lora-modules") + 1].startswith("uncertainty=")
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["enableServiceLinks"] is False  # a Service named vllm would inject VLLM_PORT
    assert vllm["startupProbe"]["failureThreshold"] * vllm["startupProbe"]["periodSeconds"] >= 1200
    served = args[args.index("--served-model-name") + 1]
    config = yaml.safe_load(one(rendered, "ConfigMap", "granite-certainty-config")["data"]["gateway.yaml"])
    assert served == config["model"]["served_name"]
    assert one(rendered, "Service", "vllm")["spec"]["ports"][0]["port"] == 8000
    assert any(v.get("persistentVolumeClaim") for v in spec["volumes"])


def key_paths(value, prefix: str = ""):
    """Every key path of a values tree (``a.b``, list items as ``a[]``)."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from key_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                yield f"{prefix}[]"
                yield from key_paths(child, f"{prefix}[]")


def test_the_production_stack_values_use_only_the_charts_keys_and_serve_the_lora():
    chart = {
        line.strip()
        for line in (ROOT / "tests/deploy/data/production-stack-values-keys.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    values = yaml.safe_load((OVERLAYS / "production-stack" / "values.yaml").read_text())
    unknown = sorted(set(key_paths(values)) - chart)
    assert unknown == [], f"not keys of the chart's values: {unknown}"
    [model] = values["servingEngineSpec"]["modelSpec"]
    args = model["vllmConfig"]["extraArgs"]
    assert model["enableLoRA"] is True and args[args.index("--max-lora-rank") + 1] == "32"
    [adapter] = values["loraAdapters"]
    assert adapter["baseModel"] == model["name"] and values["loraController"]["enableLoraController"]


def test_the_production_stack_overlay_points_the_gateway_at_the_router_and_drops_its_own_vllm(tmp_path):
    objects = render(OVERLAYS / "production-stack")
    assert not [o for o in objects if o["metadata"]["name"].startswith("vllm")]
    path = tmp_path / "gateway.yaml"
    path.write_text(one(objects, "ConfigMap", "granite-certainty-config")["data"]["gateway.yaml"])
    settings = Settings.load(path)
    values = yaml.safe_load((OVERLAYS / "production-stack" / "values.yaml").read_text())
    # Helm release "vllm": the chart names the router's Service <release>-router-service.
    assert settings.vllm.url == f"http://vllm-router-service:{values['routerSpec']['servicePort']}"
    args = values["servingEngineSpec"]["modelSpec"][0]["vllmConfig"]["extraArgs"]
    assert args[args.index("--served-model-name") + 1] == settings.served_name
    assert [a.name for a in settings.adapters] == [
        a["adapterName"] for a in (x["adapterSource"] for x in values["loraAdapters"])
    ]
