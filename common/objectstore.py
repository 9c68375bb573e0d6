"""Object storage behind one interface: a folder on disk, or any S3.

`OBJECT_STORE_URL` chooses:
- `folder:///abs/path`: the embedded default. Bytes arrive by a streamed PUT to
  intake (`write_stream`), hashed while they are written, never held whole.
- `s3://bucket?endpoint=http://host:9000&region=us-east-1`: MinIO in compose,
  any S3 in production. Clients PUT to presigned URLs (multipart above 64 MiB).
  The URLs sign `x-amz-checksum-sha256` (the declared SHA-256, or each part's when
  the portal declared them), so S3 refuses a body that does not match; on
  confirmation its checksum proves the object without reading it. Where there is
  no such proof (a store that cannot verify: `verifies_checksums` False, or a
  multipart upload without declared part digests) we read the object back once.

Hashing runs chunk by chunk in eventlet's thread pool (hashlib releases the
GIL), so a 1 GB file never stalls the event loop or the AMQP heartbeat.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import tempfile
import uuid
from contextlib import suppress as _suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, urlparse

CHUNK = 1024 * 1024
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024


def _hash_update(h, chunk: bytes) -> None:
    if len(chunk) >= 256 * 1024:
        try:
            from eventlet import tpool

            tpool.execute(h.update, chunk)
            return
        except ImportError:  # pragma: no cover - eventlet is always installed
            pass
    h.update(chunk)


def checksum_sha256(hex_digest: str) -> str:
    """The SHA-256 the way S3 writes it (`x-amz-checksum-sha256`): base64 of the digest's bytes."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def composite_sha256(part_digests: list[str]) -> str:
    """S3's composite checksum of a multipart object from its parts' SHA-256s (hex): the SHA-256 of the parts'
    digests one after the other, base64, then `-N`. It says which parts the object is made of, not the SHA-256
    of the whole file (SHA-256 does not compose)."""
    joined = b"".join(bytes.fromhex(d) for d in part_digests)
    return f"{base64.b64encode(hashlib.sha256(joined).digest()).decode()}-{len(part_digests)}"


def part_count(size: int) -> int:
    """How many parts the upload of `size` bytes has: 1 up to MULTIPART_THRESHOLD, else PART_SIZE each."""
    return 1 if size <= MULTIPART_THRESHOLD else (size + PART_SIZE - 1) // PART_SIZE


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            _hash_update(h, chunk)
    return h.hexdigest()


@dataclass
class UploadTarget:
    """How a client sends the bytes: one PUT, or several parts."""

    method: str
    url: str | None = None
    headers: dict = field(default_factory=dict)
    upload_id: str | None = None
    part_size: int | None = None
    parts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"method": self.method}
        if self.url:
            d["url"] = self.url
        if self.headers:
            d["headers"] = self.headers
        if self.upload_id:
            d["multipart"] = {"upload_id": self.upload_id, "part_size": self.part_size, "parts": self.parts}
        return d


@dataclass
class StoredObject:
    size: int
    sha256: str


class SizeExceeded(Exception):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class OffsetMismatch(Exception):
    """A resumed upload starts elsewhere than where its bytes stand (`received`)."""

    def __init__(self, received: int):
        super().__init__(f"the upload stands at byte {received}")
        self.received = received


class UploadBusy(Exception):
    """Another request is writing the same upload now."""


class FolderStore:
    kind = "folder"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".partial").mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    def local_path(self, key: str) -> Path:
        """Where the object lies, to serve it with HTTP ranges (seeking in a video)."""
        return self._path(key)

    def write_stream(self, key: str, stream: BinaryIO, limit: int) -> StoredObject:
        """Copy `stream` to `key`, at most `limit` bytes, hashing as it goes.

        The bytes land in a temporary file that is renamed into place only when
        complete, so a broken upload never leaves a half file under its key.
        """
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root / ".partial")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise SizeExceeded(limit)
                    _hash_update(h, chunk)
                    out.write(chunk)
            dest = self._path(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        except BaseException:
            with _suppress(OSError):
                os.unlink(tmp)
            raise
        return StoredObject(size, h.hexdigest())

    # -- resumable uploads: the bytes of an upload that broke off stay, and the next request goes on from there

    def _upload_path(self, key: str) -> Path:
        return self.root / ".partial" / ("upload-" + hashlib.sha256(key.encode()).hexdigest()[:40])

    def received(self, key: str) -> int:
        """How many bytes of the upload to `key` have arrived so far (0: none, or it is complete)."""
        path = self._upload_path(key)
        return path.stat().st_size if path.exists() else 0

    def receive(self, key: str, stream: BinaryIO, offset: int, total: int) -> StoredObject | None:
        """Append the upload's bytes from `offset` (0: start again) to those that arrived before; once all `total`
        bytes are there, move them under `key` and return their size and SHA-256, else None.

        A connection that drops mid-way keeps what arrived (a phone's upload goes on from there, not from byte 0);
        `clean_partials` removes what is never finished. Raises OffsetMismatch when `offset` is not where the upload
        stands, UploadBusy while another request writes it (an flock: two writers would interleave), SizeExceeded
        beyond `total` (and drops the bytes: they are not the file declared). Hashed as it goes when it arrives in
        one piece; a resumed upload is hashed once complete, off the event loop."""
        path = self._upload_path(key)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy() from None
            have = 0 if offset == 0 else os.fstat(fd).st_size
            if offset != have:
                raise OffsetMismatch(have)
            os.ftruncate(fd, have)
            os.lseek(fd, have, os.SEEK_SET)
            h = hashlib.sha256() if offset == 0 else None
            size = have
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > total:
                    os.ftruncate(fd, 0)
                    raise SizeExceeded(total)
                if h is not None:
                    _hash_update(h, chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            if size < total:
                return None
            digest = h.hexdigest() if h is not None else _file_sha256(path)
            dest = self._path(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            return StoredObject(size, digest)
        finally:
            os.close(fd)

    def stat(self, key: str) -> StoredObject | None:
        """Size and hash of a stored object (the hash is recomputed)."""
        path = self._path(key)
        if not path.exists():
            return None
        return StoredObject(path.stat().st_size, _file_sha256(path))

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def local_copy(self, key: str, workdir: str) -> str:
        """A path to read the object from; the folder store's own file, no copy."""
        path = self._path(key)
        if not path.exists():
            raise FileNotFoundError(key)
        return str(path)

    def put_file(self, key: str, path: str) -> None:
        with open(path, "rb") as f:
            self.write_stream(key, f, limit=os.path.getsize(path))

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        with _suppress(OSError):
            self._path(key).unlink()

    def abort(self, key: str, upload_id: str | None) -> None:
        self.delete(key)

    def clean_partials(self, older_than_s: float) -> int:
        """Remove temp files of uploads that died mid-stream."""
        import time

        removed = 0
        cutoff = time.time() - older_than_s
        for p in (self.root / ".partial").iterdir():
            if p.stat().st_mtime < cutoff:
                with _suppress(OSError):
                    p.unlink()
                    removed += 1
        return removed


class S3Store:
    kind = "s3"

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                 public_endpoint_url: str | None = None, presign_ttl_s: int = 3600, verifies_checksums: bool = True):
        import boto3  # imported late: after eventlet's monkey-patch
        from botocore.config import Config

        self.bucket = bucket
        self.presign_ttl_s = presign_ttl_s
        # AWS S3 and MinIO check a signed x-amz-checksum-sha256 against the bytes and refuse a mismatch. A store that
        # keeps the header without checking it (moto's single PUT) must say False: its checksum would prove nothing,
        # so every object is read back instead.
        self.verifies_checksums = verifies_checksums
        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                     retries={"max_attempts": 5, "mode": "standard"})
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1", config=cfg)
        # Presigned URLs must name the host the portal can reach.
        self.presigner = (
            boto3.client("s3", endpoint_url=public_endpoint_url, region_name=region or "us-east-1", config=cfg)
            if public_endpoint_url else self.client
        )

    @property
    def public_origin(self) -> str:
        """Scheme and host of the presigned links browsers follow (pages' CSP must allow it).

        Links are path-style, so their host is the presigning client's endpoint.
        """
        from urllib.parse import urlsplit

        url = urlsplit(self.presigner.meta.endpoint_url)
        return f"{url.scheme}://{url.netloc}"

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def upload_target(self, key: str, size: int, content_type: str, sha256: str | None = None,
                      part_sha256: list[str] | None = None) -> UploadTarget:
        """Presigned PUTs for the bytes. With `verifies_checksums`, a single PUT signs the declared `sha256` and each
        part of a multipart upload the SHA-256 declared for it (`part_sha256`), so S3 refuses a part whose bytes do
        not match and the portal cannot leave the header out (a signed header it does not send voids the URL). Parts
        with no declared digests are presigned as before: their object is read back on confirmation."""
        checked = self.verifies_checksums
        if size <= MULTIPART_THRESHOLD:
            params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
            headers = {"Content-Type": content_type}
            if checked and sha256:
                headers.update(self._checksum_headers(sha256))
                params.update(ChecksumAlgorithm="SHA256", ChecksumSHA256=headers["x-amz-checksum-sha256"])
            url = self.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=self.presign_ttl_s)
            return UploadTarget("PUT", url=url, headers=headers)
        count = part_count(size)
        digests = part_sha256 if checked and part_sha256 and len(part_sha256) == count else None
        create = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if digests:
            create["ChecksumAlgorithm"] = "SHA256"  # S3 then keeps each part's SHA-256 and a composite of them
        upload_id = self.client.create_multipart_upload(**create)["UploadId"]
        parts = []
        for number in range(1, count + 1):
            params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number}
            part = {"part_number": number}
            if digests:
                part["headers"] = self._checksum_headers(digests[number - 1])
                params.update(ChecksumAlgorithm="SHA256", ChecksumSHA256=part["headers"]["x-amz-checksum-sha256"])
            part["url"] = self.presigner.generate_presigned_url("upload_part", Params=params,
                                                                ExpiresIn=self.presign_ttl_s)
            part["size"] = min(PART_SIZE, size - (number - 1) * PART_SIZE)
            parts.append(part)
        return UploadTarget("PUT", upload_id=upload_id, part_size=PART_SIZE, parts=parts)

    @staticmethod
    def _checksum_headers(hex_digest: str) -> dict:
        # x-amz-sdk-checksum-algorithm too: some stores (moto) keep the checksum only when it names the algorithm
        return {"x-amz-checksum-sha256": checksum_sha256(hex_digest), "x-amz-sdk-checksum-algorithm": "SHA256"}

    def complete_multipart(self, key: str, upload_id: str, etags: list[dict],
                           part_sha256: list[str] | None = None) -> None:
        """Merge the parts; with their declared digests when the upload was created with SHA-256 checksums (S3 wants
        each part's checksum in the request then, and refuses one that differs from the part it verified)."""
        parts = []
        for p in etags:
            part = {"PartNumber": p["part_number"], "ETag": p["etag"]}
            number = p["part_number"]
            if part_sha256 and isinstance(number, int) and 1 <= number <= len(part_sha256):
                part["ChecksumSHA256"] = checksum_sha256(part_sha256[number - 1])
            parts.append(part)
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": parts})

    def checked_stat(self, key: str, sha256: str, part_sha256: list[str] | None = None) -> StoredObject | None:
        """Size and SHA-256 of the object without reading it, where S3's checksum proves it is the declared file;
        else read back (`stat`).

        A single PUT: S3 verified the signed SHA-256 of the whole body, so its checksum equal to the declared one
        is the declared SHA-256. A multipart upload: S3 verified each part against the digest declared for it and
        keeps the composite of those digests; equal to the composite of the declared ones, the object is those
        parts in that order. The whole-file SHA-256 is then the portal's declaration, made of the same bytes as the
        part digests (SHA-256 does not compose, so no S3 can check it without reading the file): a byte that
        changed on the way fails its part. Any other answer (no checksum kept, another value: a part whose digest
        was declared wrong) falls back to reading the object, which decides by the whole-file SHA-256 alone."""
        if self.verifies_checksums:
            from botocore.exceptions import ClientError

            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            expected = composite_sha256(part_sha256) if part_sha256 else checksum_sha256(sha256)
            # moto answers a composite without its "-N": the digest alone already names the N parts
            if head.get("ChecksumSHA256") in (expected, expected.split("-")[0]):
                return StoredObject(head["ContentLength"], sha256)
        return self.stat(key)

    def stat(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        h = hashlib.sha256()
        size = 0
        body = obj["Body"]
        for chunk in iter(lambda: body.read(CHUNK), b""):
            size += len(chunk)
            _hash_update(h, chunk)
        return StoredObject(size, h.hexdigest())

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def open(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def download_url(self, key: str, name: str, content_type: str, ttl_s: int, disposition: str | None = None) -> str:
        """A short-lived GET link that shows the object under `name` (S3 serves the ranges).

        `disposition` is the whole Content-Disposition to answer with (common.files decides inline or attachment).
        """
        from urllib.parse import quote

        return self.presigner.generate_presigned_url("get_object", ExpiresIn=ttl_s, Params={
            "Bucket": self.bucket, "Key": key, "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition or f"inline; filename*=UTF-8''{quote(name)}"})

    def local_copy(self, key: str, workdir: str) -> str:
        """Download to `workdir` (streamed; the caller removes the folder)."""
        path = os.path.join(workdir, "object")
        self.client.download_file(self.bucket, key, path)
        return path

    def put_file(self, key: str, path: str) -> None:
        self.client.upload_file(path, self.bucket, key)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def abort(self, key: str, upload_id: str | None) -> None:
        from botocore.exceptions import ClientError

        if upload_id:
            with _suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        self.delete(key)

    def clean_partials(self, older_than_s: float) -> int:
        return 0  # S3 keeps no partial objects; multipart uploads are aborted by record


def open_store(url: str, verifies_checksums: bool = True):
    """The store `url` names; `verifies_checksums` (S3_VERIFIES_CHECKSUMS) says whether an S3 checks the checksums
    it is sent (see S3Store)."""
    parsed = urlparse(url)
    if parsed.scheme == "folder":
        return FolderStore(parsed.path)
    if parsed.scheme == "s3":
        q = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return S3Store(parsed.netloc, q.get("endpoint"), q.get("region"), q.get("public_endpoint"),
                       verifies_checksums=verifies_checksums)
    raise ValueError(f"unknown object store URL: {url!r} (expected folder:// or s3://)")


def new_key(tenant: str, file_id: str | None = None) -> str:
    # Keys carry no original file name: names leak authorship into blind review
    # and are a path-traversal vector.
    return f"{tenant}/{file_id or uuid.uuid4().hex}"
