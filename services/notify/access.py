"""Who is calling: the holder of an API key, from notify's copy of intake's keys (`api_key_issued`,
`api_key_revoked`), or a person signed in to the pages (with a key, or from the platform: people.py)."""
from __future__ import annotations

from common.auth import hash_key, invalid_key
from common.copies import key_holder
from common.errors import Forbidden
from services.notify.models import ApiKeyCopy, TenantName

# Who may use the dashboard and library pages: a web session opened with a university's or the ministry's
# key (`tenant_kind`), or by a person whose grants show progress here (people.session_of gives them the
# same two roles); never another service's or another purpose's.
VIEWER_ROLES = ("ministry", "university")


def key_tenant(session, key: str) -> str | None:
    """The tenant whose rows the key's holder may see; None means all (the ministry). A wrong key: 401."""
    row = key_holder(session, ApiKeyCopy, hash_key(key))
    if row is None:
        raise invalid_key(key)
    if row.reach:
        raise reach_refused()
    return None if row.tenant_kind == "ministry" else row.tenant


def reach_refused() -> Forbidden:
    """A portal key limited to some orgs or tracks: what notify serves (webhooks, the message log, progress) is
    the whole university's, so such a key would read past its reach here."""
    return Forbidden("此密钥只适用于部分组织或赛道，而通知服务的 webhook 订阅、消息记录和进度看板都按全校提供。"
                     "请用不受限的报送密钥（scopes 含 submit，不设 org_ids 和 tracks）调用通知服务；"
                     "受限密钥只用于报送服务（intake）的作品接口。", code="key_reach",
                     expected="不受组织或赛道限制的密钥", found="受限密钥")


def signed_in_as(session, key_hash: str) -> dict | None:
    """What a web session opened with this key holds (role, tenant); None for a key that is not valid."""
    row = key_holder(session, ApiKeyCopy, key_hash)
    if row is not None and row.reach:
        raise reach_refused()
    return None if row is None else {"role": row.tenant_kind, "tenant": row.tenant}


def viewer_name(session, visitor: dict) -> str:
    """Whose pages these are, as the page heading names them."""
    return tenant_label(session, None if visitor["role"] == "ministry" else visitor["tenant"])


def tenant_label(session, tenant: str | None) -> str:
    """A university's name as notify knows it (its slug until then); None is the ministry, seeing them all."""
    if tenant is None:
        return "教育部思政司"
    name = session.get(TenantName, tenant)
    return name.name if name else tenant
