"""The portal client's pure parts (issue #20): reading a manifest, matching its headers to a track's fields by key
or Chinese label, turning cells into the API's values, each row's idempotency keys; and the transport's retries
(the same Idempotency-Key on each, Retry-After honoured) and S3 parts retried alone, with stand-ins for HTTP."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime

import pytest
import requests
from openpyxl import Workbook

from client.siyige import Client, Conflict, ManifestError, NotFound, RateLimited, ServerError, api, uploads
from client.siyige.batch import ALREADY, DONE, FAILED, Outcome, summary
from client.siyige.errors import error_from
from client.siyige.manifest import (
    FieldMap,
    Row,
    convert,
    kind_of,
    match_campaign,
    match_org,
    match_track,
    normalise,
    read_manifest,
    split_list,
    template_headers,
)
from client.siyige.webhooks import CheckReceiver, authentic


@pytest.fixture(scope="module")
def campaign(builtin):
    return json.loads(json.dumps(builtin["siyige-2020-seu"].raw, default=str))


def test_headers_match_without_the_templates_required_mark():
    assert normalise(" 作品名称* ") == normalise("作品名称（必填）") == normalise("作品名称") == "作品名称"
    assert normalise("Title") == "title"


def test_lists_are_written_as_chinese_lists_are():
    assert split_list("合影.png、现场.jpg；材料.pdf; 视频.mp4\n字幕.srt") == [
        "合影.png", "现场.jpg", "材料.pdf", "视频.mp4", "字幕.srt"]
    assert split_list(None) == [] and split_list("  ") == []


def test_a_files_kind_comes_from_its_extension():
    assert [kind_of(n) for n in ("党课.MP4", "合影.jpeg", "讲话.m4a", "案例.docx", "字幕.srt", "说明.txt")] == \
        ["video", "image", "audio", "document", "subtitle", None]


def test_a_rows_files_from_the_files_column_and_the_kind_columns():
    row = Row(3, {"文件": "合影.png、党课.mp4", "字幕": "党课.srt", "文档": None})
    assert row.files() == [("image", "合影.png"), ("video", "党课.mp4"), ("subtitle", "党课.srt")]
    with pytest.raises(ManifestError) as e:
        Row(4, {"files": "说明.txt"}).files()
    assert e.value.code == "file_kind_unknown" and "第 4 行" in e.value.message and "说明.txt" in e.value.message


def test_fields_by_key_or_label_converted_to_the_apis_values(campaign):
    lecture = FieldMap.of(campaign["tracks"]["lecture"])
    row = Row(2, {"党组织": "机械工程学院党委", "title": "返校第一课", "主讲人": "张书记、李老师",
                  "计划提交时间": datetime(2020, 7, 1), "举办方式": "线上", "主题": "有序推进学校复学复课",
                  "文件": "党课.mp4", "内容提要": None})
    assert lecture.values(row, campaign["themes"]) == {
        "title": "返校第一课", "lecturers": ["张书记", "李老师"], "planned_date": "2020-07-01", "mode": "online",
        "theme": "有序推进学校复学复课"}
    with pytest.raises(ManifestError) as e:
        lecture.values(Row(5, {"党课题目": "x", "备注": "无"}))
    assert e.value.code == "unknown_column" and "备注" in e.value.message and "党课题目" in e.value.message
    with pytest.raises(ManifestError) as e:
        lecture.values(Row(6, {"举办方式": "混合"}))
    assert e.value.code == "invalid_choice" and "线上、线下" in e.value.message


def test_cells_excel_changed_are_read_back():
    assert convert(13812345678.0, {"key": "phone", "type": "phone"}) == "13812345678"
    assert convert("2020/7/1", {"key": "d", "type": "date"}) == "2020-7-1"  # the API says what it expects
    assert convert("12", {"key": "n", "type": "number"}) == 12
    assert convert("张三（党支部书记）、李四/组织委员/教工第一党支部", {"key": "p", "type": "people"}) == [
        {"name": "张三", "post": "党支部书记"}, {"name": "李四", "post": "组织委员", "org": "教工第一党支部"}]
    with pytest.raises(ManifestError) as e:
        convert("十二", {"key": "n", "label": "人数", "type": "number"}, row=7)
    assert e.value.code == "invalid_number" and "第 7 行" in e.value.message


def test_a_rows_key_follows_its_content_not_its_place():
    a, b = Row(2, {"作品名称": "故事", "故事正文": "正文"}), Row(9, {"故事正文": "正文", "作品名称": "故事"})
    assert a.key("create") == b.key("create") != a.key("submit")
    assert Row(2, {"作品名称": "故事", "故事正文": "改过的正文"}).key("create") != a.key("create")


def test_campaign_track_and_org_by_id_or_name(campaign):
    campaigns = [{"id": "seu.siyige-2020-seu", "short_id": "siyige-2020-seu", "title": "…",
                  "short_title": "四个一 2020 · 东南大学"}]
    assert match_campaign("四个一 2020 · 东南大学", campaigns) == match_campaign("siyige-2020-seu", campaigns) \
        == "seu.siyige-2020-seu"
    assert match_track("战疫故事汇", campaign) == match_track("story", campaign) == "story"
    with pytest.raises(ManifestError) as e:
        match_track("微视频", campaign)
    assert e.value.code == "track_not_found" and "专题微党课" in e.value.message
    orgs = [{"id": "o1", "name": "计算机科学与工程学院党委", "short_name": "计算机学院党委"},
            {"id": "o2", "name": "机械工程学院党委"}]
    assert [match_org(v, orgs)["id"] for v in ("计算机学院党委", "o2", "机械工程学院党委")] == ["o1", "o2", "o2"]
    with pytest.raises(ManifestError) as e:
        match_org("土木学院党委", orgs)
    assert e.value.code == "org_not_found" and "土木学院党委" in e.value.message


def test_the_template_heads_its_columns_with_the_chinese_labels(campaign):
    assert template_headers(campaign["tracks"]["story"]) == [
        "活动", "项目", "党组织", "作品名称*", "所属党支部", "故事正文*", "文件"]


def test_read_manifest_skips_blank_rows_and_keeps_sheet_row_numbers(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["党组织", "作品名称*", None])
    ws.append(["机械工程学院党委", "故事一", "ignored: no header"])
    ws.append([None, None, None])
    ws.append(["计算机学院党委", "故事二", None])
    wb.save(tmp_path / "m.xlsx")
    rows = read_manifest(tmp_path / "m.xlsx")
    assert [(r.number, r.cells) for r in rows] == [(2, {"党组织": "机械工程学院党委", "作品名称*": "故事一"}),
                                                   (4, {"党组织": "计算机学院党委", "作品名称*": "故事二"})]
    Workbook().save(tmp_path / "empty.xlsx")
    with pytest.raises(ManifestError):
        read_manifest(tmp_path / "empty.xlsx")


def test_summary_names_each_rows_receipt_or_refusal():
    text = summary([Outcome(2, "故事一", status=DONE, receipt_no="SEU-20200612-0001"),
                    Outcome(3, "故事二", status=ALREADY, receipt_no="SEU-20200612-0002"),
                    Outcome(4, "故事三", status=FAILED, code="org_not_found", message="找不到党组织“土木学院党委”。")])
    assert text.splitlines() == ["共 3 行：本次提交 1 行，此前已提交 1 行，未完成 1 行。",
                                 "  第 2 行 故事一：已提交，回执编号 SEU-20200612-0001",
                                 "  第 3 行 故事二：此前已提交，回执编号 SEU-20200612-0002",
                                 "  第 4 行 故事三：失败，org_not_found：找不到党组织“土木学院党委”。"]


# ---------------------------------------------------------------------------------------------- transport


class Answer:
    def __init__(self, status, body=None, headers=None):
        self.status_code, self._body, self.headers = status, body, headers or {}
        self.content = json.dumps(body).encode() if body is not None else b""

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class Session:
    """Answers in turn (an exception is raised); records each request's headers."""

    def __init__(self, *answers):
        self.answers, self.sent, self.headers = list(answers), [], {}

    def request(self, method, url, **kw):
        self.sent.append((method, url, dict(kw.get("headers") or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def pauses(monkeypatch):
    slept = []
    monkeypatch.setattr(api.time, "sleep", slept.append)
    return slept


def test_a_post_retried_after_a_drop_or_a_5xx_carries_the_same_key(pauses):
    session = Session(requests.ConnectionError("reset"), Answer(503, {"error": {"code": "unavailable", "message": "稍后"}}),
                      Answer(201, {"id": "w1"}))
    client = Client("http://intake", "sk_test", session=session, backoff=0.5)
    assert client.create_submission("siyige-2020-seu", "story", "o1", {"title": "故事"}) == {"id": "w1"}
    keys = {headers["Idempotency-Key"] for _, _, headers in session.sent}
    assert len(session.sent) == 3 and len(keys) == 1 and pauses == [0.5, 1.0]
    assert session.headers["Authorization"] == "Bearer sk_test"


def test_retry_after_is_honoured_and_a_refusal_is_not_retried(pauses):
    session = Session(Answer(429, {"error": {"code": "too_many_requests", "message": "请求过多"}}, {"Retry-After": "7"}),
                      Answer(200, {"tenant": "seu"}), Answer(409, {"error": {
                          "code": "quota_exceeded", "message": "本组织的配额已满。", "expected": 2, "found": 2}}))
    client = Client("http://intake", "k", session=session)
    assert client.me() == {"tenant": "seu"} and pauses == [7.0]
    with pytest.raises(Conflict) as e:
        client.submit("w1")
    assert (e.value.code, e.value.message, e.value.expected, e.value.status) == ("quota_exceeded", "本组织的配额已满。", 2, 409)
    assert len(session.sent) == 3


def test_retries_end_with_the_typed_error(pauses):
    limited = Answer(429, {"error": {"code": "too_many_requests", "message": "请求过多"}}, {"Retry-After": "1"})
    client = Client("http://intake", "k", session=Session(*[limited] * 3), retries=2)
    with pytest.raises(RateLimited) as e:
        client.me()
    assert e.value.retry_after == 1.0 and len(pauses) == 2


def test_an_answer_without_the_error_shape_is_still_typed():
    assert isinstance(error_from(404, {"error": {"code": "org_not_found", "message": "找不到"}}), NotFound)
    error = error_from(502, None)
    assert isinstance(error, ServerError) and error.code == "http_502" and "502" in error.message


def test_a_failed_s3_part_is_sent_again_alone(tmp_path, monkeypatch):
    data = bytes(range(256)) * 40  # 10240 bytes: parts of 4096, 4096 and 2048
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    sent, failed = [], []

    def put(url, data=None, **kw):
        body = b"".join(iter(lambda: data.read(1000), b""))
        if url == "u2" and not failed:
            failed.append(url)
            raise requests.ConnectionError("dropped")
        sent.append((url, body))
        return Answer(200, {}, {"ETag": f'"{url}"'})

    monkeypatch.setattr(uploads.requests, "put", put)
    monkeypatch.setattr(uploads.time, "sleep", lambda s: None)
    parts = [{"part_number": n, "url": f"u{n}", "size": size} for n, size in ((1, 4096), (2, 4096), (3, 2048))]
    etags = uploads._put_parts({"parts": parts, "part_size": 4096}, path, len(data), open, None)
    assert [url for url, _ in sent] == ["u1", "u2", "u3"] and failed == ["u2"]
    assert b"".join(body for _, body in sent) == data
    assert etags == [{"part_number": n, "etag": f'"u{n}"'} for n in (1, 2, 3)]


# ---------------------------------------------------------------------------------------------- webhooks


def deliver(port, secret, body: bytes, timestamp=None, signature=None):
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = signature or "v1=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return requests.post(f"http://127.0.0.1:{port}/hooks", data=body, timeout=5,
                         headers={"X-Siyige-Timestamp": ts, "X-Siyige-Signature": sig, "Content-Type": "application/json"})


def test_a_signed_file_checked_delivery_ends_the_wait_early():
    body = json.dumps({"type": "file_checked", "tenant": "seu", "data": {"file_id": "f1", "verdict": "passed"}}).encode()
    pending, judged = {"id": "f1", "name": "合影.png", "check": {"verdict": None}}, {"id": "f1", "check": {"verdict": "passed"}}
    client = Client("http://intake", "k", session=Session(Answer(200, pending), Answer(200, judged)))
    with CheckReceiver("whsec_test", host="127.0.0.1") as hooks:
        assert deliver(hooks.port, "whsec_other", body).status_code == 401  # another secret
        assert deliver(hooks.port, "whsec_test", body, timestamp=int(time.time()) - 600).status_code == 401  # stale
        assert hooks.verdicts == {}
        threading.Timer(0.2, deliver, (hooks.port, "whsec_test", body)).start()
        started = time.monotonic()
        assert client.wait_for_check("f1", timeout=60, interval=5, webhook=hooks) == judged
    assert time.monotonic() - started < 5  # not the 50 s pause polling alone would have waited


def test_a_signature_is_checked_over_the_raw_body_with_any_rotated_secret():
    body, ts = b'{"type":"file_checked"}', str(int(time.time()))
    good = hmac.new(b"s2", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert authentic(body, ts, f"v1=deadbeef,v1={good}", "s2")
    assert not authentic(body + b" ", ts, f"v1={good}", "s2")
    assert not authentic(body, "+" + ts, f"v1={good}", "s2") and not authentic(body, None, f"v1={good}", "s2")


def test_a_folder_upload_goes_on_from_where_the_server_says(tmp_path, monkeypatch):
    data = bytes(range(256)) * 4  # 1024 bytes
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    busy = {"error": {"code": "upload_in_progress", "message": "另一个上传请求正在进行。"}}
    moved = {"error": {"code": "upload_offset_mismatch", "message": "续传应从第 600 字节起。", "expected": 600}}
    gets = [{"received": 0, "state": "pending"}, {"received": 300, "state": "pending"}, {"received": 500, "state": "pending"}]
    puts = [requests.ConnectionError("dropped"), Answer(409, busy), Answer(409, moved),
            Answer(202, {"received": 900, "state": "pending"}), Answer(200, {"received": 1024, "state": "received"})]
    ranges, bodies = [], []

    def put(url, data=None, headers=None, **kw):
        ranges.append(headers.get("Content-Range"))
        bodies.append(b"".join(iter(lambda: data.read(100), b"")))
        answer = puts.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(uploads.requests, "get", lambda url, **kw: Answer(200, gets.pop(0)))
    monkeypatch.setattr(uploads.requests, "put", put)
    monkeypatch.setattr(uploads.time, "sleep", lambda s: None)
    uploads._put_resumable({"url": "http://intake/api/v1/uploads/t"}, path, len(data), open, None)
    assert ranges == [None, "bytes 300-1023/1024", "bytes 500-1023/1024", "bytes 600-1023/1024", "bytes 900-1023/1024"]
    assert bodies[-1] == data[900:] and not puts and not gets
