"""The ranking of a round as an Excel workbook (the format the offices file and forward)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from common import filetypes
from common.document_names import export_stems
from common.tables import xlsx_cell
from services.review import operations as ops
from services.review.models import FileCopy

RANKING_HEADER = ["名次", "作品名称", "报送单位", "评审人数", "原始平均分", "校正后得分", "分歧（标准差）",
                  "评审意见分歧大", "入选", "此前评审", "文件"]
SCORES_HEADER = ["作品名称", "评审专家", "状态", "总分", "评语"]
# 审核把关: nothing is scored or ranked; each work passed or failed, a failed one with its reason
VETTING_HEADER = ["作品名称", "报送单位", "审核结果", "不通过的原因", "文件"]


def ranking_xlsx(session, rnd) -> bytes:
    """Titles, org names, reviewers' names and comments are people's text: every cell goes through
    `xlsx_cell`, so none is a formula and no control character breaks the export."""
    board = ops.ranking_of(session, rnd)
    files = _file_names(session, [e for _, e in board["ranked"]] + list(board["unscored"]),
                        bool(board["track"].get("naming_rule")))
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    if board["end"].vetting:
        _vetting_sheet(wb, board, files, bold)
    else:
        _ranking_sheet(wb, board, files, bold)
    scores = wb.create_sheet("评分明细")
    scores.append([xlsx_cell(scores, h, font=bold) for h in SCORES_HEADER])
    for row in ops.score_sheet(session, rnd):
        _append(scores, list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _ranking_sheet(wb, board: dict, files: dict[str, str], bold) -> None:
    ws = wb.create_sheet("排名")

    def earlier(e) -> str:  # where a forwarded work came from: its rank and result in each earlier round
        return " → ".join(board["history"].get(e.submission_id, []))

    ws.append([xlsx_cell(ws, h, font=bold) for h in RANKING_HEADER])
    for r, e in board["ranked"]:
        _append(ws, [r.rank, e.title, e.org_name or "", r.n_scores, round(r.raw_mean, 2), round(r.normalised, 2),
                     round(r.spread, 2), "是" if r.disagreement else "",
                     "是" if e.submission_id in board["chosen"] else "", earlier(e), files[e.submission_id]])
    for e in board["unscored"]:
        _append(ws, ["", e.title, e.org_name or "", 0, "", "", "", "", "是" if e.submission_id in board["chosen"] else "",
                     earlier(e), files[e.submission_id]])


def _vetting_sheet(wb, board: dict, files: dict[str, str], bold) -> None:
    """A vetting's result: before it is confirmed every work reads 未确认; after, 通过 or 不通过 with its reason."""
    ws = wb.create_sheet("审核结果")
    ws.append([xlsx_cell(ws, h, font=bold) for h in VETTING_HEADER])
    confirmed = board["confirmed"]
    for e in [e for _, e in board["ranked"]] + list(board["unscored"]):
        passed = e.submission_id in board["chosen"]
        verdict = ("通过" if passed else "不通过") if confirmed else "未确认"
        reason = "" if passed or not confirmed else board["reasons"].get(e.submission_id, "")
        _append(ws, [e.title, e.org_name or "", verdict, reason, files[e.submission_id]])


def _file_names(session, entries: list, naming_rule: bool) -> dict[str, str]:
    """Each work's files as the office files them, one a line: 「党组织名称+作品名称.docx」 where the campaign has the
    naming rule, else by the title. This sheet is the admin's (it names the org already); reviewers' copies keep their
    neutral names (视频1.mp4)."""
    ids = [fid for e in entries for fid in (e.file_ids or [])]
    known = {f.file_id: f for f in session.scalars(select(FileCopy).where(FileCopy.file_id.in_(ids)))} if ids else {}
    out = {}
    for e in entries:
        found = [known[fid] for fid in (e.file_ids or []) if fid in known]
        stems = export_stems(e.title, [e.org_name] if naming_rule and e.org_name else [], [f.kind for f in found])
        out[e.submission_id] = "\n".join(filetypes.with_extension(stem, f.content_type) for stem, f in zip(stems, found))
    return out


def _append(ws, values: list) -> None:
    ws.append([xlsx_cell(ws, v) for v in values])
