"""The Granite Switch layout of the served adapters: an index and each io.yaml, in the format mellea
0.8.0 reads (checked with mellea's own reader), served read-only under the API key."""

import json
from pathlib import Path

import pytest
import yaml
from mellea.backends.adapters.adapter import EmbeddedIntrinsicAdapter

import intrinsics
from server.switch.layout import adapter_index, io_yaml

from ..apps import UNCERTAINTY, make_client

IO_YAML = str(Path(__file__).resolve().parents[3] / "configs/intrinsics/uncertainty/io.yaml")
#: mellea 0.8.0's reader of a Granite Switch folder warns that its class is deprecated (not its format).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_index_lists_each_adapter_with_its_own_io_yaml_as_a_lora():
    table = {"uncertainty": intrinsics.load(IO_YAML), "b/x": intrinsics.load(IO_YAML)}
    assert json.loads(adapter_index(table)) == {
        "adapters": [
            {"adapter_name": "b/x", "io_config": "io_configs/b/x/io.yaml", "technology": "lora"},
            {"adapter_name": "uncertainty", "io_config": "io_configs/uncertainty/io.yaml", "technology": "lora"},
        ]
    }


def test_the_io_yaml_holds_the_same_data_as_the_file_the_intrinsic_came_from():
    with open(IO_YAML) as f:
        assert yaml.safe_load(io_yaml(intrinsics.load(IO_YAML))) == yaml.safe_load(f)


def test_the_routes_serve_a_folder_that_mellea_reads(tmp_path):
    with make_client(adapters=UNCERTAINTY) as client:
        index = client.get("/switch-layout/adapter_index.json")
        io = client.get("/switch-layout/io_configs/uncertainty/io.yaml")
    assert index.status_code == io.status_code == 200
    assert index.headers["content-type"] == "application/json" and io.headers["content-type"] == "application/yaml"
    (tmp_path / "adapter_index.json").write_bytes(index.content)
    (tmp_path / "io_configs/uncertainty").mkdir(parents=True)
    (tmp_path / "io_configs/uncertainty/io.yaml").write_bytes(io.content)
    (adapter,) = EmbeddedIntrinsicAdapter.from_model_directory(tmp_path)
    assert (adapter.intrinsic_name, adapter.technology) == ("uncertainty", "lora")
    assert adapter.config == yaml.safe_load(open(IO_YAML))


def test_an_adapter_not_served_is_a_404_in_the_openai_shape():
    with make_client(adapters=UNCERTAINTY) as client:
        resp = client.get("/switch-layout/io_configs/nope/io.yaml")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_the_layout_needs_the_api_key_when_one_is_set():
    with make_client(adapters=UNCERTAINTY, api_key="k") as client:
        assert client.get("/switch-layout/adapter_index.json").status_code == 401
        headers = {"authorization": "Bearer k"}
        assert client.get("/switch-layout/adapter_index.json", headers=headers).status_code == 200
