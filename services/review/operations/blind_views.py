"""What reviewers see, blind: their queue, and one work with its fields, clean file copies and matched passages."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from common import filetypes
from common.errors import NotFound
from common.text import count_chars
from services.review.domain import blind
from services.review.domain.lifecycles import AssignmentState, ScoreState
from services.review.models import Assignment, Entry, FileCopy, Round, Score
from services.review.operations.copies import masked_names, reviewer_track
from services.review.operations.texts import matches_for_reviewer


def reviewer_assignment(session, reviewer_id: str, assignment_id: str) -> Assignment:
    """An assignment of this reviewer; anything else is 404, as if it did not exist."""
    a = session.get(Assignment, assignment_id)
    if a is None or a.reviewer_id != reviewer_id or a.state != AssignmentState.ASSIGNED:
        raise NotFound("没有这件作品（或它不在您的评审任务中）。", code="assignment_not_found")
    return a


def queue(session, reviewer_id: str) -> list[dict]:
    rows = session.execute(select(Assignment, Entry.title, Entry.tenant, Entry.track, Score.state, Score.total)
                           .join(Entry, Entry.submission_id == Assignment.submission_id)
                           .outerjoin(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.reviewer_id == reviewer_id, Assignment.state == AssignmentState.ASSIGNED)
                           .order_by(Assignment.position, Assignment.id)).all()
    names = {}
    out = []
    for n, (a, title, tenant, track, state, total) in enumerate(rows, start=1):
        if tenant not in names:
            names[tenant] = masked_names(session, tenant)
        out.append({"n": n, "assignment_id": a.id, "title": blind.mask(title, names[tenant]),
                    "state": state or ScoreState.OPEN, "total": total})
    return out


def work_view(session, a: Assignment, links) -> dict:
    """Everything a reviewer sees of one work, blind."""
    entry = session.get(Entry, a.submission_id)
    rnd = session.get(Round, a.round_id)
    track = reviewer_track(session, rnd, entry)
    names = masked_names(session, entry.tenant)
    fields = blind.reviewer_fields(entry.fields or {}, track.get("fields") or
                                   [{"key": k, "label": k} for k in ("title", "text")], names)
    text_keys = {spec["key"] for spec in track.get("fields", []) if spec.get("type") == "text"}
    files, counters = [], Counter()
    for f in session.scalars(select(FileCopy).where(FileCopy.file_id.in_(entry.file_ids or [""]))
                             .order_by(FileCopy.kind, FileCopy.file_id)).all():
        counters[f.kind] += 1
        files.append(_reviewer_file(f, counters[f.kind], links))
    score = session.get(Score, a.id)
    return {
        "assignment": a, "round": rnd, "track": track, "position": _position(session, a),
        "title": blind.mask(entry.title, names),
        "fields": [(key, label, text, count_chars(text) if key in text_keys else None) for key, label, text in fields],
        "files": files, "rubric": track.get("rubric", []), "score": score, "next_id": _following(session, a),
        "matches": matches_for_reviewer(session, entry),
    }


def work_label(session, a: Assignment) -> str:
    """A work as the reviewer's queue names it, blind: 「第 3 件《…》」; notices say which work they mean."""
    entry = session.get(Entry, a.submission_id)
    return f"第 {_position(session, a)} 件《{blind.mask(entry.title, masked_names(session, entry.tenant))}》"


def _position(session, a: Assignment) -> int:
    """Where the work sits in the reviewer's queue, from 1."""
    return session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.reviewer_id == a.reviewer_id, Assignment.state == AssignmentState.ASSIGNED,
        Assignment.position <= a.position))


def _following(session, a: Assignment) -> str | None:
    """The first other work of the reviewer's queue not yet submitted: where 提交评分 leads."""
    return session.scalar(select(Assignment.id).outerjoin(Score, Score.assignment_id == Assignment.id).where(
        Assignment.reviewer_id == a.reviewer_id, Assignment.state == AssignmentState.ASSIGNED, Assignment.id != a.id,
        (Score.state.is_(None)) | (Score.state != ScoreState.SUBMITTED)).order_by(Assignment.position).limit(1))


# The copy media made for reviewers, per kind: never the original, which may name its author in its
# metadata (tags, document properties, comments, subtitle headers) and was typed by the uploader.
REVIEWER_COPY = {"video": "playback", "image": "review_copy", "audio": "review_copy", "document": "review_copy",
                 "subtitle": "review_copy"}
# Checks made before media recorded derived_types: their picture copies and video frames were already
# clean (EXIF-free JPEG/PNG; the playback remux never copied tags), so their type follows from what they are.
_LEGACY_TYPES = {("video", "playback"): "video/mp4", ("video", "poster"): "image/jpeg",
                 ("video", "contact_sheet"): "image/jpeg", ("image", "review_copy"): None}
NO_CLEAN_COPY = "未能生成去除作者信息的评审副本。为保证盲评，此文件不提供给评审专家；请参考文件检查结果和作品其他内容评分。"


def _derived_type(f: FileCopy, name: str) -> str | None:
    """The type media determined for one of its copies of `f`, or None when it vouched for none."""
    key = (f.derived or {}).get(name)
    if not key:
        return None
    types = (f.facts or {}).get("derived_types")
    if types is not None:
        return types.get(name)
    if (f.kind, name) not in _LEGACY_TYPES:
        return None
    return _LEGACY_TYPES[(f.kind, name)] or ("image/png" if key.endswith(".png") else "image/jpeg")


def _reviewer_file(f: FileCopy, index: int, links) -> dict:
    """A file as a reviewer gets it: media's clean copy under a neutral name and the type media determined."""
    item = {"kind": f.kind, "findings": blind.reviewer_findings(f.findings), "verdict": f.verdict, "facts": f.facts or {}}
    name = REVIEWER_COPY.get(f.kind, "review_copy")
    ctype = _derived_type(f, name)
    item["name"] = filetypes.with_extension(blind.neutral_file_name(f.kind, index, ctype or ""), ctype)
    item["url"] = links.url(f.derived[name], item["name"], ctype) if ctype else None
    if item["url"] is None:
        item["unavailable"] = NO_CLEAN_COPY
    for extra in ("poster", "contact_sheet"):
        extra_type = _derived_type(f, extra) if f.kind == "video" else None
        if extra_type:
            item[extra] = links.url(f.derived[extra], f"{extra}.jpg", extra_type)
    return item
