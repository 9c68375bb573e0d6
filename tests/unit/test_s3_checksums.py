"""How intake proves an S3 object is the declared file by S3's checksums, and when it reads it back (issue #19)."""
import base64
import hashlib
import io

import pytest

from common import objectstore
from common.errors import InvalidInput
from common.objectstore import S3Store, checksum_sha256, composite_sha256, part_count
from services.intake.operations.uploads import declared_part_digests

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    # presigning needs some; nothing here reaches a network
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_checksum_and_composite_are_written_as_s3_writes_them():
    assert checksum_sha256(sha(b"abc")) == base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    parts = [b"one", b"two", b"three"]
    joined = b"".join(hashlib.sha256(p).digest() for p in parts)
    expected = base64.b64encode(hashlib.sha256(joined).digest()).decode() + "-3"
    assert composite_sha256([sha(p) for p in parts]) == expected


def test_part_count_follows_the_threshold_and_part_size():
    assert part_count(1) == 1
    assert part_count(objectstore.MULTIPART_THRESHOLD) == 1
    assert part_count(objectstore.MULTIPART_THRESHOLD + 1) == 2
    assert part_count(512 * MIB) == 8


def test_declared_part_digests_must_be_one_per_part():
    body = {"size": 130 * MIB, "sha256": "a" * 64}
    assert declared_part_digests(body) is None
    assert declared_part_digests({**body, "part_sha256": ["B" * 64] * 3}) == ["b" * 64] * 3
    with pytest.raises(InvalidInput) as err:
        declared_part_digests({**body, "part_sha256": ["b" * 64] * 2})
    assert err.value.code == "part_sha256_mismatch"
    small = {"size": 10, "sha256": "a" * 64}
    assert declared_part_digests({**small, "part_sha256": ["A" * 64]}) == ["a" * 64]
    with pytest.raises(InvalidInput):
        declared_part_digests({**small, "part_sha256": ["b" * 64]})


class FakeClient:
    """head_object answers the checksum S3 keeps; get_object (a read-back) is counted."""

    def __init__(self, data: bytes, checksum: str | None):
        self.data, self.checksum, self.gets = data, checksum, 0

    def head_object(self, **kw):
        assert kw.get("ChecksumMode") == "ENABLED"
        return {"ContentLength": len(self.data), **({"ChecksumSHA256": self.checksum} if self.checksum else {})}

    def get_object(self, **kw):
        self.gets += 1
        return {"Body": io.BytesIO(self.data)}


def store_over(client, verifies=True) -> S3Store:
    store = S3Store("works", "http://127.0.0.1:9", verifies_checksums=verifies)
    store.client = client
    return store


def test_a_single_put_proved_by_its_checksum_is_not_read_back():
    data = b"the lecture"
    client = FakeClient(data, checksum_sha256(sha(data)))
    got = store_over(client).checked_stat("k", sha(data))
    assert (got.size, got.sha256, client.gets) == (len(data), sha(data), 0)


def test_a_multipart_object_proved_by_its_composite_is_not_read_back():
    data = b"x" * 10 + b"y" * 10
    parts = [sha(data[:10]), sha(data[10:])]
    for answered in (composite_sha256(parts), composite_sha256(parts).split("-")[0]):  # S3, moto
        client = FakeClient(data, answered)
        assert store_over(client).checked_stat("k", sha(data), parts).sha256 == sha(data) and client.gets == 0


@pytest.mark.parametrize("checksum", [None, "another=", composite_sha256(["0" * 64])])
def test_no_proof_means_reading_back_and_the_bytes_decide(checksum):
    data = b"the bytes S3 holds"
    client = FakeClient(data, checksum)
    got = store_over(client).checked_stat("k", "0" * 64, ["1" * 64] if checksum and "-" in checksum else None)
    assert (got.sha256, client.gets) == (sha(data), 1)  # the real SHA-256: the caller refuses the mismatch


def test_a_store_that_does_not_verify_is_always_read_back():
    data = b"the lecture"
    client = FakeClient(data, checksum_sha256(sha(data)))
    assert store_over(client, verifies=False).checked_stat("k", sha(data)).sha256 == sha(data) and client.gets == 1


def test_presigned_urls_sign_the_declared_checksums():
    store = S3Store("works", "http://127.0.0.1:9", verifies_checksums=True)
    one = store.upload_target("k", 100, "video/mp4", sha(b"a"))
    assert one.headers["x-amz-checksum-sha256"] == checksum_sha256(sha(b"a"))
    assert "x-amz-checksum-sha256" in one.url
    unchecked = S3Store("works", "http://127.0.0.1:9", verifies_checksums=False).upload_target("k", 100, "video/mp4",
                                                                                               sha(b"a"))
    assert "x-amz-checksum-sha256" not in unchecked.headers and "x-amz-checksum-sha256" not in unchecked.url
