"""``granite-certainty switch-layout DIR --url``: the gateway's layout written where mellea reads it,
and a gateway that answers something else (or nothing) refused with the reason, nothing written
outside DIR."""

import json

import httpx
import pytest
from mellea.backends.adapters.adapter import EmbeddedIntrinsicAdapter

from server.cli import main
from server.switch.client import LayoutError, fetch_layout, write_layout

from ..apps import UNCERTAINTY, make_client

#: mellea 0.8.0's reader of a Granite Switch folder warns that its class is deprecated (not its format).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def through(client) -> httpx.MockTransport:
    """A transport that answers with the test ``client``'s gateway."""

    def answer(request: httpx.Request) -> httpx.Response:
        resp = client.get(request.url.path, headers=dict(request.headers))
        return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)

    return httpx.MockTransport(answer)


def test_the_written_folder_is_the_one_mellea_reads(tmp_path):
    with make_client(adapters=UNCERTAINTY, api_key="k") as client:
        files = fetch_layout("http://gateway/v1", "k", transport=through(client))
    write_layout(tmp_path / "layout", files)
    assert sorted(files) == ["adapter_index.json", "io_configs/uncertainty/io.yaml"]
    (adapter,) = EmbeddedIntrinsicAdapter.from_model_directory(tmp_path / "layout")
    assert adapter.intrinsic_name == "uncertainty"


def index_answer(entries):
    def answer(request):
        if request.url.path.endswith("adapter_index.json"):
            return httpx.Response(200, json={"adapters": entries})
        return httpx.Response(200, content=b"name: x\n")

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "entries",
    [
        [{"adapter_name": "x", "io_config": "../../etc/io.yaml"}],
        [{"adapter_name": "x", "io_config": "io_configs/y/io.yaml"}],
        [{"adapter_name": "..", "io_config": "io_configs/../io.yaml"}],
        [{"adapter_name": "x"}],
        "not a list",
    ],
)
def test_an_index_that_names_another_path_or_is_no_index_is_refused(entries):
    with pytest.raises(LayoutError):
        fetch_layout("http://gateway", None, transport=index_answer(entries))


def test_a_gateway_error_is_reported_with_its_status():
    with make_client(adapters=UNCERTAINTY, api_key="k") as client:
        with pytest.raises(LayoutError, match="401"):
            fetch_layout("http://gateway", "wrong", transport=through(client))


def test_the_command_exits_1_with_the_reason_when_no_gateway_answers(tmp_path, capsys):
    assert main(["switch-layout", str(tmp_path / "out"), "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_index_itself_is_written_as_the_gateway_sent_it(tmp_path):
    files = {"adapter_index.json": json.dumps({"adapters": []}).encode()}
    write_layout(tmp_path, files)
    assert (tmp_path / "adapter_index.json").read_bytes() == files["adapter_index.json"]


def test_a_url_ending_in_v1_is_the_same_gateway():
    paths = []

    def answer(request):
        paths.append(request.url.path)
        return httpx.Response(200, json={"adapters": []})

    fetch_layout("http://gateway:8000/v1/", None, transport=httpx.MockTransport(answer))
    assert paths == ["/switch-layout/adapter_index.json"]
