"""`python -m services.media.admin recheck`: files checked before media made clean copies get them.

Media runs as a service on a real RabbitMQ vhost, review beside it; reports are planted in media's
database as a check from before issue #14 left them (no clean copy, no types), for real generated
files in the folder store. The command runs as its own process, the way an operator runs it.
"""
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from common.db import Store
from common.events import make_event
from common.objectstore import FolderStore
from tests import media_fixtures
from tests.conftest import ROOT, wait_until

INTAKE_EVENTS = Exchange("intake.events", type="topic", durable=True)
MEDIA_EVENTS = Exchange("media.events", type="topic", durable=True)
OLD_CHECK = datetime(2020, 6, 12, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recheck-media")
    return {"video": media_fixtures.make_lecture_ok(folder), "document": media_fixtures.make_document_docx(folder),
            "image": media_fixtures.make_image_gps(folder)}


def publish(amqp, exchange, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=exchange, routing_key=ev.type, serializer="json", delivery_mode=2)


def campaign_event():
    from common.campaign import campaign_event_data, load_builtin_definitions

    return make_event("campaign_published", "seu", campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]))


def start_media(make_config, start_service, db_url, tmp_path):
    from services.media.models import MediaPolicyCopy
    from services.media.service import MediaService

    config = make_config("media", DATABASE_URL=db_url, OBJECT_STORE_URL=f"folder://{tmp_path / 'objects'}")
    start_service(MediaService, config)
    publish(config["AMQP_URI"], INTAKE_EVENTS, campaign_event())
    db = Store(db_url)

    def has_policies():
        with db.transaction() as s:
            return s.get(MediaPolicyCopy, ("siyige-2020-seu", "lecture", "video")) is not None

    wait_until(has_policies, timeout=30, what="media's copy of the campaign's policies")
    return config, db, FolderStore(tmp_path / "objects")


def old_report(store, path, file_id, kind, track, keep_copy=False):
    """What a check made before media made clean copies left: the facts and findings of the time, no
    `content_type` or `derived_types`, and only the derived files of the time (a video's poster and
    contact sheet; an image's EXIF-free copy)."""
    import tempfile

    from services.media.checker import check_file
    from services.media.cli import builtin_policy
    from services.media.models import CheckReport

    work = tempfile.mkdtemp()
    try:
        report = check_file(str(path), kind, builtin_policy("siyige-2020-seu", track, kind), work)
        facts = {k: v for k, v in report.facts.items() if k not in ("content_type", "derived_types")}
        old = {"video": ("poster", "contact_sheet"), "image": ("review_copy",) if keep_copy else ()}.get(kind, ())
        derived = {}
        for name in old:
            derived[name] = f"derived/seu/{file_id}/{os.path.basename(report.derived[name])}"
            store.put_file(derived[name], report.derived[name])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    store.put_file(f"seu/{file_id}", str(path))
    return CheckReport(file_id=file_id, submission_id=f"s-{file_id}", tenant="seu", campaign_id="siyige-2020-seu",
                       track=track, kind=kind, object_key=f"seu/{file_id}", state="done", verdict=report.verdict,
                       findings=report.findings, facts=facts, derived=derived, cues=[list(c) for c in report.cues],
                       text=report.text, checked_at=OLD_CHECK, created_at=OLD_CHECK)


def as_event(row):
    return make_event("file_checked", "seu", {
        "file_id": row.file_id, "submission_id": row.submission_id, "verdict": row.verdict, "findings": row.findings,
        "facts": row.facts, "derived": row.derived, "checked_at": row.checked_at.isoformat()})


def uploaded(row, content_type="application/octet-stream"):
    return make_event("file_uploaded", "seu", {
        "file_id": row.file_id, "submission_id": row.submission_id, "campaign_id": row.campaign_id,
        "track": row.track, "kind": row.kind, "object_key": row.object_key, "size": 1, "sha256": "0" * 64,
        "content_type": content_type, "original_name": "张三的微党课.mp4", "org_id": "o-cse"})


def run_recheck(config, *args):
    env = dict(os.environ, MEDIA_DATABASE_URL=config["DATABASE_URL"], OBJECT_STORE_URL=config["OBJECT_STORE_URL"],
               DATA_DIR=config["DATA_DIR"], PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "services.media.admin", "recheck", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    print(done.stdout, done.stderr[-3000:])
    return done.returncode, done.stdout.splitlines()


def listen(amqp):
    """A queue of our own on media's exchange: every `file_checked` published from now on."""
    conn = Connection(amqp)
    bound = Queue("probe-rechecked", MEDIA_EVENTS, routing_key="file_checked").bind(conn.channel())
    bound.declare()
    return conn, bound


def drain(bound, count, timeout=30):
    got = []

    def enough():
        while (message := bound.get(no_ack=True)) is not None:
            got.append(message.payload["data"])
        return len(got) >= count

    wait_until(enough, timeout=timeout, what=f"{count} file_checked events")
    return got


class Links:
    def url(self, key, name, ctype):
        return f"/files/{key}?as={ctype}"


def reviewer_file(review_db, file_id):
    """What review shows a reviewer for the file (its clean copy's link, or the no-copy notice)."""
    from services.review.models import FileCopy
    from services.review.operations import _reviewer_file

    with review_db.transaction() as s:
        return _reviewer_file(s.get(FileCopy, file_id), 1, Links())


def test_missing_copies_checks_old_reports_again_and_review_links_the_clean_copies(
        db_url, make_config, start_service, files, tmp_path):
    from services.media.models import CheckReport
    from services.review.models import FileCopy
    from services.review.service import ReviewService

    config, db, store = start_media(make_config, start_service, db_url, tmp_path)
    review_url = f"sqlite:///{tmp_path / 'review.db'}"
    start_service(ReviewService, make_config("review", DATABASE_URL=review_url, WEB_SECRET="test-secret"))
    review_db = Store(review_url)

    planted = [old_report(store, files["video"], "f-video", "video", "lecture"),
               old_report(store, files["document"], "f-doc", "document", "material"),
               old_report(store, files["image"], "f-img", "image", "material", keep_copy=True)]
    with db.transaction() as s:
        s.add_all(planted)
    # review has the files and their old checks, as it got them back then
    publish(config["AMQP_URI"], INTAKE_EVENTS, *(uploaded(r) for r in planted))
    eventlet.sleep(1)
    publish(config["AMQP_URI"], MEDIA_EVENTS, *(as_event(r) for r in planted))

    def review_has_old_checks():
        with review_db.transaction() as s:
            return all((f := s.get(FileCopy, r.file_id)) is not None and f.checked_at is not None for r in planted)

    wait_until(review_has_old_checks, timeout=30, what="review's copies of the old checks")
    assert reviewer_file(review_db, "f-video")["url"] is None  # "no clean copy": the reason for the command
    assert reviewer_file(review_db, "f-doc")["url"] is None
    assert reviewer_file(review_db, "f-img")["url"]  # a picture's EXIF-free copy was made then too

    conn, bound = listen(config["AMQP_URI"])
    rc, out = run_recheck(config, "--missing-copies", "--dry-run")
    assert rc == 0 and sorted(line.split("\t")[0] for line in out[:-1]) == ["f-doc", "f-video"], out
    assert out[-1] == "2 file(s) would be checked again"

    rc, out = run_recheck(config, "--missing-copies")
    assert rc == 0, out
    lines = {line.split("\t")[0]: line.split("\t") for line in out[:-1]}
    assert sorted(lines) == ["f-doc", "f-video"]  # the picture had its copy: left alone
    assert lines["f-video"][1:3] == ["video", "passed"] and "playback" in lines["f-video"][3]
    assert lines["f-doc"][1] == "document" and "review_copy" in lines["f-doc"][3]
    assert out[-1].startswith("checked again: 2 (passed ") and "not read from the store: 0" in out[-1]

    # media's relay publishes what the command put into its outbox
    events = {e["file_id"]: e for e in drain(bound, 2)}
    assert sorted(events) == ["f-doc", "f-video"]
    video, doc = events["f-video"], events["f-doc"]
    assert video["verdict"] == "passed" and video["facts"]["content_type"] == "video/mp4"
    assert video["derived"]["playback"] == "derived/seu/f-video/playback.mp4"
    assert video["facts"]["derived_types"]["playback"] == "video/mp4"
    assert {"poster", "contact_sheet", "text"} <= set(video["derived"])  # the subtitles' text and keywords too
    assert video["facts"]["keywords"]
    assert doc["derived"]["review_copy"].endswith("review.docx") and doc["facts"]["derived_types"]["review_copy"]
    for e in events.values():
        assert datetime.fromisoformat(e["checked_at"]) > OLD_CHECK
        assert all(store.exists(key) for key in e["derived"].values())
    with db.transaction() as s:
        rows = {r.file_id: r for r in s.scalars(select(CheckReport))}
    assert rows["f-video"].derived == video["derived"] and rows["f-video"].facts == video["facts"]
    assert rows["f-img"].checked_at == OLD_CHECK  # not checked again

    # review takes the newer check: the reviewer now gets the clean copy under the type media found
    def review_links(file_id):
        return reviewer_file(review_db, file_id)["url"]

    wait_until(lambda: review_links("f-video") and review_links("f-doc"), timeout=30, what="review's links")
    assert reviewer_file(review_db, "f-video")["url"] == "/files/derived/seu/f-video/playback.mp4?as=video/mp4"
    assert "unavailable" not in reviewer_file(review_db, "f-doc")

    # a second run finds nothing left to do
    rc, out = run_recheck(config, "--missing-copies")
    assert rc == 0 and out == [out[-1]] and out[-1].startswith("checked again: 0 "), out
    eventlet.sleep(2)
    assert drain(bound, 0, timeout=1) == []
    conn.release()
    with db.transaction() as s:
        assert {r.file_id: r.checked_at for r in s.scalars(select(CheckReport))} == \
            {k: r.checked_at for k, r in rows.items()}


def test_named_files_keep_their_declared_type_and_a_file_gone_from_the_store_exits_1(
        sqlite_url, make_config, start_service, files, tmp_path):
    from services.media.models import CheckReport

    config, db, store = start_media(make_config, start_service, sqlite_url, tmp_path)
    conn, bound = listen(config["AMQP_URI"])
    # checked by the service since it keeps the declared type: a picture the portal called a PDF
    typed = old_report(store, files["image"], "f-typed", "image", "material")
    publish(config["AMQP_URI"], INTAKE_EVENTS, uploaded(typed, content_type="application/pdf"))
    first = drain(bound, 1)[0]
    mismatch = [f for f in first["findings"] if f["rule"] == "content_type_mismatch"]
    assert first["verdict"] == "failed" and mismatch and mismatch[0]["actual"] == "application/pdf"
    # an old report whose original is no longer in the store
    gone = old_report(store, files["document"], "f-gone", "document", "material")
    with db.transaction() as s:
        s.add(gone)
    store.delete("seu/f-gone")

    rc, out = run_recheck(config, "f-gone", "f-typed", "f-unknown")
    assert rc == 1, out
    lines = {line.split("\t")[0]: line for line in out[:-1]}
    assert "NOT READ from the object store (seu/f-gone)" in lines["f-gone"]
    assert "not known to media" in lines["f-unknown"]
    assert lines["f-typed"].split("\t")[1:3] == ["image", "failed"]  # checked all the same
    assert "not read from the store: 1" in out[-1] and "unknown: 1" in out[-1]

    again = drain(bound, 1)
    eventlet.sleep(2)
    again += drain(bound, 0, timeout=1)
    conn.release()
    assert [e["file_id"] for e in again] == ["f-typed"]  # nothing announced for the file it could not read
    assert again[0]["checked_at"] > first["checked_at"]
    assert [f["actual"] for f in again[0]["findings"] if f["rule"] == "content_type_mismatch"] == ["application/pdf"]
    with db.transaction() as s:
        assert s.get(CheckReport, "f-gone").checked_at == OLD_CHECK and s.get(CheckReport, "f-gone").derived == {}


def test_which_reports_count_as_missing_their_copy():
    """Checked before clean copies and without the reviewer's copy; not a check that could not read its file,
    nor one made since (it had its chance: a copy that could not be made is a `review_copy_failed` warning)."""
    from services.media.models import CheckReport
    from services.media.pipeline import lacks_clean_copy

    def report(kind, derived=(), facts=None, rules=(), state="done"):
        return CheckReport(kind=kind, state=state, derived={name: f"derived/seu/f/{name}" for name in derived},
                           facts={"container": "mp4"} if facts is None else facts,
                           findings=[{"rule": r, "severity": "error", "message": ""} for r in rules])

    assert lacks_clean_copy(report("video", ["poster", "contact_sheet"]))
    assert lacks_clean_copy(report("audio")) and lacks_clean_copy(report("subtitle"))
    assert lacks_clean_copy(report("document", rules=["file_truncated"]))  # read and failed then: checked again
    assert not lacks_clean_copy(report("video", ["playback"]))  # the old faststart copy: review serves it
    assert not lacks_clean_copy(report("image", ["review_copy"]))
    assert not lacks_clean_copy(report("document", facts={"format": "pdf", "derived_types": {}},
                                       rules=["review_copy_failed"]))
    assert not lacks_clean_copy(report("video", facts={}, rules=["check_timeout"]))
    assert not lacks_clean_copy(report("video", state="checking"))
