"""The audit log: who did what, to which object, when (Beijing time) and from which address.

Every change made in intake writes one row here in the same transaction as the change, so the change
and its record commit together or not at all: people and their grants, sign-ins, campaigns, org lists,
extensions, works and their files, and the works review's selections forward. Changes made on review's
pages (rounds, reviewers, assignments, scores, the selection) arrive as `review_audited`, written there in
the change's transaction, and are appended here once, to the log of the round's tenant (`record_review`).
Reads write nothing.
Rows are only ever added: this module has no function that changes or removes one, no route does, and
the database refuses both (migration 0007's triggers).

The tenant's owners read their own log: `GET /api/v1/audit` (a key), the page `/audit` and its export
`/audit.xlsx` (a person; audit_pages.py).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from common import clock
from common.errors import Forbidden, InvalidInput, NotFound, Unprocessable
from common.locale import BEIJING, beijing_iso, in_beijing
from common.tables import xlsx_cell
from services.intake.domain.people import Role
from services.intake.models import AccountGrant, ApiKey, AuditEntry, Tenant
from services.intake.operations.pages import paged
from services.intake.operations.tenants import Caller, key_actor

# Stable codes, with what they mean to a person reading the log.
ACTIONS = {
    "account.invited": "邀请人员",
    "account.disabled": "停用账号",
    "account.enabled": "启用账号",
    "grant.added": "授予角色",
    "grant.removed": "移除角色",
    "invitation.accepted": "接受邀请并设置密码",
    "accounts.imported": "导入人员名单",
    "account.signed_in": "登录",
    "account.signed_out": "退出登录",
    "account.second_factor_enrolled": "启用第二重验证",
    "account.password_reset": "通过邮件重设密码",
    "key.issued": "签发 API 密钥",
    "key.rotated": "轮换 API 密钥",
    "key.revoked": "吊销 API 密钥",
    "campaign.published": "发布活动",
    "campaign.versioned": "发布活动更正（新版本）",
    "campaign.follow_conflict": "派生活动未能随上级活动更正（有冲突待处理）",
    "orgs.imported": "导入组织名单",
    "extension.granted": "批准延期提交",
    "submission.created": "新建作品",
    "submission.updated": "修改作品",
    "submission.submitted": "提交作品",
    "submission.withdrawn": "撤回作品",
    "submission.reopened": "作品因文件变动退回待重新提交",
    "file.added": "登记上传文件",
    "file.stored": "文件上传完成",
    "file.deleted": "删除文件",
    "selection.forwarded": "择优报送至上级",
    "supervision.reminded": "发送督办提醒",
    "sso.configured": "配置统一身份认证",
    "sso.removed": "移除统一身份认证",
    "account.created_by_sso": "通过统一身份认证创建账号",
    # made on review's pages (common.events.REVIEW_AUDIT_ACTIONS)
    "round.settings_changed": "修改评审轮次设置",
    "reviewer.added": "添加评审专家",
    "reviewers.imported": "导入评审专家名单",
    "reviewer.removed": "将评审专家移出本轮",
    "assignments.planned": "自动分配评审任务",
    "assignment.added": "手动分配评审任务",
    "assignment.removed": "撤销评审任务",
    "conflict.declared": "登记评审回避",
    "assignment.declined": "评审专家放弃评审任务",
    "reviewers.invited": "发送评审登录邮件",
    "score.saved": "保存评分草稿",
    "score.submitted": "提交评分",
    "score.changed": "修改已提交的评分",
    "round.closed": "结束评分",
    "round.reopened": "重新开放评分",
    "round.selection_confirmed": "确认入选名单",
    "discussion.opened": "开启专家讨论",
    "discussion.posted": "在专家讨论中发言",
    "account.second_factor_reset": "重置第二重验证",
    "account.staff_no_changed": "登记或修改工号",
}

# What an object is called on the page and in the export.
OBJECT_LABELS = {"account": "账号", "accounts": "人员名单", "api_key": "API 密钥", "campaign": "活动", "orgs": "组织名单",
                 "extension": "延期", "submission": "作品", "file": "文件", "round": "评审轮次",
                 "sso": "统一身份认证", "reviewer": "评审专家", "assignment": "评审任务"}
# The keys of a row's detail, as a person reads them; a key not here is shown as it is.
DETAIL_LABELS = {
    "title": "名称", "campaign_id": "活动", "derives_from": "派生自", "track": "赛道", "stage": "阶段",
    "receipt_no": "回执号", "org_id": "组织编号", "org_name": "组织", "fields": "修改的字段", "submission_id": "作品",
    "file_id": "文件", "kind": "类型", "name": "文件名", "size": "字节数", "reason": "原因",
    "voided_receipts": "作废的回执", "until": "延期至", "level": "评审层级", "to_level": "报送至",
    "submission_ids": "报送的作品", "filename": "文件名", "created": "新建", "updated": "更新", "total": "总行数",
    "email": "邮箱", "label": "角色", "role": "角色代码", "method": "方式", "people": "人数", "from": "原状态",
    "to": "新状态", "prefix": "密钥前缀", "successor": "新密钥前缀", "scopes": "权限范围", "days": "有效天数",
    "old_expires_at": "旧密钥失效时间", "staff_no": "工号", "previous_staff_no": "原工号",
    # review's rows
    "round_id": "评审轮次编号", "round_title": "评审轮次", "reviewers_per_work": "每件作品评审人数",
    "scoring_deadline": "评分截止日期", "reviewer_id": "评审专家编号", "reviewer": "评审专家", "added": "新增",
    "handed_on": "已改派的作品", "left_short": "无专家可改派的作品", "assignments": "分配总数", "spread": "专家任务数最多相差",
    "draft_discarded": "丢弃评分草稿", "declined_assignment": "放弃的评审任务", "handed_to": "改派给", "conflict": "回避",
    "sent": "发送邮件数", "reminder": "提醒", "score_total": "总分", "previous_score_total": "修改前总分",
    "selected": "入选的作品", "not_selected": "未入选作品数",
    "chars": "字数", "posts": "讨论发言数", "comments_for_org_sent": "随结果发送给报送单位的意见",
}

# Who acts when no API caller does: the operator's command line (admin.py, the embedded demo), and the
# services whose events change intake's data.
OPERATOR = "operator (command line)"
MEDIA = "service:media"
REVIEW = "service:review"

PAGE_SIZE = 50
# An export is a whole record, never the newest part of it: past this many rows it is refused and the
# owner narrows the dates (20,000 rows take about 2 s and 2 MB to write).
MAX_EXPORT_ROWS = 20_000


# --------------------------------------------------------------------------- writing


def record(session, tenant_id: str, actor: str, action: str, object_type: str, object_id: str | None,
           detail: Any = None, address: str | None = None, at: datetime | None = None) -> None:
    """Add one row; the caller's transaction commits it with the change it records (made `at`, by default now)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to ACTIONS (and to the API document's enum)")
    session.add(AuditEntry(tenant_id=tenant_id, at=at or clock.now(), actor=actor[:200], action=action,
                           object_type=object_type, object_id=object_id, detail=detail, address=address))


def record_by(session, caller: Caller, action: str, object_type: str, object_id: str | None,
              detail: Any = None) -> None:
    record(session, caller.tenant.id, caller.actor, action, object_type, object_id, detail, caller.address)


def record_review(session, data: dict) -> None:
    """A change made on review's pages (`review_audited`): its row in the log of the round's tenant, at the moment
    review made it. The handler runs once per event, so a redelivery adds nothing.

    An admin signed in with a key is named as the key's changes through the API are (key:<prefix> (<label>)): review
    sends the key's hash, which only this service can turn into the key. Rows for other objects than the round
    name the round's id too."""
    tenant = session.get(Tenant, data["tenant"])
    if tenant is None:  # tenants come from here: retried, then parked for the operator to look at
        raise LookupError(f"review_audited for unknown tenant {data['tenant']!r}")
    actor = _key_actor(session, tenant.id, data.get("key_hash")) or data["actor"]
    detail = dict(data["detail"])
    if data["object_type"] != "round":
        detail = {"round_id": data["round_id"], **detail}
    record(session, tenant.id, actor, data["action"], data["object_type"], data["object_id"], detail,
           data.get("address"), at=datetime.fromisoformat(data["at"]))


def _key_actor(session, tenant_id: str, key_hash: str | None) -> str | None:
    """The key of that hash, if it is the tenant's, named as tenants.key_caller names a key's requests (a person's
    own key names the person first); None otherwise."""
    if not key_hash:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.tenant_id == tenant_id))
    if key is None:
        return None
    return key_actor(session, key)[0]


def acting(who: Caller | Tenant) -> Caller:
    """The caller of a use case the operator's command line runs too (publishing a built-in campaign, the
    demo's org list), which passes the tenant it acts for: then the row names the operator."""
    if isinstance(who, Caller):
        return who
    return Caller(tenant=who, actor=OPERATOR, who="平台运维")


def short(text: Any, limit: int = 60) -> str | None:
    """A title or a name as a row keeps it: enough to recognise, never a whole text."""
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LogScope:
    """Whose log a signed-in person reads, and the tenants they may pick from (id, name), in grant order."""

    tenant_id: str
    tenant_name: str
    owned: tuple[tuple[str, str], ...]


def owner_scope(session, account_id: str, wanted: str | None) -> LogScope:
    """The tenant whose log a person reads: one they are an owner (单位管理员) of, `wanted` or their first.
    No owner grant: 403. A tenant they do not own answers 404 whether or not it exists."""
    ids = session.scalars(select(AccountGrant.tenant_id).where(
        AccountGrant.account_id == account_id, AccountGrant.role == Role.OWNER)
        .order_by(AccountGrant.granted_at, AccountGrant.id)).all()
    owned = tuple((tenant_id, session.get(Tenant, tenant_id).name) for tenant_id in dict.fromkeys(ids))
    if not owned:
        raise Forbidden("审计日志只有单位管理员可以查看，您在任何单位都没有单位管理员角色。"
                        "如需查看，请联系本单位的单位管理员为您授予该角色。", code="not_owner",
                        expected=Role.OWNER.value, found=None)
    chosen = next((t for t in owned if t[0] == wanted), None) if wanted else owned[0]
    if chosen is None:
        raise NotFound(f"找不到单位“{wanted[:40]}”的审计日志：没有这个单位，或您不是它的单位管理员。"
                       "请从页面上的单位中选择。", code="tenant_not_found", found=wanted[:40])
    return LogScope(chosen[0], chosen[1], owned)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


def audit_json(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": beijing_iso(entry.at), "actor": entry.actor, "action": entry.action,
            "action_label": ACTIONS.get(entry.action, entry.action), "object_type": entry.object_type,
            "object_id": entry.object_id, "detail": entry.detail, "address": entry.address}


def _moment(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(f"参数 {name} 应为带时区的时间，如 2020-07-01T00:00:00+08:00（北京时间），实际为“{raw[:60]}”。",
                           code="invalid_query", field=name, expected="ISO 8601 date-time with offset", found=raw[:60])
    return moment


def _query(tenant_id: str, wanted: AuditFilter):
    """The tenant's own rows, newest first."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.start is not None:
        query = query.where(AuditEntry.at >= wanted.start)
    if wanted.end is not None:
        query = query.where(AuditEntry.at < wanted.end)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def api_filter(action: str | None, since: str | None, until: str | None) -> AuditFilter:
    """The API's filters: `since` inclusive, `until` exclusive, date-times with offset (the action code is
    checked against the API document before the entrypoint runs)."""
    return AuditFilter(action or None, _moment("since", since), _moment("until", until))


def list_audit(session, tenant: Tenant, action: str | None, since: str | None, until: str | None,
               page: int, per_page: int) -> dict:
    """The API's page of the log."""
    return paged(session, _query(tenant.id, api_filter(action, since, until)), page, per_page, audit_json)


def _day(name: str, label: str, raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{label}应为日期，格式如 2020-06-12，实际为“{raw[:40]}”。请重新选择日期。",
                           code="invalid_query", field=name, expected="YYYY-MM-DD", found=raw[:40]) from None


def page_filter(action: str | None, since: str | None, until: str | None) -> AuditFilter:
    """The page's filters: an action code, and days in Beijing time, both ends included."""
    if action and action not in ACTIONS:
        raise InvalidInput(f"没有“{action[:40]}”这种操作。请从列表中选择操作，或选“全部”。", code="invalid_query",
                           field="action", expected=sorted(ACTIONS), found=action[:40])
    first, last = _day("since", "起始日期", since), _day("until", "截止日期", until)
    if first and last and first > last:
        raise InvalidInput(f"起始日期 {first} 晚于截止日期 {last}。请把起始日期改为不晚于截止日期的一天。",
                           code="invalid_query", field="since", expected=f"<= {last}", found=str(first))
    start = datetime.combine(first, time(), BEIJING) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), BEIJING) if last else None
    return AuditFilter(action or None, start, end)


def audit_page(session, tenant_id: str, wanted: AuditFilter, page: int) -> dict:
    return paged(session, _query(tenant_id, wanted), page, PAGE_SIZE, lambda e: row_view(audit_json(e)))


def export_rows(session, tenant_id: str, wanted: AuditFilter) -> list[dict]:
    """Every row the filter selects, as the page shows them; more than an export holds is refused."""
    query = _query(tenant_id, wanted)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if total > MAX_EXPORT_ROWS:
        raise Unprocessable(f"筛选出的记录有 {total} 条，一次最多导出 {MAX_EXPORT_ROWS} 条。"
                            "请缩小起止日期或选定一种操作，分几次导出。", code="export_too_large",
                            expected=MAX_EXPORT_ROWS, found=total)
    return [row_view(audit_json(e)) for e in session.scalars(query)]


# --------------------------------------------------------------------------- as people read it


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(_value_text(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# The detail key that names the object for a person (a work's title, a file's name, …), shown in a column
# of its own; the first one a row has.
NAME_KEYS = ("title", "name", "filename", "email")


def detail_text(detail: Any, leave_out: str | None = None) -> str:
    """A row's detail in one line: 「赛道：story；阶段：submission」; empty values left out."""
    if detail is None:
        return ""
    if not isinstance(detail, dict):
        return _value_text(detail)
    return "；".join(f"{DETAIL_LABELS.get(k, k)}：{_value_text(v)}" for k, v in detail.items()
                    if k != leave_out and v is not None and v != [] and v != "")


def row_view(entry: dict) -> dict:
    """A row of the API (audit_json) with what the page and the export show: the time to the second in
    Beijing time, the object named (its kind and id, and the name a person knows it by), the detail in words."""
    label = OBJECT_LABELS.get(entry["object_type"], entry["object_type"])
    detail = entry["detail"] if isinstance(entry["detail"], dict) else {}
    name_key = next((k for k in NAME_KEYS if detail.get(k)), None)
    return {**entry, "at_text": in_beijing(entry["at"]).strftime("%Y-%m-%d %H:%M:%S"),
            "object_text": f"{label} {entry['object_id']}" if entry["object_id"] else label,
            "object_name": str(detail[name_key]) if name_key else "",
            "detail_text": detail_text(entry["detail"], name_key)}


EXPORT_HEADER = ["时间（北京时间）", "操作人", "操作", "操作代码", "对象", "名称", "详情", "来源地址"]


def audit_xlsx(rows: list[dict], title: str) -> bytes:
    """The rows (row_view) as a workbook. Actors, titles and file names are people's text: every cell goes
    through `xlsx_cell`, so a title starting with "=" stays text and no control character breaks the file."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("审计日志")
    ws.append([xlsx_cell(ws, title, font=Font(bold=True))])
    ws.append([xlsx_cell(ws, h, font=Font(bold=True)) for h in EXPORT_HEADER])
    for r in rows:
        when = in_beijing(r["at"]).replace(tzinfo=None)  # Excel keeps no zone: the header says Beijing time
        ws.append([xlsx_cell(ws, when, number_format="yyyy-mm-dd hh:mm:ss"),
                   *(xlsx_cell(ws, v) for v in (r["actor"], r["action_label"], r["action"], r["object_text"],
                                                r["object_name"], r["detail_text"], r["address"]))])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
