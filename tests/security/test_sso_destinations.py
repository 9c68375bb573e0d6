"""Single sign-on is no way into the platform's network (issue #15).

A university's owner names an issuer; the issuer's discovery document names the key set, the token
and the userinfo endpoints. All of them are someone else's choice, and intake fetched every one from
wherever it pointed: 169.254.169.254, a private address, a name resolving to loopback. Now every call
to a provider goes through `common.outbound` (the same rules as webhooks, `common/destinations.py`)
and connects to the address that was checked. Against real HTTP servers on loopback (the provider
on 127.0.0.5, let through by the allow-list; a trap on 127.0.0.1 that must never be reached) and a
real DNS server whose answers the tests change.
"""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import ECKey

from common import destinations
from common.outbound import Outbound
from services.intake import sso
from tests.conftest import free_port
from tests.dns_server import dns_server  # noqa: F401  (fixture)
from tests.integration.test_intake_api import intake  # noqa: F401  (fixture)

PROVIDER_HOST = "127.0.0.5"  # the only loopback address the allow-list names
REDIRECT = "http://127.0.0.1:9/sso/seu/callback"


class Trap:
    """A listener on 127.0.0.1 standing for an internal service: counts every connection made to it."""

    def __init__(self, port: int | None = None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


class Provider:
    """A provider's documents on 127.0.0.5: `documents` maps a path to a JSON body, or to ("redirect", url)."""

    def __init__(self, port: int | None = None, tls: tuple[str, str] | None = None):
        self.documents: dict[str, object] = {}
        self.requests: list[str] = []
        self.server_names: list[str] = []  # the names clients asked for in TLS (SNI)
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                provider.requests.append(self.path)
                found = provider.documents.get(self.path.split("?")[0])
                if isinstance(found, tuple):
                    self.send_response(302)
                    self.send_header("Location", found[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(found if found is not None else {"error": "not_found"}).encode()
                self.send_response(200 if found is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((PROVIDER_HOST, port or 0), Handler)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        if tls is not None:  # (certificate, key)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = PROVIDER_HOST) -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def publish(self, issuer: str, base: str | None = None, **endpoints):
        """A discovery document for `issuer`; endpoints default to the provider's own paths under `base` (the issuer)."""
        base = base or issuer
        self.documents["/.well-known/openid-configuration"] = {
            "issuer": issuer, "authorization_endpoint": f"{base}/auth", "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks", "userinfo_endpoint": f"{base}/me", **endpoints}
        self.documents["/jwks"] = {"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap():
    listener = Trap()
    yield listener
    listener.close()


@pytest.fixture
def provider():
    running = Provider()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def fresh_cache():
    sso.forget_providers()
    yield
    sso.forget_providers()


def refused(call) -> sso.SsoDestinationRefused:
    with pytest.raises(sso.SsoDestinationRefused) as caught:
        call()
    return caught.value


def test_every_class_of_internal_issuer_is_refused_before_any_connection(trap, dns_server):  # noqa: F811
    outbound = Outbound(destinations.SSO, "", dns_server.address)  # the default: nothing but public addresses
    dns_server.answers["loopback.seu.test"] = ["127.0.0.1"]
    dns_server.answers["metadata.seu.test"] = ["169.254.169.254"]
    dns_server.answers["intranet.seu.test"] = ["10.20.30.40"]
    dns_server.answers["public.seu.test"] = ["202.119.24.1"]
    cases = {
        f"http://127.0.0.1:{trap.port}": "sso_destination_not_public",  # loopback: the platform's own services
        f"http://loopback.seu.test:{trap.port}": "sso_destination_not_public",  # a name resolving to loopback
        "http://169.254.169.254": "sso_destination_not_public",  # the cloud's metadata service
        "http://metadata.seu.test": "sso_destination_not_public",
        "https://10.0.0.1": "sso_destination_not_public",
        "https://intranet.seu.test": "sso_destination_not_public",
        "https://192.168.1.1": "sso_destination_not_public",
        "https://[::1]": "sso_destination_not_public",
        "https://[::ffff:127.0.0.1]": "sso_destination_not_public",
        "https://[fe80::1]": "sso_destination_not_public",
        "http://2130706433": "sso_ip_form_refused",  # 127.0.0.1 as a decimal integer
        "http://0x7f.0.0.1": "sso_ip_form_refused",
        "https://admin:pw@public.seu.test": "sso_userinfo_refused",
        "https://public.seu.test:6379": "sso_port_refused",  # a public host, but not a web port
        "https://nowhere.seu.test": "sso_host_unresolved",
    }
    for issuer, code in cases.items():
        error = refused(lambda issuer=issuer: sso.discover(issuer, outbound=outbound))
        assert (error.code, error.status, error.field) == (code, 502, "issuer"), (issuer, error.to_dict())
        assert "身份提供方" in error.message and "配置文档" in error.message, error.message
    # the system's resolver too: localhost is loopback whatever it is called
    error = refused(lambda: sso.discover(f"http://localhost:{trap.port}", outbound=Outbound(destinations.SSO, "")))
    assert error.code == "sso_destination_not_public"
    assert "SSO_ALLOW_HOSTS" in error.message  # what an operator with a provider on premises does
    assert trap.connections == 0


def test_endpoints_the_provider_names_are_checked_like_the_issuer(provider, trap):
    """The issuer is let through (on premises, SSO_ALLOW_HOSTS); what its document names is checked again."""
    outbound = Outbound(destinations.SSO, PROVIDER_HOST)
    issuer = provider.url()
    internal = f"http://127.0.0.1:{trap.port}"
    provider.publish(issuer, jwks_uri=f"{internal}/jwks")
    error = refused(lambda: sso.discover(issuer, outbound=outbound))
    assert error.code == "sso_destination_not_public" and "签名公钥" in error.message

    sso.forget_providers()
    provider.publish(issuer, token_endpoint=f"{internal}/token", userinfo_endpoint=f"{internal}/me")
    settings = sso.OidcSettings(issuer, "intake-seu", "secret-0123456789-abcdefghij")
    url, state, nonce, verifier = sso.begin(settings, REDIRECT, outbound=outbound)  # the browser goes there, not us
    assert url.startswith(f"{issuer}/auth?")
    error = refused(lambda: sso.finish(settings, REDIRECT, {"state": [state], "code": ["c"]}, state, nonce, verifier,
                                       outbound=outbound))
    assert error.code == "sso_destination_not_public" and "令牌端点" in error.message
    assert trap.connections == 0


def test_a_redirect_to_an_internal_address_is_refused(provider, trap):
    outbound = Outbound(destinations.SSO, PROVIDER_HOST)
    issuer = provider.url()
    provider.documents["/.well-known/openid-configuration"] = ("redirect", f"http://127.0.0.1:{trap.port}/doc")
    assert refused(lambda: sso.discover(issuer, outbound=outbound)).code == "sso_destination_not_public"
    assert provider.requests == ["/.well-known/openid-configuration"] and trap.connections == 0


def test_the_call_goes_to_the_address_that_was_checked_not_a_second_resolution(dns_server):  # noqa: F811
    """A name that answers the allowed address to the check and 127.0.0.1 afterwards (DNS rebinding)."""
    port = free_port()
    provider, trap = Provider(port), Trap(port)  # the same port on two loopback addresses
    try:
        outbound = Outbound(destinations.SSO, PROVIDER_HOST, dns_server.address)
        issuer = f"http://idp.seu.test:{port}"
        provider.publish(issuer, base=provider.url())  # endpoints by address: no second name to resolve
        dns_server.answers["idp.seu.test"] = [PROVIDER_HOST, "127.0.0.1"]
        metadata = sso.discover(issuer, outbound=outbound)
        assert metadata.issuer == issuer and metadata.keys.keys
        # the document came from the address checked; the connection resolved nothing (the next answer is 127.0.0.1)
        assert provider.requests == ["/.well-known/openid-configuration", "/jwks"], provider.requests
        assert dns_server.queries == ["idp.seu.test"] and trap.connections == 0
        # asked again now, the name is private: refused before connecting
        error = refused(lambda: sso.discover(issuer, outbound=outbound, refresh=True))
        assert error.code == "sso_destination_not_public" and trap.connections == 0
    finally:
        provider.close()
        trap.close()


def test_https_goes_to_the_checked_address_with_the_name_for_the_certificate(dns_server, tmp_path,  # noqa: F811
                                                                             monkeypatch):
    """The production path: the connection is pinned to the checked address, TLS still checks the name."""
    cert, key = tmp_path / "idp.pem", tmp_path / "idp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=idp.seu.test",
                    "-addext", "subjectAltName=DNS:idp.seu.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # how an operator trusts a campus CA
    provider = Provider(tls=(str(cert), str(key)))
    try:
        outbound = Outbound(destinations.SSO, PROVIDER_HOST, dns_server.address)
        dns_server.answers["idp.seu.test"] = [PROVIDER_HOST]
        dns_server.answers["imposter.seu.test"] = [PROVIDER_HOST]
        issuer = provider.url("idp.seu.test")
        provider.publish(issuer)
        assert sso.discover(issuer, outbound=outbound).issuer == issuer
        assert set(provider.server_names) == {"idp.seu.test"}  # the name, not the address connected to
        # another name for the same address: its certificate does not match, nothing is read
        sso.forget_providers()
        with pytest.raises(sso.SsoProviderUnreachable) as mismatch:
            sso.discover(provider.url("imposter.seu.test"), outbound=outbound)
        assert mismatch.value.found == "SSLError"
    finally:
        provider.close()


def test_an_internal_issuer_is_refused_when_the_owner_saves_it(intake, trap):  # noqa: F811
    """Over intake's API with its default settings (no SSO_ALLOW_HOSTS): refused at once, nothing saved."""
    seu = intake["seu"]
    body = {"client_id": "intake-seu", "client_secret": "secret-0123456789-abcdefghij"}
    for issuer in ("https://169.254.169.254", f"http://127.0.0.1:{trap.port}", "https://10.1.2.3/oidc"):
        r = seu("PUT", "/api/v1/sso", json={**body, "issuer": issuer})
        assert r.status_code == 422, r.text
        [problem] = r.json()["error"]["details"]
        assert (problem["code"], problem["field"]) == ("sso_destination_not_public", "issuer"), problem
        assert "SSO_ALLOW_HOSTS" in problem["message"]
    assert seu("GET", "/api/v1/sso").json()["configured"] is False
    assert trap.connections == 0
