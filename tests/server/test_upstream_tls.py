"""An ``https://`` vLLM (KServe's workload serves TLS with a self-signed certificate): the gateway
trusts exactly the certificates in ``vllm.ca_file``, and nothing else. The upstream here is a
real uvicorn server doing a real TLS handshake (vLLM's own server is uvicorn, run with
``--ssl-certfile``/``--ssl-keyfile`` as KServe runs it); its answers are canned."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import threading

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from server.settings import DeploymentError

from ..waiting import wait_until
from .apps import make_client

ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "created": 0,
    "model": "base",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
}
ASK = {"model": "base", "messages": [{"role": "user", "content": "hi"}]}


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate made as KServe makes its workload's: self-signed, not a CA, server auth only,
    for localhost and 127.0.0.1. Returns (certificate file, key file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kserve Self Signed")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


async def canned(scope, receive, send):
    """The upstream: every chat completion answered with ANSWER."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(ANSWER).encode()})


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory):
    """A uvicorn server speaking only TLS with a KServe-like certificate: (url, its certificate, another one)."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(tmp, "workload")
    other, _ = self_signed(tmp, "other")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(canned, ssl_certfile=cert, ssl_keyfile=key, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "the TLS upstream started")
    yield f"https://127.0.0.1:{port}", cert, other
    server.should_exit = True
    thread.join(5)


def gateway(url: str, ca_file: str | None) -> TestClient:
    return make_client(vllm={"url": url, "ca_file": ca_file})  # no handler: the real network


def test_a_gateway_given_the_workloads_certificate_gets_its_answers_over_tls(tls_upstream):
    url, cert, _ = tls_upstream
    with gateway(url, cert) as client:
        resp = client.post("/v1/chat/completions", json=ASK)
    assert resp.status_code == 200 and resp.json() == ANSWER


@pytest.mark.parametrize("trusted", ["system store", "another certificate"])
def test_a_certificate_the_gateway_does_not_trust_is_a_clear_503_never_an_answer(tls_upstream, trusted):
    url, _, other = tls_upstream
    with gateway(url, None if trusted == "system store" else other) as client:
        resp = client.post("/v1/chat/completions", json=ASK)
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["code"] == "upstream_unavailable" and "CERTIFICATE_VERIFY_FAILED" in error["message"]


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_a_ca_file_that_is_missing_or_holds_no_certificate_fails_the_deployment(tmp_path, content):
    path = tmp_path / "ca.crt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeploymentError, match="vllm.ca_file"):
        gateway("https://127.0.0.1:1", str(path))
