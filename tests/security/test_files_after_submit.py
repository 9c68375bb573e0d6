"""The files of a submitted stage cannot change behind its receipt (issue #14, Integrity).

`DELETE /api/v1/files/{id}` on a submitted meeting report's only PDF answered 200 and the work stayed
`submitted`, `complete`, with the same receipt and no file; a file that failed its check could be added
to a submitted work. Now every way the files of a submitted stage change (delete, add, replace, a newer
check that fails) returns the work to before that stage with a message that it must be submitted
again; the receipt no longer holds, `submission_reopened` tells review (the work leaves its round) and
notify (progress counts, a mail to the org). A file for a stage not yet submitted changes nothing.
Through the real HTTP API of a real intake (SQLite and PostgreSQL), with review and notify as real
services for the event.
"""
import hashlib

import pytest
import requests
from sqlalchemy import select

from common import clock
from common.db import Store
from tests.conftest import wait_until
from tests.integration.test_intake_api import announce_check, error_of, start_intake

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300)
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
TYPES = {"document": "application/pdf", "image": "image/jpeg", "video": "video/mp4"}
REPORTING_COLLEGE = "资源与环境工程学院党委"  # 武汉科技大学


@pytest.fixture
def intake(db_url, make_config, start_service):
    yield start_intake(db_url, make_config, start_service)
    clock.set_start(None)


def add_file(env, work_id, kind, name, data, checked_at="2020-06-12T01:05:00+00:00", verdict="passed", tenant="seu"):
    """Register, upload, confirm and have the file checked, as a portal and media would. Returns the answer."""
    seu = env[tenant]
    r = seu("POST", f"/api/v1/submissions/{work_id}/files", json={
        "kind": kind, "filename": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": TYPES[kind]})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert requests.put(ticket["upload"]["url"], data=data, timeout=30).status_code == 200
    assert seu("POST", f"/api/v1/files/{ticket['file']['id']}/complete").json()["state"] == "stored"
    announce_check(env, ticket["file"]["id"], work_id, verdict, checked_at=checked_at, tenant=tenant)
    return ticket


def submitted_report(env):
    """武汉科技大学's written report of a college's branch meetings: one document, the stage's only required file.
    (东南大学's copy leaves the meeting report out.)"""
    wust = env["wust"]
    work = wust.draft("siyige-2020-wust", "meeting_report", REPORTING_COLLEGE, title="资源学院各支部组织生活会情况",
                      held_on="2020-07-02")
    pdf = add_file(env, work["id"], "document", "组织生活会记录.pdf", PDF, tenant="wust")["file"]["id"]
    r = wust("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200 and r.json()["complete"], r.text
    return work["id"], pdf, r.json()["receipt_no"]


def reopened_events(env):
    from services.intake.models import OutboxMessage

    store = Store(env["config"]["DATABASE_URL"])
    try:
        with store.transaction() as s:
            return [m.envelope["data"] for m in s.scalars(select(OutboxMessage).where(
                OutboxMessage.event_type == "submission_reopened").order_by(OutboxMessage.id))]
    finally:
        store.dispose()


def _processed(env, event_id):
    from services.intake.models import ProcessedEvent

    store = Store(env["config"]["DATABASE_URL"])
    try:
        with store.transaction() as s:
            return s.scalars(select(ProcessedEvent).where(ProcessedEvent.event_id == event_id)).first() is not None
    finally:
        store.dispose()


def test_deleting_the_only_pdf_of_a_submitted_report_returns_it_to_draft(intake):
    wust = intake["wust"]
    work_id, pdf, receipt = submitted_report(intake)
    r = wust("DELETE", f"/api/v1/files/{pdf}")
    assert r.status_code == 200, r.text
    reopened = r.json()["reopened"]
    assert (reopened["state"], reopened["stage"], reopened["receipt_no"]) == ("draft", None, None)
    assert reopened["voided_receipts"] == [receipt] and reopened["reason"] == "file_deleted"
    assert receipt in reopened["message"] and "重新提交" in reopened["message"] and "组织生活会记录.pdf" in reopened["message"]
    work = wust("GET", f"/api/v1/submissions/{work_id}").json()
    assert (work["state"], work["complete"], work["receipt_no"], work["files"]) == ("draft", False, None, [])
    # the receipt itself stays on record (it was issued); the work no longer stands on it
    assert [x["receipt_no"] for x in wust("GET", f"/api/v1/submissions/{work_id}/receipts").json()["items"]] == [receipt]
    [event] = reopened_events(intake)
    assert (event["submission_id"], event["stage"], event["stages_submitted"], event["voided_receipts"]) == (
        work_id, None, [], [receipt])
    # as at submission, the stage needs its file
    error_of(wust("POST", f"/api/v1/submissions/{work_id}/submit"), 422, "file_missing")
    add_file(intake, work_id, "document", "组织生活会记录（更正）.pdf", PDF + b"%", tenant="wust")
    r = wust("POST", f"/api/v1/submissions/{work_id}/submit")
    assert r.status_code == 200 and r.json()["receipt_no"] not in (None, receipt)


def test_a_lectures_only_video_deleted_takes_back_the_video_stage_only(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title="让党旗在防控疫情斗争第一线高高飘扬",
                     lecturers=["王书记"], planned_date="2020-07-01", theme="让党旗在防控疫情斗争第一线高高飘扬")
    registration = seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()["receipt_no"]
    # a file for the stage not yet submitted changes nothing
    video = add_file(intake, work["id"], "video", "党课.mp4", VIDEO)
    assert "reopened" not in video
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["receipt_no"] == registration
    done = seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()
    assert done["complete"] and done["stage"] == "video"
    r = seu("DELETE", f"/api/v1/files/{video['file']['id']}")
    assert r.status_code == 200
    assert r.json()["reopened"]["stage"] == "registration" and r.json()["reopened"]["voided_receipts"] == [done["receipt_no"]]
    now = seu("GET", f"/api/v1/submissions/{work['id']}").json()
    assert (now["state"], now["stage"], now["complete"], now["receipt_no"]) == ("submitted", "registration", False,
                                                                              registration)
    error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "file_missing")


def test_adding_a_file_to_a_submitted_stage_returns_the_work_at_once(intake):
    """A second photo, or a file that will fail its check: the work is no longer what its receipt lists."""
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院战疫故事", text="党员冲在前面。")
    receipt = seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()["receipt_no"]
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "image", "filename": "合影.jpg", "size": len(JPEG), "sha256": hashlib.sha256(JPEG).hexdigest(),
        "content_type": "image/jpeg"})
    assert r.status_code == 201
    reopened = r.json()["reopened"]
    assert reopened["state"] == "draft" and reopened["voided_receipts"] == [receipt]
    assert reopened["file_id"] == r.json()["file"]["id"] and reopened["reason"] == "file_added"
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["state"] == "draft"
    # the photo fails its check: the work cannot be submitted with it, as at any submission
    file_id = r.json()["file"]["id"]
    requests.put(r.json()["upload"]["url"], data=JPEG, timeout=30)
    seu("POST", f"/api/v1/files/{file_id}/complete")
    announce_check(intake, file_id, work["id"], "failed")
    error_of(seu("POST", f"/api/v1/submissions/{work['id']}/submit"), 422, "file_check_failed")


def test_replacing_a_file_is_a_delete_and_an_add_and_needs_a_new_submission(intake):
    wust = intake["wust"]
    work_id, pdf, receipt = submitted_report(intake)
    assert wust("DELETE", f"/api/v1/files/{pdf}").json()["reopened"]["voided_receipts"] == [receipt]
    again = add_file(intake, work_id, "document", "新版.pdf", PDF + b"%v2", tenant="wust")
    assert "reopened" not in again  # already a draft: nothing more to take back
    new = wust("POST", f"/api/v1/submissions/{work_id}/submit").json()["receipt_no"]
    receipts = wust("GET", f"/api/v1/submissions/{work_id}/receipts").json()["items"]
    assert [x["receipt_no"] for x in receipts] == [receipt, new]
    assert receipts[1]["summary"]["files"][0]["name"] == "新版.pdf"
    assert len(reopened_events(intake)) == 1


def test_a_check_that_arrives_later_and_fails_returns_the_work(intake):
    wust = intake["wust"]
    work_id, pdf, receipt = submitted_report(intake)
    # media judges the file again (as it does a video when its subtitles arrive); an older result changes nothing
    from kombu import Connection, Exchange

    from common.events import make_event

    older = make_event("file_checked", "wust", {"file_id": pdf, "submission_id": work_id, "verdict": "failed",
                                               "findings": [], "facts": {}, "checked_at": "2020-06-12T01:04:00+00:00"})
    with Connection(intake["config"]["AMQP_URI"]) as conn:
        conn.Producer().publish(older.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                                routing_key="file_checked", serializer="json")
    wait_until(lambda: _processed(intake, older.event_id), what="intake handles the older check")
    assert wust("GET", f"/api/v1/files/{pdf}").json()["check"]["verdict"] == "passed"
    assert wust("GET", f"/api/v1/submissions/{work_id}").json()["state"] == "submitted"
    announce_check(intake, pdf, work_id, "failed", checked_at="2020-06-12T02:00:00+00:00", tenant="wust")
    work = wait_until(lambda: (w := wust("GET", f"/api/v1/submissions/{work_id}").json())["state"] == "draft" and w,
                      what="the work back to draft")
    assert work["receipt_no"] is None and not work["complete"]
    [event] = reopened_events(intake)
    assert event["reason"] == "file_check_failed" and event["file_id"] == pdf and event["voided_receipts"] == [receipt]
    assert "格式检查未通过" in event["message"]


def test_a_forwarded_works_files_cannot_change(intake):
    from tests.integration.test_intake_api import select as confirm_selection

    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院战疫故事", text="党员冲在前面。")
    photo = add_file(intake, work["id"], "image", "合影.jpg", JPEG)["file"]["id"]
    seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    confirm_selection(intake, [work["id"]])
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work['id']}").json()["forwarded_to"] == "ministry",
               what="the work forwarded")
    body = error_of(seu("DELETE", f"/api/v1/files/{photo}"), 409, "submission_forwarded")
    assert "教育部" in body["message"]
    assert seu("GET", f"/api/v1/files/{photo}").json()["state"] == "stored"
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["state"] == "submitted"
    assert reopened_events(intake) == []


def test_after_the_deadline_the_files_of_a_submitted_work_stay_as_they_are(intake):
    from datetime import datetime

    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院战疫故事", text="党员冲在前面。")
    photo = add_file(intake, work["id"], "image", "合影.jpg", JPEG)["file"]["id"]
    receipt = seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()["receipt_no"]
    clock.set_start(datetime.fromisoformat("2021-01-01T09:00:00+08:00"))  # past the story's deadlines
    error_of(seu("DELETE", f"/api/v1/files/{photo}"), 409, "deadline_passed")
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "image", "filename": "补充.jpg", "size": len(JPEG), "sha256": hashlib.sha256(JPEG).hexdigest(),
        "content_type": "image/jpeg"})
    error_of(r, 409, "deadline_passed")
    now = seu("GET", f"/api/v1/submissions/{work['id']}").json()
    assert (now["state"], now["receipt_no"], [f["id"] for f in now["files"]]) == ("submitted", receipt, [photo])


# --------------------------------------------------------------------------- the others hear it


@pytest.fixture
def platform(tmp_path, make_config, start_service):
    """Intake, review and notify as real services on one broker, each with its own database."""
    from services.notify.service import NotifyService
    from services.review.service import ReviewService

    urls = {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("intake", "review", "notify")}
    start_service(ReviewService, make_config("review", DATABASE_URL=urls["review"], WEB_SECRET="review-secret"))
    start_service(NotifyService, make_config("notify", DATABASE_URL=urls["notify"], WEB_SECRET="notify-secret"))
    env = start_intake(urls["intake"], make_config, start_service)
    yield env, {name: Store(url) for name, url in urls.items()}
    clock.set_start(None)


def test_review_and_notify_hear_that_the_work_left_submitted(platform):
    from services.notify.models import MessageLog, Progress
    from services.review.models import Entry

    env, stores = platform
    seu = env["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院战疫故事", text="党员冲在前面。")
    photo = add_file(env, work["id"], "image", "合影.jpg", JPEG)["file"]["id"]
    receipt = seu("POST", f"/api/v1/submissions/{work['id']}/submit").json()["receipt_no"]

    def in_review():
        with stores["review"].transaction() as s:
            entry = s.get(Entry, work["id"])
            return entry and (entry.state, entry.round_id is not None)

    def progress():
        with stores["notify"].transaction() as s:
            row = s.get(Progress, ("seu", work["campaign_id"], "story", "level2"))
            return row and (row.works_submitted, row.orgs_submitted)

    wait_until(lambda: in_review() == ("submitted", True), timeout=20, what="the work in its round")
    wait_until(lambda: progress() == (1, 1), timeout=20, what="notify counts the work")
    assert seu("DELETE", f"/api/v1/files/{photo}").json()["reopened"]["voided_receipts"] == [receipt]
    wait_until(lambda: in_review() == ("reopened", False), timeout=20, what="the work out of its round")
    wait_until(lambda: progress() == (0, 0), timeout=20, what="notify no longer counts it")
    with stores["notify"].transaction() as s:
        mail = s.scalars(select(MessageLog).where(MessageLog.kind == "reopened")).one()
        assert "请重新提交" in mail.subject and receipt in mail.body and "合影.jpg" in mail.body
    # submitted again: back in its round, counted again
    seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    wait_until(lambda: in_review() == ("submitted", True), timeout=20, what="the work back in its round")
    wait_until(lambda: progress() == (1, 1), timeout=20, what="notify counts it again")
