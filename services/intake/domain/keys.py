"""API keys as scoped credentials: what each scope opens, which route needs which, and what a new key may be.

A key belongs to its tenant and, for a person's own key, to an account. It carries scopes:

    submit      a university portal: read campaigns and orgs, create, edit, submit and withdraw works, upload files
    read:feeds  a dashboard integration: notify's progress and forwarded-works feeds and its library (nothing here but /me)
    admin       manage the tenant: publish campaigns, import orgs, grant extensions, people, keys, the audit log
    publish     publish (and correct) campaigns: implied by admin; a college's org admin holds it on their own key to
                issue notices to their branches (机关党委's monthly 组织生活通知), deriving from the university's

An integration key (a portal, a dashboard) gets `submit` and/or `read:feeds`; `admin` only on a person's own key
(a person who manages the tenant, acting as themselves); an org admin's own key holds `submit` and/or `publish` and
reaches their org's subtree. Keys issued before scopes existed have none recorded
and keep every scope (the university owner's portal key), so no portal broke when scopes arrived.
Every key expires (at most a year); rotating one issues its successor and lets the old one live on for an overlap
so a portal can be redeployed without a gap.

A portal key may be limited to part of its tenant (its reach, `Reach`): some orgs, each with its subtree (a 院系党委's
portal reaches its branches, the rule an org admin's scope follows: common.levels.in_subtree), and/or some tracks.
Outside its reach a work, a file, an org or an extension reads as one that does not exist. An integration key with
`submit` may have a reach; a person's own key acts as the person: an owner's reaches the tenant, an org admin's exactly
the orgs they administer (from their grants, never from the request). Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from common.levels import in_subtree
from common.lifecycle import State
from services.intake.domain.people import Department, Problem, Role


class Scope(State):
    SUBMIT = "submit", "报送作品（高校门户）"
    READ_FEEDS = "read:feeds", "读取进度与报送作品数据（看板集成）"
    ADMIN = "admin", "管理本单位（活动、组织、人员、密钥、审计日志）"
    PUBLISH = "publish", "发布活动通知"


ALL_SCOPES = frozenset(s.value for s in Scope)
INTEGRATION_SCOPES = frozenset({Scope.SUBMIT.value, Scope.READ_FEEDS.value})
# a college's org admin acting as themselves: submit for their branches, publish notices to them; never admin
ORG_ADMIN_SCOPES = frozenset({Scope.SUBMIT.value, Scope.PUBLISH.value})
# what holding a scope also allows: whoever manages the tenant may publish its campaigns
IMPLIED_SCOPES = {Scope.ADMIN.value: frozenset({Scope.PUBLISH.value})}
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
    ("POST", "/api/v1/campaigns"): Scope.PUBLISH,
    ("POST", "/api/v1/campaigns/{campaign_id}/versions"): Scope.PUBLISH,
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
    ("PATCH", "/api/v1/accounts/{account_id}"): Scope.ADMIN,
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
    held = scopes_of(stored)
    return needed == ANY or str(needed) in held or any(str(needed) in IMPLIED_SCOPES.get(s, ()) for s in held)


def scope_refusal(needed: str, stored: list[str] | None) -> str:
    held = "、".join(Scope.label_of(s) for s in sorted(scopes_of(stored))) or "无"
    return (f"此密钥无权进行此操作：需要权限“{Scope(needed).label}”（{needed}），此密钥只有：{held}。"
            "请使用有该权限的密钥，或请单位管理员签发（POST /api/v1/keys）。")


def new_key_problems(label: object, scopes: object, days: object, for_person: bool,
                     org_admin: bool = False) -> list[Problem]:
    """Every problem of a key to issue: a label, known scopes (admin only on a person's own key, and not on an org
    admin's: `ORG_ADMIN_SCOPES`), a lifetime."""
    problems: list[Problem] = []
    if not isinstance(label, str) or not label.strip() or len(label) > 200:
        problems.append(Problem("invalid_key_label", "label", "1–200 个字符的说明", label,
                                "请填写密钥的用途（如“学校党建门户”“教育部看板”），1–200 个字符，便于日后识别和停用。"))
    allowed = (ORG_ADMIN_SCOPES if org_admin else ALL_SCOPES) if for_person else INTEGRATION_SCOPES
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        choices = "、".join(f"{s}（{Scope.label_of(s)}）" for s in sorted(allowed))
        problems.append(Problem("invalid_key_scopes", "scopes", sorted(allowed), scopes,
                                f"请列出密钥的权限（至少一项）：{choices}。"))
    else:
        for s in scopes:
            if s not in ALL_SCOPES:
                problems.append(Problem("unknown_key_scope", "scopes", sorted(allowed), s,
                                        f"没有名为“{s[:40]}”的权限。可选：{'、'.join(sorted(allowed))}。"))
            elif s not in allowed and org_admin:
                problems.append(Problem("scope_not_for_org_admin", "scopes", sorted(allowed), s,
                                        f"组织管理员本人的密钥只能有：{'、'.join(sorted(allowed))}（为本组织报送作品、"
                                        f"向下级组织发布活动通知），不能有“{s[:40]}”。管理全校事务请联系单位管理员。"))
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


# --------------------------------------------------------------------------- a key's reach

MAX_REACH_ENTRIES = 200  # a university has a few dozen level-2 orgs; 200 is far more than a real portal names
MAX_REACH_ID = 64  # an org id, a track key: longer is not one (found values are cut to this in answers)
REACH_FIELDS = ("org_ids", "tracks")


@dataclass(frozen=True)
class Reach:
    """The part of its tenant a key may touch: works of these orgs (each with its subtree) in these tracks.

    None on an axis: no limit on it; `WHOLE_TENANT` (both None) is every key's but a limited portal key's.
    Stored as `api_keys.reach`: {"org_ids": [...], "tracks": [...]}, an axis absent when not limited, NULL for the
    whole tenant."""

    org_ids: frozenset[str] | None = None
    tracks: frozenset[str] | None = None

    @classmethod
    def stored(cls, value: Mapping | None) -> Reach:
        if not value:
            return WHOLE_TENANT
        orgs, tracks = value.get("org_ids"), value.get("tracks")
        return cls(frozenset(orgs) if orgs is not None else None, frozenset(tracks) if tracks is not None else None)

    def to_stored(self) -> dict | None:
        if not self.limited:
            return None
        stored = {"org_ids": sorted(self.org_ids) if self.org_ids is not None else None,
                  "tracks": sorted(self.tracks) if self.tracks is not None else None}
        return {k: v for k, v in stored.items() if v is not None}

    @property
    def limited(self) -> bool:
        return self.org_ids is not None or self.tracks is not None

    def covers_org(self, org_id: str, parent_of: Mapping[str, str | None]) -> bool:
        """The org is one of the key's, or lies under one (`parent_of`: the tenant's org -> its parent)."""
        return self.org_ids is None or any(in_subtree(org_id, root, parent_of) for root in self.org_ids)

    def covers_track(self, track: str) -> bool:
        return self.tracks is None or track in self.tracks

    def covers(self, org_id: str, track: str, parent_of: Mapping[str, str | None]) -> bool:
        return self.covers_track(track) and self.covers_org(org_id, parent_of)

    def orgs_within(self, parent_of: Mapping[str, str | None]) -> frozenset[str] | None:
        """Every org of the tenant (the keys of `parent_of`) the key reaches; None: every org, no limit."""
        if self.org_ids is None:
            return None
        return frozenset(org for org in parent_of if self.covers_org(org, parent_of))

    def describe(self, org_names: Mapping[str, str] | None = None, track_labels: Mapping[str, str] | None = None) -> str:
        """The reach as a person reads it: 「组织：“计算机学院党委”（含各自的下级组织）；赛道：“微党课”（lecture）」."""
        org_names, track_labels = org_names or {}, track_labels or {}
        if not self.limited:
            return "本单位全部组织和赛道"
        orgs = ("全部组织" if self.org_ids is None else
                "组织：" + "、".join(f"“{org_names.get(o, o)}”" for o in sorted(self.org_ids)) + "（含各自的下级组织）")
        tracks = ("全部赛道" if self.tracks is None else
                  "赛道：" + "、".join(f"“{track_labels[t]}”（{t}）" if t in track_labels else f"“{t}”"
                                     for t in sorted(self.tracks)))
        return f"{orgs}；{tracks}"


WHOLE_TENANT = Reach()


def reach_refusal(reach: Reach, org_name: str, track_label: str, org_names: Mapping[str, str] | None = None,
                  track_labels: Mapping[str, str] | None = None) -> str:
    """Why a limited key may not create this work: what the key reaches, what was asked, what to do."""
    return (f"此密钥只能为以下范围内的作品报送：{reach.describe(org_names, track_labels)}。本次请求的组织“{org_name}”、"
            f"赛道“{track_label}”不在其中。请使用覆盖该组织和赛道的密钥，或请单位管理员签发（POST /api/v1/keys）。")


def _list_problems(field: str, value: object, what: str) -> list[Problem]:
    """An axis of a reach as given: absent (None) or a list of 1 to MAX_REACH_ENTRIES distinct short strings."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= MAX_REACH_ID for v in value):
        return [Problem("invalid_key_reach", field, f"{what}的列表（字符串，每项最多 {MAX_REACH_ID} 个字符）",
                        value if not isinstance(value, list) else [str(v)[:MAX_REACH_ID] for v in value][:5],
                        f"{field} 应为{what}的列表，如 [\"…\"]；不限制时请省略此项。")]
    if not value:
        return [Problem("empty_key_reach", field, f"1–{MAX_REACH_ENTRIES} 个{what}", [],
                        f"{field} 是空列表，这样的密钥什么也不能报送。不限制{what}时请省略 {field}；"
                        f"限制时请列出至少一个{what}。")]
    if len(value) > MAX_REACH_ENTRIES:
        return [Problem("too_many_in_key_reach", field, MAX_REACH_ENTRIES, len(value),
                        f"{field} 最多列出 {MAX_REACH_ENTRIES} 个{what}，实际 {len(value)} 个。"
                        f"一个组织已包含其下级组织：请列出上级组织，或不限制{what}（省略 {field}）。")]
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        return [Problem("duplicate_in_key_reach", field, f"互不重复的{what}", repeated,
                        f"{field} 中有重复的{what}：{'、'.join(repeated[:10])}。请每项只列一次。")]
    return []


def reach_problems(org_ids: object, tracks: object, scopes: object, for_person: bool,
                   known_orgs: Mapping[str, str], known_tracks: Mapping[str, str]) -> list[Problem]:
    """Every problem of the reach asked for a new key (both absent: the whole tenant, no problem).

    `known_orgs`: the tenant's org ids -> names; `known_tracks`: the keys of the tracks of every campaign the tenant
    sees -> labels. An org or a track not among them is refused: a reach naming nothing real would be a key that
    silently submits nothing."""
    if org_ids is None and tracks is None:
        return []
    if for_person:
        return [Problem("reach_not_for_person_keys", "org_ids" if org_ids is not None else "tracks",
                        "不限定组织或赛道", {"org_ids": org_ids, "tracks": tracks},
                        "本人密钥（单位管理员以本人身份使用的密钥）代表本人，不能限定组织或赛道。"
                        "需要只为部分组织或赛道报送的门户，请签发集成密钥（POST /api/v1/keys，权限 submit）并限定其范围。")]
    problems: list[Problem] = []
    if isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
        if Scope.SUBMIT.value not in scopes:
            problems.append(Problem("reach_needs_submit", "scopes", [Scope.SUBMIT.value], scopes,
                                    "只有报送作品的门户密钥（权限 submit）可以限定组织或赛道。请加上 submit，或不限定范围。"))
        if Scope.READ_FEEDS.value in scopes:
            # notify's feeds and webhooks do not know a key's reach yet: a limited key reading them would see the
            # whole tenant, so the two are not combined until they do (the report of this change says how)
            problems.append(Problem("reach_not_for_feeds", "scopes", [Scope.SUBMIT.value], scopes,
                                    "限定了组织或赛道的密钥不能同时拥有 read:feeds：看板数据按全校统计，无法按范围限制。"
                                    "请为看板另签发一个不限范围的 read:feeds 密钥。"))
    org_problems = _list_problems("org_ids", org_ids, "组织编号")
    track_problems = _list_problems("tracks", tracks, "赛道")
    problems += org_problems + track_problems
    if org_ids is not None and not org_problems:
        problems += [Problem("unknown_reach_org", "org_ids", "本单位组织的编号（GET /api/v1/orgs 中的 id）", org,
                             f"本单位没有编号为“{org}”的组织。请用 GET /api/v1/orgs 查出组织的 id 后再签发。")
                     for org in org_ids if org not in known_orgs]
    if tracks is not None and not track_problems:
        problems += [Problem("unknown_reach_track", "tracks", sorted(known_tracks), track,
                             f"本单位可见的活动中没有赛道“{track}”。可选：{'、'.join(sorted(known_tracks)) or '（暂无活动）'}；"
                             "请从中选择，不限制赛道时请省略 tracks。")
                     for track in tracks if track not in known_tracks]
    return problems


# --------------------------------------------------------------------------- a person signed in, calling the API


@dataclass(frozen=True)
class PersonAccess:
    """What a person signed in on the platform may do through the API in one tenant: the hosted submission pages
    call the same API a portal does, with the person's session instead of a key, so the person acts with exactly
    what their grants there give them, never more than their own key could hold."""

    scopes: frozenset[str]
    reach: Reach


def person_access(grants: list[tuple[str, str | None, str | None, str | None]],
                  department_tracks: Mapping[str, frozenset[str]] | None = None) -> PersonAccess | None:
    """From the person's grants in one tenant, as (role, department, org_id, org_level): the API access a session
    gives, or None (an expert or a viewer submits nothing, so their session opens no API).

    `department_tracks`: for each department, the track keys the tenant's campaigns route to it
    (people.department_covers); 思政司 needs none: it looks after every track.

    * 单位管理员 (owner): every scope, the whole tenant (what their own key may hold).
    * 部门管理员: submits works in their departments' tracks, in every org.
    * 组织管理员: submits works of the orgs they administer and those below; a level-2 org's admin also publishes
      notices to them (as their own key may).
    A person holding both department and org grants acts with the department's reach: a reach is orgs AND tracks,
    so their union cannot be one reach, and the department's is the one their work is organised by."""
    roles = {role for role, *_ in grants}
    if Role.OWNER in roles:
        return PersonAccess(ALL_SCOPES, WHOLE_TENANT)
    departments = {department for role, department, *_ in grants if role == Role.DEPARTMENT_ADMIN}
    if departments:
        if Department.SIZHENG in departments:
            return PersonAccess(frozenset({Scope.SUBMIT.value}), WHOLE_TENANT)
        tracks = frozenset().union(*((department_tracks or {}).get(d, frozenset()) for d in departments))
        return PersonAccess(frozenset({Scope.SUBMIT.value}), Reach(tracks=tracks)) if tracks else None
    orgs = [(org_id, level) for role, _, org_id, level in grants if role == Role.ORG_ADMIN and org_id]
    if not orgs:
        return None
    scopes = {Scope.SUBMIT.value} | ({Scope.PUBLISH.value} if any(level == "level2" for _, level in orgs) else set())
    return PersonAccess(frozenset(scopes), Reach(org_ids=frozenset(org for org, _ in orgs)))
