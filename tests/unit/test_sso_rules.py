"""Single sign-on rules (services/intake/sso.py) that need no provider: the settings' problems, the claims an account is
found by, the grant rules, and the ID-token checks on tokens signed here with real keys (joserfc)."""
from __future__ import annotations

import base64
import hashlib
import re
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from common import destinations
from common.outbound import Outbound
from services.intake import sso
from services.intake.domain.people import GrantRequest, OrgFact

ISSUER = "https://idp.seu.edu.cn/oidc"
GOOD = sso.OidcSettings(ISSUER, "intake-seu", "s3cret", staff_no_claim="staff_no",
                        scopes=("openid", "email", "profile", "staff"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def with_(**changes) -> sso.OidcSettings:
    return sso.OidcSettings(**{**GOOD.__dict__, **changes})


# --------------------------------------------------------------------------- settings


def test_good_settings_have_no_problem():
    assert sso.settings_problems(GOOD) == []
    assert sso.settings_problems(sso.OidcSettings(ISSUER, "intake-seu", "s3cret")) == []


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8765", "http://localhost:8765/oidc", "http://[::1]:9000",
                                    "http://127.0.0.7", "https://idp.seu.edu.cn", "https://idp.seu.edu.cn/realms/seu/"])
def test_an_issuer_is_https_or_on_this_machine(issuer):
    assert sso.connection_problems(with_(issuer=issuer)) == []


@pytest.mark.parametrize("issuer, code", [
    ("http://idp.seu.edu.cn", "url_not_https"),
    ("http://10.0.0.5/oidc", "url_not_https"),
    ("http://localhost.seu.edu.cn", "url_not_https"),
    ("https://idp.seu.edu.cn/oidc?x=1", "url_has_extras"),
    ("https://idp.seu.edu.cn/oidc#top", "url_has_extras"),
    ("https://admin:pw@idp.seu.edu.cn", "url_has_extras"),
    ("idp.seu.edu.cn", "invalid_url"),
    ("ftp://idp.seu.edu.cn", "invalid_url"),
    ("https://idp.seu.edu.cn:port", "invalid_url"),
    ("https://idp seu.edu.cn", "invalid_url"),
    ("", "missing_url"),
    ("https://idp.seu.edu.cn/\n", "multiline"),
    ("https://idp.seu.edu.cn/" + "a" * 2000, "url_too_long"),
])
def test_a_bad_issuer_is_named_with_what_was_expected(issuer, code):
    [problem] = sso.connection_problems(with_(issuer=issuer))
    assert (problem.code, problem.field) == (code, "issuer")
    assert CHINESE.search(problem.message) and problem.found is not None


def test_every_problem_is_reported_at_once_in_chinese():
    bad = sso.OidcSettings("http://idp.seu.edu.cn", "", " s3cret", email_claim="e mail", staff_no_claim="工号",
                           match_by="name", scopes=("email", "email", "a b"))
    problems = sso.connection_problems(bad)
    assert codes(problems) == ["url_not_https", "missing_client_id", "invalid_client_secret", "invalid_claim_name",
                               "invalid_claim_name", "invalid_match_by", "invalid_scope", "scope_openid_missing",
                               "scopes_repeated"]
    assert [p.field for p in problems][:6] == ["issuer", "client_id", "client_secret", "email_claim", "staff_no_claim",
                                              "match_by"]
    for problem in problems:
        assert CHINESE.search(problem.message) and problem.message.endswith("。"), problem
    # the secret is never shown back: neither in the problem nor when the settings are printed
    assert "s3cret" not in repr(bad)


def test_matching_by_staff_number_needs_the_claim_that_carries_it():
    assert codes(sso.connection_problems(with_(match_by="staff_no", staff_no_claim=None))) == ["staff_no_claim_required"]
    assert sso.connection_problems(with_(match_by="staff_no", staff_no_claim="urn:oid:2.16.840.1.113730.3.1.3")) == []


def test_begin_refuses_invalid_settings_with_every_problem_in_details():
    with pytest.raises(sso.SsoSettingsInvalid) as invalid:
        sso.begin(with_(issuer="http://idp.seu.edu.cn", client_id=""), "https://intake.example/sso/seu/callback",
                  outbound=Outbound(destinations.SSO, ""))
    assert invalid.value.code == "sso_settings_invalid" and invalid.value.status == 400
    assert [d["code"] for d in invalid.value.details] == ["url_not_https", "missing_client_id"]
    assert "2 处问题" in invalid.value.message


def test_grant_rules_are_checked_like_grants_given_by_hand():
    college = OrgFact("org-cs", "计算机科学与工程学院党委", "level2")
    rules = (sso.GrantRule("eduPersonAffiliation", "faculty", "viewer"),
             sso.GrantRule("department", "cs", "org_admin", org_id="org-cs"),
             sso.GrantRule("department", "ee", "org_admin", org_id="org-ee"),
             sso.GrantRule("groups", "", "dean"),
             sso.GrantRule("groups", "propaganda", "department_admin"))
    problems = sso.settings_problems(with_(grant_rules=rules), tenant_name="东南大学", orgs={"org-cs": college})
    assert [(p.code, p.field) for p in problems] == [
        ("org_not_found", "grant_rules[2].org_id"),
        ("invalid_rule_value", "grant_rules[3].value"),
        ("unknown_role", "grant_rules[3].role"),
        ("department_required", "grant_rules[4].department"),
    ]
    assert "东南大学" in problems[0].message


# --------------------------------------------------------------------------- claims


def test_the_address_is_normalised_as_accounts_keep_it():
    for raw in ("Wang@SEU.edu.cn", "  wang@seu.edu.cn\t", "ｗａｎｇ＠ｓｅｕ．ｅｄｕ．ｃｎ"):
        identity = sso.claims_to_identity(GOOD, {"iss": ISSUER, "sub": "s1", "email": raw, "email_verified": True})
        assert (identity.by, identity.value, identity.email) == ("email", "wang@seu.edu.cn", "wang@seu.edu.cn")
    # a provider that does not say whether it verified the address is taken at its word
    assert sso.claims_to_identity(GOOD, {"sub": "s1", "email": "wang@seu.edu.cn"}).value == "wang@seu.edu.cn"


def test_a_missing_or_unusable_address_finds_no_account():
    for claims in ({"sub": "s1"}, {"sub": "s1", "email": ""}, {"sub": "s1", "email": "王老师"},
                   {"sub": "s1", "email": ["wang@seu.edu.cn"]}):
        with pytest.raises(sso.SsoNoEmail) as no_email:
            sso.claims_to_identity(GOOD, claims)
        assert no_email.value.code == "sso_no_email" and no_email.value.status == 422
        assert "声明 email" in no_email.value.message and "信息化部门" in no_email.value.message


def test_an_address_the_provider_marks_unverified_is_refused():
    with pytest.raises(sso.SsoEmailUnverified):
        sso.claims_to_identity(GOOD, {"sub": "s1", "email": "wang@seu.edu.cn", "email_verified": False})


def test_another_claim_may_carry_the_address():
    mail = with_(email_claim="mail")
    identity = sso.claims_to_identity(mail, {"sub": "s1", "mail": "Wang@seu.edu.cn", "email": "x@y.cn",
                                             "email_verified": False})
    assert identity.value == "wang@seu.edu.cn"


def test_the_staff_number_finds_the_account_when_the_tenant_chose_it():
    by_staff_no = with_(match_by="staff_no")
    for raw, expected in (("2020001", "2020001"), (" 2020001 ", "2020001"), (2020001, "2020001")):
        identity = sso.claims_to_identity(by_staff_no, {"sub": "s1", "staff_no": raw, "name": "王老师"})
        assert (identity.by, identity.value, identity.staff_no, identity.name) == ("staff_no", expected, expected, "王老师")
    for claims in ({"sub": "s1"}, {"sub": "s1", "staff_no": ""}, {"sub": "s1", "staff_no": True},
                   {"sub": "s1", "staff_no": "20\n01"}, {"sub": "s1", "staff_no": "1" * 65},
                   {"sub": "s1", "email": "wang@seu.edu.cn"}):
        with pytest.raises(sso.SsoNoStaffNo) as no_staff_no:
            sso.claims_to_identity(by_staff_no, claims)
        assert no_staff_no.value.code == "sso_no_staff_no"


def test_matching_by_staff_number_keeps_the_address_for_a_new_account_only_if_the_provider_verified_it():
    from services.intake.operations.sso import email_proven

    by_staff_no = with_(match_by="staff_no")
    unverified = {"sub": "s1", "staff_no": "2020004", "email": "Qian@seu.edu.cn", "email_verified": False}
    identity = sso.claims_to_identity(by_staff_no, unverified)  # found by the number: the address is not what counts
    assert (identity.by, identity.value, identity.email) == ("staff_no", "2020004", "qian@seu.edu.cn")
    assert email_proven(by_staff_no, unverified) is False  # but no account is made with it
    assert email_proven(by_staff_no, {**unverified, "email_verified": True})
    assert email_proven(by_staff_no, {"sub": "s1", "staff_no": "1", "email": "a@seu.edu.cn"})  # not said: as by e-mail
    # a claim other than `email` carries the address: `email_verified` speaks of another one
    assert email_proven(with_(match_by="staff_no", email_claim="mail"), {**unverified, "mail": "q@seu.edu.cn"})
    assert sso.settings_problems(by_staff_no) == []


def test_grant_rules_give_each_grant_once_in_their_order():
    rules = (sso.GrantRule("groups", "party-office", "department_admin", department="organisation"),
             sso.GrantRule("affiliation", "faculty", "viewer"),
             sso.GrantRule("groups", "party-office-2", "department_admin", department="organisation"),
             sso.GrantRule("staff_no", "2020001", "expert"),
             sso.GrantRule("verified", "True", "owner"))
    settings = with_(grant_rules=rules)
    claims = {"groups": ["party-office", "party-office-2"], "affiliation": "faculty", "staff_no": 2020001,
              "verified": True}
    assert sso.claims_to_grants(settings, claims) == [
        GrantRequest("department_admin", "organisation"), GrantRequest("viewer"), GrantRequest("expert")]
    assert sso.claims_to_grants(settings, {"groups": "other", "affiliation": ["student"]}) == []


# --------------------------------------------------------------------------- ID tokens


@pytest.fixture(scope="module")
def signer():
    return RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)


def metadata(keys: KeySet, algorithms=("RS256",)) -> sso.ProviderMetadata:
    return sso.ProviderMetadata(issuer=ISSUER, authorization_endpoint=f"{ISSUER}/auth",
                                token_endpoint=f"{ISSUER}/token", jwks_uri=f"{ISSUER}/jwks",
                                userinfo_endpoint=None, signing_algorithms=algorithms,
                                token_auth_methods=("client_secret_basic",), iss_parameter=True, keys=keys,
                                fetched_at=time.monotonic())


def published(key: RSAKey) -> KeySet:
    return KeySet.import_key_set(KeySet([key]).as_dict(private=False))


def id_token(key, header=None, **changes) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "t001", "aud": "intake-seu", "exp": now + 600, "iat": now, "nonce": "n-1",
              "email": "wang@seu.edu.cn"}
    claims.update(changes)
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, key)


def test_a_good_id_token_gives_its_claims(signer):
    claims = sso.validate_id_token(GOOD, metadata(published(signer)), id_token(signer), "n-1")
    assert claims["sub"] == "t001" and claims["email"] == "wang@seu.edu.cn"
    assert sso.validate_id_token(GOOD, metadata(published(signer)), id_token(signer, aud=["intake-seu"]), "n-1")


@pytest.mark.parametrize("changes, found", [
    ({"iss": "https://idp.example.edu.cn"}, "iss"),
    ({"aud": "another-client"}, "aud"),
    ({"aud": ["intake-seu", "another-client"], "azp": "intake-seu"}, ["intake-seu", "another-client"]),
    ({"nonce": "n-2"}, "nonce"),
    ({"nonce": None}, "nonce"),
    ({"exp": int(time.time()) - 120}, "exp"),
    ({"exp": None}, "exp"),
    ({"sub": None}, "sub"),
    ({"iat": None}, "iat"),
    ({"azp": "another-client"}, "azp"),
])
def test_an_id_token_that_does_not_hold_is_refused(signer, changes, found):
    with pytest.raises(sso.SsoTokenInvalid) as refused:
        sso.validate_id_token(GOOD, metadata(published(signer)), id_token(signer, **changes), "n-1")
    assert refused.value.code == "sso_token_invalid" and refused.value.status == 401
    assert refused.value.found == found and "身份令牌未通过校验" in refused.value.message


def test_a_token_signed_with_another_key_or_no_key_is_refused(signer):
    intruder = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    keys = metadata(published(signer))
    with pytest.raises(sso.SsoTokenInvalid) as forged:
        sso.validate_id_token(GOOD, keys, id_token(intruder), "n-1")
    assert forged.value.found == "bad_signature"
    # signed with the client secret (HS256): a token anyone holding the secret, ourselves included, could make
    secret = OctKey.import_key("s3cret-s3cret-s3cret-s3cret-s3cret")
    with pytest.raises(sso.SsoTokenInvalid):
        sso.validate_id_token(GOOD, metadata(KeySet([secret]), ("HS256",)),
                              id_token(secret, {"alg": "HS256"}), "n-1")
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    unsigned = header + "." + id_token(signer).split(".")[1] + "."
    with pytest.raises(sso.SsoTokenInvalid):
        sso.validate_id_token(GOOD, keys, unsigned, "n-1")
    for junk in (None, "", "not.a.jwt", "a.b"):
        with pytest.raises(sso.SsoTokenInvalid):
            sso.validate_id_token(GOOD, keys, junk, "n-1")


def test_the_access_token_hash_must_match_when_present(signer):
    keys = metadata(published(signer))
    # at_hash of "token-1" under RS256: the left half of its SHA-256, base64url
    at_hash = base64.urlsafe_b64encode(hashlib.sha256(b"token-1").digest()[:16]).rstrip(b"=").decode()
    assert sso.validate_id_token(GOOD, keys, id_token(signer, at_hash=at_hash), "n-1", "token-1")
    with pytest.raises(sso.SsoTokenInvalid) as refused:
        sso.validate_id_token(GOOD, keys, id_token(signer, at_hash=at_hash), "n-1", "token-2")
    assert refused.value.found == "at_hash"


def test_every_failure_has_its_own_stable_code():
    classes = [sso.SsoSettingsInvalid, sso.SsoProviderUnreachable, sso.SsoIssuerMismatch, sso.SsoStateMismatch,
               sso.SsoDenied, sso.SsoProviderError, sso.SsoTokenInvalid, sso.SsoNoEmail, sso.SsoEmailUnverified,
               sso.SsoNoStaffNo]
    assert [c.code for c in classes] == [
        "sso_settings_invalid", "sso_provider_unreachable", "sso_issuer_mismatch", "sso_state_mismatch", "sso_denied",
        "sso_provider_error", "sso_token_invalid", "sso_no_email", "sso_email_unverified", "sso_no_staff_no"]
    assert all(issubclass(c, sso.SsoError) for c in classes)
