"""The ranking of a round as an Excel workbook (the format the offices file and forward)."""
from __future__ import annotations

import io
import unicodedata

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from common import filetypes
from common.document_names import export_stems
from common.tables import xlsx_cell
from services.review import operations as ops
from services.review.domain import decisions, reviews
from services.review.models import FileCopy

RANKING_HEADER = ["名次", "作品名称", "报送单位", "评审人数", "原始平均分", "校正后得分", "分歧（标准差）",
                  "评审意见分歧大", "入选", "此前评审", "文件"]
# each criterion's marks go before 总分; the admin's confidential comment, then the one for the org (sent only if chosen)
SCORES_HEADER = ["作品名称", "评审专家", "状态", "总分", "评语（保密）", "给报送单位的意见"]
# 审核把关: nothing is scored or ranked; each work passed or failed, a failed one with its reason
VETTING_HEADER = ["作品名称", "报送单位", "审核结果", "不通过的原因", "文件"]
UNIVERSITY = "高校"  # after 作品名称, in a national round: two 「医学院党委」 are told apart by it
# a column as wide as its longest line, within these (Excel's width is about one Latin character; a Chinese one is two)
MIN_WIDTH, MAX_WIDTH = 6, 60
WRAPPED = Alignment(wrap_text=True, vertical="top")


def download_names(session, rnd) -> tuple[str, str]:
    """The download's name, descriptive Chinese (「<活动名称>·战疫故事汇·校级评审排名.xlsx」), and its ASCII fallback."""
    track = ops.track_of(session, rnd.campaign_id, rnd.track)
    vetting = decisions.round_end(track, rnd.level).vetting
    return (reviews.export_file_name(ops.campaign_title(session, rnd), track.get("label", rnd.track), rnd.level,
                                     rnd.batch or 1, vetting),
            reviews.ascii_file_name(rnd.track, rnd.level, rnd.batch or 1))


def ranking_xlsx(session, rnd) -> bytes:
    """Titles, org names, reviewers' names and comments are people's text: every cell goes through
    `xlsx_cell`, so none is a formula and no control character breaks the export.

    Each sheet opens with a title row naming the campaign, the round (its owner, track, level) and the sheet, then
    the header, frozen with the title above it while the office scrolls."""
    board = ops.ranking_of(session, rnd)
    files = _file_names(session, [e for _, e in board["ranked"]] + list(board["unscored"]),
                        bool(board["track"].get("naming_rule")))
    wb = Workbook(write_only=True)
    campaign = ops.campaign_title(session, rnd)

    def title(sheet: str) -> str:
        return reviews.export_title(campaign, rnd.title, sheet)

    if board["end"].vetting:
        _sheet(wb, "审核结果", title("审核结果"), *_vetting_rows(board, files))
    else:
        _sheet(wb, "排名", title("排名"), *_ranking_rows(board, files))
    criteria, scores = ops.score_sheet(session, rnd)
    university = [UNIVERSITY] if board["universities"] else []
    _sheet(wb, "评分明细", title("评分明细"), [SCORES_HEADER[0], *university, *SCORES_HEADER[1:3], *criteria, *SCORES_HEADER[3:]],
           scores)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet(wb, name: str, title: str, header: list[str], rows: list[list]) -> None:
    """A write-only sheet: its widths and frozen panes are set before the first row is written."""
    ws = wb.create_sheet(name)
    for n, width in enumerate(column_widths([header, *rows]), start=1):
        ws.column_dimensions[get_column_letter(n)].width = width
    ws.freeze_panes = "A3"  # the title and the header stay in view
    bold = Font(bold=True)
    ws.append([xlsx_cell(ws, title, font=Font(bold=True, size=14))])
    ws.append([xlsx_cell(ws, h, font=bold) for h in header])
    for row in rows:
        # a cell of several lines (a work's files, a comment) shows them all rather than one cut off
        ws.append([xlsx_cell(ws, v, alignment=WRAPPED) if isinstance(v, str) and "\n" in v else xlsx_cell(ws, v)
                   for v in row])


def column_widths(rows: list[list]) -> list[float]:
    """Each column as wide as its longest line (a Chinese character counts two), within MIN_WIDTH and MAX_WIDTH."""
    widths: list[float] = []
    for row in rows:
        for n, value in enumerate(row):
            text = "" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
            longest = max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                           for line in text.split("\n")), default=0)
            if n == len(widths):
                widths.append(0)
            widths[n] = max(widths[n], longest)
    return [min(MAX_WIDTH, max(MIN_WIDTH, w + 2)) for w in widths]


def _ranking_rows(board: dict, files: dict[str, str]) -> tuple[list[str], list[list]]:
    universities = board["universities"]

    def earlier(e) -> str:  # where a forwarded work came from: its rank and result in each earlier round
        return " → ".join(board["history"].get(e.submission_id, []))

    def named(e) -> list:  # the title, then in a national round the university
        return [e.title, *([universities.get(e.submission_id, "")] if universities else [])]

    header = [*RANKING_HEADER[:2], *([UNIVERSITY] if universities else []), *RANKING_HEADER[2:]]
    rows = []
    for r, e in board["ranked"]:
        rows.append([r.rank, *named(e), e.org_name or "", r.n_scores, round(r.raw_mean, 2), round(r.normalised, 2),
                     round(r.spread, 2), "是" if r.disagreement else "",
                     "是" if e.submission_id in board["chosen"] else "", earlier(e), files[e.submission_id]])
    for e in board["unscored"]:
        rows.append(["", *named(e), e.org_name or "", 0, "", "", "", "",
                     "是" if e.submission_id in board["chosen"] else "", earlier(e), files[e.submission_id]])
    return header, rows


def _vetting_rows(board: dict, files: dict[str, str]) -> tuple[list[str], list[list]]:
    """A vetting's result: before it is confirmed every work reads 未确认; after, 通过 or 不通过 with its reason."""
    universities = board["universities"]
    header = [VETTING_HEADER[0], *([UNIVERSITY] if universities else []), *VETTING_HEADER[1:]]
    confirmed = board["confirmed"]
    rows = []
    for e in [e for _, e in board["ranked"]] + list(board["unscored"]):
        passed = e.submission_id in board["chosen"]
        verdict = ("通过" if passed else "不通过") if confirmed else "未确认"
        reason = "" if passed or not confirmed else board["reasons"].get(e.submission_id, "")
        rows.append([e.title, *([universities.get(e.submission_id, "")] if universities else []), e.org_name or "",
                     verdict, reason, files[e.submission_id]])
    return header, rows


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

