"""API keys as scoped credentials: what each scope opens, which route needs which, and what a new key may be.

A key belongs to its tenant and, for a person's own key, to an account. It carries scopes:

    submit      a university portal: read campaigns and orgs, create, edit, submit and withdraw works, upload files
    read:feeds  a dashboard integration: notify's progress and forwarded-works feeds and its library (nothing here but /me)
    admin       manage the tenant: publish campaigns, import orgs, grant extensions, people, keys, the audit log

An integration key (a portal, a dashboard) gets `submit` and/or `read:feeds`; `admin` only on a person's own key
(a person who manages the tenant, acting as themselves). Keys issued before scopes existed have none recorded
and keep every scope (the university owner's portal key), so no portal broke when scopes arrived.
Every key expires (at most a year); rotating one issues its successor and lets the old one live on for an overlap
so a portal can be redeployed without a gap. Pure: no framework.
"""
from __future__ import annotations

from datetime import timedelta

from common.lifecycle import State
from services.intake.domain.people import Problem


class Scope(State):
    SUBMIT = "submit", "报送作品（高校门户）"
    READ_FEEDS = "read:feeds", "读取进度与报送作品数据（看板集成）"
    ADMIN = "admin", "管理本单位（活动、组织、人员、密钥、审计日志）"


ALL_SCOPES = frozenset(s.value for s in Scope)
INTEGRATION_SCOPES = frozenset({Scope.SUBMIT.value, Scope.READ_FEEDS.value})
ANY = "any"  # a route every valid key may call (who am I)

MAX_KEY_DAYS = 366
DEFAULT_KEY_DAYS = 365
MAX_OVERLAP_HOURS = 30 * 24
DEFAULT_OVERLAP_HOURS = 7 * 24

# (method, path in the API document) -> the scope it needs. tests/unit/test_key_scopes.py checks that every
# documented operation with a key is here, so a new route cannot be forgotten (and open to every key).
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/me"): ANY,
    ("GET", "/api/v1/campaigns"): Scope.SUBMIT,
    ("POST", "/api/v1/campaigns"): Scope.ADMIN,
    ("GET", "/api/v1/campaigns/{campaign_id}"): Scope.SUBMIT,
    ("GET", "/api/v1/orgs"): Scope.SUBMIT,
    ("POST", "/api/v1/orgs/import"): Scope.ADMIN,
    ("GET", "/api/v1/orgs/template.xlsx"): Scope.ADMIN,
    ("GET", "/api/v1/orgs/{org_id}"): Scope.SUBMIT,
    ("GET", "/api/v1/submissions"): Scope.SUBMIT,
    ("POST", "/api/v1/submissions"): Scope.SUBMIT,
    ("GET", "/api/v1/submissions/{submission_id}"): Scope.SUBMIT,
    ("PATCH", "/api/v1/submissions/{submission_id}"): Scope.SUBMIT,
    ("POST", "/api/v1/submissions/{submission_id}/submit"): Scope.SUBMIT,
    ("POST", "/api/v1/submissions/{submission_id}/withdraw"): Scope.SUBMIT,
    ("GET", "/api/v1/submissions/{submission_id}/receipts"): Scope.SUBMIT,
    ("POST", "/api/v1/submissions/{submission_id}/files"): Scope.SUBMIT,
    ("GET", "/api/v1/files/{file_id}"): Scope.SUBMIT,
    ("DELETE", "/api/v1/files/{file_id}"): Scope.SUBMIT,
    ("POST", "/api/v1/files/{file_id}/complete"): Scope.SUBMIT,
    ("GET", "/api/v1/extensions"): Scope.SUBMIT,
    ("POST", "/api/v1/extensions"): Scope.ADMIN,
    ("GET", "/api/v1/accounts"): Scope.ADMIN,
    ("POST", "/api/v1/accounts"): Scope.ADMIN,
    ("POST", "/api/v1/accounts/import"): Scope.ADMIN,
    ("GET", "/api/v1/accounts/{account_id}"): Scope.ADMIN,
    ("POST", "/api/v1/accounts/{account_id}/grants"): Scope.ADMIN,
    ("DELETE", "/api/v1/accounts/{account_id}/grants/{grant_id}"): Scope.ADMIN,
    ("POST", "/api/v1/accounts/{account_id}/disable"): Scope.ADMIN,
    ("POST", "/api/v1/accounts/{account_id}/enable"): Scope.ADMIN,
    ("POST", "/api/v1/accounts/{account_id}/second-factor/reset"): Scope.ADMIN,
    ("GET", "/api/v1/audit"): Scope.ADMIN,
    ("GET", "/api/v1/audit.xlsx"): Scope.ADMIN,
    ("GET", "/api/v1/keys"): Scope.ADMIN,
    ("POST", "/api/v1/keys"): Scope.ADMIN,
    ("POST", "/api/v1/keys/{key_id}/rotate"): Scope.ADMIN,
    ("DELETE", "/api/v1/keys/{key_id}"): Scope.ADMIN,
    ("GET", "/api/v1/sso"): Scope.ADMIN,
    ("PUT", "/api/v1/sso"): Scope.ADMIN,
    ("DELETE", "/api/v1/sso"): Scope.ADMIN,
}


def scopes_of(stored: list[str] | None) -> frozenset[str]:
    """A key's scopes; none recorded (a key from before scopes) means every scope."""
    return ALL_SCOPES if stored is None else frozenset(stored)


def allows(stored: list[str] | None, needed: str) -> bool:
    return needed == ANY or str(needed) in scopes_of(stored)


def scope_refusal(needed: str, stored: list[str] | None) -> str:
    held = "、".join(Scope.label_of(s) for s in sorted(scopes_of(stored))) or "无"
    return (f"此密钥无权进行此操作：需要权限“{Scope(needed).label}”（{needed}），此密钥只有：{held}。"
            "请使用有该权限的密钥，或请单位管理员签发（POST /api/v1/keys）。")


def new_key_problems(label: object, scopes: object, days: object, for_person: bool) -> list[Problem]:
    """Every problem of a key to issue: a label, known scopes (admin only on a person's own key), a lifetime."""
    problems: list[Problem] = []
    if not isinstance(label, str) or not label.strip() or len(label) > 200:
        problems.append(Problem("invalid_key_label", "label", "1–200 个字符的说明", label,
                                "请填写密钥的用途（如“学校党建门户”“教育部看板”），1–200 个字符，便于日后识别和停用。"))
    allowed = ALL_SCOPES if for_person else INTEGRATION_SCOPES
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        choices = "、".join(f"{s}（{Scope.label_of(s)}）" for s in sorted(allowed))
        problems.append(Problem("invalid_key_scopes", "scopes", sorted(allowed), scopes,
                                f"请列出密钥的权限（至少一项）：{choices}。"))
    else:
        for s in scopes:
            if s not in ALL_SCOPES:
                problems.append(Problem("unknown_key_scope", "scopes", sorted(allowed), s,
                                        f"没有名为“{s[:40]}”的权限。可选：{'、'.join(sorted(allowed))}。"))
            elif s not in allowed:
                problems.append(Problem("admin_scope_not_for_integrations", "scopes", sorted(allowed), s,
                                        "集成密钥（门户、看板）不能拥有管理权限 admin：管理操作应由具体的人以本人身份进行。"
                                        "请只选 submit 或 read:feeds；管理本单位请登录平台。"))
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_KEY_DAYS:
        problems.append(Problem("invalid_key_lifetime", "expires_in_days", [1, MAX_KEY_DAYS], days,
                                f"密钥有效期应为 1 到 {MAX_KEY_DAYS} 天（整数），实际为“{days}”。到期前可轮换（rotate）。"))
    return problems


def overlap_problem(hours: object) -> Problem | None:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_OVERLAP_HOURS:
        return Problem("invalid_overlap", "overlap_hours", [0, MAX_OVERLAP_HOURS], hours,
                       f"新旧密钥并存的时间应为 0 到 {MAX_OVERLAP_HOURS} 小时（整数），实际为“{hours}”。"
                       "门户换上新密钥需要多久，就填多久；默认 168 小时（7 天）。")
    return None


def overlap(hours: int) -> timedelta:
    return timedelta(hours=hours)
