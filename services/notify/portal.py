"""What a university's portal hears through its webhooks (issue #20): one event per thing to tell, of its own.

Some platform events reach a portal as they were published (`submission_submitted`, `submission_withdrawn`,
`extension_granted`: each is about one university's work, and its envelope names that university). The others
are built here, one per university, carrying only what is that university's to know:

* `file_checked`: media's check of a file of one of its works (the university is the one intake named when the
  file was uploaded, notify's copy; never the event's word alone), with the findings' Chinese messages and the
  facts a portal shows (duration, resolution, codecs, subtitle coverage, pages), not media's object keys;
* `selection_result`: one per work a round ranked (`selection_made`: selected, not selected, or a final result:
  awarded, …) or a work forwarded (`submission_forwarded`). A ministry round spans universities: each work goes to
  its own university only. Nothing about the experts: scores are anonymous, and their comments for the org
  (给报送单位的意见) come only when the round's admin chose to send them, without names, as in the result mail;
* `campaign_published`: a campaign, or a correction of it (a new version), to each university it is for
  (common/campaign/audience.py), without the audience itself (which names other universities);
* `deadline_reminder`: the reminders the mail sends (不掉队: an org's stage or monthly record, a university's
  forwarding to the ministry), also to the portal, also for an org without an address.

Each built event has an id derived from what it is about (the source event, the work, the university, the
reminder's key), so a redelivered event or a second run adds no second delivery (hooks.enqueue).
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from common.events import CATALOGUE, ID, LEVEL, TENANT, TIMESTAMP, TRACK, Event, _object as object_schema

# Delivered as the platform published them; their `data` schema is the catalogue's.
AS_PUBLISHED = ("submission_submitted", "submission_withdrawn", "extension_granted")

# The facts of a checked file a portal is given (media's names); the rest (decode errors, object keys) stay here.
FILE_FACTS = ("content_type", "container", "format", "size_bytes", "duration_s", "width", "height", "frame_rate",
              "bit_rate", "video_codec", "audio_codec", "audio_channels", "sample_rate", "has_video", "has_audio",
              "has_subtitles", "subtitle_tracks", "subtitle_source", "subtitle_coverage", "pages", "pages_estimated",
              "text_chars", "complete")

RESULTS = {"selected": "入选，报送上一级", "not_selected": "未入选", "forwarded": "已报送上一级",
           "awarded": "获表彰", "final_selected": "入选（最终结果）", "final_not_selected": "未入选（最终结果）"}
REMINDER_KINDS = {"submit": "提交截止提醒", "period": "月度记录提醒", "forward": "向教育部报送截止提醒"}

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_FINDING = object_schema({"rule": _STRING, "severity": {"enum": ["error", "warning"]}, "message": _STRING},
                         {"expected": {}, "actual": {}})
_published = CATALOGUE["campaign_published"].data_schema

BUILT: dict[str, tuple[str, dict]] = {
    "file_checked": (
        "媒体服务检查了本校作品的一个文件：结论（passed 通过、warnings 有提醒、failed 未通过），每条问题的中文说明，"
        "以及文件的参数（时长、分辨率、编码、字幕覆盖率、页数等，检查测得的才有）。",
        object_schema({
            "file_id": ID, "submission_id": ID, "file_name": _STRING, "verdict": {"enum": ["passed", "warnings", "failed"]},
            "findings": {"type": "array", "items": _FINDING},
            "facts": object_schema({}, {name: {} for name in FILE_FACTS}),
            "checked_at": TIMESTAMP,
        }, {"org_id": ID, "campaign_id": ID, "track": TRACK}),
    ),
    "selection_result": (
        "本校一件作品的评审或报送结果，每件作品一次：`selected` 入选并报送上一级，`not_selected` 未入选，`forwarded` "
        "已报送到上一级，`awarded` 获表彰（`category` 为表彰类别），`final_selected` / `final_not_selected` 最终结果"
        "（入选、公示、入库、审核通过，见 `decision`）。评审匿名：不含专家姓名；`comments_for_org` 仅当评审管理员选择"
        "随结果发送专家意见时才有。",
        object_schema({
            "submission_id": ID, "campaign_id": ID, "track": TRACK, "level": LEVEL,
            "result": {"enum": list(RESULTS)}, "result_label": _STRING,
        }, {
            "round_id": ID, "to_level": {"enum": ["level2", "university", "ministry", None]},
            "title": _STRING, "org_id": ID, "org_name": _STRING, "receipt_no": _NULLABLE_STRING,
            "rank": {"type": "integer"}, "normalised": {"type": ["number", "null"]},
            "category": _NULLABLE_STRING, "reason": _STRING,
            "decision": object_schema({"kind": _STRING, "label": _STRING}, {"publicity_days": {"type": "integer"}}),
            "comments_for_org": {"type": "array", "items": _STRING},
            "decided_at": TIMESTAMP, "forwarded_at": TIMESTAMP,
        }),
    ),
    "campaign_published": (
        "面向本校的活动发布或更正（新版本，`version` 大于 1，`change_note` 说明改了什么）：教育部的活动发给其面向的"
        "每所高校，本校自己的活动（含院系对支部的通知）发给本校。`publisher` 为发布方（`ministry` 或本校）。",
        {**_published, "properties": {**{k: v for k, v in _published["properties"].items() if k != "audience"},
                                      "publisher": TENANT},
         "required": sorted({*_published["required"], "publisher"})},
    ),
    "deadline_reminder": (
        "与提醒邮件同时发出的截止提醒：`submit` 某组织尚未提交某赛道的某阶段（截止前 7、3、1 天），`period` 某组织"
        "尚未提交本期（月度）记录，`forward` 本校尚未向教育部报送某赛道（截止前 3、1 天）。",
        object_schema({
            "kind": {"enum": list(REMINDER_KINDS)}, "kind_label": _STRING, "campaign_id": ID, "campaign_title": _STRING,
            "track": TRACK, "track_label": _STRING, "deadline": TIMESTAMP, "days_left": {"type": "integer"},
        }, {"org_id": ID, "org_name": _STRING, "org_level": LEVEL, "stage": _STRING, "stage_label": _STRING,
            "period": _STRING, "period_label": _STRING, "forward_limit": {"type": ["integer", "null"]}}),
    ),
}

# What a portal may subscribe to, in the order the document lists them, with what each is in Chinese.
DELIVERABLE = (*AS_PUBLISHED, *BUILT)
LABELS = {"submission_submitted": "作品提交", "submission_withdrawn": "作品撤回", "extension_granted": "延期获准",
          "file_checked": "文件检查结果", "selection_result": "评审与报送结果", "campaign_published": "活动发布与更正",
          "deadline_reminder": "截止提醒"}


def data_schema(name: str) -> dict:
    """The `data` of a delivered event, with its description (the API document's `WebhookEvent`)."""
    if name in BUILT:
        description, schema = BUILT[name]
        return {**schema, "description": f"`data` of the `{name}` webhook: {description}"}
    return {**CATALOGUE[name].data_schema, "description": f"`data` of `{name}`: {CATALOGUE[name].description}"}


def built_event(name: str, about: str, tenant: str, occurred_at: str, data: dict) -> Event:
    """A webhook event for `tenant`; its id is derived from `about` (what it is about), so it is made once."""
    digest = hashlib.sha256(f"{name}\n{about}\n{tenant}".encode()).digest()
    return Event(uuid.UUID(bytes=digest[:16]).hex, name, 1, occurred_at, tenant, data)


# ------------------------------------------------------------------ the events built here


def file_checked(event, file, copy) -> Event | None:
    """Media's check of `file` (notify's FileCopy, whose tenant intake named), for that university; None for a file
    of the ministry's (nothing for a portal). `copy`: the work's SubmissionCopy, or None before it was submitted."""
    d = event.data
    if file.tenant == "ministry":
        return None
    facts = d.get("facts") or {}
    data: dict[str, Any] = {
        "file_id": d["file_id"], "submission_id": d["submission_id"], "file_name": file.name or "",
        "verdict": d["verdict"], "checked_at": d["checked_at"],
        "findings": [{k: f[k] for k in ("rule", "severity", "message", "expected", "actual") if k in f}
                     for f in d["findings"]],
        "facts": {k: facts[k] for k in FILE_FACTS if k in facts},
    }
    if file.org_id:
        data["org_id"] = file.org_id
    if copy is not None:
        data.update(campaign_id=copy.campaign_id, track=copy.track)
    return built_event("file_checked", f"{d['file_id']}:{d['checked_at']}:{event.event_id}", file.tenant,
                       event.occurred_at, data)


def selection_results(event, final: dict | None, tenant_of) -> list[Event]:
    """One `selection_result` per work a round ranked, each to its own university. `final`: the final round's
    decision (messages.final_decision), None for a round that forwards its chosen works. `tenant_of(submission_id,
    said)`: the work's university as notify knows it (the copy's), or None when the event's word disagrees."""
    d = event.data
    made = []
    for r in d["results"]:
        tenant = tenant_of(r["submission_id"], r["tenant"])
        if tenant is None or tenant == "ministry":
            continue
        result = _result_of(final, r["selected"])
        data = {"submission_id": r["submission_id"], "campaign_id": d["campaign_id"], "track": d["track"],
                "level": d["level"], "result": result, "result_label": RESULTS[result], "round_id": d["round_id"],
                "to_level": d["to_level"], "rank": r["rank"]}
        data.update({k: r[k] for k in ("title", "normalised", "category", "reason", "comments_for_org") if k in r})
        if final is not None:
            data["decision"] = {k: final[k] for k in ("kind", "label", "publicity_days") if final.get(k) is not None}
            data["decision"].setdefault("label", final["kind"])
        if d.get("confirmed_at"):
            data["decided_at"] = d["confirmed_at"]
        made.append(built_event("selection_result", f"{d['round_id']}:{r['submission_id']}", tenant,
                                event.occurred_at, data))
    return made


def _result_of(final: dict | None, selected: bool) -> str:
    if final is None:
        return "selected" if selected else "not_selected"
    if final["kind"] == "award" and selected:
        return "awarded"
    return "final_selected" if selected else "final_not_selected"


def forwarded_result(event) -> Event | None:
    """`forwarded`: a work of the event's university reached the level above."""
    d = event.data
    if event.tenant == "ministry":
        return None
    data = {"submission_id": d["submission_id"], "campaign_id": d["campaign_id"], "track": d["track"],
            "level": d["from_level"], "to_level": d["to_level"], "result": "forwarded",
            "result_label": RESULTS["forwarded"], "title": d["title"], "org_id": d["org_id"], "org_name": d["org_name"],
            "receipt_no": d["receipt_no"], "forwarded_at": d["forwarded_at"]}
    return built_event("selection_result", f"forwarded:{d['submission_id']}:{d['to_level']}", event.tenant,
                       event.occurred_at, data)


def campaign_published(event, universities: list[str]) -> list[Event]:
    """The published campaign (its version) to each of `universities` (whom it is for), without its audience."""
    d = event.data
    data = {k: v for k, v in d.items() if k != "audience"}
    data["publisher"] = event.tenant
    version = d.get("version") or 1
    return [built_event("campaign_published", f"{d['campaign_id']}:{version}", u, event.occurred_at, data)
            for u in universities if u != "ministry"]


def deadline_reminder(kind: str, key: str, tenant: str, occurred_at: str, data: dict) -> Event:
    """A reminder the mail sends (its `key`: the message log's), for the portal of `tenant`."""
    return built_event("deadline_reminder", key, tenant, occurred_at,
                       {"kind": kind, "kind_label": REMINDER_KINDS[kind], **data})
