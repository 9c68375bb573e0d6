"""The ranking of a round as an Excel workbook (the format the offices file and forward)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from common.tables import xlsx_cell
from services.review import operations as ops

RANKING_HEADER = ["名次", "作品名称", "报送单位", "评审人数", "原始平均分", "校正后得分", "分歧（标准差）",
                  "评审意见分歧大", "入选"]
SCORES_HEADER = ["作品名称", "评审专家", "状态", "总分", "评语"]


def ranking_xlsx(session, rnd) -> bytes:
    """Titles, org names, reviewers' names and comments are people's text: every cell goes through
    `xlsx_cell`, so none is a formula and no control character breaks the export."""
    board = ops.ranking_of(session, rnd)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("排名")
    bold = Font(bold=True)
    ws.append([xlsx_cell(ws, h, font=bold) for h in RANKING_HEADER])
    for r, e in board["ranked"]:
        _append(ws, [r.rank, e.title, e.org_name or "", r.n_scores, round(r.raw_mean, 2), round(r.normalised, 2),
                     round(r.spread, 2), "是" if r.disagreement else "",
                     "是" if e.submission_id in board["chosen"] else ""])
    for e in board["unscored"]:
        _append(ws, ["", e.title, e.org_name or "", 0, "", "", "", "", "是" if e.submission_id in board["chosen"] else ""])
    scores = wb.create_sheet("评分明细")
    scores.append([xlsx_cell(scores, h, font=bold) for h in SCORES_HEADER])
    for row in ops.score_sheet(session, rnd):
        _append(scores, list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _append(ws, values: list) -> None:
    ws.append([xlsx_cell(ws, v) for v in values])
