"""Rules a submission must meet, as pure functions of plain values.

The service layer loads what these need (the track, the org, counts, the
clock) and calls them; each raises a `DomainError` whose Chinese message says
what was expected, what was found and what to do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from common.campaign import DEPARTMENTS, Stage, Track, effective_deadline
from common.campaign.model import items_of
from common.campaign.recurrence import Period, period, period_key_of
from common.campaign.values import field_label, value_problem
from common.errors import Conflict, DomainError, NotFound, Unprocessable
from common.levels import LEVELS, first_round_level, forward_limit
from common.locale import BEIJING, KIND_LABELS, LEVEL_LABELS, beijing_iso, beijing_minute, byte_size
from common.text import count_chars, describe_count_rule, single_line_problem, starts_with_org_name, strip_invisible
from services.intake.domain.lifecycles import FileState, SubmissionState

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------- fields


def _field_problem(spec, code: str, message: str, expected=None, found=None) -> dict:
    return {"field": f"fields.{spec.key}", "code": code, "message": message,
            "expected": expected, "found": found}


def _check_type(spec, value: Any, themes: list[str]) -> dict | None:  # noqa: C901 - one branch per field type, read as a table
    label = field_label(spec)
    t = spec.type
    if t in ("string", "text", "url"):
        if not isinstance(value, str):
            return _field_problem(spec, "wrong_type", f"{label}应为文本，实际为 {type(value).__name__}。", "string",
                                  type(value).__name__)
        if t in ("string", "url"):
            line = single_line_problem(value, label)
            if line is not None:
                return _field_problem(spec, line.code, line.message, line.expected, line.found)
        if t == "url":
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                return _field_problem(spec, "invalid_url", f"{label}应为以 http:// 或 https:// 开头的链接，实际为“{value}”。",
                                      "http(s) URL", value)
    elif t == "date":
        try:
            # fromisoformat also takes "20200630" and week dates; people are told YYYY-MM-DD.
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return _field_problem(spec, "invalid_date", f"{label}应为日期，格式 YYYY-MM-DD（如 2020-06-30），实际为“{value}”。",
                                  "YYYY-MM-DD", value)
        # ISO days compare as text; the bounds are the notice's (「6月30日之前……讲授」)
        if spec.max_date is not None and value > spec.max_date:
            return _field_problem(spec, "date_too_late", f"{label}应不晚于 {spec.max_date}，实际为 {value}。"
                                  "请按通知的要求核对日期。", f"<= {spec.max_date}", value)
        if spec.min_date is not None and value < spec.min_date:
            return _field_problem(spec, "date_too_early", f"{label}应不早于 {spec.min_date}，实际为 {value}。"
                                  "请按通知的要求核对日期。", f">= {spec.min_date}", value)
    elif t == "list":
        for index, item in enumerate(value if isinstance(value, list) else [], 1):
            # 主讲人 and the like are names: one line each
            line = single_line_problem(item, f"{label}第{index}项") if isinstance(item, str) else None
            if line is not None:
                return _field_problem(spec, line.code, line.message, line.expected, line.found)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            return _field_problem(spec, "wrong_type", f"{label}应为非空文本的列表（如 [\"张三\", \"李四\"]）。",
                                  "list of strings", value)
        if spec.min_items is not None and len(value) < spec.min_items:
            return _field_problem(spec, "too_few_items", f"{label}至少需要 {spec.min_items} 项，实际为 {len(value)} 项。",
                                  spec.min_items, len(value))
        if spec.max_items is not None and len(value) > spec.max_items:
            return _field_problem(spec, "too_many_items", f"{label}最多 {spec.max_items} 项，实际为 {len(value)} 项。",
                                  spec.max_items, len(value))
    elif t in ("number", "phone", "choices", "people"):
        found = value_problem(spec, value, list(spec.choices or []) or (themes if spec.choices_from == "themes" else []))
        if found is not None:
            return _field_problem(spec, found.code, found.message, found.expected, found.found)
    elif t == "choice":
        choices = list(spec.choices or []) or (themes if spec.choices_from == "themes" else [])
        if value not in choices:
            return _field_problem(spec, "not_a_choice", f"{label}只能从以下选项中选择：{'；'.join(choices)}。实际为“{value}”。",
                                  choices, value)
    return None


def _check_length(spec, value: str) -> tuple[int, dict | None]:
    n = count_chars(value)
    label = field_label(spec)
    if spec.max_chars is not None and n > spec.max_chars:
        return n, _field_problem(
            spec, "text_too_long",
            f"{label}不超过 {spec.max_chars} 字，实际为 {n} 字，请删减 {n - spec.max_chars} 字。{describe_count_rule()}",
            spec.max_chars, n)
    if spec.min_chars is not None and n < spec.min_chars:
        return n, _field_problem(
            spec, "text_too_short",
            f"{label}至少 {spec.min_chars} 字，实际为 {n} 字。{describe_count_rule()}", spec.min_chars, n)
    return n, None


def check_fields(track: Track, fields: dict, themes: list[str], required: list[str] | None = None,
                 enforce_limits: bool = True) -> dict[str, int]:
    """Validate field values; return the 字数 of every text value.

    `required` lists the fields that must be present (a stage's); drafts pass
    None and `enforce_limits=False`, so only types are checked and the counts
    are returned for the submitter to see.
    """
    specs = {f.key: f for f in track.fields}
    problems: list[dict] = []
    unknown = sorted(set(fields) - set(specs))
    for key in unknown:
        problems.append({"field": f"fields.{key}", "code": "unknown_field",
                         "message": f"赛道“{track.label}”没有字段 {key}。可用字段：{'、'.join(specs)}。",
                         "expected": list(specs), "found": key})
    counts: dict[str, int] = {}
    for key, spec in specs.items():
        count, problem = _check_field(spec, fields.get(key), themes, required, enforce_limits)
        if count is not None:
            counts[key] = count
        if problem:
            problems.append(problem)
    if problems:
        raise Unprocessable(_summary(problems), code=problems[0]["code"] if len(problems) == 1 else "invalid_fields",
                            field=problems[0]["field"], expected=problems[0]["expected"],
                            found=problems[0]["found"], details=problems)
    return counts


def _check_field(spec, value: Any, themes: list[str], required: list[str] | None,
                 enforce_limits: bool) -> tuple[int | None, dict | None]:
    """One field's 字数 (None: not counted) and its problem (None: none)."""
    if _is_empty(value):
        # blank to the eye is not blank in a mail header: a title of only "\u2028" is refused too
        problem = _check_type(spec, value, themes) if value and spec.type in ("string", "url") else None
        if problem is None and required is not None and spec.key in required:
            problem = _field_problem(spec, "missing_field",
                                     f"缺少{field_label(spec)}，本阶段必须填写。请补充后再提交。", "必填", "缺失")
        return None, problem
    problem = _check_type(spec, value, themes)
    if problem is None and isinstance(value, str) and spec.type in ("string", "text"):
        count, problem = _check_length(spec, value)
        return count, problem if enforce_limits else None
    return None, problem


def _is_empty(value: Any) -> bool:
    # Text of only zero-width characters or emoji is as empty as no text.
    return value is None or (isinstance(value, (str, list)) and not value) or (
        isinstance(value, str) and not strip_invisible(value).strip())


def _summary(problems: list[dict]) -> str:
    if len(problems) == 1:
        return problems[0]["message"]
    return f"有 {len(problems)} 处需要修改：" + " ".join(f"{i}. {p['message']}" for i, p in enumerate(problems, 1))


# --------------------------------------------------------------------------- naming rule


def check_naming(track: Track, title: str, org_names: list[str]) -> None:
    """「党组织名称+作品名称」: the title begins with the submitting org's name."""
    if not track.naming_rule:
        return
    if not starts_with_org_name(title, org_names):
        name = org_names[0]
        raise Unprocessable(
            f"作品名称应以党组织名称开头，即「党组织名称+作品名称」，例如“{name}{title[:12] or '战疫故事'}”；"
            f"实际为“{title}”。请在标题前加上“{name}”。",
            code="naming_rule", field="fields.title", expected=f"{name}+作品名称", found=title,
        )


# --------------------------------------------------------------------------- quota


def quota_key(track: Track, fields: dict) -> str | None:
    """Which quota bucket a work counts against (None: the track's total)."""
    if track.quota_field:
        return fields.get(track.quota_field)
    return None


def check_quota(track: Track, level: str, used: int, bucket: str | None = None, per: Period | None = None) -> None:
    """`used`: works of this org already submitted in this track (and bucket, and period `per` of a recurring track)."""
    limit = track.quota.get(level)
    if isinstance(limit, dict):
        if bucket is None or bucket not in limit:
            return  # values without a limit of their own are not capped
        limit = limit[bucket]
        what = f"“{track.label}”中“{bucket}”类"
    else:
        what = f"“{track.label}”"
    if limit is None:
        return
    if used >= limit:
        each = f"每月（本件属于{per.label}）" if per is not None else ""
        raise Conflict(
            f"每个{LEVEL_LABELS.get(level, level)}{each}最多提交 {limit} 件{what}作品，本组织已提交 {used} 件。"
            f"如需替换，请先撤回一件已提交的作品。",
            code="quota_exceeded", expected=limit, found=used,
        )


# --------------------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class DeadlineCheck:
    deadline: datetime | None
    extended_until: datetime | None

    @property
    def effective(self) -> datetime | None:
        if self.deadline is None:
            return None
        return max(self.deadline, self.extended_until) if self.extended_until else self.deadline


def past(now: datetime, deadline: datetime) -> bool:
    """Whether `now` is after the deadline, judged to the second: a date D's deadline is the end of D (23:59:59
    Beijing time), so a request anywhere in that last second (23:59:59.6) is on time and 00:00:00 on D+1 is late."""
    return now.replace(microsecond=0) > deadline


def deadline_for(track: Track, stage_key: str, level: str, extension: datetime | None) -> DeadlineCheck:
    return DeadlineCheck(effective_deadline(track, stage_key, level), extension)


def check_deadline(track: Track, stage: Stage, level: str, now: datetime, extension: datetime | None,
                   action: str = "提交") -> None:
    check = deadline_for(track, stage.key, level, extension)
    when = check.effective
    if when is not None and past(now, when):
        extra = "（含延期）" if check.extended_until else ""
        raise DomainError(
            f"“{track.label}”的“{stage.label}”阶段截止时间为 {beijing_minute(when)}{extra}（北京时间），"
            f"现在是 {beijing_minute(now)}，已不能{action}。如确有特殊情况，请联系学校党委组织部申请延期。",
            code="deadline_passed", status=409, expected=beijing_iso(when), found=beijing_iso(now),
        )


# --------------------------------------------------------------------------- periods of a recurring track
#
# A recurring track (「月度组织生活」) has no stage deadlines: a work belongs to the month of its date field
# (common.campaign.recurrence), is taken from that month's first day and closes at its due day, and the quota
# counts per month. The month is the work's own (the day its meeting was held), so a record of a month that is
# over is late, and one of a month not yet begun is early, whenever it is sent.


def period_of_work(track: Track, fields: dict) -> Period:
    """The period a work of a recurring track belongs to: the month of its date field, one the track runs."""
    rec = track.recurrence
    spec, value = track.field(rec.field), fields.get(rec.field)
    label = field_label(spec)
    key = period_key_of(rec, fields)
    if key is None:
        raise Unprocessable(f"“{track.label}”按月记录，每条记录属于{label}所在的月份；请填写{label}（YYYY-MM-DD）后再提交。",
                            code="missing_field", field=f"fields.{rec.field}", expected="YYYY-MM-DD", found=value)
    found = period(rec, key)
    if found is None:
        first, last = period(rec, rec.first), period(rec, rec.last)
        raise Unprocessable(
            f"“{track.label}”记录 {first.label}至{last.label}每月的情况，{label}为 {value}，不在其中。请核对日期。",
            code="period_outside_recurrence", field=f"fields.{rec.field}", expected=[rec.first, rec.last], found=value)
    return found


def check_period(track: Track, per: Period, now: datetime, extension: datetime | None, action: str = "提交") -> None:
    """A period takes works from its first day (`period_not_open`) until its due day's end, or the org's extension
    (`deadline_passed`)."""
    spec = track.field(track.recurrence.field)
    if now < per.opens and action == "提交":
        raise DomainError(
            f"“{track.label}”按月记录，本条记录的“{spec.label}”属于{per.label}，该月的记录自 {beijing_minute(per.opens)}"
            f"（北京时间）起才能提交，现在是 {beijing_minute(now)}。请在组织生活召开后再提交，或核对日期；可以先保存草稿。",
            code="period_not_open", status=409, field=f"fields.{spec.key}", expected=beijing_iso(per.opens),
            found=beijing_iso(now))
    check = DeadlineCheck(per.due, extension)
    if past(now, check.effective):
        extra = "（含延期）" if check.extended_until else ""
        raise DomainError(
            f"“{track.label}”{per.label}的记录截止时间为 {beijing_minute(check.effective)}{extra}（北京时间），"
            f"现在是 {beijing_minute(now)}，已不能{action}。请核对“{spec.label}”是否填对；"
            "如确有特殊情况，请联系学校党委组织部申请延期。",
            code="deadline_passed", status=409, field=f"fields.{spec.key}", expected=beijing_iso(check.effective),
            found=beijing_iso(now))


def check_period_kept(track: Track, before: dict, after: dict) -> None:
    """A submitted work keeps its period: moving it to another month would escape that month's quota and deadline."""
    rec = track.recurrence
    if rec is None or period_key_of(rec, before) == period_key_of(rec, after):
        return
    spec = track.field(rec.field)
    raise Conflict(
        f"已提交的记录属于{period(rec, period_key_of(rec, before)).label}，修改“{spec.label}”不能改到其他月份"
        f"（现为 {after.get(rec.field)}）。如记错了月份，请撤回本条记录，再为该月新建一条。",
        code="period_fixed", field=f"fields.{rec.field}", expected=before.get(rec.field), found=after.get(rec.field))


def check_open(track: Track, stage: Stage, now: datetime) -> None:
    """A stage takes submissions from its opening (「秋季开学后」); drafts may be written before it."""
    if stage.opens is not None and now < stage.opens:
        raise DomainError(
            f"“{track.label}”的“{stage.label}”阶段自 {beijing_minute(stage.opens)}（北京时间）起开放提交，"
            f"现在是 {beijing_minute(now)}，尚未开放。可以先保存草稿，开放后再提交。",
            code="stage_not_open", status=409, expected=beijing_iso(stage.opens), found=beijing_iso(now),
        )


def check_extension(track: Track, stage: Stage, level: str, until: datetime, parent_level: str | None) -> None:
    """An extension must still let the level above forward in time."""
    if parent_level is None:
        return
    parent_deadline = effective_deadline(track, stage.key, parent_level)
    if parent_deadline is not None and until >= parent_deadline:
        raise Unprocessable(
            f"延期后的截止时间须早于上级的截止时间 {beijing_minute(parent_deadline)}，否则上级无法按时报送；"
            f"申请的是 {beijing_minute(until)}。请选择更早的时间。",
            code="extension_too_late", field="until", expected=beijing_iso(parent_deadline), found=beijing_iso(until),
        )


# --------------------------------------------------------------------------- stages and files


def next_stage(track: Track, current: str | None) -> Stage | None:
    keys = [s.key for s in track.stages]
    if current is None:
        return track.stages[0]
    i = keys.index(current)
    return track.stages[i + 1] if i + 1 < len(keys) else None


def stage_by_key(track: Track, key: str) -> Stage:
    for stage in track.stages:
        if stage.key == key:
            return stage
    raise Unprocessable(
        f"赛道“{track.label}”没有“{key}”阶段；可用阶段：{'、'.join(s.key for s in track.stages)}。",
        code="unknown_stage", field="stage", expected=[s.key for s in track.stages], found=key,
    )




# --------------------------------------------------------------------------- files of a submitted stage
#
# A receipt (回执) lists the files a stage was submitted with; the work goes to review with exactly
# those. So the files of a submitted stage never change while it stays submitted: a change (a file
# deleted, a file added, a newer check that fails) returns the work to before that stage, to be
# submitted again, as the holder of the receipt expects. Refusing was the other choice; it cannot
# apply to a check that arrives later, and the only way out would be a withdrawal, which is final.

FILE_CHANGES = {
    "file_deleted": "删除了文件“{name}”",
    "file_added": "新增了文件“{name}”",
    "file_check_failed": "文件“{name}”的格式检查未通过",
}


@dataclass(frozen=True)
class Reopening:
    """A change to the files of a submitted stage: where the work goes back to, and what to tell the org."""

    stage: Stage  # the first stage no longer submitted
    back_to: Stage | None  # the last stage still submitted; None: the work is a draft again
    reason: str  # a key of FILE_CHANGES
    message: str


def submitted_stages(track: Track, stage_key: str | None) -> list[Stage]:
    """The stages a work has submitted, in order, when `stage_key` is its last."""
    keys = [s.key for s in track.stages]
    return [] if stage_key is None else track.stages[: keys.index(stage_key) + 1]


def reopening_for_file(track: Track, state: str, stage_key: str | None, kind: str, reason: str,
                       file_name: str, receipt_no: str | None) -> Reopening | None:
    """None when a change to a file of `kind` touches no submitted stage (say, a video for the stage that
    comes next); else the Reopening that keeps every stage still submitted as its receipt says."""
    if state != SubmissionState.SUBMITTED:
        return None
    done = submitted_stages(track, stage_key)
    first = next((i for i, stage in enumerate(done) if any(r.kind == kind for r in stage.files)), None)
    if first is None:
        return None
    stage, back_to = done[first], (done[first - 1] if first else None)
    where = f"退回“{back_to.label}”阶段已提交的状态" if back_to else "退回草稿"
    message = (f"作品已提交的“{stage.label}”阶段{FILE_CHANGES[reason].format(name=file_name)}，"
               f"回执 {receipt_no} 所列的文件已不是作品现在的文件，作品已{where}。"
               f"请确认文件无误后，在截止时间前重新提交“{stage.label}”阶段，将取得新的回执。")
    return Reopening(stage, back_to, reason, message)


def check_stage_files(stage: Stage, stored_by_kind: dict[str, int], pending: int, failed: list[str],
                      unchecked: list[str] | None = None) -> None:
    """The stage's files are all there, verified, checked, and none failed its check.

    A work goes to review only with files that passed the media check, so a
    submit waits for checks still running (seconds for most files).
    """
    if unchecked:
        raise Conflict(
            f"文件“{'、'.join(unchecked)}”正在进行格式检查，通常在一分钟内完成。请稍后再提交。",
            code="file_check_pending", field="files", expected="checked", found="checking")
    problems = []
    if pending:
        problems.append({"code": "upload_incomplete", "field": "files",
                         "message": f"还有 {pending} 个文件未完成上传确认。请完成上传（或删除该文件）后再提交。",
                         "expected": 0, "found": pending})
    for req in stage.files:
        n = stored_by_kind.get(req.kind, 0)
        label = KIND_LABELS.get(req.kind, req.kind)
        if n < req.min:
            problems.append({"code": "file_missing", "field": f"files.{req.kind}",
                             "message": f"“{stage.label}”阶段至少需要 {req.min} 个{label}文件，目前有 {n} 个。请上传后再提交。",
                             "expected": req.min, "found": n})
        if req.max is not None and n > req.max:
            problems.append({"code": "too_many_files", "field": f"files.{req.kind}",
                             "message": f"“{stage.label}”阶段最多 {req.max} 个{label}文件，目前有 {n} 个。请删除多余的文件。",
                             "expected": req.max, "found": n})
    for name in failed:
        problems.append({"code": "file_check_failed", "field": "files",
                         "message": f"文件“{name}”未通过格式检查。请按检查结果修改后重新上传替换。",
                         "expected": "passed", "found": "failed"})
    if problems:
        raise Unprocessable(_summary(problems), code=problems[0]["code"] if len(problems) == 1 else "invalid_files",
                            field=problems[0]["field"], expected=problems[0]["expected"],
                            found=problems[0]["found"], details=problems)


def check_file_kind(track: Track, kind: str, declared_size: int) -> int:
    """A new file is of a kind the track accepts and within its size limit.

    Returns the byte limit to enforce while the bytes arrive.
    """
    kinds = {r.kind for s in track.stages for r in s.files}
    if kind not in kinds:
        raise Unprocessable(
            f"赛道“{track.label}”不接受{KIND_LABELS.get(kind, kind)}文件；"
            f"可上传：{'、'.join(KIND_LABELS.get(k, k) for k in sorted(kinds)) or '无'}。",
            code="file_kind_not_allowed", field="kind", expected=sorted(kinds), found=kind,
        )
    policy = track.media.get(kind)
    limit = policy.max_bytes if policy and policy.max_bytes else DEFAULT_MAX_BYTES
    if declared_size > limit:
        raise DomainError(
            f"{KIND_LABELS.get(kind, kind)}文件最大 {byte_size(limit)}，本文件为 {byte_size(declared_size)}。"
            f"请压缩或剪辑后重新上传。",
            code="file_too_large", status=413, field="size", expected=limit, found=declared_size,
        )
    return limit


DEFAULT_MAX_BYTES = 2 * 1024 ** 3


# --------------------------------------------------------------------------- items of a quota, files a choice requires
#
# SEU: 「各基层党组织提交1-2个工作案例，10件左右图片和音视频素材」. A work case is a work (the quota counts it as one);
# pictures and clips are counted 件 by 件, each file one item (quota_items), across the org's works of that form. And
# a 工作案例 is a written case: whatever else it carries, it needs its document (required_when).


def check_items_and_required_files(facts: SubmitFacts, stage: Stage) -> None:
    """The files a work's choices require are there, and its items fit what its org has left of the quota."""
    work, track = facts.work, facts.work.track
    stored = [f.kind for f in facts.files if f.state == FileState.STORED]
    check_files_required_by_choice(track, stage, work.fields, stored)
    check_items(track, work.org_level, work.fields, facts.used_items, stored)


def check_files_required_by_choice(track: Track, stage: Stage, fields: dict, stored_kinds: list[str]) -> None:
    """「工作案例需附文档」: a kind the stage takes is needed by a work whose choice requires it (required_when)."""
    problems = []
    for req in stage.files:
        cause = req.required_by(fields)
        have, need = stored_kinds.count(req.kind), req.needed(fields)
        if cause is None or have >= need:
            continue
        spec = track.field(cause[0])
        value = (spec.choice_labels or {}).get(cause[1], cause[1])
        kind = KIND_LABELS.get(req.kind, req.kind)
        problems.append({"code": "file_missing", "field": f"files.{req.kind}",
                         "message": f"{value}需附{kind}：“{spec.label}”为“{value}”的作品至少需要 {need} 个{kind}文件，"
                                    f"目前有 {have} 个。请上传{value}的{kind}后再提交，或改选“{spec.label}”。",
                         "expected": need, "found": have})
    if problems:
        raise Unprocessable(_summary(problems), code="file_missing", field=problems[0]["field"],
                            expected=problems[0]["expected"], found=problems[0]["found"], details=problems)


def check_items(track: Track, level: str, fields: dict, used_items: int, stored_kinds: list[str]) -> None:
    """A work counted in files (「10件左右图片和音视频素材」) fits its org's quota with the items already submitted.

    `used_items`: the items of the org's other submitted works in the same bucket (`items_of` each).
    """
    kinds, bucket, limit = track.item_kinds(fields), quota_key(track, fields), track.quota.get(level)
    if kinds is None or not isinstance(limit, dict) or bucket not in limit:
        return
    cap, own = limit[bucket], items_of(kinds, stored_kinds)
    if used_items + own <= cap:
        return
    spec = track.field(track.quota_field)
    value = (spec.choice_labels or {}).get(bucket, bucket)
    what = "、".join(KIND_LABELS.get(k, k) for k in kinds)
    room = cap - used_items
    todo = (f"请择优保留，把本作品的{what}文件减到 {room} 个以内后再提交，或先撤回一件已提交的作品。" if room > 0 else
            "本组织的件数已用完；如需替换，请先撤回一件已提交的作品。")
    raise Conflict(
        f"每个{LEVEL_LABELS.get(level, level)}最多提交 {cap} 件“{value}”素材，每个{what}文件计 1 件；"
        f"本组织已提交 {used_items} 件，本作品有 {own} 件，合计 {used_items + own} 件。{todo}",
        code="too_many_items", field="files", expected=cap, found=used_items + own)


def receipt_number(tenant: str, seq: int, when: datetime) -> str:
    """回执编号: tenant, date (Beijing) and a per-tenant sequence, e.g. SEU-20200714-00042."""
    return f"{tenant.upper()}-{when.astimezone(BEIJING):%Y%m%d}-{seq:05d}"


# --------------------------------------------------------------------------- forwarding (择优报送)


def level_of_work(org_level: str, forwarded_to: str | None) -> str:
    """The level whose round a work sits in: where it was forwarded, else its org's first round's."""
    return forwarded_to or first_round_level(org_level)


def check_forward(track: Track, level: str, already: int, adding: int) -> None:
    """A level may forward at most its limit (`forward`, else its own quota) of works upward."""
    limit = forward_limit(track.forward, track.quota, level)
    if limit is not None and already + adding > limit:
        raise Conflict(
            f"“{track.label}”每个{LEVEL_LABELS.get(level, level)}最多报送 {limit} 件，已报送 {already} 件，"
            f"本次又选了 {adding} 件。请减少入选作品后重新确认。",
            code="forward_quota_exceeded", expected=limit, found=already + adding)


# --------------------------------------------------------------------------- deciding on a work
#
# A use case gathers everything a decision needs into the plain values below, calls the one function
# that decides (each raises the same DomainError, with every problem, in the same order as before) and
# applies the outcome it returns: the state, the receipt, the events.


@dataclass(frozen=True)
class WorkFacts:
    """A work as the rules see it: where it stands, its org, the clock, and the extension of its stage in progress."""

    track: Track
    state: str
    last_stage: str | None  # the last stage submitted; None: none yet
    receipt_no: str | None
    org_level: str
    org_names: tuple[str, ...]  # the org's name and short name: a title begins with one of them
    title: str
    fields: dict
    now: datetime
    extension: datetime | None  # the org's extension of the stage in progress, if one was granted


def stage_in_progress(track: Track, last_stage: str | None) -> Stage:
    """The stage whose deadline governs changes: the next to submit, or the last when all are submitted."""
    return next_stage(track, last_stage) or stage_by_key(track, last_stage)


def check_editable(work: WorkFacts, action: str) -> None:
    """A work can change (its fields, its files, a withdrawal) until it is withdrawn or its stage's deadline passes."""
    if work.state == SubmissionState.WITHDRAWN:
        raise Conflict("作品已撤回，不能再修改。如需重新参加，请新建作品。", code="submission_withdrawn",
                       found=SubmissionState.WITHDRAWN.value)
    stage = stage_in_progress(work.track, work.last_stage)
    if work.track.recurrence is None:
        check_deadline(work.track, stage, work.org_level, work.now, work.extension, action)
    elif work.state == SubmissionState.SUBMITTED:  # a draft has no period yet: its date may still be corrected
        check_period(work.track, period_of_work(work.track, work.fields), work.now, work.extension, action)


@dataclass(frozen=True)
class FileFacts:
    """A file of the work, as a submit sees it."""

    kind: str
    name: str
    state: str
    verdict: str | None  # of the newest check; None: not checked yet


@dataclass(frozen=True)
class SubmitFacts:
    work: WorkFacts
    requested_stage: str | None  # the stage the portal named, if it named one
    themes: list[str]
    used_quota: int  # the org's other submitted works in the track (in the work's quota bucket, and its period)
    files: tuple[FileFacts, ...]  # registered, received and stored
    # items of the org's other submitted works in the work's bucket, where the quota counts files (quota_items)
    used_items: int = 0


@dataclass(frozen=True)
class Submitting:
    """A submit the rules accepted: the stage it submits, whether that is the track's last, the 字数 of the fields."""

    stage: Stage
    final: bool
    char_counts: dict[str, int]


def decide_submit(facts: SubmitFacts) -> Submitting:
    """Every rule of submitting the next stage of a work: order, opening, deadline, fields, naming, quota, files."""
    work, track = facts.work, facts.work.track
    if work.state == SubmissionState.WITHDRAWN:
        raise Conflict("作品已撤回，不能提交。如需重新参加，请新建作品。", code="submission_withdrawn",
                       found=SubmissionState.WITHDRAWN.value)
    stage = _stage_to_submit(track, work, facts.requested_stage)
    check_open(track, stage, work.now)
    per = None
    if track.recurrence is None:
        check_deadline(track, stage, work.org_level, work.now, work.extension)
        counts = check_fields(track, work.fields, facts.themes, required=list(stage.required_fields))
    else:  # the period is read from a field, so the fields are checked first
        counts = check_fields(track, work.fields, facts.themes, required=list(stage.required_fields))
        per = period_of_work(track, work.fields)
        check_period(track, per, work.now, work.extension)
    check_naming(track, work.title, list(work.org_names))
    check_items_and_required_files(facts, stage)
    if work.state == SubmissionState.DRAFT:  # a work counts against the quota from its first stage
        check_quota(track, work.org_level, facts.used_quota, quota_key(track, work.fields), per)
    _check_files_of_stage(stage, facts.files)
    return Submitting(stage, next_stage(track, stage.key) is None, counts)


def _stage_to_submit(track: Track, work: WorkFacts, requested: str | None) -> Stage:
    stage = next_stage(track, work.last_stage)
    if stage is None:
        raise Conflict(f"作品的所有阶段都已提交（回执编号 {work.receipt_no}）。如需修改内容，请直接修改作品。",
                       code="already_submitted", found=work.last_stage)
    if requested is not None and requested != stage.key:
        stage_by_key(track, requested)
        raise Conflict(f"下一个待提交的阶段是“{stage.label}”（{stage.key}），不是 {requested}。阶段须按顺序提交。",
                       code="stage_out_of_order", field="stage", expected=stage.key, found=requested)
    return stage


def _check_files_of_stage(stage: Stage, files: tuple[FileFacts, ...]) -> None:
    stored = [f for f in files if f.state == FileState.STORED]
    by_kind: dict[str, int] = {}
    for f in stored:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    check_stage_files(stage, by_kind, len(files) - len(stored), [f.name for f in files if f.verdict == "failed"],
                      [f.name for f in stored if f.verdict is None])


@dataclass(frozen=True)
class Withdrawal:
    announce: bool  # the work had submitted a stage: the other services hold a copy to take back


def decide_withdraw(work: WorkFacts) -> Withdrawal | None:
    """None: the work is withdrawn already, and withdrawing twice is not an error (the portal may retry)."""
    if work.state == SubmissionState.WITHDRAWN:
        return None
    check_editable(work, "撤回")
    return Withdrawal(announce=work.state == SubmissionState.SUBMITTED)


@dataclass(frozen=True)
class SelectedWork:
    """A work a round selected, as intake holds it (`found` False: no such work)."""

    id: str
    found: bool = False
    tenant_id: str = ""
    track: str = ""
    title: str = ""
    state: str = ""
    complete: bool = False
    forwarded_to: str | None = None
    org_level: str = ""
    campaign_id: str = ""


@dataclass(frozen=True)
class SelectionFacts:
    """A round's confirmed selection (selection_made) and what forwarding it depends on."""

    tenant_id: str  # the round's university
    track_key: str
    level: str  # the round's level
    to_level: str
    works: tuple[SelectedWork, ...]
    tracks: dict[str, Track]  # the track of each campaign the works belong to
    already: dict[str, int]  # works of each campaign already forwarded to `to_level` or above (from this level)
    # when review's admin confirmed the selection (the event's confirmed_at, else intake's clock on handling it);
    # None: not judged against the forwarding deadline
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Forwarding:
    work_id: str
    from_level: str
    campaign_id: str


def decide_forward(facts: SelectionFacts) -> list[Forwarding]:
    """The works that move up, all or none: each must be a complete work of the round, at the round's level,
    within the level's forwarding limit. A work already at `to_level` or above is skipped (a redelivered
    selection forwards nothing twice)."""
    moving = []
    for work in facts.works:
        forwarding = _forwarding(facts, work)
        if forwarding is not None:
            moving.append(forwarding)
    if moving:
        campaign_id = moving[0].campaign_id
        check_forward(facts.tracks[campaign_id], facts.level, facts.already[campaign_id], len(moving))
        if facts.confirmed_at is not None:
            check_forward_deadline(facts.tracks[campaign_id], facts.level, facts.to_level, facts.confirmed_at)
    return moving


def forward_deadline(track: Track, level: str) -> datetime | None:
    """When a level must have forwarded up (common.campaign.forwarding_deadline: the last stage's)."""
    return track.forwarding_deadline(level)


def check_forward_deadline(track: Track, level: str, to_level: str, confirmed_at: datetime) -> None:
    """Defence in depth behind review's own refusal: a selection confirmed after the level's forwarding deadline
    does not go up (a review that had not heard of the campaign's deadlines, a mistaken replay). Judged by when it was
    confirmed, not by when it arrived: the platform promises a broker outage loses nothing, and a selection
    confirmed in time and delivered late is in time. The handler retries and then parks the event with this
    message, as a selection over the quota is parked."""
    deadline = forward_deadline(track, level)
    if deadline is None or confirmed_at <= deadline:
        return
    whom = "教育部思政司" if to_level == "ministry" else f"学校党委{DEPARTMENTS.get(track.department, '组织部')}"
    raise Conflict(
        f"“{track.label}”{LEVEL_LABELS.get(level, level)}须于 {beijing_minute(deadline)}（北京时间）前向"
        f"{LEVEL_LABELS.get(to_level, to_level)}报送，这份入选名单确认于 {beijing_minute(confirmed_at)}，已超过截止时间，"
        f"整次报送未执行。平台目前没有延长报送期限的办法；如确需补报，请联系{whom}。",
        code="forward_deadline_passed", expected=beijing_iso(deadline), found=beijing_iso(confirmed_at))


def _forwarding(facts: SelectionFacts, work: SelectedWork) -> Forwarding | None:
    if not work.found or work.tenant_id != facts.tenant_id or work.track != facts.track_key:
        raise NotFound(f"入选作品 {work.id} 不是本校“{facts.track_key}”中的作品，整次报送未执行。",
                       code="submission_not_found", found=work.id)
    if work.state != SubmissionState.SUBMITTED or not work.complete:
        raise Conflict(f"入选作品“{work.title}”的状态为{SubmissionState(work.state).label}，只能报送已完整提交的作品。",
                       code="not_forwardable", found=work.state)
    if work.forwarded_to is not None and LEVELS.index(work.forwarded_to) >= LEVELS.index(facts.to_level):
        return None
    at = level_of_work(work.org_level, work.forwarded_to)
    if at != facts.level:
        raise Conflict(f"作品“{work.title}”目前在{LEVEL_LABELS[at]}一级，不在本轮评审的层级。",
                       code="wrong_level", expected=facts.level, found=at)
    return Forwarding(work.id, at, work.campaign_id)


# --------------------------------------------------------------------------- a final selection's result

# What a work's result reads as, per kind of decision (common.campaign.model.DECISION_KINDS); an award names its
# category (获表彰（优秀共产党员）), a publicity its period, a vetting both outcomes.
DECIDED_WORDS = {"select": "已入选", "award": "获表彰", "publicity": "公示中", "library": "已入库", "vetting": "审核通过"}
# a ministry's selection_made from before decisions (to_level null, no decision): the national selection
NATIONAL_SELECTION = {"level": "ministry", "kind": "select", "label": "择优入选"}


@dataclass(frozen=True)
class Decided:
    """The result a final round gave one work, as its submission log keeps it (action `decided`)."""

    work_id: str
    passed: bool  # chosen (入选、表彰、入库、审核通过); False only for a work that failed vetting
    detail: dict


def decide_final(data: dict) -> list[Decided]:
    """The result of a final round's selection (selection_made with to_level null) for each work it concerns.

    Nothing moves up: each chosen work gets its result, with the decision's level, kind, label, its category
    (an award by category) and its publicity period; a vetting also tells each work it failed.
    """
    decision = data.get("decision") or NATIONAL_SELECTION
    categories = {r["submission_id"]: r.get("category") for r in data.get("results", [])}
    reasons = {r["submission_id"]: r.get("reason") for r in data.get("results", [])}
    common = {"round_id": data["round_id"], "level": decision["level"], "kind": decision["kind"],
              "label": decision["label"]}
    if decision.get("publicity_days") is not None:
        common["publicity_days"] = decision["publicity_days"]
    out = [Decided(sid, True, {**common, "passed": True,
                               **({"category": categories[sid]} if categories.get(sid) else {})})
           for sid in data["selected"]]
    if decision["kind"] == "vetting":
        out += [Decided(sid, False, {**common, "passed": False, **({"reason": reasons[sid]} if reasons.get(sid) else {})})
                for sid in data["not_selected"]]
    return out


def decided_words(detail: dict, at: datetime, now: datetime) -> str:
    """How a portal shows a work's result (「获表彰（优秀共产党员）」, 「公示中（至 2020-08-07）」); `at` is when it was
    recorded. A publicity's result stands once its period is over."""
    kind = detail["kind"]
    if kind == "vetting":
        if detail.get("passed", True):
            return "审核通过"
        return f"审核未通过（{detail['reason']}）" if detail.get("reason") else "审核未通过"
    words = DECIDED_WORDS[kind]
    if kind == "award" and detail.get("category"):
        return f"{words}（{detail['category']}）"
    if kind == "publicity" and detail.get("publicity_days"):
        until = at.astimezone(BEIJING).date() + timedelta(days=int(detail["publicity_days"]))
        return f"公示中（至 {until.isoformat()}）" if now.astimezone(BEIJING).date() <= until else "公示期满，已入选"
    return words
