"""Static files (common.web.static_file): gzipped for clients that take it, ETags per representation, 304s."""
import gzip
import io

import pytest
from PIL import Image
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from common.errors import DomainError
from common.web import static_file

CSS = ("".join(f".bar-row-{i} {{ display: grid; grid-template-columns: minmax(5em, 38%) 1fr auto; }}\n" for i in range(60))
       + "/* 暂无数据 */\n").encode()


def get(headers: dict | None = None, method: str = "GET") -> Request:
    return Request(EnvironBuilder(path="/static/x", method=method, headers=headers or {}).get_environ())


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "site.css").write_bytes(CSS)
    (tmp_path / "tiny.css").write_bytes(b"a{}")
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(picture, "PNG")
    (tmp_path / "logo.png").write_bytes(picture.getvalue())
    return tmp_path


def test_a_client_that_takes_gzip_gets_the_same_bytes_gzipped(folder):
    r = static_file(folder, "site.css", get({"Accept-Encoding": "gzip, deflate, br"}))
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip" and r.mimetype == "text/css"
    assert gzip.decompress(r.get_data()) == CSS and len(r.get_data()) < len(CSS) / 3
    assert int(r.headers["Content-Length"]) == len(r.get_data())
    assert r.headers["Vary"] == "Accept-Encoding" and r.headers["Cache-Control"] == "public, max-age=86400"


def test_a_client_that_does_not_take_gzip_gets_the_file_as_it_is(folder):
    for headers in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0, identity"}):
        r = static_file(folder, "site.css", get(headers))
        assert "Content-Encoding" not in r.headers and r.get_data() == CSS, headers
        assert int(r.headers["Content-Length"]) == len(CSS) and r.headers["Vary"] == "Accept-Encoding"
    assert static_file(folder, "site.css").get_data() == CSS  # no request at hand: as it is


def test_each_representation_has_its_etag_and_a_held_copy_gets_a_304(folder):
    plain = static_file(folder, "site.css", get())
    zipped = static_file(folder, "site.css", get({"Accept-Encoding": "gzip"}))
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    again = static_file(folder, "site.css", get({"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}))
    assert again.status_code == 304 and not again.get_data() and again.headers["ETag"] == zipped.headers["ETag"]
    # a proxy may have weakened the ETag: still the same bytes
    weak = static_file(folder, "site.css", get({"If-None-Match": "W/" + plain.headers["ETag"]}))
    assert weak.status_code == 304
    # the plain copy's ETag does not stand for the gzipped one
    other = static_file(folder, "site.css", get({"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]}))
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"


def test_a_changed_file_is_read_and_compressed_again(folder):
    first = static_file(folder, "site.css", get({"Accept-Encoding": "gzip"}))
    (folder / "site.css").write_bytes(CSS + b"/* changed */\n" * 20)
    second = static_file(folder, "site.css", get({"Accept-Encoding": "gzip"}))
    assert second.headers["ETag"] != first.headers["ETag"]
    assert gzip.decompress(second.get_data()).endswith(b"/* changed */\n")


def test_pictures_and_tiny_files_are_not_compressed(folder):
    for name in ("logo.png", "tiny.css"):
        r = static_file(folder, name, get({"Accept-Encoding": "gzip"}))
        assert "Content-Encoding" not in r.headers and "Vary" not in r.headers
        assert r.get_data() == (folder / name).read_bytes() and r.headers["ETag"]


def test_names_cannot_leave_the_folder(folder):
    for name in ("../secret", "nothing.css", "bad\0name"):
        with pytest.raises(DomainError) as refused:
            static_file(folder, name, get({"Accept-Encoding": "gzip"}))
        assert refused.value.status == 404
