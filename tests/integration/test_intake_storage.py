"""Intake's storage paths: the S3 backend against a real S3 HTTP endpoint (moto's
server mode), abandoned uploads, and events written while no service ran."""
import hashlib
import io
from datetime import datetime

import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.testing.services import entrypoint_hook

from common import clock, objectstore
from tests.conftest import free_port, wait_until
from tests.integration.test_intake_api import error_of, seed, start_intake


@pytest.fixture
def s3_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def intake_s3(s3_endpoint, sqlite_url, make_config, start_service):
    env = start_intake(sqlite_url, make_config, start_service,
                       OBJECT_STORE_URL=f"s3://works?endpoint={s3_endpoint}&region=us-east-1")
    env["s3"] = objectstore.open_store(f"s3://works?endpoint={s3_endpoint}&region=us-east-1")
    yield env
    clock.set_start(None)


def lecture_draft(seu):
    return seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目")


def register(seu, work, data, sha=None):
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "党课.mp4", "size": len(data),
        "sha256": sha or hashlib.sha256(data).hexdigest(), "content_type": "video/mp4"})
    assert r.status_code == 201, r.text
    return r.json()


def test_s3_single_put_through_a_presigned_url(intake_s3):
    seu = intake_s3["seu"]
    data = b"\x00\x00\x00\x18ftypmp42" + b"x" * 100_000
    ticket = register(seu, lecture_draft(seu), data)
    upload = ticket["upload"]
    assert "X-Amz-Signature" in upload["url"] and "multipart" not in upload
    assert requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).status_code == 200
    f = seu("POST", f"/api/v1/files/{ticket['file']['id']}/complete").json()
    assert f["state"] == "stored"
    assert intake_s3["s3"].stat(f"seu/{f['id']}").sha256 == hashlib.sha256(data).hexdigest()


def test_s3_multipart_upload_above_the_threshold(intake_s3, monkeypatch):
    monkeypatch.setattr(objectstore, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(objectstore, "PART_SIZE", 5 * 1024 * 1024)
    seu = intake_s3["seu"]
    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts
    ticket = register(seu, lecture_draft(seu), data)
    parts = ticket["upload"]["multipart"]["parts"]
    assert [p["size"] for p in parts] == [5 * 1024 * 1024, 5 * 1024 * 1024, 1024 * 1024]
    etags, offset = [], 0
    for part in parts:
        r = requests.put(part["url"], data=data[offset:offset + part["size"]], timeout=30)
        assert r.status_code == 200, r.text
        etags.append({"part_number": part["part_number"], "etag": r.headers["ETag"]})
        offset += part["size"]
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 400, "parts_missing")
    f = seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}).json()
    assert f["state"] == "stored" and f["size"] == len(data)


def test_s3_object_that_does_not_match_its_declaration_is_removed(intake_s3):
    seu = intake_s3["seu"]
    data = b"the real bytes" * 1000
    ticket = register(seu, lecture_draft(seu), data, sha="0" * 64)
    upload = ticket["upload"]
    requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).raise_for_status()
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 422, "checksum_mismatch")
    assert not intake_s3["s3"].exists(f"seu/{file_id}")
    assert seu("GET", f"/api/v1/files/{file_id}").json()["state"] == "pending"


def test_abandoned_uploads_are_aborted_and_removed(sqlite_url, make_config, start_service, tmp_path):
    env = start_intake(sqlite_url, make_config, start_service)
    try:
        seu = env["seu"]
        work = lecture_draft(seu)
        data = b"half a video" * 1000
        ticket = register(seu, work, data)
        requests.put(ticket["upload"]["url"], data=io.BytesIO(data), timeout=30).raise_for_status()
        stored = tmp_path / "data" / "objects" / "seu" / ticket["file"]["id"]
        assert stored.exists()
        # a day and a bit later, nobody confirmed it
        clock.set_start(datetime.fromisoformat("2020-06-13T10:00:00+08:00"))
        with entrypoint_hook(env["container"], "clean_abandoned_uploads") as clean:
            clean()
        assert not stored.exists()
        error_of(seu("GET", f"/api/v1/files/{ticket['file']['id']}"), 404, "file_not_found")
        error_of(requests.put(ticket["upload"]["url"], data=data, timeout=30), 404, "upload_not_found")
    finally:
        clock.set_start(None)


def test_events_written_while_no_service_ran_are_published_when_it_starts(
        sqlite_url, make_config, start_service):
    """The operator CLI publishes campaigns into the outbox with intake stopped."""
    from common.messaging import declare_topology, retry_delays
    from services.intake.service import IntakeService

    seed(sqlite_url)  # three campaign_published events, outbox only
    config = make_config("intake", DATABASE_URL=sqlite_url)
    declare_topology(config["AMQP_URI"], retry_delays(config))
    with Connection(config["AMQP_URI"]) as conn:
        q = Queue("probe-campaigns", Exchange("intake.events", type="topic", durable=True),
                  routing_key="campaign_published")
        q.bind(conn.channel()).declare()
        start_service(IntakeService, config)
        bound = q.bind(conn.channel())
        got = []
        wait_until(lambda: got.append(bound.get(no_ack=True)) or len([m for m in got if m]) == 3,
                   what="three campaign_published events")
        ids = sorted(m.payload["data"]["campaign_id"] for m in got if m)
    assert ids == ["seu.siyige-2020-seu", "siyige-2020", "wust.siyige-2020-wust"]  # scoped by owner
