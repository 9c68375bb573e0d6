"""API keys as scoped credentials over HTTP (issue #15): issue with scopes and a lifetime, the scope each route needs,
last use, rotation with overlap, expiry and revocation, against a running intake with a real RabbitMQ."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from common import clock
from tests.integration.test_intake_accounts import db  # noqa: F401  (fixture)
from tests.integration.test_intake_api import Portal, error_of, intake  # noqa: F401  (fixture)


def outbox(db, name):  # noqa: F811
    from services.intake.models import OutboxMessage

    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == name).order_by(OutboxMessage.id))
        return [r.envelope for r in rows]


def issue(owner, label, *scopes, days=None):
    body = {"label": label, "scopes": list(scopes)} | ({"expires_in_days": days} if days else {})
    r = owner("POST", "/api/v1/keys", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_portal_key_submits_works_and_cannot_manage_the_university(intake, db):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    [legacy] = seu("GET", "/api/v1/keys").json()["items"]
    assert legacy["legacy"] and legacy["scopes"] == ["admin", "publish", "read:feeds", "submit"] and legacy["state"] == "active"
    assert legacy["last_used_from"] == "127.0.0.1" and legacy["last_used_at"].endswith("+08:00")

    issued = issue(seu, "学校党建门户", "submit", days=180)
    assert issued["key"].startswith("sk_") and issued["scopes"] == ["submit"] and not issued["legacy"]
    assert datetime.fromisoformat(issued["expires_at"]) - clock.now() > timedelta(days=179)
    assert issued["key"] not in seu("GET", "/api/v1/keys").text  # shown once, never listed
    portal = Portal(base, issued["key"])
    assert portal("GET", "/api/v1/submissions").status_code == 200
    assert portal("GET", "/api/v1/orgs").status_code == 200
    for method, path in (("GET", "/api/v1/accounts"), ("GET", "/api/v1/audit"), ("GET", "/api/v1/keys"),
                         ("POST", "/api/v1/orgs/import"), ("GET", "/api/v1/orgs/template.xlsx")):
        error = error_of(portal(method, path), 403, "key_scope")
        assert "管理本单位" in error["message"] and error["found"] == ["submit"]
    # a dashboard's key reads who it is, and nothing of intake's works
    feeds = Portal(base, issue(seu, "校领导看板", "read:feeds")["key"])
    assert feeds("GET", "/api/v1/me").status_code == 200
    error_of(feeds("GET", "/api/v1/submissions"), 403, "key_scope")

    # integrations never manage: admin is refused on a new key, every problem at once
    r = seu("POST", "/api/v1/keys", json={"label": "  ", "scopes": ["admin", "everything"], "expires_in_days": 999})
    details = error_of(r, 422, "key_invalid")["details"]
    assert [d["code"] for d in details] == ["invalid_key_label", "admin_scope_not_for_integrations",
                                            "unknown_key_scope", "invalid_key_lifetime"]
    assert len(seu("GET", "/api/v1/keys").json()["items"]) == 3  # nothing issued by the refused request

    # review and notify learn the scopes with the key (notify keeps portal and dashboard keys, review admin keys)
    scoped = [e["data"].get("scopes") for e in outbox(db, "api_key_issued")]
    assert scoped[-2:] == [["submit"], ["read:feeds"]]
    assert [e["action"] for e in seu("GET", "/api/v1/audit", params={"action": "key.issued"}).json()["items"]] == [
        "key.issued", "key.issued"]


def test_rotation_keeps_the_old_key_for_the_overlap_then_it_expires_and_is_revoked(intake, db):  # noqa: F811
    from common.db import Store
    from services.intake.operations import keys as ops_keys

    seu, base = intake["seu"], intake["base"]
    first = issue(seu, "门户", "submit")
    r = seu("POST", f"/api/v1/keys/{first['id']}/rotate", json={"overlap_hours": 2})
    assert r.status_code == 201, r.text
    rotated = r.json()
    assert rotated["rotated_from"] == first["id"] and rotated["label"] == "门户" and rotated["scopes"] == ["submit"]
    old_ends = datetime.fromisoformat(rotated["previous"]["expires_at"])
    assert timedelta(hours=1, minutes=59) < old_ends - clock.now() <= timedelta(hours=2)
    old, new = Portal(base, first["key"]), Portal(base, rotated["key"])
    assert old("GET", "/api/v1/submissions").status_code == new("GET", "/api/v1/submissions").status_code == 200

    clock.set_start(clock.now() + timedelta(hours=3))  # the overlap is over
    error = error_of(old("GET", "/api/v1/submissions"), 401, "key_expired")
    assert "过期" in error["message"] and "轮换" in error["message"]
    assert new("GET", "/api/v1/submissions").status_code == 200
    store = Store(intake["config"]["DATABASE_URL"])
    try:
        from services.intake.admin import StandaloneOutbox as Outbox

        with store.transaction() as session:  # what the minute timer does: review and notify drop the key too
            assert ops_keys.expire_keys(session, Outbox()) == 1
        with store.transaction() as session:
            assert ops_keys.expire_keys(session, Outbox()) == 0
    finally:
        store.dispose()
    states = {k["id"]: k["state"] for k in seu("GET", "/api/v1/keys").json()["items"]}
    assert states[first["id"]] == "revoked" and states[rotated["id"]] == "active"
    assert len(outbox(db, "api_key_revoked")) == 1

    # no overlap: the old key stops at once; a revoked key cannot be rotated; another university's key is not ours
    r = seu("POST", f"/api/v1/keys/{rotated['id']}/rotate", json={"overlap_hours": 0})
    assert r.status_code == 201
    error_of(new("GET", "/api/v1/submissions"), 401, "invalid_api_key")
    error_of(seu("POST", f"/api/v1/keys/{rotated['id']}/rotate"), 422, "key_revoked")
    error_of(seu("POST", f"/api/v1/keys/{rotated['id']}/rotate", json={"overlap_hours": 9999}), 422, "key_invalid")
    wust_key = issue(intake["wust"], "门户", "submit")
    error_of(seu("DELETE", f"/api/v1/keys/{wust_key['id']}"), 404, "key_not_found")
    error_of(seu("POST", f"/api/v1/keys/{wust_key['id']}/rotate"), 404, "key_not_found")


def test_revoking_a_key_stops_it_at_once_and_is_recorded(intake, db):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    issued = issue(seu, "旧门户", "submit")
    portal = Portal(base, issued["key"])
    assert portal("GET", "/api/v1/submissions").status_code == 200
    r = seu("DELETE", f"/api/v1/keys/{issued['id']}")
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    error_of(portal("GET", "/api/v1/submissions"), 401, "invalid_api_key")
    assert seu("DELETE", f"/api/v1/keys/{issued['id']}").status_code == 200  # again: nothing more happens
    assert [e["data"]["key_hash"] for e in outbox(db, "api_key_revoked")] != []
    actions = [e["action"] for e in seu("GET", "/api/v1/audit").json()["items"] if e["action"].startswith("key.")]
    assert actions == ["key.revoked", "key.issued"]


def test_an_owner_acts_over_the_api_as_themselves_until_they_are_no_longer_owner(intake, db):  # noqa: F811
    import re

    import pyotp

    from tests.integration.test_intake_signin import enrol, person, post_form, sign_in

    seu, base = intake["seu"], intake["base"]
    account_id = person(intake, db, "boss@seu.edu.cn", {"role": "owner"}, name="周书记")
    web, _ = sign_in(base, "boss@seu.edu.cn")
    secret, page = enrol(web, base)
    assert post_form(web, f"{base}/account/second-factor", page, code=pyotp.TOTP(secret).now()).status_code == 303
    page = web.get(f"{base}/account/keys", timeout=10)
    assert page.status_code == 200 and "签发新密钥" in page.text
    r = post_form(web, f"{base}/account/keys", page.text, tenant="seu", label="人员导入脚本",
                  scopes=["admin", "submit"], expires_in_days="30")
    assert r.status_code == 201, r.text[:500]
    key = re.search(r'<code class="secret">(sk_[^<]+)</code>', r.text).group(1)
    own = Portal(base, key)
    assert own("GET", "/api/v1/accounts").status_code == 200  # admin, on a person's own key
    assert own("POST", "/api/v1/accounts", json={"name": "新同事", "email": "new@seu.edu.cn",
                                                "grants": [{"role": "viewer"}]}).status_code == 201
    invited = seu("GET", "/api/v1/audit", params={"action": "account.invited"}).json()["items"][0]
    assert invited["actor"].startswith(f"account:{account_id} (周书记) key:")  # the log names the person
    # another tenant is not theirs to key; a page of keys lists only their own, never the key itself
    r = post_form(web, f"{base}/account/keys", page.text, tenant="wust", label="x", scopes=["admin"],
                  expires_in_days="30")
    assert r.status_code == 404
    assert key not in web.get(f"{base}/account/keys", timeout=10).text

    # a second owner removes the first's role: the first's own key stops at once
    second = person(intake, db, "deputy@seu.edu.cn", {"role": "owner"}, name="吴副书记")
    assert second
    grant = next(g["id"] for g in seu("GET", f"/api/v1/accounts/{account_id}").json()["grants"] if g["role"] == "owner")
    assert seu("DELETE", f"/api/v1/accounts/{account_id}/grants/{grant}").status_code == 200
    error_of(own("GET", "/api/v1/accounts"), 401, "invalid_api_key")
