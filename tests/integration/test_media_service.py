"""The media service against a real RabbitMQ and PostgreSQL: two replicas on one
queue, each file checked once, verdicts, derived files, the time limit."""
import pytest
from kombu import Connection, Exchange, Queue

from common.events import make_event
from common.objectstore import FolderStore
from tests import media_fixtures
from tests.conftest import _create_pg_database, wait_until

INTAKE_EVENTS = Exchange("intake.events", type="topic", durable=True)


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    return media_fixtures.make_all(tmp_path_factory.mktemp("media"))


def seu_campaign_event():
    from common.campaign import campaign_event_data, load_builtin_definitions

    return make_event("campaign_published", "seu", campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]))


def upload_event(store, media_files, name, kind, file_id, track="lecture"):
    key = f"seu/{file_id}"
    store.put_file(key, str(media_files[name]))
    size = media_files[name].stat().st_size
    return make_event("file_uploaded", "seu", {
        "file_id": file_id, "submission_id": f"sub-{file_id}", "campaign_id": "siyige-2020-seu", "track": track,
        "kind": kind, "object_key": key, "size": size, "sha256": "0" * 64, "content_type": "application/octet-stream",
        "original_name": media_files[name].name, "org_id": "o-cse"})


def publish(amqp, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=INTAKE_EVENTS, routing_key=ev.type, serializer="json",
                             delivery_mode=2)


@pytest.fixture
def media(pg_server, make_config, start_service, tmp_path):
    """Start `n` media replicas sharing one PostgreSQL database and one folder store."""
    from services.media.service import MediaService

    db_url = _create_pg_database(pg_server)
    objects = tmp_path / "objects"
    started = []

    def start(n=2, **overrides):
        config = make_config("media", DATABASE_URL=db_url, OBJECT_STORE_URL=f"folder://{objects}", **overrides)
        for _ in range(n):
            started.append(start_service(MediaService, dict(config)))
        return config

    yield start, FolderStore(objects)


def collect_checked(amqp):
    conn = Connection(amqp)
    q = Queue("probe-checked", Exchange("media.events", type="topic", durable=True), routing_key="file_checked")
    q.bind(conn.channel()).declare()
    return conn, q.bind(conn.channel())


def drain(bound, until_count, timeout=60):
    got = []

    def more():
        while (msg := bound.get(no_ack=True)) is not None:
            got.append(msg.payload)
        return len(got) >= until_count

    wait_until(more, timeout=timeout, what=f"{until_count} file_checked events")
    return got


def test_two_replicas_check_every_file_once(media, media_files):
    start, store = media
    config = start(n=2)
    conn, bound = collect_checked(config["AMQP_URI"])
    publish(config["AMQP_URI"], seu_campaign_event())
    uploads = [
        upload_event(store, media_files, "lecture_ok", "video", "f-ok"),
        upload_event(store, media_files, "lecture_truncated", "video", "f-truncated"),
        upload_event(store, media_files, "text_named_mp4", "video", "f-text"),
        upload_event(store, media_files, "lecture_720p", "video", "f-720p"),
        upload_event(store, media_files, "image_gps", "image", "f-photo", track="material"),
    ]
    import eventlet

    eventlet.sleep(1)  # the policies arrive first, as they do in life
    publish(config["AMQP_URI"], *uploads, uploads[0], uploads[1])  # two duplicate deliveries
    events = drain(bound, len(uploads))
    eventlet.sleep(3)  # room for a wrongly repeated check to show up
    events += drain(bound, 0, timeout=1)
    conn.release()

    by_file = {}
    for ev in events:
        by_file.setdefault(ev["data"]["file_id"], []).append(ev["data"])
    assert sorted(by_file) == sorted(u.data["file_id"] for u in uploads)
    assert all(len(v) == 1 for v in by_file.values()), {k: len(v) for k, v in by_file.items()}

    ok = by_file["f-ok"][0]
    assert ok["verdict"] == "passed", ok["findings"]
    assert ok["facts"]["video_codec"] == "h264" and ok["facts"]["width"] == 1920
    assert ok["facts"]["has_subtitles"] is True and ok["facts"]["subtitle_coverage"] > 0.9
    assert {"poster", "contact_sheet"} <= set(ok["derived"])
    assert all(store.exists(k) for k in ok["derived"].values())

    truncated = by_file["f-truncated"][0]
    assert truncated["verdict"] == "failed"
    assert "file_truncated" in {f["rule"] for f in truncated["findings"]}

    text = by_file["f-text"][0]
    assert text["verdict"] == "failed" and text["findings"][0]["rule"] == "unreadable"

    p720 = by_file["f-720p"][0]
    assert p720["verdict"] == "warnings"
    assert any(f["rule"].startswith("width") and "1920" in f["message"] for f in p720["findings"])

    photo = by_file["f-photo"][0]
    assert "image_gps" in {f["rule"] for f in photo["findings"]}
    assert "review_copy" in photo["derived"]


def test_a_check_over_its_time_limit_yields_a_finding_and_the_worker_moves_on(media, media_files):
    start, store = media
    config = start(n=1, MEDIA_CHECK_TIMEOUT_S=0.05)
    conn, bound = collect_checked(config["AMQP_URI"])
    publish(config["AMQP_URI"], upload_event(store, media_files, "lecture_ok", "video", "f-slow"),
            upload_event(store, media_files, "lecture_720p", "video", "f-next"))
    events = drain(bound, 2)
    conn.release()
    for ev in events:
        assert ev["data"]["verdict"] == "failed"
        assert ev["data"]["findings"][0]["rule"] == "check_timeout"
        assert "秒" in ev["data"]["findings"][0]["message"]
    assert sorted(ev["data"]["file_id"] for ev in events) == ["f-next", "f-slow"]


def test_a_sidecar_uploaded_after_its_video_updates_the_videos_verdict(media, media_files):
    start, store = media
    config = start(n=1)
    conn, bound = collect_checked(config["AMQP_URI"])
    publish(config["AMQP_URI"], seu_campaign_event())
    import eventlet

    eventlet.sleep(1)
    video = upload_event(store, media_files, "lecture_no_subtitles", "video", "f-video")
    publish(config["AMQP_URI"], video)
    first = drain(bound, 1)[0]["data"]
    assert first["facts"]["has_subtitles"] is False
    assert any(f["rule"].startswith("has_subtitles") for f in first["findings"])

    srt = upload_event(store, media_files, "subtitles_srt", "subtitle", "f-srt")
    srt.data["submission_id"] = video.data["submission_id"]  # the same work
    publish(config["AMQP_URI"], srt)
    later = {ev["data"]["file_id"]: ev["data"] for ev in drain(bound, 2)}
    conn.release()
    assert later["f-srt"]["verdict"] == "passed" and later["f-srt"]["facts"]["format"] == "srt"
    # the subtitles' words: keywords in the facts (intake's theme suggestion), the text kept for the library
    assert later["f-srt"]["facts"]["keywords"]
    with store.open(later["f-srt"]["derived"]["text"]) as f:
        said = f.read().decode("utf-8")
    assert media_fixtures.CUES[0] in said and all(w in said for w in later["f-srt"]["facts"]["keywords"])
    again = later["f-video"]
    assert again["facts"]["has_subtitles"] is True and 0.75 <= again["facts"]["subtitle_coverage"] <= 0.85
    assert again["verdict"] == "passed" and again["checked_at"] > first["checked_at"]


def test_a_documents_keywords_and_text_are_kept_and_an_image_has_none(media, media_files):
    from services.media import documents

    start, store = media
    config = start(n=1)
    conn, bound = collect_checked(config["AMQP_URI"])
    publish(config["AMQP_URI"], seu_campaign_event())
    import eventlet

    eventlet.sleep(1)
    publish(config["AMQP_URI"], upload_event(store, media_files, "document_docx", "document", "f-doc", track="material"),
            upload_event(store, media_files, "image_gps", "image", "f-img", track="material"))
    got = {ev["data"]["file_id"]: ev["data"] for ev in drain(bound, 2)}
    conn.release()
    doc = got["f-doc"]
    assert {"抗疫精神", "战斗堡垒"} & set(doc["facts"]["keywords"]) and len(doc["facts"]["keywords"]) <= 10
    with store.open(doc["derived"]["text"]) as f:
        kept = f.read().decode("utf-8")
    assert kept == documents.inspect_document(str(media_files["document_docx"])).text
    assert all(p in kept for p in media_fixtures.DOCX_PARAGRAPHS)
    assert "keywords" not in got["f-img"]["facts"] and "text" not in got["f-img"]["derived"]


def test_a_check_waits_while_the_object_store_is_unavailable_and_happens_once_it_is_back(media, media_files):
    """The store gone for a while (its folder moved away): the check is retried, not marked done, not lost."""
    import eventlet

    start, store = media
    config = start(n=1, EVENT_RETRY_DELAYS_MS=[500, 1000, 2000, 4000, 8000])
    conn, bound = collect_checked(config["AMQP_URI"])
    publish(config["AMQP_URI"], seu_campaign_event())
    eventlet.sleep(1)
    upload = upload_event(store, media_files, "image_gps", "image", "f-outage", track="material")
    root = store.root
    away = root.with_name(root.name + "-unavailable")
    root.rename(away)  # the store is down: every read fails
    try:
        publish(config["AMQP_URI"], upload)
        eventlet.sleep(3)  # a few retries fail meanwhile
        assert drain(bound, 0, timeout=1) == []  # nothing announced while the file cannot be read
        from sqlalchemy import select

        from common.db import Store
        from services.media.models import CheckReport

        db = Store(config["DATABASE_URL"])
        with db.transaction() as s:
            row = s.scalars(select(CheckReport).where(CheckReport.file_id == "f-outage")).first()
            assert row is None or row.state != "done"
    finally:
        away.rename(root)  # the store is back
    got = drain(bound, 1, timeout=60)
    eventlet.sleep(2)
    got += drain(bound, 0, timeout=1)
    conn.release()
    assert [e["data"]["file_id"] for e in got] == ["f-outage"]  # checked once
    assert got[0]["data"]["verdict"] in ("passed", "warnings") and "review_copy" in got[0]["data"]["derived"]
