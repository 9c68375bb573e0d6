"""Intake's people use cases (operations/accounts.py, audit.py) on a migrated SQLite database, no broker:
what each writes (account, grants, invitation, outbox event, audit rows) and what it refuses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from common import clock
from common.db import Store, migrate
from common.errors import DomainError
from common.settings import migrations_dir
from services.intake import admin, operations as ops
from services.intake.models import Account, AccountGrant, AuditEntry, Invitation, Org, OutboxMessage
from services.intake.passwords import hash_password, verify_password

PUBLIC = "https://intake.example.edu.cn"


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url, migrations_dir("intake"))
    s = Store(url)
    with s.transaction() as session:
        for slug, name, kind in (("ministry", "教育部思政司", "ministry"), ("seu", "东南大学", "university"),
                                 ("wust", "武汉科技大学", "university")):
            admin.ensure_tenant(session, slug, name, kind)
            ops.issue_key(session, admin.StandaloneOutbox(), slug, "门户")
        session.add(Org(id="o-cse", tenant_id="seu", name="计算机科学与工程学院党委", level="level2"))
    yield s
    s.dispose()


def caller(session, slug):
    from services.intake.models import ApiKey, Tenant

    key = session.scalar(select(ApiKey).where(ApiKey.tenant_id == slug))
    return ops.Caller(session.get(Tenant, slug), f"key:{key.prefix} (门户)", "单位管理员", "10.0.0.7")


def invitations_sent(session):
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == "account_invited")
                           .order_by(OutboxMessage.id)).all()
    return [r.envelope for r in rows]


def token_of(event):
    return event["data"]["accept_url"].rsplit("/", 1)[-1]


def invite(store, slug, email, *grants, name="王宣传"):
    with store.transaction() as session:
        return ops.invite(session, admin.StandaloneOutbox(), caller(session, slug),
                          {"name": name, "email": email, "grants": list(grants)}, PUBLIC)


def test_an_invitation_writes_the_account_its_grants_one_link_its_event_and_the_audit_rows(store):
    status, body = invite(store, "seu", " WangXC@SEU.edu.cn ", {"role": "department_admin", "department": "propaganda"},
                          {"role": "org_admin", "org_id": "o-cse"})
    assert status == 201 and body["email"] == "wangxc@seu.edu.cn" and body["state"] == "invited"
    assert [g["label"] for g in body["grants"]] == ["部门管理员（党委宣传部）", "组织管理员（计算机科学与工程学院党委）"]
    with store.transaction() as session:
        [event] = invitations_sent(session)
        assert event["tenant"] == "seu" and event["data"]["roles"] == [g["label"] for g in body["grants"]]
        assert event["data"]["accept_url"].startswith(PUBLIC + "/invitations/")
        assert event["data"]["tenant_name"] == "东南大学" and event["data"]["invited_by"] == "单位管理员"
        [row] = session.scalars(select(Invitation)).all()
        assert row.token_hash == ops.token_hash(token_of(event)) and token_of(event) not in row.token_hash
        actions = [(a.action, a.actor, a.address) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert [a[0] for a in actions] == ["grant.added", "grant.added", "account.invited"]
        assert all(a[1].startswith("key:sk_") and a[1].endswith("(门户)") and a[2] == "10.0.0.7" for a in actions)


def test_a_refused_invitation_says_everything_and_writes_nothing(store):
    with pytest.raises(DomainError) as caught:
        invite(store, "seu", "not-an-address", {"role": "department_admin", "department": "sizheng"},
               {"role": "org_admin", "org_id": "o-nowhere"}, name="")
    assert caught.value.code == "invitation_invalid" and caught.value.status == 422
    assert {d["code"] for d in caught.value.details} == {"missing_name", "invalid_email", "unknown_department",
                                                         "org_not_found"}
    with store.transaction() as session:
        assert session.scalars(select(Account)).all() == [] and session.scalars(select(AuditEntry)).all() == []
        assert invitations_sent(session) == []


def test_accepting_sets_an_argon2_hash_once_and_a_second_invitation_voids_the_first(store):
    invite(store, "seu", "li@seu.edu.cn", {"role": "viewer"}, name="李书记")
    status, again = invite(store, "seu", "li@seu.edu.cn", {"role": "viewer"}, name="李某")
    assert status == 200 and again["name"] == "李书记" and again["invitation_sent"] is True
    with store.transaction() as session:
        first, second = (token_of(e) for e in invitations_sent(session))
        assert ops.invitation_view(session, first).refusal.code == "invitation_replaced"
        view = ops.invitation_view(session, second)
        assert (view.name, view.email, view.inviter, view.refusal) == ("李书记", "li@seu.edu.cn", "东南大学", None)
    with store.transaction() as session:
        ops.accept_invitation(session, second, hash_password("红旗飘飘党建引领2020"), "10.0.0.8")
    with store.transaction() as session:
        account = session.scalar(select(Account))
        assert account.state == "active" and account.password_hash.startswith("$argon2id$")
        assert verify_password(account.password_hash, "红旗飘飘党建引领2020")
        assert not verify_password(account.password_hash, "红旗飘飘党建引领2021")
        assert ops.invitation_view(session, second).refusal.code == "invitation_used"
        accepted = session.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.accepted"))
        assert accepted.actor == f"account:{account.id} (李书记)" and accepted.address == "10.0.0.8"
    with pytest.raises(DomainError) as caught, store.transaction() as session:
        ops.accept_invitation(session, second, hash_password("另一个密码另一个密码"), None)
    assert caught.value.code == "invitation_used"
    # a person with a password is not sent a link again
    status, again = invite(store, "seu", "li@seu.edu.cn", {"role": "expert"})
    assert again["invitation_sent"] is False
    with store.transaction() as session:
        assert len(invitations_sent(session)) == 2


def test_an_expired_link_is_refused(store):
    invite(store, "seu", "zhao@seu.edu.cn", {"role": "expert"})
    with store.transaction() as session:
        token = token_of(invitations_sent(session)[0])
    clock.set_start(datetime.now(timezone.utc) + ops.INVITATION_TTL + timedelta(minutes=1))
    try:
        with pytest.raises(DomainError) as caught, store.transaction() as session:
            ops.accept_invitation(session, token, hash_password("红旗飘飘党建引领2020"), None)
        assert (caught.value.code, caught.value.status) == ("invitation_expired", 410)
    finally:
        clock.set_start(None)


def test_the_ministry_invites_a_universitys_member_as_its_expert_and_each_sees_only_its_own_grants(store):
    _, seu_view = invite(store, "seu", "qian@seu.edu.cn", {"role": "viewer"}, name="钱教授")
    status, ministry_view = invite(store, "ministry", "QIAN@seu.edu.cn", {"role": "expert"}, name="钱")
    assert status == 200 and ministry_view["id"] == seu_view["id"] and ministry_view["home_tenant"] == "seu"
    assert [g["role"] for g in ministry_view["grants"]] == ["expert"]
    with store.transaction() as session:
        seu, ministry, wust = (caller(session, t) for t in ("seu", "ministry", "wust"))
        assert [g["role"] for g in ops.list_accounts(session, seu.tenant, {}, 1, 50)["items"][0]["grants"]] == ["viewer"]
        assert ops.list_accounts(session, wust.tenant, {}, 1, 50)["total"] == 0
        with pytest.raises(DomainError) as caught:
            ops.get_account(session, wust.tenant, seu_view["id"])
        assert caught.value.code == "account_not_found"
        account = ops.get_account(session, ministry.tenant, seu_view["id"])
        with pytest.raises(DomainError) as caught:
            ops.disable_account(session, admin.StandaloneOutbox(), ministry, account)
        assert caught.value.code == "not_home_tenant"


def test_grants_are_added_once_removed_by_their_tenant_and_disabling_is_recorded(store):
    _, body = invite(store, "seu", "sun@seu.edu.cn", {"role": "viewer"})
    with store.transaction() as session:
        seu = caller(session, "seu")
        account = ops.get_account(session, seu.tenant, body["id"])
        after = ops.add_grant(session, seu, account, {"role": "department_admin", "department": "organisation"})
        assert [g["label"] for g in after["grants"]] == ["查看者", "部门管理员（党委组织部）"]
    with pytest.raises(DomainError) as caught, store.transaction() as session:
        seu = caller(session, "seu")
        ops.add_grant(session, seu, ops.get_account(session, seu.tenant, body["id"]),
                      {"role": "department_admin", "department": "organisation"})
    assert caught.value.code == "grant_exists"
    with store.transaction() as session:
        seu = caller(session, "seu")
        account = ops.get_account(session, seu.tenant, body["id"])
        viewer = session.scalar(select(AccountGrant).where(AccountGrant.role == "viewer"))
        left = ops.remove_grant(session, admin.StandaloneOutbox(), seu, account, viewer.id)["grants"]
        assert [g["role"] for g in left] == ["department_admin"]
        assert ops.disable_account(session, admin.StandaloneOutbox(), seu, account)["state"] == "disabled"
        ops.disable_account(session, admin.StandaloneOutbox(), seu, account)  # again: nothing more happens
    with pytest.raises(DomainError) as caught:
        invite(store, "seu", "sun@seu.edu.cn", {"role": "viewer"})
    assert caught.value.code == "account_disabled"
    with store.transaction() as session:
        seu = caller(session, "seu")
        assert ops.enable_account(session, seu, ops.get_account(session, seu.tenant, body["id"]))["state"] == "invited"
        log = ops.list_audit(session, seu.tenant, None, None, None, 1, 50)
        assert [e["action"] for e in log["items"]][:4] == ["account.enabled", "account.disabled", "grant.removed",
                                                          "grant.added"]
        # removing a grant and disabling end the person's sessions on every service (disabling twice: once)
        ended = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == "account_sessions_ended")
                                .order_by(OutboxMessage.id)).all()
        assert [(e.envelope["data"]["account_id"], e.envelope["data"]["reason"]) for e in ended] == [
            (body["id"], "grant_removed"), (body["id"], "disabled")]
        assert log["items"][0]["at"].endswith("+08:00")
        assert ops.list_audit(session, seu.tenant, "grant.removed", None, None, 1, 50)["total"] == 1
        assert ops.list_audit(session, caller(session, "wust").tenant, None, None, None, 1, 50)["total"] == 0


def _active_owner(store, email, name):
    _, body = invite(store, "seu", email, {"role": "owner"}, name=name)
    with store.transaction() as session:
        token = token_of(invitations_sent(session)[-1])
        ops.accept_invitation(session, token, hash_password("红旗飘飘党建引领2020"), "10.0.0.8")
    return body["id"]


def test_a_university_keeps_one_owner_the_last_cannot_lose_the_role_or_be_disabled(store):
    first = _active_owner(store, "boss@seu.edu.cn", "周书记")

    def owner_grant(session, account_id):
        return session.scalar(select(AccountGrant).where(AccountGrant.account_id == account_id,
                                                         AccountGrant.role == "owner"))

    for act in ("remove", "disable"):
        with pytest.raises(DomainError) as caught, store.transaction() as session:
            seu = caller(session, "seu")
            account = ops.get_account(session, seu.tenant, first)
            if act == "remove":
                ops.remove_grant(session, admin.StandaloneOutbox(), seu, account, owner_grant(session, first).id)
            else:
                ops.disable_account(session, admin.StandaloneOutbox(), seu, account)
        assert caught.value.code == "last_owner" and "唯一的单位管理员" in caught.value.message
    second = _active_owner(store, "deputy@seu.edu.cn", "吴副书记")
    with store.transaction() as session:  # with a second owner, the first may step down
        seu = caller(session, "seu")
        account = ops.get_account(session, seu.tenant, first)
        ops.remove_grant(session, admin.StandaloneOutbox(), seu, account, owner_grant(session, first).id)
    with pytest.raises(DomainError) as caught, store.transaction() as session:
        seu = caller(session, "seu")
        ops.disable_account(session, admin.StandaloneOutbox(), seu, ops.get_account(session, seu.tenant, second))
    assert caught.value.code == "last_owner"
