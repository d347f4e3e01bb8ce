"""Intrinsics-library errors become HTTP errors in one place: the client's fault is a 400 naming
the field, the adapter's a 502 quoting its output, anything else a 500 that names no file; and
an unknown route is an OpenAI 404."""

import httpx

import intrinsics
from server.errors import AdapterOutputError, GatewayError, InvalidRequest, from_intrinsics

from .apps import make_client


def test_a_request_the_intrinsic_cannot_take_is_a_400_naming_the_field():
    err = from_intrinsics("uncertainty", intrinsics.RequestError("needs an assistant turn", field="messages"))
    assert isinstance(err, InvalidRequest) and err.status == 400
    assert err.param == "messages" and "needs an assistant turn" in err.message


def test_adapter_output_that_cannot_be_used_is_a_502_quoting_it():
    err = from_intrinsics("uncertainty", intrinsics.NotJSONError("not JSON", raw='{"score": '))
    assert isinstance(err, AdapterOutputError) and err.status == 502 and err.code == "bad_adapter_output"
    assert "'uncertainty' adapter" in err.message and '{"score": ' in err.message


def test_any_other_intrinsics_error_is_a_500_that_names_no_file():
    err = from_intrinsics("uncertainty", intrinsics.ConfigError("/etc/secret/io.yaml", "name", "bad"))
    assert type(err) is GatewayError and err.status == 500
    assert "/etc/secret" not in err.message and "ConfigError" in err.message


def test_unknown_route_is_an_openai_404():
    with make_client(lambda r: httpx.Response(200)) as client:
        resp = client.get("/v1/nothing")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
