"""TLS for gRPC and HTTPS for REST from certificate files: a self-signed certificate made by
the test; plaintext clients are refused, clients trusting the certificate get answers."""

from __future__ import annotations

import datetime
import ipaddress

import grpc
import numpy as np
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import RestServer


def _self_signed(directory) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.robustness("plaintext clients against a TLS/HTTPS server", "refused; TLS clients answered")
def test_grpc_tls_and_rest_https(tmp_path):
    cert, key = _self_signed(tmp_path)
    models.save(models.scale_model(2.0), tmp_path / "m")
    args = ["model", "--model_name", "m", "--model_path", str(tmp_path / "m")]
    server = RestServer(args + ["--tls_cert_file", str(cert), "--tls_key_file", str(key)], tmp_path / "log")
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    server.channel_credentials, server.verify = credentials, str(cert)
    server.url = server.url.replace("http://", "https://")
    try:
        server.wait_ready()
        x = np.ones((1, 4), np.float32)
        client = RawClient(server.address, credentials)
        try:
            assert client.predict("m", {"x": x})[1]["y"].tolist() == [[2.0] * 4]
        finally:
            client.close()
        plain = RawClient(server.address)
        try:
            with pytest.raises(grpc.RpcError) as info:
                plain.predict("m", {"x": x}, timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            plain.close()
        answer = requests.post(f"{server.url}/v1/models/m:predict", json={"instances": x.tolist()}, verify=str(cert))
        assert answer.json() == {"predictions": [[2.0] * 4]}
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url.replace("https://", "http://") + "/v1/models/m", timeout=5).json()
    finally:
        assert server.stop() == 0
    assert "(16 worker threads, TLS)" in server.log()


def test_tls_flags_go_together(tmp_path, start_server):
    server = start_server(
        "model", "--model_name", "m", "--model_path", str(tmp_path), "--tls_cert_file", "x.pem", ready=False
    )
    assert server.process.wait(timeout=60) == 2
    assert "--tls_cert_file and --tls_key_file go together" in server.log()
