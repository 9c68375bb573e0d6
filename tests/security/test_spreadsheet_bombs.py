"""Spreadsheet bombs (issue #14 item 8): a 2 MB .xlsx whose sharedStrings.xml inflates to 1 GB.

openpyxl reads every shared string when it opens a workbook, so such an org list took intake's memory
and held its event loop. Now the workbook is measured from its zip directory (common/archives.py, the
same check media applies to DOCX) and refused before openpyxl sees it; parsing runs in a thread, and
rows and columns are capped. Intake runs as its own process, so its own peak memory is measured; the
reviewer import is tried on a running review service. Timing is part of the item: the bomb is refused
quickly and /health answers meanwhile.
"""
import io
import os
import threading
import time
import zipfile

import pytest
import requests
from openpyxl import Workbook

from common.errors import DomainError
from common.tables import MAX_COLUMNS, MAX_SHEET_ROWS, open_rows
from services.intake.domain.orgs import parse_org_table
from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, csrf, publish, review, story, the_round  # noqa: F401  (fixture)
from tests.security.test_fuzz_api import lone_intake  # noqa: F401  (fixture: intake as its own process)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SST = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
INFLATED = 1 << 30


def xlsx_with_shared_strings(rows, padding_bytes: int) -> bytes:
    """A workbook whose cells refer to shared strings, followed by `padding_bytes` of strings nobody uses."""
    raw = io.BytesIO()
    Workbook().save(raw)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    strings = [s for row in rows for s in row]
    cells = "".join(f'<row r="{r + 1}">' + "".join(
        f'<c r="{chr(65 + c)}{r + 1}" t="s"><v>{r * len(rows[0]) + c}</v></c>' for c in range(len(row))) + "</row>"
        for r, row in enumerate(rows))
    out_buffer = io.BytesIO()
    with zipfile.ZipFile(out_buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        f"<sheetData>{cells}</sheetData></worksheet>").encode()
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                                 f'ContentType="{_SST_TYPE}"/></Types>'.encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Type="{_SST}" Target="sharedStrings.xml" '
                                                         f'Id="rId9"/></Relationships>'.encode())
            out.writestr(info.filename, data)
        item = "<si><t>" + "A" * 1000 + "</t></si>"
        n = padding_bytes // len(item)
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n + len(strings)}" '
                    f'uniqueCount="{n + len(strings)}">'.encode())
            f.write("".join(f"<si><t>{s}</t></si>" for s in strings).encode())
            chunk = (item * 1024).encode()
            for _ in range(n // 1024):
                f.write(chunk)
            f.write(b"</sst>")
    return out_buffer.getvalue()


ORG_ROWS = (("名称", "层级"), ("材料科学与工程学院党委", "二级党组织"))
REVIEWER_ROWS = (("姓名", "邮箱"), ("王老师", "wang@example.edu.cn"))


@pytest.fixture(scope="session")
def org_bomb():
    return xlsx_with_shared_strings(ORG_ROWS, INFLATED)


@pytest.fixture(scope="session")
def reviewer_bomb():
    return xlsx_with_shared_strings(REVIEWER_ROWS, INFLATED)


def test_the_bombs_are_real_workbooks_small_outside_and_huge_inside(org_bomb):
    with zipfile.ZipFile(io.BytesIO(org_bomb)) as zf:
        inflated = sum(i.file_size for i in zf.infolist())
    assert len(org_bomb) < 3 * 1024 * 1024 and inflated > 0.99 * INFLATED
    # the same shape with a little padding is an ordinary list, read as such
    rows = parse_org_table(xlsx_with_shared_strings(ORG_ROWS, 10_000), "orgs.xlsx", XLSX)
    assert [r.name for r in rows] == ["材料科学与工程学院党委"]


def peak_rss_kb(pid) -> int:
    status = open(f"/proc/{pid}/status").read()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


class HealthPoller:
    """Asks /health every 50 ms from a real thread while something else runs; keeps each answer's time."""

    def __init__(self, url):
        self.url, self.times, self.failures = url, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = requests.get(self.url, timeout=5).status_code == 200
            except requests.RequestException as exc:
                ok = False
                self.failures.append(repr(exc))
            if not ok:
                self.failures.append("not 200")
            self.times.append(time.monotonic() - started)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def test_intake_refuses_an_org_list_bomb_quickly_in_little_memory_and_keeps_answering(lone_intake, org_bomb):  # noqa: F811
    base, pid = lone_intake["base"], lone_intake["pid"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {lone_intake['key']}"
    # a real list first: openpyxl and the import path are loaded, so what follows is the bomb's own cost
    ok = http.post(f"{base}/api/v1/orgs/import", data=xlsx_with_shared_strings(ORG_ROWS, 10_000),
                   headers={"Content-Type": XLSX})
    assert ok.status_code == 200, ok.text
    before = peak_rss_kb(pid)
    with HealthPoller(f"{base}/health") as health:
        started = time.monotonic()
        r = http.post(f"{base}/api/v1/orgs/import", params={"filename": "组织名单.xlsx"}, data=org_bomb,
                      headers={"Content-Type": XLSX}, timeout=60)
        took = time.monotonic() - started
        time.sleep(0.3)  # a few more answers after the refusal
    error = r.json()["error"]
    assert r.status_code == 413 and error["code"] == "spreadsheet_too_large", r.text
    assert "组织名单.xlsx" in error["message"] and "解压后" in error["message"] and "另存为" in error["message"]
    assert error["found"] > 0.99 * INFLATED
    grew_mb = (peak_rss_kb(pid) - before) / 1024
    print(f"bomb refused in {took * 1000:.0f} ms; peak RSS grew {grew_mb:.1f} MB; "
          f"/health slowest {max(health.times) * 1000:.0f} ms over {len(health.times)} answers")
    assert took < 5, took
    assert grew_mb < 50, grew_mb  # the bomb inflated is 1024 MB
    assert not health.failures and len(health.times) >= 3 and max(health.times) < 1.0, health.times
    assert http.get(f"{base}/api/v1/orgs").json()["total"] == 1  # nothing imported


def test_review_refuses_a_reviewer_list_bomb_and_keeps_answering(review, reviewer_bomb):  # noqa: F811
    base = review["base"]
    publish(review["amqp"], INTAKE, story("o-cse", 1))
    round_id = wait_until(lambda: the_round(review["store"]), timeout=20, what="the round")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    before = peak_rss_kb(os.getpid())
    with HealthPoller(f"{base}/health") as health:
        r = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                     files={"file": ("专家名单.xlsx", reviewer_bomb, XLSX)}, timeout=60)
        time.sleep(0.3)
    assert r.status_code == 413 and "解压后" in r.text and "专家名单.xlsx" in r.text
    grew_mb = (peak_rss_kb(os.getpid()) - before) / 1024
    assert grew_mb < 50, grew_mb
    assert not health.failures and max(health.times) < 1.0, health.times


# --------------------------------------------------------------------------- rows and columns


def _wide_row_workbook(columns: int) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["名称", "层级"])
    ws.cell(row=2, column=columns, value="多出来的列")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _tall_workbook(last_row: int) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["名称", "层级"])
    ws.cell(row=last_row, column=1, value="最后一行")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("data,code", [
    (_wide_row_workbook(MAX_COLUMNS + 1), "too_many_columns"),
    (_tall_workbook(1_048_576), "too_many_rows"),  # one cell at Excel's last row: a million rows to walk
    (("名称,层级\n" + "\n" * (MAX_SHEET_ROWS + 5) + "x,党支部\n").encode(), "too_many_rows"),
    (("名称,层级" + ",x" * MAX_COLUMNS + "\n").encode(), "too_many_columns"),
])
def test_rows_and_columns_are_capped_with_the_row_named(data, code):
    with pytest.raises(DomainError) as caught:
        with open_rows(data, "名单", None, what="组织名单", error_code="org_import_invalid") as rows:
            for _ in rows:
                pass
    detail = caught.value.details[0]
    assert detail["code"] == code and detail["row"] and "请" in detail["message"]
