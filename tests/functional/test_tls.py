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
from tests.processes import Process, free_port, http_answers
from tests.rest_helpers import RestServer
from tests.server import SCRIPT


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


def _signed_by(ca_cert_path, ca_key_path, directory, common_name: str) -> tuple:
    """A client certificate and key signed by the CA at ca_cert_path / ca_key_path."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _text(pem: bytes) -> str:
    """A PEM as a text-protobuf string literal (TF Serving's SSLConfig holds the contents)."""
    return '"' + pem.decode().replace("\n", "\\n") + '"'


@pytest.mark.robustness(
    "tensorflow_model_server --ssl_config_file with client_verify: clients without a CA-signed certificate",
    "refused; clients with one answered over TCP and --grpc_socket_path; REST stays HTTP",
)
def test_tf_serving_ssl_config_file_and_grpc_socket_path(tmp_path):
    """TF Serving's model_servers/server.cc: BuildServerCredentials reads the text SSLConfig
    (server_key, server_cert, custom_ca as PEM contents; client_verify requires and verifies a
    client certificate) for the gRPC port and for the UNIX socket "unix:" + --grpc_socket_path;
    the HTTP server is not given TLS."""
    (tmp_path / "server").mkdir()
    (tmp_path / "ca").mkdir()
    server_cert, server_key = _self_signed(tmp_path / "server")
    ca_cert, ca_key = _self_signed(tmp_path / "ca")
    client_cert, client_key = _signed_by(ca_cert, ca_key, tmp_path, "client")
    (tmp_path / "ssl.config").write_text(
        f"server_key: {_text(server_key.read_bytes())}\n"
        f"server_cert: {_text(server_cert.read_bytes())}\n"
        f"custom_ca: {_text(ca_cert.read_bytes())}\n"
        "client_verify: true\n"
    )
    models.save(models.scale_model(2.0), tmp_path / "m")
    socket_path = tmp_path / "grpc.sock"
    port, rest_port = free_port(), free_port()
    server = Process(
        [
            str(SCRIPT),
            "--model_name=m",
            f"--model_base_path={tmp_path / 'm'}",
            f"--port={port}",
            f"--rest_api_port={rest_port}",
            f"--ssl_config_file={tmp_path / 'ssl.config'}",
            f"--grpc_socket_path={socket_path}",
        ],
        tmp_path / "tfms.log",
        {"LOG_LEVEL": "INFO"},
    ).start()
    x = np.ones((1, 4), np.float32)
    trusted = grpc.ssl_channel_credentials(server_cert.read_bytes(), client_key, client_cert)
    try:
        server.wait_for(http_answers(f"http://127.0.0.1:{rest_port}/v1/models/m", 200), 90, "serving m on REST")
        for address in (f"127.0.0.1:{port}", f"unix:{socket_path}"):
            # the certificate names localhost: a socket path is no host name to verify
            client = RawClient(address, trusted, [("grpc.ssl_target_name_override", "localhost")])
            try:
                assert client.predict("m", {"x": x})[1]["y"].tolist() == [[2.0] * 4], address
            finally:
                client.close()
        anonymous = RawClient(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(server_cert.read_bytes()))
        try:
            with pytest.raises(grpc.RpcError) as info:
                anonymous.predict("m", {"x": x}, timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            anonymous.close()
        answer = requests.post(f"http://127.0.0.1:{rest_port}/v1/models/m:predict", json={"instances": x.tolist()})
        assert answer.json() == {"predictions": [[2.0] * 4]}
    finally:
        assert server.stop() == 0
    assert f"and UNIX socket {socket_path}" in server.log() and "TLS, client certificates required" in server.log()
