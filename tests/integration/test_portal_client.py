"""The portal client and its command line (issue #20) against a running intake: a 组织部's folder of works and its
XLSX manifest submitted in one command (receipts for the good rows, the code and Chinese message for the bad ones,
nothing created twice by a second run), an upload that resumes after its connection drops, and typed errors.
Real HTTP and a real RabbitMQ; media's verdicts are announced as media would."""
from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest
from openpyxl import Workbook, load_workbook

from client.siyige import Client, Conflict, Invalid, NotFound, Unauthorized
from client.siyige.__main__ import main
from common import clock
from tests.integration.test_intake_api import announce_check, start_intake
from tests.integration.test_intake_storage import intake_s3, s3_server  # noqa: F401  (fixtures)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
MB = 1024 * 1024


@pytest.fixture
def env(sqlite_url, make_config, start_service):
    # SQLite only: the client speaks HTTP, the database behind intake is test_intake_api's concern
    yield start_intake(sqlite_url, make_config, start_service)
    clock.set_start(None)


def client_of(env, tenant="seu") -> Client:
    return Client(env["base"], env[tenant].key, backoff=0.05)


def total_works(env) -> int:
    return env["seu"]("GET", "/api/v1/submissions").json()["total"]


class MediaStandIn:
    """Passes every stored file without a verdict, as the media service would once it has checked it."""

    def __init__(self, env):
        self.env, self.stop = env, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        seu = self.env["seu"]
        while not self.stop.wait(0.1):
            for work in seu("GET", "/api/v1/submissions").json()["items"]:
                for f in seu("GET", f"/api/v1/submissions/{work['id']}").json()["files"]:
                    if f["state"] == "stored" and not f["check"]["verdict"]:
                        announce_check(self.env, f["id"], work["id"], "passed")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_a_folder_of_works_submitted_from_its_manifest_and_a_second_run_creates_nothing(env, tmp_path, capsys):
    args = ["--url", env["base"], "--key", env["seu"].key]
    template = tmp_path / "模板.xlsx"
    assert main(["template", *args, "--campaign", "siyige-2020-seu", "--track", "战疫故事汇", "-o", str(template)]) == 0
    headers = [c.value for c in load_workbook(template).active[1]]
    assert headers == ["活动", "项目", "党组织", "作品名称*", "所属党支部", "故事正文*", "文件"]

    folder = tmp_path / "作品"
    folder.mkdir()
    (folder / "合影.png").write_bytes(PNG)
    (folder / "现场.png").write_bytes(PNG[::-1])
    wb = load_workbook(template)
    sheet = wb.active
    sheet.cell(1, 5).value = "branch_name"  # a field's key is as good as its label
    sheet.append(["siyige-2020-seu", "战疫故事汇", "计算机科学与工程学院党委", "计算机学院党委战疫故事", "教工第一党支部",
                  "疫情之中，党员冲在前面。", "合影.png、现场.png"])
    sheet.append(["siyige-2020-seu", "story", "机械工程学院党委", "机械学院抗疫纪实", None, "机械学院师生同心抗疫。", None])
    sheet.append(["siyige-2020-seu", "story", "不存在的学院党委", "查无此组织的故事", None, "故事。", None])
    sheet.append(["siyige-2020-seu", "story", "机械工程学院党委", "没有正文的故事", None, None, None])
    manifest = tmp_path / "works.xlsx"
    wb.save(manifest)
    report = tmp_path / "report.xlsx"

    with MediaStandIn(env):
        code = main(["submit-folder", str(folder), "--manifest", str(manifest), *args, "--wait-checks",
                     "--check-timeout", "30", "--report", str(report)])
    assert code == 1  # a row failed
    out = capsys.readouterr()
    assert "[1/4] 计算机学院党委战疫故事" in out.err and "上传 2/2 现场.png" in out.err
    assert "共 4 行：本次提交 2 行，此前已提交 0 行，未完成 2 行。" in out.out

    rows = list(load_workbook(report).active.iter_rows(min_row=2, values_only=True))
    by_title = {r[1]: r for r in rows}
    good = [by_title["计算机学院党委战疫故事"], by_title["机械学院抗疫纪实"]]
    assert [r[3] for r in good] == ["已提交", "已提交"]
    assert all(r[4].startswith("SEU-20200612-") for r in good)
    unknown = by_title["查无此组织的故事"]
    assert (unknown[3], unknown[6]) == ("失败", "org_not_found") and "找不到党组织“不存在的学院党委”" in unknown[7]
    empty = by_title["没有正文的故事"]
    assert empty[3] == "失败" and empty[6] and "故事正文" in empty[7], empty  # the platform's own refusal
    work = env["seu"]("GET", f"/api/v1/submissions/{good[0][8]}").json()
    assert sorted(f["name"] for f in work["files"]) == ["合影.png", "现场.png"]
    assert work["fields"]["branch_name"] == "教工第一党支部" and work["state"] == "submitted"

    # again: nothing new, the same receipts; the draft without text is found again, not doubled
    before = total_works(env)
    assert before == 3
    assert main(["submit-folder", str(folder), "--manifest", str(manifest), *args, "--report", str(report)]) == 1
    assert total_works(env) == before
    again = {r[1]: r for r in load_workbook(report).active.iter_rows(min_row=2, values_only=True)}
    assert [(again[r[1]][3], again[r[1]][4]) for r in good] == [("此前已提交", r[4]) for r in good]
    assert again["没有正文的故事"][8] == empty[8]


class DropsOnce:
    """Opens files as `open` does, except that the second one opened (the first PUT: the first is hashing) breaks
    after `after` bytes, as a phone's connection does between two cells. Records where each opened file was read from."""

    def __init__(self, after: int):
        self.after, self.opened, self.starts = after, 0, []

    def __call__(self, path, mode="rb"):
        self.opened += 1
        return _Flaky(open(path, mode), self.after if self.opened == 2 else None, self.starts)


class _Flaky(io.RawIOBase):
    def __init__(self, f, after, starts):
        self.f, self.after, self.read_so_far, self.starts = f, after, 0, starts
        starts.append(0)

    def seek(self, offset, whence=0):
        self.starts[-1] = offset
        return self.f.seek(offset, whence)

    def read(self, n=-1):
        if self.after is not None and self.read_so_far >= self.after:
            raise ConnectionResetError("the connection dropped")
        chunk = self.f.read(n)
        self.read_so_far += len(chunk)
        return chunk

    def close(self):
        self.f.close()
        super().close()


def test_an_upload_that_drops_goes_on_from_what_arrived(env, tmp_path):
    client = client_of(env)
    org = next(o for o in client.orgs() if o["name"] == "计算机科学与工程学院党委")
    work = client.create_submission("siyige-2020-seu", "lecture", org["id"], {"title": "续传党课", "lecturers": ["李书记"]})
    data = os.urandom(3 * MB + 17)
    path = tmp_path / "续传党课.mp4"
    path.write_bytes(data)
    opener, seen = DropsOnce(after=MB), []
    stored = client.upload_file(work["id"], "video", path, "video/mp4", progress=lambda sent, total: seen.append(sent),
                                opener=opener)
    assert stored["state"] == "stored" and stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert opener.opened >= 3 and 0 < opener.starts[-1] <= MB  # resumed from what the server kept, not from 0
    assert seen[-1] == len(data)
    assert [f["id"] for f in client.submission(work["id"])["files"]] == [stored["id"]]  # one file, registered once


def test_s3_uploads_single_and_in_parts_one_part_retried_alone(intake_s3, tmp_path, monkeypatch):
    from client.siyige import uploads
    from common import objectstore

    monkeypatch.setattr(objectstore, "MULTIPART_THRESHOLD", 5 * MB)
    monkeypatch.setattr(objectstore, "PART_SIZE", 5 * MB)
    monkeypatch.setattr(uploads, "PAUSE", 0.05)
    client = client_of(intake_s3)
    org = next(o for o in client.orgs() if o["name"] == "机械工程学院党委")
    work = client.create_submission("siyige-2020-seu", "story", org["id"], {"title": "S3", "text": "故事。"})
    small, large = tmp_path / "小.mp4", tmp_path / "大.mp4"
    small.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 100_000)
    large.write_bytes(os.urandom(11 * MB))  # three parts
    assert client.upload_file(work["id"], "video", small, "video/mp4")["state"] == "stored"

    real_put, dropped = uploads.requests.put, []

    def put(url, data=None, **kw):  # the second part's first attempt loses its connection
        if "partNumber=2" in url and not dropped:
            dropped.append(url)
            raise uploads.requests.ConnectionError("dropped")
        return real_put(url, data=data, **kw)

    monkeypatch.setattr(uploads.requests, "put", put)
    stored = client.upload_file(work["id"], "video", large, "video/mp4")
    assert stored["state"] == "stored" and stored["size"] == 11 * MB and dropped
    assert intake_s3["s3"].stat(f"seu/{stored['id']}").sha256 == hashlib.sha256(large.read_bytes()).hexdigest()


def test_errors_are_typed_and_carry_the_chinese_message(env):
    with pytest.raises(Unauthorized) as e:
        Client(env["base"], "sk_nope").me()
    assert e.value.code == "invalid_api_key" and e.value.status == 401 and e.value.message

    seu, wust = client_of(env), client_of(env, "wust")
    assert seu.me()["tenant"] == "seu"
    with pytest.raises(NotFound) as e:
        seu.submission("0123456789abcdef0123456789abcdef")
    assert e.value.code == "submission_not_found"

    org = next(o for o in wust.orgs() if o["name"] == "资源与环境工程学院党委")
    work = wust.create_submission("siyige-2020-wust", "story", org["id"],
                                  {"title": "资源与环境工程学院党委战疫故事", "text": "党" * 301})
    with pytest.raises(Invalid) as e:
        wust.submit(work["id"])
    assert (e.value.code, e.value.expected, e.value.found) == ("text_too_long", 300, 301)
    assert "301" in e.value.message and "300" in e.value.message

    mech = next(o for o in seu.orgs() if o["name"] == "机械工程学院党委")
    works = [seu.create_submission("siyige-2020-seu", "story", mech["id"], {"title": f"故事{i}", "text": "故事。"})
             for i in range(3)]
    assert [seu.submit(w["id"])["state"] for w in works[:2]] == ["submitted", "submitted"]
    with pytest.raises(Conflict) as e:
        seu.submit(works[2]["id"])
    assert e.value.code == "quota_exceeded" and e.value.message
    assert seu.withdraw(works[0]["id"])["state"] == "withdrawn"


def test_a_post_repeated_with_its_key_changes_nothing_more(env):
    seu = client_of(env)
    org = next(o for o in seu.orgs(q="机械") if o["name"] == "机械工程学院党委")
    first = seu.create_submission("siyige-2020-seu", "story", org["id"], {"title": "一次"}, idempotency_key="k-1")
    again = seu.create_submission("siyige-2020-seu", "story", org["id"], {"title": "一次"}, idempotency_key="k-1")
    assert first["id"] == again["id"] and total_works(env) == 1
    with pytest.raises(Invalid) as e:
        seu.create_submission("siyige-2020-seu", "story", org["id"], {"title": "另一件"}, idempotency_key="k-1")
    assert e.value.code == "idempotency_key_reused"


def test_wait_for_check_returns_the_verdict(env, tmp_path):
    seu = client_of(env)
    org = next(o for o in seu.orgs() if o["name"] == "机械工程学院党委")
    work = seu.create_submission("siyige-2020-seu", "story", org["id"], {"title": "图片", "text": "故事。"})
    (tmp_path / "图.png").write_bytes(PNG)
    f = seu.upload_file(work["id"], "image", tmp_path / "图.png")
    with pytest.raises(TimeoutError):
        seu.wait_for_check(f["id"], timeout=0.2, interval=0.05)
    threading.Timer(0.3, announce_check, (env, f["id"], work["id"], "passed")).start()
    assert seu.wait_for_check(f["id"], timeout=10, interval=0.1)["check"]["verdict"] == "passed"


def test_an_empty_manifest_is_refused_before_anything(env, tmp_path, capsys):
    wb = Workbook()
    wb.save(tmp_path / "empty.xlsx")
    assert main(["submit-folder", str(tmp_path), "--manifest", str(tmp_path / "empty.xlsx"),
                 "--url", env["base"], "--key", env["seu"].key]) == 2
    assert "manifest_empty" in capsys.readouterr().err


def test_a_lecture_row_submits_both_stages_with_files_in_columns_by_kind(env, tmp_path, capsys):
    folder = tmp_path / "党课"
    folder.mkdir()
    (folder / "返校第一课.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400)
    (folder / "返校第一课.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\n同学们好\n", encoding="utf-8")
    wb = Workbook()
    wb.active.append(["党组织", "党课题目*", "lecturers", "计划提交时间", "主题", "举办方式", "视频", "字幕"])
    wb.active.append(["计算机科学与工程学院党委", "返校第一课", "王书记、李老师", "2020-07-01", "有序推进学校复学复课", "线上",
                      "返校第一课.mp4", "返校第一课.srt"])
    wb.save(tmp_path / "lectures.xlsx")
    with MediaStandIn(env):
        assert main(["submit-folder", str(folder), "--manifest", str(tmp_path / "lectures.xlsx"), "--url", env["base"],
                     "--key", env["seu"].key, "--campaign", "四个一 2020 · 东南大学", "--track", "lecture",
                     "--wait-checks", "--check-timeout", "30"]) == 0
    assert "本次提交 1 行" in capsys.readouterr().out
    report = load_workbook(tmp_path / "lectures-结果.xlsx").active  # beside the manifest when --report is not given
    row = next(report.iter_rows(min_row=2, values_only=True))
    assert (row[3], row[5]) == ("已提交", "video") and row[4].startswith("SEU-")
    work = env["seu"]("GET", f"/api/v1/submissions/{row[8]}").json()
    assert work["fields"]["mode"] == "online" and work["fields"]["lecturers"] == ["王书记", "李老师"]
    assert sorted(f["kind"] for f in work["files"]) == ["subtitle", "video"]
    assert len(env["seu"]("GET", f"/api/v1/submissions/{row[8]}/receipts").json()["items"]) == 2
