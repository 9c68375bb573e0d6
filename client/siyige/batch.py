"""`submit-folder`: every manifest row becomes a work (created or found again), its files uploaded, optionally its
checks awaited, then submitted; each row's outcome for the report. A row's failure never stops the others, and a
second run creates nothing the first one made: each row's requests carry keys derived from its content, and a work
already there (same campaign, track, org and title) is taken up where it stopped."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import ManifestError, SiyigeError
from .manifest import FieldMap, Row, content_type_of, match_campaign, match_org, match_track, normalise, workbook
from .uploads import sha256_of

DONE, ALREADY, PARTLY, FAILED = "已提交", "此前已提交", "部分完成", "失败"


@dataclass
class Outcome:
    row: int
    title: str = ""
    org: str = ""
    status: str = FAILED
    receipt_no: str | None = None
    stage: str | None = None
    submission_id: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (DONE, ALREADY)


class Progress:
    """A plain-text progress line on stderr: rewritten in place on a terminal, one line per step in a log."""

    def __init__(self, total: int, stream=None):
        self.total, self.stream = total, stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.index, self.title, self.last = 0, "", None

    def row(self, index: int, title: str):
        self.index, self.title = index, title
        self.step("开始")

    def step(self, text: str, percent: int | None = None):
        line = f"[{self.index}/{self.total}] {self.title} {text}"
        if percent is not None:
            if not self.tty:
                return  # a log gets each step, not each percent
            line += f" {percent}%"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class Batch:
    def __init__(self, client, folder, *, campaign=None, track=None, wait_checks=False, check_timeout=900.0,
                 progress: Progress | None = None, webhook=None):
        self.client, self.folder = client, Path(folder)
        self.default_campaign, self.default_track = campaign, track
        self.wait_checks, self.check_timeout, self.progress = wait_checks, check_timeout, progress
        self.webhook = webhook
        self._campaigns, self._definitions, self._orgs = None, {}, None

    # ------------------------------------------------------------------ lookups, each asked once per run

    def campaign(self, value) -> dict:
        """The definition of the campaign a cell names by id or title; by its short title only the definitions
        say (the list does not carry it), so they are read when the list is not enough."""
        if self._campaigns is None:
            self._campaigns = self.client.campaigns()
        try:
            campaign_id = match_campaign(value, self._campaigns)
        except ManifestError:
            campaign_id = match_campaign(value, [self._definition(c["id"]) for c in self._campaigns])
        return self._definition(campaign_id)

    def _definition(self, campaign_id: str) -> dict:
        if campaign_id not in self._definitions:
            self._definitions[campaign_id] = self.client.campaign(campaign_id)
        return self._definitions[campaign_id]

    def orgs(self) -> list[dict]:
        if self._orgs is None:
            self._orgs = self.client.orgs()
        return self._orgs

    # ------------------------------------------------------------------ rows

    def run(self, rows: list[Row]) -> list[Outcome]:
        outcomes = []
        for index, row in enumerate(rows, start=1):
            outcomes.append(self.run_row(index, row))
        if self.progress:
            self.progress.done()
        return outcomes

    def run_row(self, index: int, row: Row) -> Outcome:
        out = Outcome(row.number, title=str(_title_cell(row) or ""),
                      org=str(row.column("org") or ""))
        if self.progress:
            self.progress.row(index, out.title or f"第 {row.number} 行")
        try:
            self._work(row, out)
        except SiyigeError as exc:
            out.code, out.message = exc.code, exc.message
        except TimeoutError as exc:
            out.code, out.message = "check_timeout", str(exc)
        except (requests.RequestException, OSError) as exc:
            out.code = "network_error"
            out.message = f"与平台的连接多次失败（{type(exc).__name__}）。请检查网络后重新运行，已完成的部分不会重复。"
        except Exception as exc:  # a row the client mishandles must not stop the other rows
            out.code = "client_error"
            out.message = f"客户端处理此行时出错（{type(exc).__name__}: {exc}）。请把此报告发给平台管理员。"
        if out.code and out.status != PARTLY:
            out.status = FAILED
        return out

    def _plan(self, row: Row):
        """What the row asks for, checked before anything is created: campaign, track, org, fields, local files."""
        campaign_cell = row.column("campaign") or self.default_campaign
        track_cell = row.column("track") or self.default_track
        if not campaign_cell or not track_cell:
            raise ManifestError("missing_column", f"第 {row.number} 行没有填写活动或项目。请在“活动”“项目”列中填写，"
                                "或在命令中用 --campaign、--track 给出。", field="campaign" if not campaign_cell else "track")
        campaign = self.campaign(campaign_cell)
        track = match_track(track_cell, campaign)
        if not row.column("org"):
            raise ManifestError("missing_column", f"第 {row.number} 行没有填写党组织。", field="org")
        org = match_org(row.column("org"), self.orgs())
        fields = FieldMap.of(campaign["tracks"][track]).values(row, campaign.get("themes") or ())
        files = []
        for kind, name in row.files():
            path = self.folder / name
            if not path.is_file():
                raise ManifestError("local_file_missing", f"第 {row.number} 行列出的文件“{name}”不在文件夹 {self.folder} 中。"
                                    "请检查文件名（含扩展名）。", field="files", found=name)
            files.append((kind, path))
        return campaign["id"], track, org, fields, files

    def _work(self, row: Row, out: Outcome):
        campaign_id, track, org, fields, files = self._plan(row)
        out.org, out.title = org["name"], fields.get("title", out.title)
        work = self._existing(campaign_id, track, org["id"], fields.get("title"))
        if work and work["state"] == "submitted" and work.get("complete"):
            out.status, out.receipt_no, out.stage, out.submission_id = ALREADY, work["receipt_no"], work["stage"], work["id"]
            return
        if work is None:
            self._step("创建作品")
            work = self.client.create_submission(campaign_id, track, org["id"], fields,
                                                 idempotency_key=row.key("create", campaign_id, track, org["id"]))
        elif any(work["fields"].get(k) != v for k, v in fields.items()):
            self._step("更新字段")
            work = self.client.update_submission(work["id"], fields)
        out.submission_id = work["id"]
        self._upload(row, work, files)
        if self.wait_checks and files:
            self._await_checks(work["id"])
        self._submit(row, self.client.submission(work["id"]), out)  # as it stands now, its files included

    def _existing(self, campaign_id, track, org_id, title) -> dict | None:
        """The work this row made in an earlier run, if any (withdrawn ones do not count)."""
        if not title:
            return None
        for w in self.client.submissions(campaign_id=campaign_id, track=track, org_id=org_id, q=title):
            if w.get("title") == title and w["state"] != "withdrawn":
                return self.client.submission(w["id"])
        return None

    def _upload(self, row: Row, work: dict, files):
        have = {(f["kind"], f["sha256"]) for f in work.get("files") or [] if f.get("state") == "stored"}
        for number, (kind, path) in enumerate(files, start=1):
            label = f"上传 {number}/{len(files)} {path.name}"
            self._step(f"{label} 计算校验值")
            sha, size = sha256_of(path)
            if (kind, sha) in have:
                continue
            self._step(label)
            report = (lambda sent, total, label=label: self._step(label, sent * 100 // total if total else None))
            self.client.upload_file(work["id"], kind, path, content_type_of(path.name), report,
                                    idempotency_key=row.key("file", work["id"], kind, path.name, sha),
                                    digest=(sha, size))

    def _await_checks(self, submission_id: str):
        for f in self.client.submission(submission_id).get("files") or []:
            if f.get("state") == "stored" and not (f.get("check") or {}).get("verdict"):
                self._step(f"等待检测 {f['name']}")
                self.client.wait_for_check(f["id"], timeout=self.check_timeout, webhook=self.webhook)

    def _submit(self, row: Row, work: dict, out: Outcome):
        """Each stage in order until the work is complete; a stage refused keeps the receipts of those before it."""
        for _ in range(8):  # more than any track's stages: a guard, never reached by a well-formed answer
            self._step("提交")
            try:
                # the key names the stage and the files: a work reopened by a new file is submitted anew, not replayed
                files = sorted(f["id"] for f in work.get("files") or [])
                work = self.client.submit(work["id"], idempotency_key=row.key("submit", work["id"], work.get("stage"), files))
            except SiyigeError:
                if work.get("receipt_no"):
                    out.status, out.receipt_no, out.stage = PARTLY, work["receipt_no"], work.get("stage")
                raise
            out.receipt_no, out.stage = work.get("receipt_no"), work.get("stage")
            if work.get("complete"):
                out.status = DONE
                return
        raise ManifestError("submit_loop", "提交的阶段数超出预期，请在平台上查看此作品。")

    def _step(self, text: str, percent: int | None = None):
        if self.progress:
            self.progress.step(text, percent)


def _title_cell(row: Row):
    """The title before the track is known, for the progress line: the common title headers."""
    for header, value in row.cells.items():
        if normalise(header) in ("title", "作品名称", "党课题目", "标题", "题目") and value:
            return value
    return None


# ---------------------------------------------------------------------------------------------- report

REPORT_HEADERS = ("行号", "作品名称", "党组织", "结果", "回执编号", "已提交阶段", "错误代码", "错误说明", "作品编号")


def write_report(outcomes: list[Outcome], path) -> None:
    wb, ws = workbook("报送结果", REPORT_HEADERS, (6, 36, 28, 10, 24, 12, 24, 60, 34))
    for o in outcomes:
        ws.append([o.row, o.title, o.org, o.status, o.receipt_no, o.stage, o.code, o.message, o.submission_id])
    wb.save(path)


def summary(outcomes: list[Outcome]) -> str:
    done = sum(o.status == DONE for o in outcomes)
    before = sum(o.status == ALREADY for o in outcomes)
    failed = [o for o in outcomes if not o.ok]
    lines = [f"共 {len(outcomes)} 行：本次提交 {done} 行，此前已提交 {before} 行，未完成 {len(failed)} 行。"]
    for o in outcomes:
        if o.ok:
            lines.append(f"  第 {o.row} 行 {o.title}：{o.status}，回执编号 {o.receipt_no}")
        else:
            receipt = f"（已有回执 {o.receipt_no}）" if o.receipt_no else ""
            lines.append(f"  第 {o.row} 行 {o.title}：{o.status}{receipt}，{o.code}：{o.message}")
    return "\n".join(lines)
