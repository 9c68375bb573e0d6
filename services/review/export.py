"""The ranking of a round as an Excel workbook (the format the offices file and forward)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from services.review import operations as ops


def ranking_xlsx(s, rnd) -> bytes:
    board = ops.ranking_of(s, rnd)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("排名")
    bold = Font(bold=True)
    header = ["名次", "作品名称", "报送单位", "评审人数", "原始平均分", "校正后得分", "分歧（标准差）", "评审意见分歧大", "入选"]
    ws.append([_cell(ws, h, bold) for h in header])
    for r, e in board["ranked"]:
        ws.append([r.rank, e.title, e.org_name or "", r.n_scores, round(r.raw_mean, 2), round(r.normalised, 2),
                   round(r.spread, 2), "是" if r.disagreement else "", "是" if e.submission_id in board["chosen"] else ""])
    for e in board["unscored"]:
        ws.append(["", e.title, e.org_name or "", 0, "", "", "", "", "是" if e.submission_id in board["chosen"] else ""])
    scores = wb.create_sheet("评分明细")
    scores.append([_cell(scores, h, bold) for h in ["作品名称", "评审专家", "状态", "总分", "评语"]])
    for title, name, state, total, comment in ops.score_sheet(s, rnd):
        scores.append([title, name, state, total, comment])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(ws, value, font):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.font = font
    return cell
