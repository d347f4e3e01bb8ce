"""The Kubernetes manifests: rendered with `kubectl kustomize` (no cluster needed), every object
valid against the Kubernetes 1.32 schemas offline (kubernetes-validate, strict: no unknown
fields), and the facts that matter checked against the code: probe paths the app serves, the
config a gateway accepts, keys that fail closed, the LoRA rank flag and the GPU."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml

from server.settings import Settings

from ..server.apps import make_app

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes" / "base"
KUBERNETES = "1.32.0"


OVERLAYS = ROOT / "deploy" / "kubernetes" / "overlays"
#: Kinds of custom resources (their schemas are the operators', not Kubernetes'): checked below.
CUSTOM = {"ServiceMonitor", "LLMInferenceService"}


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
    paths = {r.path for r in make_app(lambda r: None).routes}
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
    paths = {r.path for r in make_app(lambda r: None).routes}
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
    assert model["initContainer"]["mountPvcStorage"] is True and "pvcStorage" in model


def snapshot_download_call(script: str) -> dict:
    """The literal arguments of the ``snapshot_download(...)`` call in an init container's script."""
    [call] = [
        node
        for node in ast.walk(ast.parse(script))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "snapshot_download"
    ]
    return {"repo_id": ast.literal_eval(call.args[0])} | {k.arg: ast.literal_eval(k.value) for k in call.keywords}


def assert_the_engine_loads_the_fetched_adapter(fetch_script: str, vllm_args: list[str], settings: Settings):
    """The init container fetches each configured adapter's folder, and vLLM loads it from there."""
    fetched = snapshot_download_call(fetch_script)
    modules = dict(m.split("=", 1) for m in vllm_args[vllm_args.index("--lora-modules") + 1 :] if "=" in m)
    for adapter in settings.adapters:
        assert adapter.repo == fetched["repo_id"]
        assert f"{adapter.subfolder}/*" in fetched["allow_patterns"]
        assert modules[adapter.name] == f"{fetched['local_dir']}/{adapter.subfolder}"


def gateway_settings(objects: list[dict], tmp_path: Path) -> Settings:
    """The Settings the rendered ConfigMap's gateway.yaml gives."""
    path = tmp_path / "gateway.yaml"
    path.write_text(one(objects, "ConfigMap", "granite-certainty-config")["data"]["gateway.yaml"])
    return Settings.load(path)


def test_the_base_vllm_loads_the_adapter_its_init_container_fetched(rendered, tmp_path):
    spec = one(rendered, "Deployment", "vllm")["spec"]["template"]["spec"]
    [fetch] = spec["initContainers"]
    vllm = container(one(rendered, "Deployment", "vllm"), "vllm")
    assert {m["name"] for m in fetch["volumeMounts"]} & {m["name"] for m in vllm["volumeMounts"]}
    assert_the_engine_loads_the_fetched_adapter(fetch["args"][0], vllm["args"], gateway_settings(rendered, tmp_path))


def test_the_production_stack_overlay_points_the_gateway_at_the_router_and_drops_its_own_vllm(tmp_path):
    objects = render(OVERLAYS / "production-stack")
    assert not [o for o in objects if o["metadata"]["name"].startswith("vllm")]
    settings = gateway_settings(objects, tmp_path)
    values = yaml.safe_load((OVERLAYS / "production-stack" / "values.yaml").read_text())
    # Helm release "vllm": the chart names the router's Service <release>-router-service.
    assert settings.vllm.url == f"http://vllm-router-service:{values['routerSpec']['servicePort']}"
    args = values["servingEngineSpec"]["modelSpec"][0]["vllmConfig"]["extraArgs"]
    assert args[args.index("--served-model-name") + 1] == settings.served_name
    model = values["servingEngineSpec"]["modelSpec"][0]
    assert_the_engine_loads_the_fetched_adapter(model["initContainer"]["args"][0], args, settings)


def strict(schema):
    """``schema`` with unknown fields refused wherever it lists an object's fields (Kubernetes
    prunes them silently; a misspelt key would be lost, so the tests refuse it)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    return schema


def test_the_kserve_llminferenceservice_matches_kserves_schema():
    service = one(render(OVERLAYS / "kserve"), "LLMInferenceService", "granite-micro")
    schema = json.loads((ROOT / "tests/deploy/data/kserve-llminferenceservice-v1alpha2.schema.json").read_text())
    assert service["apiVersion"] == "serving.kserve.io/v1alpha2"
    jsonschema.validate(service, strict(schema))
    # Adapters are LLMModelSpecs (schemaless in the CRD because the type is recursive).
    for adapter in service["spec"]["model"]["lora"]["adapters"]:
        jsonschema.validate(adapter, strict(schema["properties"]["spec"]["properties"]["model"]))
        assert adapter["name"]  # required for an adapter
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"}, "spec": service["spec"]["template"]}
    kubernetes_validate.validate(pod, KUBERNETES, strict=True)


def test_the_kserve_overlay_serves_the_fetched_adapter_at_rank_32_to_a_gateway_that_trusts_its_tls(tmp_path):
    objects = render(OVERLAYS / "kserve")
    assert not [o for o in objects if o["metadata"]["name"].startswith("vllm")]
    service = one(objects, "LLMInferenceService", "granite-micro")
    name, model = service["metadata"]["name"], service["spec"]["model"]
    settings = gateway_settings(objects, tmp_path)
    assert model["name"] == settings.served_name and model["lora"]["maxRank"] == 32
    [main] = service["spec"]["template"]["containers"]
    assert main["name"] == "main" and main["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # The adapter: the Job fetches its folder onto the PVC that the pvc:// URI names.
    job = one(objects, "Job", "fetch-adapters")["spec"]["template"]["spec"]
    [fetch] = job["containers"]
    [mount] = fetch["volumeMounts"]
    claim = next(v for v in job["volumes"] if v["name"] == mount["name"])["persistentVolumeClaim"]["claimName"]
    one(objects, "PersistentVolumeClaim", claim)
    fetched = snapshot_download_call(fetch["args"][0])
    local_dir = Path(fetched["local_dir"]).relative_to(mount["mountPath"])
    uris = {a["name"]: a["uri"] for a in model["lora"]["adapters"]}
    for adapter in settings.adapters:
        assert adapter.repo == fetched["repo_id"] and f"{adapter.subfolder}/*" in fetched["allow_patterns"]
        assert uris[adapter.name] == f"pvc://{claim}/{local_dir}/{adapter.subfolder}"
    # The gateway: KServe's workload Service, over TLS, trusting the certificate KServe made for it.
    url = httpx.URL(settings.vllm.url)
    assert (url.scheme, url.host, url.port) == ("https", f"{name}-kserve-workload-svc", 8000)
    deployment = one(objects, "Deployment", "granite-certainty")
    mounts = {m["mountPath"]: m["name"] for m in container(deployment, "gateway")["volumeMounts"]}
    ca = Path(settings.vllm.ca_file)
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mounts[str(ca.parent)])
    assert volume["secret"]["secretName"] == f"{name}-kserve-self-signed-certs"
    assert {"key": "tls.crt", "path": ca.name} in volume["secret"]["items"]
