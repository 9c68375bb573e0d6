"""Single sign-on on intake's pages (issue #15), through a real OpenID Connect provider (oidc-provider under Node.js on
loopback, tests/oidc_provider.py): a tenant configures its provider over the API, a person signs in through it, is
found or created with the grants the tenant's rules give, and what must be refused is refused."""
from __future__ import annotations

import pytest
import requests

from common import clock
from tests.integration.test_intake_accounts import db, invite  # noqa: F401  (fixture)
from tests.integration.test_intake_api import error_of, start_intake
from tests.integration.test_intake_signin import events, signed_in_as
from tests.oidc_provider import Client, running_provider, sign_in

SECRET = "seu-sso-secret-0123456789-abcdefghij"


@pytest.fixture
def intake(db_url, make_config, start_service):
    """Intake calling the test provider on loopback: SSO_ALLOW_HOSTS names it, as an on-premises provider would be."""
    yield start_intake(db_url, make_config, start_service, SSO_ALLOW_HOSTS="127.0.0.1")
    clock.set_start(None)


@pytest.fixture
def provider(intake, tmp_path):  # noqa: F811
    callback = f"{intake['base']}/sso/seu/callback"
    with running_provider(tmp_path, [Client("intake-seu", SECRET, [callback])]) as running:
        yield running


def configure(seu, issuer, **extra):
    body = {"issuer": issuer, "client_id": "intake-seu", "client_secret": SECRET,
            "scopes": ["openid", "email", "profile", "staff"],
            "grant_rules": [{"claim": "staff_no", "value": "2020001", "role": "viewer"}], **extra}
    return seu("PUT", "/api/v1/sso", json=body)


def through_provider(base, account, web=None):
    """A browser: start at intake, sign in at the provider as `account`, come back to intake's callback."""
    web = web or requests.Session()
    start = web.get(f"{base}/sso/seu/start", allow_redirects=False, timeout=30)
    assert start.status_code == 303, start.text[:500]
    args = sign_in(start.headers["Location"], f"{base}/sso/seu/callback", account=account)
    return web, web.get(f"{base}/sso/seu/callback", params=args, allow_redirects=False, timeout=30)


def test_a_tenant_configures_its_provider_and_a_person_signs_in_through_it(intake, db, provider):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    assert seu("GET", "/api/v1/sso").json() == {"configured": False}
    bad = configure(seu, "ftp://idp.example", client_secret="", scopes=["email"],
                    grant_rules=[{"claim": "staff_no", "value": "1", "role": "emperor"}])
    codes = [d["code"] for d in error_of(bad, 422, "sso_settings_invalid")["details"]]
    assert len(codes) >= 4 and "unknown_role" in codes
    assert seu("GET", "/api/v1/sso").json() == {"configured": False}  # nothing saved

    r = configure(seu, provider.issuer)
    assert r.status_code == 200, r.text
    saved = seu("GET", "/api/v1/sso").json()
    assert saved["configured"] and saved["client_secret_set"] and SECRET not in seu("GET", "/api/v1/sso").text
    # the secret is sealed in the database, not written out
    from services.intake.models import SsoProvider

    with db.transaction() as session:
        assert SECRET not in session.get(SsoProvider, "seu").client_secret
    assert "东南大学统一身份认证" in requests.get(f"{base}/sign-in", timeout=10).text

    # 王老师 has no account: the rule (staff number 2020001 -> viewer) gives one, active, at the first sign-in
    web, r = through_provider(base, "t001")
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text[:500]
    assert signed_in_as(web, base) == "王老师"
    [person] = seu("GET", "/api/v1/accounts", params={"q": "wang@seu.edu.cn"}).json()["items"]
    assert person["state"] == "active" and [g["role"] for g in person["grants"]] == ["viewer"]
    # (the fixture published and imported before it set the platform's clock to 2020: those rows sort first)
    actions = [e["action"] for e in seu("GET", "/api/v1/audit").json()["items"]
               if e["action"].startswith(("account.", "grant.", "sso."))]
    assert actions[:4] == ["account.signed_in", "grant.added", "account.created_by_sso", "sso.configured"]
    # again: the same account, no second grant
    web, r = through_provider(base, "t001")
    assert r.status_code == 303 and signed_in_as(web, base) == "王老师"
    assert len(seu("GET", "/api/v1/accounts", params={"q": "wang@seu.edu.cn"}).json()["items"][0]["grants"]) == 1
    assert events(db, "account_link_requested") == []  # no mail was needed


def test_what_single_sign_on_refuses(intake, db, provider):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    assert configure(seu, provider.issuer).status_code == 200
    # someone the rules give nothing and who has no account
    _, r = through_provider(base, "t002")
    assert r.status_code == 403 and "还没有账号" in r.text
    # an address the provider has not verified
    _, r = through_provider(base, "t004")
    assert r.status_code == 422 and "尚未经过验证" in r.text
    # a person whose home is another university
    wust = intake["wust"]
    assert invite(wust, "li.ming@wust.edu.cn", {"role": "viewer"}, name="李明").status_code == 201
    assert seu("PUT", "/api/v1/sso", json={
        "issuer": provider.issuer, "client_id": "intake-seu", "scopes": ["openid", "email", "profile", "staff"],
        "grant_rules": [{"claim": "staff_no", "value": "2020002", "role": "viewer"}]}).status_code == 200  # secret kept
    _, r = through_provider(base, "t002")
    assert r.status_code == 403 and "属于其他单位" in r.text
    # a callback not started here (no flow cookie), and one with another state
    r = requests.get(f"{base}/sso/seu/callback", params={"code": "x", "state": "y"}, timeout=10)
    assert r.status_code == 400 and "重新点击" in r.text
    web = requests.Session()
    start = web.get(f"{base}/sso/seu/start", allow_redirects=False, timeout=30)
    args = sign_in(start.headers["Location"], f"{base}/sso/seu/callback", account="t001")
    args["state"] = ["forged"]
    r = web.get(f"{base}/sso/seu/callback", params=args, allow_redirects=False, timeout=30)
    assert r.status_code == 400 and signed_in_as(web, base) is None
    # a tenant without a provider, and one whose provider was removed
    assert requests.get(f"{base}/sso/wust/start", allow_redirects=False, timeout=10).status_code == 404
    assert seu("DELETE", "/api/v1/sso").json() == {"configured": False}
    assert requests.get(f"{base}/sso/seu/start", allow_redirects=False, timeout=10).status_code == 404
    assert "统一身份认证登录" not in requests.get(f"{base}/sign-in", timeout=10).text


def by_staff_number(seu, issuer, *numbers):
    """Match by staff number; each of `numbers` gives a viewer grant (so a newcomer would get an account)."""
    return configure(seu, issuer, match_by="staff_no", staff_no_claim="staff_no",
                     grant_rules=[{"claim": "staff_no", "value": n, "role": "viewer"} for n in numbers])


def people_named(seu, q):
    return seu("GET", "/api/v1/accounts", params={"q": q}).json()["items"]


def test_a_tenant_matching_by_staff_number_finds_people_by_it_and_creates_newcomers_with_it(intake, db, provider):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    # the claim that carries it is required; then the choice is saved (it was refused until accounts had staff numbers)
    codes = [d["code"] for d in error_of(configure(seu, provider.issuer, match_by="staff_no"), 422,
                                         "sso_settings_invalid")["details"]]
    assert codes == ["staff_no_claim_required"]
    assert by_staff_number(seu, provider.issuer, "2020001", "2020005").status_code == 200
    saved = seu("GET", "/api/v1/sso").json()
    assert (saved["match_by"], saved["staff_no_claim"]) == ("staff_no", "staff_no")

    # 王老师 was invited under an older address with their staff number: the number finds them; the provider's
    # address (wang@seu.edu.cn) is not used to find or make anyone
    old = invite(seu, "wang.old@seu.edu.cn", {"role": "expert"}, name="王老师（旧邮箱）", staff_no="2020001")
    assert old.status_code == 201 and old.json()["staff_no"] == "2020001", old.text
    web, r = through_provider(base, "t001")
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text[:500]
    assert signed_in_as(web, base) == "王老师（旧邮箱）"
    assert people_named(seu, "wang@seu.edu.cn") == []
    [person] = people_named(seu, "2020001")
    assert (person["id"], person["email"], person["state"]) == (old.json()["id"], "wang.old@seu.edu.cn", "active")
    assert sorted(g["role"] for g in person["grants"]) == ["expert", "viewer"]  # the rule's grant added

    # 孙老师 has no account: the rule gives one, with the staff number and the provider's (verified) address
    web, r = through_provider(base, "t005")
    assert r.status_code == 303 and signed_in_as(web, base) == "孙老师", r.text[:500]
    [sun] = people_named(seu, "2020005")
    assert (sun["email"], sun["staff_no"], sun["state"]) == ("sun@seu.edu.cn", "2020005", "active")
    [created] = [e for e in seu("GET", "/api/v1/audit", params={"action": "account.created_by_sso"}).json()["items"]]
    assert created["object_id"] == sun["id"] and created["detail"]["staff_no"] == "2020005"
    assert created["actor"] == f"sso:{provider.issuer}"
    # the second time the same account, found by the number
    web, r = through_provider(base, "t005")
    assert r.status_code == 303 and signed_in_as(web, base) == "孙老师"
    assert len(people_named(seu, "2020005")) == 1 and len(people_named(seu, "sun@seu.edu.cn")) == 1


def test_what_matching_by_staff_number_refuses(intake, db, provider):  # noqa: F811
    seu, wust, base = intake["seu"], intake["wust"], intake["base"]
    assert by_staff_number(seu, provider.issuer, "2020002", "2020003", "2020004", "JS/2020-6", "2020007").status_code == 200
    before = seu("GET", "/api/v1/accounts").json()["total"]

    # no e-mail from the provider: nobody is found by the number, and no account can be made without an address
    web, r = through_provider(base, "t003")
    assert r.status_code == 422 and "还需要邮箱" in r.text and "2020003" in r.text and signed_in_as(web, base) is None
    # an address the provider has not verified does not go on a new account
    _, r = through_provider(base, "t004")
    assert r.status_code == 422 and "尚未经过验证" in r.text
    # a number the platform cannot record (a slash) makes no account either, and says what a staff number is
    _, r = through_provider(base, "t006")
    assert r.status_code == 422 and "JS/2020-6" in r.text and "工号只能包含" in r.text
    # the address belongs to another university's person: not made twice, not signed in
    assert invite(wust, "li.ming@wust.edu.cn", {"role": "viewer"}, name="李明").status_code == 201
    _, r = through_provider(base, "t002")
    assert r.status_code == 403 and "属于其他单位" in r.text
    # the address has an account here without the number: the owner records it, not a guess of ours
    zheng = invite(seu, "zheng@seu.edu.cn", {"role": "viewer"}, name="郑老师").json()
    _, r = through_provider(base, "t007")
    assert r.status_code == 403 and "没有登记工号 2020007" in r.text
    assert seu("GET", "/api/v1/accounts").json()["total"] == before + 1  # only 郑老师's, by invitation
    assert seu("GET", "/api/v1/audit", params={"action": "account.created_by_sso"}).json()["total"] == 0

    # once recorded, the number finds the account (and an unverified address does not matter to one found by it)
    assert seu("PATCH", f"/api/v1/accounts/{zheng['id']}", json={"staff_no": "2020007"}).status_code == 200
    web, r = through_provider(base, "t007")
    assert r.status_code == 303 and signed_in_as(web, base) == "郑老师", r.text[:500]
    qian = invite(seu, "qian@seu.edu.cn", {"role": "viewer"}, name="钱老师", staff_no="2020004")
    assert qian.status_code == 201, qian.text
    web, r = through_provider(base, "t004")
    assert r.status_code == 303 and signed_in_as(web, base) == "钱老师", r.text[:500]
    # a disabled account found by the number is refused
    assert seu("POST", f"/api/v1/accounts/{zheng['id']}/disable").status_code == 200
    web, r = through_provider(base, "t007")
    assert r.status_code == 403 and "已停用" in r.text and signed_in_as(web, base) is None
