"""The certificate credential's client assertion, and the token's reuse, over MockTransport."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from servers.graph import write_app_certificate

from core.settings.secrets import Secret
from core.sources.graph_auth import CertificateCredential, GraphTokenAuth
from core.sources.graph_client import GraphClient
from core.sources.graph_errors import GraphCertificateError, GraphError
from core.sources.graph_types import GraphSettings

TOKEN_URL = "https://login.microsoftonline.com/t/oauth2/v2.0/token"


def unpadded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_assertion_is_rs256_signed_with_x5t_and_the_claims_entra_checks(
    tmp_path: Path,
) -> None:
    certificate = write_app_certificate(tmp_path / "app.pem")
    assertion = CertificateCredential(tmp_path / "app.pem").assertion(TOKEN_URL, "app", 1000.0)
    header_part, claims_part, signature = assertion.split(".")
    header, claims = json.loads(unpadded(header_part)), json.loads(unpadded(claims_part))
    assert header == {
        "alg": "RS256",
        "typ": "JWT",
        "x5t": base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA1()))  # noqa: S303
        .rstrip(b"=")
        .decode(),
    }
    assert claims["aud"] == TOKEN_URL and claims["iss"] == claims["sub"] == "app"
    assert (claims["nbf"], claims["exp"]) == (1000, 1600) and claims["jti"]
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        unpadded(signature),
        f"{header_part}.{claims_part}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_a_pem_without_a_key_is_refused_with_how_to_export_one(tmp_path: Path) -> None:
    certificate = write_app_certificate(tmp_path / "app.pem")
    only_certificate = tmp_path / "public.pem"
    only_certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(GraphCertificateError, match="openssl pkcs12"):
        CertificateCredential(only_certificate)


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(GraphCertificateError, match="cannot read certificate_path"):
        CertificateCredential(tmp_path / "missing.pem")


def test_exactly_one_credential_is_required() -> None:
    with pytest.raises(GraphError, match="exactly one credential"):
        GraphTokenAuth(GraphSettings(tenant_id="t", client_id="app"))


def test_a_token_is_fetched_once_and_again_only_near_its_expiry() -> None:
    forms: list[dict[str, list[str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            forms.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3599})
        assert request.headers["Authorization"] == "Bearer tok"
        return httpx.Response(200, json={"value": [{"id": "u"}]})

    now = [0.0]
    settings = GraphSettings(tenant_id="t", client_id="app", client_secret=Secret("s" * 12))
    with GraphClient(
        settings, transport=httpx.MockTransport(answer), clock=lambda: now[0]
    ) as client:
        client.check_access()
        now[0] = 3000.0
        client.check_access()
        now[0] = 3500.0
        client.check_access()
    assert len(forms) == 2
    assert forms[0] == {
        "grant_type": ["client_credentials"],
        "client_id": ["app"],
        "scope": ["https://graph.microsoft.com/.default"],
        "client_secret": ["s" * 12],
    }
