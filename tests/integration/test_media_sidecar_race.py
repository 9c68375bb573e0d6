"""A video and its sidecar subtitles uploaded together (issue #17 item 4): whichever check ends first, the
video is announced once, with the subtitles; a subtitle check that never ends holds it MEDIA_SIDECAR_WAIT_S.

Media runs on a real RabbitMQ vhost and PostgreSQL. The order in which the two checks end is set by the test,
not left to timing: each real check, once done, waits for the test's go before its report is recorded.
The last test drives pipeline.record on media's database alone: several sidecars, one of them failed.
"""
import pytest
from eventlet.event import Event
from kombu import Connection, Exchange, Queue
from sqlalchemy import func, select

from common.db import Store, utcnow
from common.events import make_event
from common.objectstore import FolderStore
from tests import media_fixtures
from tests.conftest import _create_pg_database, wait_until

INTAKE_EVENTS = Exchange("intake.events", type="topic", durable=True)
WORK = "sub-work"


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sidecar-race")
    return {"video": media_fixtures.make_lecture_no_subtitles(folder), "srt": media_fixtures.make_subtitles_srt(folder)}


def publish(amqp, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=INTAKE_EVENTS, routing_key=ev.type, serializer="json",
                             delivery_mode=2)


def uploaded(store, path, kind, file_id):
    store.put_file(f"seu/{file_id}", str(path))
    return make_event("file_uploaded", "seu", {
        "file_id": file_id, "submission_id": WORK, "campaign_id": "siyige-2020-seu", "track": "lecture",
        "kind": kind, "object_key": f"seu/{file_id}", "size": path.stat().st_size, "sha256": "0" * 64,
        "content_type": "application/octet-stream", "original_name": path.name, "org_id": "o-cse"})


@pytest.fixture
def media(pg_server, make_config, start_service, tmp_path):
    """start(**settings) -> (config, container); the database, the object store and a probe queue on file_checked."""
    from common.campaign import campaign_event_data, load_builtin_definitions
    from services.media.models import MediaPolicyCopy
    from services.media.service import MediaService

    db_url = _create_pg_database(pg_server)
    objects = tmp_path / "objects"
    campaign = make_event("campaign_published", "seu",
                          campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]))
    db, conns = Store(db_url), []

    def start(**overrides):
        config = make_config("media", DATABASE_URL=db_url, OBJECT_STORE_URL=f"folder://{objects}", **overrides)
        container = start_service(MediaService, config)
        if not conns:
            conn = Connection(config["AMQP_URI"])
            queue = Queue("probe-checked", Exchange("media.events", type="topic", durable=True),
                          routing_key="file_checked")
            queue.bind(conn.channel()).declare()
            conns.append((conn, queue.bind(conn.channel())))
            publish(config["AMQP_URI"], campaign)

            def has_policies():
                with db.transaction() as s:
                    return s.get(MediaPolicyCopy, ("siyige-2020-seu", "lecture", "video")) is not None

            wait_until(has_policies, timeout=30, what="media's copy of the campaign's policies")
        return config, container

    yield start, db, FolderStore(objects), conns
    for conn, _ in conns:
        conn.release()
    db.dispose()


def report(db, file_id):
    from services.media.models import CheckReport

    with db.transaction() as s:
        return s.get(CheckReport, file_id)


def announced(db, file_id):
    """How many `file_checked` of the file are in media's outbox: written with the report, so final once it is."""
    from services.media.models import OutboxMessage

    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.event_type == "file_checked", OutboxMessage.envelope["data"]["file_id"].as_string() == file_id))


def drain(bound, count, timeout=60):
    got = []

    def enough():
        while (message := bound.get(no_ack=True)) is not None:
            got.append(message.payload["data"])
        return len(got) >= count

    wait_until(enough, timeout=timeout, what=f"{count} file_checked events")
    return got


@pytest.mark.parametrize("first", ["video", "subtitle"])
def test_whichever_check_ends_first_the_video_is_announced_once_with_its_subtitles(media, media_files, monkeypatch,
                                                                                    first):
    from services.media import pipeline

    start, db, store, conns = media
    checked, go, jobs = {"video": Event(), "subtitle": Event()}, {"video": Event(), "subtitle": Event()}, {}
    real_check = pipeline.check

    def check_then_wait(store_, job, limits, keywords):
        outcome = real_check(store_, job, limits, keywords)
        jobs[job.kind] = job
        checked[job.kind].send()
        go[job.kind].wait()  # the test says when this check's report is recorded
        return outcome

    monkeypatch.setattr(pipeline, "check", check_then_wait)
    try:
        config, _ = start()
        (_, bound), = conns
        publish(config["AMQP_URI"], uploaded(store, media_files["video"], "video", "f-video"),
                uploaded(store, media_files["srt"], "subtitle", "f-srt"))
        for kind in checked:
            wait_until(checked[kind].ready, timeout=60, what=f"the {kind}'s check")
        assert jobs["video"].sidecar_key is None  # both checked at once: the video's check did not see the sidecar

        second = "subtitle" if first == "video" else "video"
        go[first].send()
        first_id = {"video": "f-video", "subtitle": "f-srt"}[first]
        wait_until(lambda: report(db, first_id).state == "done", timeout=30, what=f"the {first}'s report")
        if first == "video":
            assert report(db, "f-video").held_since is not None and announced(db, "f-video") == 0  # held, not announced
        else:
            assert report(db, "f-video").state == "checking"  # the subtitle's record had no video to judge again
        go[second].send()
        # both reports recorded: the outbox is final (the subtitle's record ends the video's hold in its transaction)
        wait_until(lambda: report(db, "f-srt").state == "done" and report(db, "f-video").state == "done",
                   timeout=30, what="both reports")
        assert announced(db, "f-video") == 1 and announced(db, "f-srt") == 1
    finally:
        for gate in go.values():  # a failed assertion must not leave a worker waiting: the container stops
            if not gate.ready():
                gate.send()

    events = {e["file_id"]: e for e in drain(bound, 2)}
    video = events["f-video"]
    assert video["facts"]["has_subtitles"] is True and video["facts"]["subtitle_source"] == "sidecar"
    assert 0.75 <= video["facts"]["subtitle_coverage"] <= 0.85
    assert video["verdict"] == "passed" and not [f for f in video["findings"] if f["rule"].startswith("has_subtitles")]
    assert report(db, "f-video").facts == video["facts"] and report(db, "f-video").held_since is None


def test_a_subtitle_check_that_never_ends_holds_the_video_no_longer_than_the_wait_even_across_a_restart(
        media, media_files):
    from services.media.models import CheckReport

    start, db, store, conns = media
    config, container = start(MEDIA_SIDECAR_WAIT_S=3600)
    (_, bound), = conns
    # a subtitle file of the work claimed by a replica that went away mid-check: it never records a report
    with db.transaction() as s:
        s.add(CheckReport(file_id="f-lost", submission_id=WORK, tenant="seu", campaign_id="siyige-2020-seu",
                          track="lecture", kind="subtitle", object_key="seu/f-lost", state="checking",
                          claimed_by="gone:1:dead", claimed_at=utcnow(), findings=[], facts={}, derived={}, cues=[],
                          text=""))
    publish(config["AMQP_URI"], uploaded(store, media_files["video"], "video", "f-video"))
    wait_until(lambda: (r := report(db, "f-video")) is not None and r.state == "done", timeout=60,
               what="the video's report")
    held = report(db, "f-video").held_since
    assert held is not None and announced(db, "f-video") == 0

    container.stop()  # the hold is in the table: a new process keeps it, and ends it after its own wait
    start(MEDIA_SIDECAR_WAIT_S=0.5)
    video = drain(bound, 1)[0]
    assert video["file_id"] == "f-video"
    assert video["facts"]["has_subtitles"] is False  # its own verdict: no sidecar was ever checked
    assert any(f["rule"].startswith("has_subtitles") for f in video["findings"])
    assert report(db, "f-video").held_since is None and announced(db, "f-video") == 1


def test_every_sidecar_of_the_work_counts_and_a_failed_one_ends_the_wait(sqlite_url):
    """pipeline.record on media's database: subtitles in two parts cover the video together; a subtitle file
    that failed its check counts as checked (the video is announced with the others, not held)."""
    from common.campaign import load_builtin_definitions
    from common.db import migrate
    from common.messaging import StandaloneOutbox
    from common.settings import migrations_dir
    from services.media import pipeline
    from services.media.models import CheckReport, MediaPolicyCopy, OutboxMessage

    migrate(sqlite_url, migrations_dir("media"))
    db, outbox = Store(sqlite_url), StandaloneOutbox(OutboxMessage)
    facts = {"duration_s": 100.0, "has_subtitles": False, "subtitle_source": None, "subtitle_coverage": 0.0}
    no_subtitles = [{"rule": "has_subtitles", "severity": "warning", "message": "没有检测到字幕"}]

    def claimed(file_id, kind):
        return CheckReport(file_id=file_id, submission_id=WORK, tenant="seu", campaign_id="siyige-2020-seu",
                           track="lecture", kind=kind, object_key=f"seu/{file_id}", state="checking", claimed_by="r",
                           claimed_at=utcnow(), findings=[], facts={}, derived={}, cues=[], text="")

    def record(file_id, verdict, facts_, findings, cues):
        with db.transaction() as s:
            return pipeline.record(s, outbox, s.get(CheckReport, file_id), pipeline.Outcome(
                {"verdict": verdict, "findings": findings, "facts": facts_, "cues": cues, "text": ""}, {}))

    policy = load_builtin_definitions()["siyige-2020-seu"].media_policies()["lecture"]["video"]
    with db.transaction() as s:
        s.add(MediaPolicyCopy(campaign_id="siyige-2020-seu", track="lecture", kind="video", policy=policy))
        s.add_all([claimed("f-video", "video"), claimed("f-part1", "subtitle"), claimed("f-part2", "subtitle"),
                   claimed("f-broken", "subtitle")])
    record("f-video", "warnings", facts, no_subtitles, [])
    record("f-part1", "passed", {"format": "srt"}, [], [[0.0, 50.0, "上半场"]])
    assert report(db, "f-video").held_since is not None and announced(db, "f-video") == 0  # two still checked
    record("f-part2", "passed", {"format": "srt"}, [], [[50.0, 100.0, "下半场"]])
    assert report(db, "f-video").held_since is not None and announced(db, "f-video") == 0
    unreadable = [{"rule": "unreadable", "severity": "error", "message": "无法读取字幕文件"}]
    record("f-broken", "failed", {}, unreadable, [])

    video = report(db, "f-video")
    assert video.held_since is None and announced(db, "f-video") == 1
    assert video.facts["subtitle_coverage"] == 1.0 and video.facts["subtitle_source"] == "sidecar"
    assert not [f for f in video.findings if f["rule"].split(" ")[0] in ("has_subtitles", "subtitle_coverage")]
    db.dispose()
