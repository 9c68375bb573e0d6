"""Intake's storage paths: the S3 backend against a real S3 HTTP endpoint (moto's
server mode), abandoned uploads, and events written while no service ran."""
import base64
import hashlib
import io
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.testing.services import entrypoint_hook

from common import clock, objectstore
from tests.conftest import free_port, wait_until
from tests.integration.test_intake_api import error_of, seed, start_intake


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3 with the checksum check AWS S3 makes (tests/s3_server.py): `check.refused`, `check.gets`."""
    from tests.s3_server import VerifyingMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = VerifyingMotoServer("127.0.0.1", port)
    server.start()
    server.endpoint = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


def s3_intake(s3_server, sqlite_url, make_config, start_service, **config):
    url = f"s3://works?endpoint={s3_server.endpoint}&region=us-east-1"
    env = start_intake(sqlite_url, make_config, start_service, OBJECT_STORE_URL=url, **config)
    env["s3"] = objectstore.open_store(url)
    env["check"] = s3_server.check
    return env


@pytest.fixture
def intake_s3(s3_server, sqlite_url, make_config, start_service):
    yield s3_intake(s3_server, sqlite_url, make_config, start_service)
    clock.set_start(None)


@pytest.fixture
def intake_s3_reading_back(s3_server, sqlite_url, make_config, start_service):
    """An S3 intake is told does not verify checksums (S3_VERIFIES_CHECKSUMS=0): it reads every object back."""
    yield s3_intake(s3_server, sqlite_url, make_config, start_service, S3_VERIFIES_CHECKSUMS=False)
    clock.set_start(None)


def lecture_draft(seu):
    return seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目")


def register(seu, work, data, sha=None, part_sha256=None):
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "党课.mp4", "size": len(data),
        "sha256": sha or hashlib.sha256(data).hexdigest(), "content_type": "video/mp4",
        **({"part_sha256": part_sha256} if part_sha256 else {})})
    assert r.status_code == 201, r.text
    return r.json()


def read_backs(check, file_id) -> int:
    """GETs of the object itself (a read-back of the whole file), as the S3 server saw them."""
    return sum(1 for path in check.gets if path.endswith(f"/seu/{file_id}"))


def test_s3_single_put_through_a_presigned_url_is_verified_by_s3_not_read_back(intake_s3):
    seu = intake_s3["seu"]
    data = b"\x00\x00\x00\x18ftypmp42" + b"x" * 100_000
    ticket = register(seu, lecture_draft(seu), data)
    upload = ticket["upload"]
    assert "X-Amz-Signature" in upload["url"] and "multipart" not in upload
    assert upload["headers"]["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert "x-amz-checksum-sha256" in parse_qs(urlparse(upload["url"]).query)["X-Amz-SignedHeaders"][0]
    assert requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).status_code == 200
    f = seu("POST", f"/api/v1/files/{ticket['file']['id']}/complete").json()
    assert f["state"] == "stored"
    assert read_backs(intake_s3["check"], f["id"]) == 0  # S3's checksum of the PUT proved it
    assert intake_s3["s3"].stat(f"seu/{f['id']}").sha256 == hashlib.sha256(data).hexdigest()


def test_s3_single_put_without_its_checksum_header_is_refused(intake_s3):
    """The header is signed into the URL: a portal that leaves it out has no valid request (moto does not check
    signatures, so the unsigned PUT lands there; the object then has no checksum and is read back instead)."""
    seu = intake_s3["seu"]
    data = b"bytes sent without the header" * 1000
    ticket = register(seu, lecture_draft(seu), data)
    requests.put(ticket["upload"]["url"], data=data, headers={"Content-Type": "video/mp4"},
                 timeout=30).raise_for_status()
    f = seu("POST", f"/api/v1/files/{ticket['file']['id']}/complete").json()
    assert f["state"] == "stored" and read_backs(intake_s3["check"], f["id"]) == 1


def test_s3_single_put_with_a_wrong_byte_is_refused_by_s3(intake_s3):
    seu = intake_s3["seu"]
    data = b"the real bytes of the lecture" * 1000
    ticket = register(seu, lecture_draft(seu), data)
    upload, file_id = ticket["upload"], ticket["file"]["id"]
    wrong = data[:500] + b"X" + data[501:]
    r = requests.put(upload["url"], data=wrong, headers=upload["headers"], timeout=30)
    assert r.status_code == 400 and b"BadDigest" in r.content
    assert intake_s3["check"].refused == 1
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 409, "upload_missing")
    assert not intake_s3["s3"].exists(f"seu/{file_id}")
    # the right bytes, sent again to the same URL, are stored
    requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).raise_for_status()
    assert seu("POST", f"/api/v1/files/{file_id}/complete").json()["state"] == "stored"


def put_parts(ticket, data, change_byte_at=None):
    """PUT each part with its headers; returns the responses and the ETags of those that succeeded."""
    if change_byte_at is not None:
        data = data[:change_byte_at] + bytes([data[change_byte_at] ^ 1]) + data[change_byte_at + 1:]
    answers, etags, offset = [], [], 0
    for part in ticket["upload"]["multipart"]["parts"]:
        r = requests.put(part["url"], data=data[offset:offset + part["size"]], headers=part.get("headers", {}),
                         timeout=30)
        answers.append(r)
        if r.status_code == 200:
            etags.append({"part_number": part["part_number"], "etag": r.headers["ETag"]})
        offset += part["size"]
    return answers, etags


def digests_of_parts(data, size):
    return [hashlib.sha256(data[i:i + size]).hexdigest() for i in range(0, len(data), size)]


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(objectstore, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(objectstore, "PART_SIZE", 5 * 1024 * 1024)
    return bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts


def test_s3_multipart_upload_above_the_threshold_is_read_back_without_part_digests(intake_s3, small_parts):
    seu, data = intake_s3["seu"], small_parts
    ticket = register(seu, lecture_draft(seu), data)
    parts = ticket["upload"]["multipart"]["parts"]
    assert [p["size"] for p in parts] == [5 * 1024 * 1024, 5 * 1024 * 1024, 1024 * 1024]
    assert not any(p.get("headers") for p in parts)
    answers, etags = put_parts(ticket, data)
    assert [r.status_code for r in answers] == [200, 200, 200]
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 400, "parts_missing")
    f = seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}).json()
    assert f["state"] == "stored" and f["size"] == len(data)
    assert read_backs(intake_s3["check"], file_id) == 1  # only the whole file says its SHA-256


def test_s3_multipart_upload_with_part_digests_is_verified_by_s3_not_read_back(intake_s3, small_parts):
    seu, data = intake_s3["seu"], small_parts
    digests = digests_of_parts(data, 5 * 1024 * 1024)
    ticket = register(seu, lecture_draft(seu), data, part_sha256=digests)
    parts = ticket["upload"]["multipart"]["parts"]
    assert [p["headers"]["x-amz-checksum-sha256"] for p in parts] == [
        base64.b64encode(bytes.fromhex(d)).decode() for d in digests]
    answers, etags = put_parts(ticket, data)
    assert [r.status_code for r in answers] == [200, 200, 200]
    file_id = ticket["file"]["id"]
    f = seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}).json()
    assert f["state"] == "stored" and f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert read_backs(intake_s3["check"], file_id) == 0
    head = intake_s3["s3"].client.head_object(Bucket="works", Key=f"seu/{file_id}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == objectstore.composite_sha256(digests).split("-")[0]


def test_s3_multipart_part_with_a_wrong_byte_is_refused(intake_s3, small_parts):
    seu, data, part_size = intake_s3["seu"], small_parts, 5 * 1024 * 1024
    ticket = register(seu, lecture_draft(seu), data, part_sha256=digests_of_parts(data, 5 * 1024 * 1024))
    answers, etags = put_parts(ticket, data, change_byte_at=6 * 1024 * 1024)  # in the second part
    assert [r.status_code for r in answers] == [200, 400, 200] and b"BadDigest" in answers[1].content
    file_id = ticket["file"]["id"]
    assert error_of(seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}), 400,
                    "parts_missing")["found"] == [1, 3]
    assert not intake_s3["s3"].exists(f"seu/{file_id}")
    assert seu("GET", f"/api/v1/files/{file_id}").json()["state"] == "pending"
    # the part sent again with the right bytes completes the file
    part = ticket["upload"]["multipart"]["parts"][1]
    r = requests.put(part["url"], data=data[part_size:2 * part_size], headers=part["headers"], timeout=30)
    r.raise_for_status()
    etags.insert(1, {"part_number": 2, "etag": r.headers["ETag"]})
    f = seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}).json()
    assert f["state"] == "stored" and read_backs(intake_s3["check"], file_id) == 0


def test_s3_multipart_with_a_wrong_byte_where_parts_are_not_checked_is_refused_by_the_composite(
        intake_s3, small_parts, monkeypatch):
    """A store that lets a part with the wrong bytes in (plain moto does) still computes the composite from the
    bytes it holds: intake's comparison with the declared digests finds it, and the read-back refuses it."""
    seu, data = intake_s3["seu"], small_parts
    ticket = register(seu, lecture_draft(seu), data, part_sha256=digests_of_parts(data, 5 * 1024 * 1024))
    for part in ticket["upload"]["multipart"]["parts"]:
        part.pop("headers")  # not sent: moto does not check the signature that names them
    answers, etags = put_parts(ticket, data, change_byte_at=6 * 1024 * 1024)
    assert [r.status_code for r in answers] == [200, 200, 200]
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete", json={"parts": etags}), 422, "checksum_mismatch")
    assert read_backs(intake_s3["check"], file_id) == 1
    assert not intake_s3["s3"].exists(f"seu/{file_id}")


def test_part_digests_must_match_the_parts(intake_s3, small_parts):
    seu, data = intake_s3["seu"], small_parts
    work = lecture_draft(seu)
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "党课.mp4", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "part_sha256": digests_of_parts(data, 5 * 1024 * 1024)[:2]})
    assert error_of(r, 400, "part_sha256_mismatch")["expected"] == 3


def test_s3_object_that_does_not_match_its_declaration_is_refused_by_s3(intake_s3):
    seu = intake_s3["seu"]
    data = b"the real bytes" * 1000
    ticket = register(seu, lecture_draft(seu), data, sha="0" * 64)
    upload = ticket["upload"]
    assert requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).status_code == 400
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 409, "upload_missing")
    assert seu("GET", f"/api/v1/files/{file_id}").json()["state"] == "pending"


def test_s3_that_does_not_verify_checksums_reads_the_object_back(intake_s3_reading_back):
    """S3_VERIFIES_CHECKSUMS=0: no checksum header is asked for, and the object read back decides."""
    env = intake_s3_reading_back
    seu = env["seu"]
    data = b"the real bytes" * 1000
    ticket = register(seu, lecture_draft(seu), data, sha="0" * 64)
    upload = ticket["upload"]
    assert "x-amz-checksum-sha256" not in upload["headers"]
    requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).raise_for_status()
    file_id = ticket["file"]["id"]
    error_of(seu("POST", f"/api/v1/files/{file_id}/complete"), 422, "checksum_mismatch")
    assert read_backs(env["check"], file_id) == 1
    assert not env["s3"].exists(f"seu/{file_id}")
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
