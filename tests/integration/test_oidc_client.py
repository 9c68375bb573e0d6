"""Intake's OpenID Connect client (services/intake/sso.py) against a real provider (tests/support_oidc: oidc-provider
under Node.js, on loopback): the whole code flow with PKCE, as a browser would drive it, and what must fail.

Nothing is mocked: discovery, the keys, the login pages, the token and userinfo endpoints are the provider's own.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from common import destinations
from common.outbound import Outbound
from services.intake import sso
from tests.conftest import free_port
from tests.oidc_provider import Client, running_provider, sign_in

REDIRECT = "http://127.0.0.1:9/sso/seu/callback"  # nothing listens there: the tests stop at the redirect
SEU = Client("intake-seu", "seu-secret-0123456789-abcdefghij", [REDIRECT])
OTHER = Client("another-service", "other-secret-0123456789-abcdefgh", [REDIRECT])
SCOPES = ("openid", "email", "profile", "staff")
# the test provider listens on loopback, let through as an on-premises provider would be (SSO_ALLOW_HOSTS)
LOOPBACK = Outbound(destinations.SSO, "127.0.0.1")


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc"), [SEU, OTHER]) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_cache():
    sso.forget_providers()
    yield
    sso.forget_providers()


def settings_for(provider, client: Client = SEU, **changes) -> sso.OidcSettings:
    fields = dict(issuer=provider.issuer, client_id=client.client_id, client_secret=client.client_secret,
                  staff_no_claim="staff_no", scopes=SCOPES)
    return sso.OidcSettings(**{**fields, **changes})


def _signed_in(settings: sso.OidcSettings, account: str = "t001"):
    url, state, nonce, verifier = sso.begin(settings, REDIRECT, outbound=LOOPBACK)
    return sign_in(url, REDIRECT, account), state, nonce, verifier


def _raw_tokens(provider, client: Client, args, verifier) -> dict:
    """The token endpoint's answer to `client`, fetched by the test itself (to hold a real ID token in hand)."""
    response = requests.post(f"{provider.issuer}/token", auth=(client.client_id, client.client_secret), timeout=10,
                             data={"grant_type": "authorization_code", "code": args["code"][0],
                                   "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- the flow


def test_the_code_flow_signs_a_person_in_with_pkce(provider):
    settings = settings_for(provider)
    url, state, nonce, verifier = sso.begin(settings, REDIRECT, outbound=LOOPBACK)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{provider.issuer}/auth?")
    assert query["response_type"] == ["code"] and query["client_id"] == ["intake-seu"]
    assert query["redirect_uri"] == [REDIRECT] and query["scope"] == ["openid email profile staff"]
    assert query["state"] == [state] and query["nonce"] == [nonce]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == [challenge] and query["code_challenge_method"] == ["S256"]
    assert len({state, nonce, verifier}) == 3 and 43 <= len(verifier) <= 128

    args = sign_in(url, REDIRECT, "t001")
    assert args["state"] == [state] and args["iss"] == [provider.issuer] and args["code"]

    claims = sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert claims["sub"] == "t001" and claims["iss"] == provider.issuer and claims["aud"] == "intake-seu"
    assert claims["nonce"] == nonce
    # the provider puts these at the userinfo endpoint only: finish fetched them there
    assert (claims["email"], claims["name"], claims["staff_no"]) == ("wang@seu.edu.cn", "王老师", "2020001")
    identity = sso.claims_to_identity(settings, claims)
    assert identity == sso.Identity(by="email", value="wang@seu.edu.cn", issuer=provider.issuer, subject="t001",
                                    email="wang@seu.edu.cn", staff_no="2020001", name="王老师")


def test_begin_never_repeats_its_secrets(provider):
    settings = settings_for(provider)
    first, second = sso.begin(settings, REDIRECT, outbound=LOOPBACK), sso.begin(settings, REDIRECT, outbound=LOOPBACK)
    assert set(first[1:]).isdisjoint(second[1:])


def test_a_second_account_is_found_by_its_address_as_accounts_keep_it(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings, "t002")
    claims = sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert claims["email"] == " Li.Ming@WUST.edu.cn "
    identity = sso.claims_to_identity(settings, claims)
    assert (identity.by, identity.value, identity.subject, identity.name) == ("email", "li.ming@wust.edu.cn", "t002", "李明")


def test_a_tenant_that_matches_by_staff_number_finds_a_person_without_an_address(provider):
    by_staff_no = settings_for(provider, match_by="staff_no")
    args, state, nonce, verifier = _signed_in(by_staff_no, "t003")
    claims = sso.finish(by_staff_no, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert "email" not in claims
    identity = sso.claims_to_identity(by_staff_no, claims)
    assert (identity.by, identity.value, identity.email) == ("staff_no", "2020003", None)
    with pytest.raises(sso.SsoNoEmail) as no_email:
        sso.claims_to_identity(settings_for(provider), claims)
    assert no_email.value.code == "sso_no_email" and "邮箱" in no_email.value.message


def test_an_address_the_provider_has_not_verified_finds_no_account(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings, "t004")
    claims = sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    with pytest.raises(sso.SsoEmailUnverified) as unverified:
        sso.claims_to_identity(settings, claims)
    assert unverified.value.code == "sso_email_unverified" and "unverified@seu.edu.cn" in unverified.value.message


def test_a_provider_that_puts_the_claims_in_the_id_token_needs_no_userinfo(tmp_path):
    with running_provider(tmp_path, [SEU], id_token_claims=True) as provider:
        settings = settings_for(provider)
        args, state, nonce, verifier = _signed_in(settings)
        tokens = _raw_tokens(provider, SEU, args, verifier)
        metadata = sso.discover(provider.issuer, outbound=LOOPBACK)
        in_token = sso.validate_id_token(settings, metadata, tokens["id_token"], nonce, tokens["access_token"])
        assert in_token["email"] == "wang@seu.edu.cn" and in_token["staff_no"] == "2020001"
        args, state, nonce, verifier = _signed_in(settings)
        claims = sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
        assert sso.claims_to_identity(settings, claims).value == "wang@seu.edu.cn"


def test_grant_rules_apply_to_the_claims_the_provider_sent(provider):
    rules = (sso.GrantRule("staff_no", "2020001", "viewer"), sso.GrantRule("email", "li.ming@wust.edu.cn", "owner"))
    settings = settings_for(provider, grant_rules=rules)
    args, state, nonce, verifier = _signed_in(settings)
    claims = sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert [g.role for g in sso.claims_to_grants(settings, claims)] == ["viewer"]


# --------------------------------------------------------------------------- what must fail


def test_a_callback_with_another_state_is_refused_before_anything_is_exchanged(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings)
    other_state = sso.begin(settings, REDIRECT, outbound=LOOPBACK)[1]
    for expected, query in ((other_state, args), (state, {**args, "state": []}), (state, {k: v for k, v in args.items()
                                                                                         if k != "state"})):
        with pytest.raises(sso.SsoStateMismatch) as mismatch:
            sso.finish(settings, REDIRECT, query, expected, nonce, verifier, outbound=LOOPBACK)
        assert mismatch.value.code == "sso_state_mismatch" and mismatch.value.status == 400
        assert "重新点击" in mismatch.value.message
    # the refused callbacks did not spend the code: the right state still signs in
    assert sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)["sub"] == "t001"


def test_a_tampered_or_reused_code_is_refused_by_the_provider(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings)
    tampered = {**args, "code": [args["code"][0][:-2] + ("AA" if not args["code"][0].endswith("AA") else "BB")]}
    with pytest.raises(sso.SsoProviderError) as refused:
        sso.finish(settings, REDIRECT, tampered, state, nonce, verifier, outbound=LOOPBACK)
    assert refused.value.code == "sso_provider_error" and "invalid_grant" in refused.value.found
    sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    with pytest.raises(sso.SsoProviderError) as reused:
        sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert "invalid_grant" in reused.value.found


def test_a_code_is_worth_nothing_without_its_pkce_verifier(provider):
    settings = settings_for(provider)
    args, state, nonce, _ = _signed_in(settings)
    other_verifier = sso.begin(settings, REDIRECT, outbound=LOOPBACK)[3]
    with pytest.raises(sso.SsoProviderError) as refused:
        sso.finish(settings, REDIRECT, args, state, nonce, other_verifier, outbound=LOOPBACK)
    assert "invalid_grant" in refused.value.found


def test_a_wrong_client_secret_is_refused_and_the_message_says_what_to_check(provider):
    settings = settings_for(provider, client_secret="not-the-secret-registered-there")
    args, state, nonce, verifier = _signed_in(settings)
    with pytest.raises(sso.SsoProviderError) as refused:
        sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert "invalid_client" in refused.value.found and "客户端标识和密钥" in refused.value.message


def test_an_id_token_issued_to_another_client_is_refused(provider):
    other = settings_for(provider, OTHER)
    args, state, nonce, verifier = _signed_in(other)
    tokens = _raw_tokens(provider, OTHER, args, verifier)
    metadata = sso.discover(provider.issuer, outbound=LOOPBACK)
    # the token is genuine: it holds for the client it was issued to
    assert sso.validate_id_token(other, metadata, tokens["id_token"], nonce, tokens["access_token"])["aud"] \
        == OTHER.client_id
    with pytest.raises(sso.SsoTokenInvalid) as refused:
        sso.validate_id_token(settings_for(provider), metadata, tokens["id_token"], nonce, tokens["access_token"])
    assert refused.value.code == "sso_token_invalid" and refused.value.found == "aud"


def test_an_id_token_for_another_sign_in_is_refused_by_its_nonce(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings)
    other_nonce = sso.begin(settings, REDIRECT, outbound=LOOPBACK)[2]
    with pytest.raises(sso.SsoTokenInvalid) as refused:
        sso.finish(settings, REDIRECT, args, state, other_nonce, verifier, outbound=LOOPBACK)
    assert refused.value.found == "nonce" and refused.value.status == 401


def test_an_id_token_whose_claims_were_changed_fails_its_signature(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings)
    tokens = _raw_tokens(provider, SEU, args, verifier)
    header, payload, signature = tokens["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "t002"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(sso.SsoTokenInvalid) as refused:
        metadata = sso.discover(provider.issuer, outbound=LOOPBACK)
        sso.validate_id_token(settings, metadata, f"{header}.{forged_payload}.{signature}", nonce)
    assert refused.value.found == "bad_signature"


def test_a_person_who_cancels_at_the_provider_is_told_so(provider):
    settings = settings_for(provider)
    url, state, nonce, verifier = sso.begin(settings, REDIRECT, outbound=LOOPBACK)
    args = sign_in(url, REDIRECT, abort=True)
    assert args["error"] == ["access_denied"] and "code" not in args
    with pytest.raises(sso.SsoDenied) as denied:
        sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)
    assert denied.value.code == "sso_denied" and denied.value.status == 403 and "access_denied" in denied.value.message


def test_a_callback_naming_another_issuer_is_refused(provider):
    settings = settings_for(provider)
    args, state, nonce, verifier = _signed_in(settings)
    for query in ({**args, "iss": ["https://idp.example.edu.cn"]}, {k: v for k, v in args.items() if k != "iss"}):
        with pytest.raises(sso.SsoIssuerMismatch):
            sso.finish(settings, REDIRECT, query, state, nonce, verifier, outbound=LOOPBACK)


def test_a_provider_announcing_another_issuer_is_refused(provider):
    # the same provider, reached by another name: its document names http://127.0.0.1:PORT
    settings = settings_for(provider, issuer=f"http://localhost:{provider.port}")
    with pytest.raises(sso.SsoIssuerMismatch) as mismatch:
        sso.begin(settings, REDIRECT, outbound=LOOPBACK)
    assert mismatch.value.found == provider.issuer and provider.issuer in mismatch.value.message
    assert mismatch.value.field == "issuer"


def test_an_issuer_that_does_not_answer_is_reported_as_unreachable():
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(sso.SsoProviderUnreachable) as down:
        sso.begin(sso.OidcSettings(closed, "intake-seu", "secret"), REDIRECT, outbound=LOOPBACK)
    assert down.value.code == "sso_provider_unreachable" and down.value.status == 502
    assert "稍后再试" in down.value.message and closed in down.value.message
    # one that takes the connection and never answers: given up after the read timeout
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        issuer = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(sso.SsoProviderUnreachable) as slow:
            sso.discover(issuer, outbound=LOOPBACK, timeout=(1.0, 0.5))
        assert slow.value.found in ("ReadTimeout", "ConnectTimeout", "ConnectionError")


def test_invalid_settings_are_refused_before_any_request(provider):
    with pytest.raises(sso.SsoSettingsInvalid) as invalid:
        sso.begin(sso.OidcSettings("http://idp.seu.edu.cn", "", "secret", scopes=("email",)), REDIRECT, outbound=LOOPBACK)
    assert {d["code"] for d in invalid.value.details} == {"url_not_https", "missing_client_id", "scope_openid_missing"}


def test_keys_the_provider_rotated_are_fetched_again(tmp_path):
    port = free_port()
    with running_provider(tmp_path, [SEU], port=port) as provider:
        old_kid = sso.discover(provider.issuer, outbound=LOOPBACK).keys.keys[0].kid
    with running_provider(tmp_path, [SEU], port=port) as provider:  # same issuer, a new signing key
        settings = settings_for(provider)
        cached = sso.discover(provider.issuer, outbound=LOOPBACK)
        assert cached.keys.keys[0].kid == old_kid  # still the cached document
        args, state, nonce, verifier = _signed_in(settings)
        assert sso.finish(settings, REDIRECT, args, state, nonce, verifier, outbound=LOOPBACK)["sub"] == "t001"
        assert sso.discover(provider.issuer, outbound=LOOPBACK).keys.keys[0].kid != old_kid
