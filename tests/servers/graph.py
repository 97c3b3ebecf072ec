"""The Graph stand-in as pytest fixtures, and the settings a Graph client needs to reach it.

- ``graph_standin``: a fresh :class:`graph_standin.GraphStandIn` per test (a few ms), empty
  directory, one app with a secret and the certificate of ``app_certificate`` registered.
- ``app_certificate``: a PEM file with an RSA key and a self-signed certificate, as an admin
  exports one for an app registration (one per session: RSA keys take a moment to make).
- ``graph_settings_for(graph, **overrides)``: GraphSettings pointing at a stand-in with its
  secret (``certificate_path=...`` and ``client_secret=None`` for the certificate credential).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from core.settings.secrets import Secret
from core.sources.graph_types import GraphSettings
from graph_standin import GraphStandIn


def write_app_certificate(path: Path, name: str = "Halo Integrator app") -> x509.Certificate:
    """Write an unencrypted RSA key and its self-signed certificate to one PEM file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(key_pem + certificate.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o600)
    return certificate


@pytest.fixture(scope="session")
def app_certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graph-app") / "app.pem"
    write_app_certificate(path)
    return path


@pytest.fixture
def graph_standin(app_certificate: Path) -> Iterator[GraphStandIn]:
    with GraphStandIn(certificates=[app_certificate]) as graph:
        yield graph


def graph_settings_for(graph: GraphStandIn, **overrides: Any) -> GraphSettings:
    """Settings for a client of ``graph`` with its client secret, changed by ``overrides``."""
    values: dict[str, Any] = {
        "tenant_id": graph.tenant_id,
        "client_id": graph.client_id,
        "client_secret": Secret(graph.client_secret),
        "login_url": graph.login_url,
        "graph_url": graph.graph_url,
    }
    values.update(overrides)
    return GraphSettings(**values)
