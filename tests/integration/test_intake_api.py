"""Intake's portal API over real HTTP, against a real RabbitMQ, on SQLite and PostgreSQL."""
import hashlib
import io
import json
from datetime import datetime

import eventlet
import pytest
import requests
from kombu import Connection, Queue

from common import clock
from tests.conftest import wait_until

SEU_ORGS = (
    "名称,层级,上级组织,简称,邮箱\n"
    "计算机科学与工程学院党委,二级党组织,,计算机学院党委,cse@demo.local\n"
    "机械工程学院党委,二级党组织,,,me@demo.local\n"
    "计算机科学与工程学院教工第一党支部,党支部,计算机科学与工程学院党委,,b1@demo.local\n"
).encode("utf-8")
WUST_ORGS = "名称,层级,上级组织\n资源与环境工程学院党委,二级党组织,\n".encode("utf-8")


def seed(db_url):
    """Tenants, keys and the shipped campaigns, as the operator CLI would."""
    from common.db import Store, migrate
    from common.settings import migrations_dir
    from services.intake import admin, operations as ops

    migrate(db_url, migrations_dir("intake"))
    store = Store(db_url)
    with store.transaction() as s:
        for slug, name, kind in (("ministry", "教育部思政司", "ministry"), ("seu", "东南大学", "university"),
                                 ("wust", "武汉科技大学", "university")):
            # both 教育部直属高校: in the audience of the ministry's 四个一 2020
            admin.ensure_tenant(s, slug, name, kind, category="direct" if kind == "university" else None)
        keys = {t: ops.issue_key(s, admin.StandaloneOutbox(), t) for t in ("ministry", "seu", "wust")}
    with store.transaction() as s:
        admin.publish_builtin(s, "siyige-2020", "ministry")
    with store.transaction() as s:
        admin.publish_builtin(s, "siyige-2020-seu", "seu")
        admin.publish_builtin(s, "siyige-2020-wust", "wust")
    store.dispose()
    return keys


class Portal:
    """A university portal: the API key, and helpers that speak the API."""

    def __init__(self, base, key):
        self.base, self.key = base, key
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def __call__(self, method, path, **kw):
        return self.http.request(method, self.base + path, timeout=30, **kw)

    def org_id(self, name):
        items = self("GET", "/api/v1/orgs", params={"q": name}).json()["items"]
        return next(o["id"] for o in items if o["name"] == name)

    def draft(self, campaign, track, org_name, **fields):
        r = self("POST", "/api/v1/submissions",
                 json={"campaign_id": campaign, "track": track, "org_id": self.org_id(org_name), "fields": fields})
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, submission_id, kind, name, data, declared_sha=None):
        r = self("POST", f"/api/v1/submissions/{submission_id}/files", json={
            "kind": kind, "filename": name, "size": len(data),
            "sha256": declared_sha or hashlib.sha256(data).hexdigest(), "content_type": "video/mp4"})
        assert r.status_code == 201, r.text
        ticket = r.json()
        put = requests.put(ticket["upload"]["url"], data=io.BytesIO(data), timeout=30)
        return ticket["file"]["id"], put


def start_intake(db_url, make_config, start_service, **overrides):
    from services.intake.service import IntakeService

    keys = seed(db_url)
    config = make_config("intake", DATABASE_URL=db_url, **overrides)
    config["PUBLIC_URL"] = "http://" + config["WEB_SERVER_ADDRESS"]
    container = start_service(IntakeService, config)
    base = config["PUBLIC_URL"]
    seu, wust = Portal(base, keys["seu"]), Portal(base, keys["wust"])
    ministry = Portal(base, keys["ministry"])
    for portal, csv in ((seu, SEU_ORGS), (wust, WUST_ORGS)):
        r = portal("POST", "/api/v1/orgs/import", data=csv, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
    clock.set_start(datetime.fromisoformat("2020-06-12T09:00:00+08:00"))
    return {"seu": seu, "wust": wust, "ministry": ministry, "base": base, "config": config, "container": container}


@pytest.fixture
def intake(db_url, make_config, start_service):
    yield start_intake(db_url, make_config, start_service)
    clock.set_start(None)


def announce_check(env, file_id, submission_id, verdict, findings=(), checked_at="2020-06-12T01:05:00+00:00",
                   facts=None, tenant="seu"):
    """Publish `file_checked` as the media service would, and wait for intake to record it."""
    from kombu import Exchange

    from common.events import make_event

    ev = make_event("file_checked", tenant, {
        "file_id": file_id, "submission_id": submission_id, "verdict": verdict, "findings": list(findings),
        "facts": facts or {}, "checked_at": checked_at})
    with Connection(env["config"]["AMQP_URI"]) as conn:
        conn.Producer().publish(ev.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                                routing_key="file_checked", serializer="json", delivery_mode=2)
    wait_until(lambda: env[tenant]("GET", f"/api/v1/files/{file_id}").json()["check"]["verdict"] == verdict,
               what=f"intake records verdict {verdict}")


def error_of(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    assert body["message"]  # Chinese text for a person
    return body


# --------------------------------------------------------------------------- keys and tenants


def test_missing_and_wrong_keys_are_refused(intake):
    base = intake["base"]
    error_of(requests.get(base + "/api/v1/orgs", timeout=10), 401, "missing_api_key")
    error_of(requests.get(base + "/api/v1/orgs", headers={"Authorization": "Bearer sk_nope"}, timeout=10),
             401, "invalid_api_key")


def test_another_universitys_objects_answer_404(intake):
    seu, wust = intake["seu"], intake["wust"]
    work = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="计算机学院党委战疫故事")
    error_of(wust("GET", f"/api/v1/submissions/{work['id']}"), 404, "submission_not_found")
    error_of(wust("GET", "/api/v1/campaigns/siyige-2020-seu"), 404, "campaign_not_found")
    error_of(wust("GET", f"/api/v1/orgs/{work['org_id']}"), 404, "org_not_found")
    assert wust("GET", "/api/v1/submissions").json()["total"] == 0
    assert all(o["name"] != "计算机科学与工程学院党委" for o in wust("GET", "/api/v1/orgs").json()["items"])


# --------------------------------------------------------------------------- campaigns


def test_campaigns_visible_are_the_ministrys_and_ones_own(intake):
    items = intake["seu"]("GET", "/api/v1/campaigns").json()["items"]
    # a university's campaign is known platform-wide by its owner and its own id (issue #14 item 13)
    assert {(c["id"], c["short_id"]) for c in items} == {("siyige-2020", "siyige-2020"),
                                                         ("seu.siyige-2020-seu", "siyige-2020-seu")}


def test_a_university_cannot_loosen_the_ministrys_campaign(intake):
    seu = intake["seu"]
    doc = seu("GET", "/api/v1/campaigns/siyige-2020-seu").json()
    from common.campaign import load_builtin_definitions

    raw = json.loads(json.dumps(load_builtin_definitions()["siyige-2020-seu"].raw, default=str))
    raw["id"] = "siyige-2020-seu-v2"
    raw["tracks"]["lecture"]["forward"]["university"] = 5  # the ministry takes 1
    body = error_of(seu("POST", "/api/v1/campaigns", json=raw), 422, "campaign_loosens_parent")
    assert any("forward" in d["field"] for d in body["details"]), body
    assert (doc["id"], doc["short_id"], doc["derives_from"]) == ("seu.siyige-2020-seu", "siyige-2020-seu", "siyige-2020")
    assert seu("GET", "/api/v1/campaigns/siyige-2020-seu-v2").status_code == 404  # nothing stored


# --------------------------------------------------------------------------- orgs


def test_bad_org_rows_import_nothing(intake):
    seu = intake["seu"]
    before = seu("GET", "/api/v1/orgs").json()["total"]
    bad = "名称,层级,上级组织\n新学院党委,二级党组织,\n新学院第一党支部,党支部,不存在的学院党委\n".encode()
    body = error_of(seu("POST", "/api/v1/orgs/import", data=bad, headers={"Content-Type": "text/csv"}),
                    422, "org_import_invalid")
    assert body["details"][0]["row"] == 3
    assert seu("GET", "/api/v1/orgs").json()["total"] == before


def test_org_import_from_xlsx(intake):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["组织名称", "组织类型", "上级党组织"])
    wb.active.append(["化学化工学院党委", "分党委", None])
    wb.active.append(["化学化工学院学生党支部", "党支部", "化学化工学院党委"])
    buf = io.BytesIO()
    wb.save(buf)
    r = intake["seu"]("POST", "/api/v1/orgs/import", data=buf.getvalue(),
                      headers={"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert r.json() == {"created": 2, "updated": 0, "total": 2}
    branches = intake["seu"]("GET", "/api/v1/orgs", params={"level": "branch", "q": "化学"}).json()["items"]
    assert len(branches) == 1 and branches[0]["parent_id"]


# --------------------------------------------------------------------------- submissions


def test_story_submit_issues_a_receipt_and_publishes_the_event(intake):
    seu = intake["seu"]
    with Connection(intake["config"]["AMQP_URI"]) as conn:
        from kombu import Exchange

        q = Queue("probe-submitted", Exchange("intake.events", type="topic", durable=True),
                  routing_key="submission_submitted", auto_delete=True)
        q.bind(conn.channel()).declare()
        work = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委",
                         title="计算机学院党委战疫故事", text="疫情之中，党员冲在前面。")
        r = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["state"] == "submitted" and done["complete"] is True
        assert done["receipt_no"].startswith("SEU-20200612-")
        assert done["char_counts"]["text"] == 12

        bound = q.bind(conn.channel())
        msg = wait_until(lambda: bound.get(no_ack=True), what="submission_submitted on the broker")
        from common.events import validate_envelope

        ev = validate_envelope(msg.payload)
        assert ev.type == "submission_submitted" and ev.tenant == "seu"
        assert ev.data["receipt_no"] == done["receipt_no"] and ev.data["org_name"] == "计算机科学与工程学院党委"
    receipts = seu("GET", f"/api/v1/submissions/{work['id']}/receipts").json()["items"]
    assert [r["receipt_no"] for r in receipts] == [done["receipt_no"]]


def test_wust_story_over_300_chars_is_refused_with_the_count(intake):
    wust = intake["wust"]
    work = wust.draft("siyige-2020-wust", "story", "资源与环境工程学院党委",
                      title="资源与环境工程学院党委战疫故事", text="党" * 301)
    assert work["char_counts"]["text"] == 301  # drafts may be long; the count is shown
    body = error_of(wust("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "text_too_long")
    assert body["expected"] == 300 and body["found"] == 301
    assert "301" in body["message"] and "300" in body["message"]
    assert wust("GET", f"/api/v1/submissions/{work['id']}").json()["state"] == "draft"


def test_wust_naming_rule(intake):
    wust = intake["wust"]
    work = wust.draft("siyige-2020-wust", "story", "资源与环境工程学院党委", title="战疫故事", text="故事。")
    error_of(wust("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "naming_rule")


def test_quota_counts_submitted_works_and_withdrawal_frees_it(intake):
    seu = intake["seu"]
    ids = []
    for i in range(3):
        w = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title=f"机械学院故事{i}", text="故事。")
        ids.append(w["id"])
    for sid in ids[:2]:
        assert seu("POST", f"/api/v1/submissions/{sid}/submit").status_code == 200
    error_of(seu("POST", f"/api/v1/submissions/{ids[2]}/submit"), 409, "quota_exceeded")
    assert seu("POST", f"/api/v1/submissions/{ids[0]}/withdraw").json()["state"] == "withdrawn"
    assert seu("POST", f"/api/v1/submissions/{ids[2]}/submit").status_code == 200


def test_concurrent_submits_all_get_receipts_and_the_quota_holds(intake):
    """Portals submit at once: every work within its org's quota gets a receipt (no deadlock, no gap
    in the numbers) and an org never ends over its quota (two stories), however the requests interleave."""
    seu = intake["seu"]
    names = [f"并发测试{i}学院党委" for i in range(6)]
    csv = "名称,层级,上级组织\n" + "".join(f"{n},二级党组织,\n" for n in names)
    assert seu("POST", "/api/v1/orgs/import", data=csv.encode(), headers={"Content-Type": "text/csv"}).status_code == 200
    within = [seu.draft("siyige-2020-seu", "story", n, title=f"{n}故事{k}", text="故事。")["id"]
              for n in names for k in range(2)]
    crowded = [seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title=f"机械学院故事{k}", text="故事。")["id"]
               for k in range(5)]
    pool = eventlet.GreenPool(17)
    results = dict(zip(within + crowded, pool.imap(
        lambda sid: seu("POST", f"/api/v1/submissions/{sid}/submit"), within + crowded)))
    assert {results[sid].status_code for sid in within} == {200}, [r.text for r in results.values()]
    crowded_codes = sorted(results[sid].status_code for sid in crowded)
    assert crowded_codes == [200, 200, 409, 409, 409], [results[sid].text for sid in crowded]
    assert {results[sid].json()["error"]["code"] for sid in crowded if results[sid].status_code == 409} \
        == {"quota_exceeded"}
    numbers = sorted(int(r.json()["receipt_no"].rsplit("-", 1)[1]) for r in results.values() if r.status_code == 200)
    assert numbers == list(range(numbers[0], numbers[0] + 14))


def test_a_work_submitted_twice_at_once_gets_one_receipt(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="计算机学院故事", text="故事。")
    pool = eventlet.GreenPool(4)
    codes = sorted(r.status_code for r in pool.imap(
        lambda _: seu("POST", f"/api/v1/submissions/{work['id']}/submit"), range(4)))
    assert codes == [200, 409, 409, 409]
    assert len(seu("GET", f"/api/v1/submissions/{work['id']}/receipts").json()["items"]) == 1


def test_a_refused_request_is_not_logged_as_an_incident_and_a_failure_is(intake, caplog, monkeypatch):
    import logging

    caplog.set_level(logging.INFO)
    assert intake["seu"]("GET", "/api/v1/submissions/0123456789abcdef0123456789abcdef").status_code == 404
    worker_logs = [r for r in caplog.records if r.name == "nameko.containers" and r.levelno >= logging.INFO]
    assert worker_logs == [], [r.getMessage() for r in worker_logs]

    from services.intake import operations

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(operations, "list_submissions", broken)
    assert intake["seu"]("GET", "/api/v1/submissions").status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert errors and "a bug" in str(errors[-1].exc_info[1])


def extensions_granted(db_url) -> list[dict]:
    """The `extension_granted` events intake wrote to its outbox, oldest first."""
    from sqlalchemy import select

    from common.db import Store
    from services.intake.models import OutboxMessage

    with Store(db_url).transaction() as session:
        return [r.envelope for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.event_type == "extension_granted").order_by(OutboxMessage.id))]


def test_deadline_in_beijing_time_and_extension(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="抓紧抓实抓细常态化疫情防控",
                     lecturers=["张书记"], planned_date="2020-07-10")
    clock.set_start(datetime.fromisoformat("2020-06-15T12:00:30+08:00"))
    body = error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 409, "deadline_passed")
    assert "2020年06月15日 12:00" in body["message"]
    r = seu("POST", "/api/v1/extensions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "stage": "registration",
        "org_id": work["org_id"], "until": "2020-06-16T18:00:00+08:00", "reason": "书记出差"})
    assert r.status_code == 201, r.text
    granted = extensions_granted(intake["config"]["DATABASE_URL"])  # the university's portal hears it (notify)
    assert [(e["tenant"], e["data"]["org_id"], e["data"]["stage"], e["data"]["until"], e["data"]["reason"])
            for e in granted] == [("seu", work["org_id"], "registration", "2020-06-16T18:00:00+08:00", "书记出差")]
    assert granted[0]["data"]["extension_id"] == r.json()["id"] and granted[0]["data"]["stage_label"]
    r = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200 and r.json()["stage"] == "registration" and not r.json()["complete"]


def test_lecture_video_stage_needs_its_uploaded_and_verified_video(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title="让党旗在防控疫情斗争第一线高高飘扬",
                     lecturers=["王书记", "李老师"], planned_date="2020-07-01",
                     theme="让党旗在防控疫情斗争第一线高高飘扬")
    assert seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()["stage"] == "registration"
    error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "file_missing")

    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4000
    file_id, put = seu.upload(work["id"], "video", "../../etc/党课.mp4", video)
    assert put.status_code == 200, put.text
    body = error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "invalid_files")
    assert {d["code"] for d in body["details"]} == {"upload_incomplete", "file_missing"}
    r = seu("POST", f"/api/v1/files/{file_id}/complete")
    assert r.status_code == 200 and r.json()["state"] == "stored" and r.json()["name"] == "党课.mp4"
    error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 409, "file_check_pending")

    bad = {"rule": "file_truncated", "severity": "error", "message": "文件不完整。"}
    announce_check(intake, file_id, work["id"], "failed", [bad])
    body = error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "file_check_failed")
    assert "党课.mp4" in body["message"]
    # an older check that arrives late does not overwrite the newer one
    announce_check(intake, file_id, work["id"], "failed", [bad], checked_at="2020-06-12T01:06:00+00:00")
    announce_check(intake, file_id, work["id"], "passed", checked_at="2020-06-12T01:07:00+00:00")
    from kombu import Exchange

    from common.events import make_event

    stale = make_event("file_checked", "seu", {"file_id": file_id, "submission_id": work["id"], "verdict": "failed",
                                               "findings": [bad], "facts": {}, "checked_at": "2020-06-12T01:01:00+00:00"})
    with Connection(intake["config"]["AMQP_URI"]) as conn:
        conn.Producer().publish(stale.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                                routing_key="file_checked", serializer="json")
    import eventlet

    eventlet.sleep(0.5)  # let intake consume the stale check before submitting
    r = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200, r.text
    assert r.json()["complete"] is True and r.json()["stage"] == "video"


def test_a_lecture_gets_keywords_and_a_theme_suggestion_that_never_changes_its_theme(intake):
    seu = intake["seu"]
    chosen = "让党旗在防控疫情斗争第一线高高飘扬"
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title="返校复学第一课",
                     lecturers=["王书记"], planned_date="2020-07-01", theme=chosen,
                     outline="学生分批返校，线上教学与课堂教学衔接，有序推进复课，守护校园。")
    analysis = work["analysis"]
    assert "复学" in analysis["keywords"] and "返校" in analysis["keywords"]
    suggestion = analysis["theme_suggestion"]
    assert suggestion["theme"] == "有序推进学校复学复课" and suggestion["score"] > 0.2
    assert suggestion["chosen"] == chosen and suggestion["differs"] is True
    assert [x["score"] for x in suggestion["scores"]] == sorted((x["score"] for x in suggestion["scores"]), reverse=True)
    assert len(suggestion["scores"]) == 5 and work["fields"]["theme"] == chosen

    # the outline changes: the suggestion follows, the chosen theme stays
    r = seu("PATCH", f"/api/v1/submissions/{work['id']}", json={"fields": {
        "outline": "党员突击队冲锋在前，党旗在战疫一线高高飘扬，先锋模范守土有责。"}})
    assert r.status_code == 200, r.text
    assert r.json()["analysis"]["theme_suggestion"]["theme"] == chosen
    assert r.json()["analysis"]["theme_suggestion"]["differs"] is False

    # what the lecturer actually said (media's subtitle keywords) joins the text
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400
    file_id, put = seu.upload(work["id"], "video", "党课.mp4", video)
    assert put.status_code == 200 and seu("POST", f"/api/v1/files/{file_id}/complete").status_code == 200
    heard = ["青年", "志愿者", "青春", "大学生", "志愿服务", "奉献", "研究生", "成长"]
    announce_check(intake, file_id, work["id"], "passed", facts={"keywords": heard})
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work['id']}").json()["analysis"]["subtitle_keywords"]
               == heard, what="intake adds the subtitle keywords")
    scores = {x["theme"]: x["score"] for x in
              seu("GET", f"/api/v1/submissions/{work['id']}").json()["analysis"]["theme_suggestion"]["scores"]}
    assert scores["让青春在党和人民最需要的地方绽放绚丽之花"] > 0.1


def test_a_work_without_text_has_no_analysis(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", lecturers=["张书记"])
    assert work["analysis"] is None


def test_upload_with_wrong_checksum_stores_nothing(intake, tmp_path):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目")
    data = b"not what was declared" * 100
    file_id, put = seu.upload(work["id"], "video", "a.mp4", data, declared_sha="0" * 64)
    error_of(put, 422, "checksum_mismatch")
    objects = tmp_path / "data" / "objects"
    assert not any(p.is_file() for p in objects.rglob("*") if ".partial" not in p.parts)
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 409, "upload_missing")


def test_declared_size_over_the_policy_is_refused_before_any_byte(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目")
    from common.campaign import load_builtin_definitions

    limit = load_builtin_definitions()["siyige-2020-seu"].tracks["lecture"].media["video"].max_bytes
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files",
            json={"kind": "video", "filename": "a.mp4", "size": limit + 1, "sha256": "a" * 64})
    body = error_of(r, 413, "file_too_large")
    assert body["expected"] == limit and body["found"] == limit + 1
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["files"] == []


def test_sending_more_bytes_than_declared_is_refused(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目")
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files",
            json={"kind": "video", "filename": "a.mp4", "size": 10, "sha256": "a" * 64})
    url = r.json()["upload"]["url"]

    def body():  # chunked: no Content-Length to refuse up front
        yield b"x" * 5000

    error_of(requests.put(url, data=body(), timeout=10), 413, "size_mismatch")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("payload, headers, status, code", [
    (b"{not json", {"Content-Type": "application/json"}, 400, "malformed_json"),
    (b'{"campaign_id": 5, "track": "story", "org_id": "x"}', {"Content-Type": "application/json"}, 400,
     "validation_failed"),
    (b'{"campaign_id": "siyige-2020-seu", "track": "story"}', {"Content-Type": "application/json"}, 400,
     "validation_failed"),
    (b'{"campaign_id": "siyige-2020-seu", "track": "story", "org_id": "x"}', {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type"),
    (b'{"a": "' + b"x" * 1_100_000 + b'"}', {"Content-Type": "application/json"}, 413, "body_too_large"),
])
def test_bad_bodies_get_clear_errors(intake, payload, headers, status, code):
    seu = intake["seu"]
    error_of(seu("POST", "/api/v1/submissions", data=payload, headers=headers), status, code)
    assert seu("GET", "/api/v1/submissions").json()["total"] == 0


def test_unknown_track_and_unknown_route(intake):
    seu = intake["seu"]
    org = seu.org_id("机械工程学院党委")
    body = error_of(seu("POST", "/api/v1/submissions",
                        json={"campaign_id": "siyige-2020-seu", "track": "poetry", "org_id": org}), 422, "unknown_track")
    assert "story" in body["expected"]
    error_of(seu("GET", "/api/v1/nothing-here"), 404, "route_not_found")


def test_openapi_document_lists_every_route(intake):
    doc = requests.get(intake["base"] + "/api/v1/openapi.json", timeout=10).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    from common.web import HtmlPage

    served = set()
    for ext in intake["container"].entrypoints:
        url = getattr(ext, "url", None)
        if url and "<path:" not in url and not isinstance(ext, HtmlPage):  # pages for people are not the API
            path = url.replace("<string:", "{").replace(">", "}")
            for method in ext.method.split(","):
                served.add((method, path))
    assert served and served == documented


# --------------------------------------------------------------------------- retries, methods, paging, edits


def test_a_retried_post_with_the_same_idempotency_key_acts_once(intake):
    seu = intake["seu"]
    org = seu.org_id("机械工程学院党委")
    body = {"campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
            "fields": {"title": "机械学院故事", "text": "故事。"}}
    first = seu("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "k-1"})
    again = seu("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert seu("GET", "/api/v1/submissions").json()["total"] == 1
    other = dict(body, fields={"title": "另一篇"})
    error_of(seu("POST", "/api/v1/submissions", json=other, headers={"Idempotency-Key": "k-1"}),
             422, "idempotency_key_reused")

    sid = first.json()["id"]
    submitted = [seu("POST", f"/api/v1/submissions/{sid}/submit", headers={"Idempotency-Key": "k-2"})
                 for _ in range(2)]
    assert [r.status_code for r in submitted] == [200, 200]
    assert submitted[0].json()["receipt_no"] == submitted[1].json()["receipt_no"]
    assert len(seu("GET", f"/api/v1/submissions/{sid}/receipts").json()["items"]) == 1
    # without a key, a second submit of a finished work is refused, as documented
    error_of(seu("POST", f"/api/v1/submissions/{sid}/submit"), 409, "already_submitted")


def test_a_failed_request_does_not_burn_its_idempotency_key(intake):
    seu = intake["seu"]
    org = seu.org_id("机械工程学院党委")
    bad = {"campaign_id": "siyige-2020-seu", "track": "poetry", "org_id": org}
    error_of(seu("POST", "/api/v1/submissions", json=bad, headers={"Idempotency-Key": "k-3"}), 422, "unknown_track")
    error_of(seu("POST", "/api/v1/submissions", json=bad, headers={"Idempotency-Key": "k-3"}), 422, "unknown_track")


def test_a_wrong_method_on_a_known_path_is_405(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="题目")
    body = error_of(seu("DELETE", f"/api/v1/submissions/{work['id']}"), 405, "method_not_allowed")
    assert body["expected"] == ["GET", "PATCH"]


def test_lists_filter_and_page(intake):
    seu = intake["seu"]
    for i in range(5):
        seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title=f"计算机学院故事{i}")
    seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="党课")
    page = seu("GET", "/api/v1/submissions", params={"track": "story", "per_page": 2, "page": 3}).json()
    assert (page["total"], len(page["items"]), page["page"]) == (5, 1, 3)
    assert seu("GET", "/api/v1/submissions", params={"q": "党课"}).json()["total"] == 1
    error_of(seu("GET", "/api/v1/submissions", params={"per_page": 1000}), 400, "invalid_query")
    error_of(seu("GET", "/api/v1/submissions", params={"page": "two"}), 400, "invalid_query")


def test_edits_and_withdrawal_stop_at_the_deadline(intake):
    wust = intake["wust"]
    work = wust.draft("siyige-2020-wust", "story", "资源与环境工程学院党委",
                      title="资源与环境工程学院党委战疫故事", text="故事。")
    assert wust("POST", f"/api/v1/submissions/{work['id']}/submit").status_code == 200
    r = wust("PATCH", f"/api/v1/submissions/{work['id']}", json={"fields": {"text": "改过的故事。"}})
    assert r.status_code == 200 and r.json()["char_counts"]["text"] == 6
    error_of(wust("PATCH", f"/api/v1/submissions/{work['id']}", json={"fields": {"text": "党" * 301}}),
             422, "text_too_long")  # a submitted work must stay valid
    clock.set_start(datetime.fromisoformat("2020-07-16T08:00:00+08:00"))
    error_of(wust("PATCH", f"/api/v1/submissions/{work['id']}", json={"fields": {"text": "迟到的修改。"}}),
             409, "deadline_passed")
    error_of(wust("POST", f"/api/v1/submissions/{work['id']}/withdraw"), 409, "deadline_passed")
    assert wust("GET", f"/api/v1/submissions/{work['id']}").json()["fields"]["text"] == "改过的故事。"


def select(env, selected, *, level="university", to_level="ministry"):
    from kombu import Exchange

    from common.events import make_event

    ev = make_event("selection_made", "seu", {
        "round_id": "rd-1", "campaign_id": "siyige-2020-seu", "track": "story", "level": level,
        "to_level": to_level, "owner_org_id": None, "selected": selected, "not_selected": [],
        "results": [{"submission_id": s, "tenant": "seu", "rank": n, "selected": True}
                    for n, s in enumerate(selected, start=1)]})
    with Connection(env["config"]["AMQP_URI"]) as conn:
        for _ in range(2):  # delivered twice: forwarded once
            conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                    routing_key="selection_made", serializer="json", delivery_mode=2)


def test_a_confirmed_selection_is_forwarded_once_and_within_the_limit(intake):
    from kombu import Exchange

    seu = intake["seu"]
    colleges = [f"第{n}学院党委" for n in range(6)]
    csv = "名称,层级\n" + "".join(f"{c},二级党组织\n" for c in colleges)
    assert seu("POST", "/api/v1/orgs/import", data=csv.encode(), headers={"Content-Type": "text/csv"}).ok
    works = []
    for n in range(11):  # SEU lets each college submit two stories
        w = seu.draft("siyige-2020-seu", "story", colleges[n // 2], title=f"故事{n}", text="党员冲在前面。")
        assert seu("POST", f"/api/v1/submissions/{w['id']}/submit").status_code == 200
        works.append(w["id"])
    with Connection(intake["config"]["AMQP_URI"]) as conn:
        q = Queue("probe-forwarded", Exchange("intake.events", type="topic", durable=True),
                  routing_key="submission_forwarded", auto_delete=True)
        q.bind(conn.channel()).declare()
        # "高校提交10个左右": eleven are refused whole, nothing is forwarded
        select(intake, works)
        from common.deadletters import list_dead

        # refused after its retries and parked for an operator, with the reason
        dead = wait_until(lambda: [d for d in list_dead(intake["config"]["AMQP_URI"], "intake")
                                   if d["type"] == "selection_made"], timeout=20, what="the parked selection")
        assert "forward_quota_exceeded" in (dead[0]["error"] or "") or "最多报送" in (dead[0]["error"] or ""), dead
        assert all(seu("GET", f"/api/v1/submissions/{w}").json()["forwarded_to"] is None for w in works)
        select(intake, works[:2])
        wait_until(lambda: all(seu("GET", f"/api/v1/submissions/{w}").json()["forwarded_to"] == "ministry"
                               for w in works[:2]), what="two works forwarded")
        eventlet.sleep(1)
        bound = q.bind(conn.channel())
        got = []
        while (msg := bound.get(no_ack=True)) is not None:
            got.append(msg.payload["data"])
    assert sorted(d["submission_id"] for d in got) == sorted(works[:2])
    assert {(d["from_level"], d["to_level"], d["tenant_name"], d["root_campaign_id"]) for d in got} == {
        ("university", "ministry", "东南大学", "siyige-2020")}
    assert seu("GET", f"/api/v1/submissions/{works[2]}").json()["forwarded_to"] is None
