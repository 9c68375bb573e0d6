"""moto's S3 server, checking `x-amz-checksum-sha256` the way AWS S3 and MinIO do.

moto (5.2) keeps the SHA-256 a PUT declares without comparing it with the bytes (it does compute a multipart
object's composite checksum from the parts' bytes). AWS S3 refuses such a PUT with 400 BadDigest, and intake relies
on that (S3_VERIFIES_CHECKSUMS); this wrapper adds that one check in front of moto, so tests and the benchmark see
an S3 that verifies, hashing every byte of a PUT that declares a checksum as S3 does.

    python -m tests.s3_server PORT      (the benchmark's S3; tests use `VerifyingMotoServer` in-process)
"""
from __future__ import annotations

import base64
import hashlib
import io
import sys
import threading

BAD_DIGEST = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadDigest</Code>'
              b"<Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>")


class ChecksumCheck:
    """WSGI middleware: a PUT with x-amz-checksum-sha256 whose body has another SHA-256 gets 400 BadDigest."""

    def __init__(self, app):
        self.app = app
        self.refused = 0  # how many PUTs were refused, for tests
        self.gets: list[str] = []  # the paths GET asked for: a read-back of an object shows here

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        declared = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
        if method == "GET":
            self.gets.append(environ.get("PATH_INFO", "/"))
        if method == "PUT" and declared:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            if base64.b64encode(hashlib.sha256(body).digest()).decode() != declared:
                self.refused += 1
                start_response("400 Bad Request", [("Content-Type", "application/xml"),
                                                   ("Content-Length", str(len(BAD_DIGEST)))])
                return [BAD_DIGEST]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


class VerifyingMotoServer:
    """ThreadedMotoServer's shape (start, stop), with ChecksumCheck in front."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 5000):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.check = ChecksumCheck(DomainDispatcherApplication(create_backend_app))
        self._address = (ip_address, port)
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(*self._address, self.check, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join()


if __name__ == "__main__":
    server = VerifyingMotoServer("127.0.0.1", int(sys.argv[1]))
    server.start()
    server._thread.join()
