"""Blind review does not leak names through file metadata (issue #14, item 5).

One Chinese and one ASCII name are planted in every metadata slot of every kind of file a work can
carry (tests/media_fixtures.py: video container and stream tags, chapters and ASS speaker names;
WAV LIST/INFO, ID3v2/ID3v1, iTunes atoms; an ASS header, styles, comments and speaker names; DOCX
core/app/custom properties, the template path, comments and people.xml, tracked changes, pictures'
EXIF, zip comments; PDF Info, XMP on the catalog and a page and an orphan packet, annotation and
signature authors, thread info, an embedded file). The real media service checks them; the real
review service puts the work in a round; a reviewer signs in over HTTP and every URL the reviewer's
pages lead to is fetched, and every byte of every answer, decompressed and decoded, is searched.
"""
from __future__ import annotations

import re

import requests
from sqlalchemy import select

from common.events import make_event
from common.objectstore import FolderStore
from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, csrf, outbox, publish, review, story, the_round  # noqa: F401  (fixture)
from tests.media_fixtures import LEAK_NAMES, TAGGED_KINDS, TAGGED_MAKERS, names_in

# What a portal would declare for each file (all allowed for its kind).
DECLARED = {"video_tagged_mp4": "video/mp4", "video_tagged_mkv": "video/x-matroska", "audio_tagged_wav": "audio/wav",
            "audio_tagged_mp3": "audio/mpeg", "audio_tagged_m4a": "audio/mp4", "subtitles_tagged_ass": "text/x-ssa",
            "document_tagged_docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "document_tagged_pdf": "application/pdf", "image_tagged": "image/jpeg"}
INLINE = ("video/", "audio/", "image/jpeg", "image/png", "application/pdf")
PAGE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/javascript",
              "application/javascript"}


def redeem(link: str) -> requests.Session:
    """A reviewer's sign-in link opened and its button pressed (with the form's token, when it has one)."""
    web = requests.Session()
    page = web.get(link, timeout=10)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    r = web.post(link, data={"csrf_token": token.group(1)} if token else {}, allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    return web


def upload_event(file_id: str, name: str, key: str, size: int):
    return make_event("file_uploaded", "seu", {
        "file_id": file_id, "submission_id": "s-o-cse-1", "campaign_id": "siyige-2020-seu", "track": "story",
        "kind": TAGGED_KINDS[name], "object_key": key, "size": size, "sha256": "0" * 64,
        "content_type": DECLARED[name], "original_name": f"{LEAK_NAMES[0]}-{name}", "org_id": "o-cse"})


def reviewer_of_the_round(review, file_ids: list[str]) -> requests.Session:
    """A work of o-cse with these files submitted beside two others; their round gets one reviewer, who
    is assigned everything and signs in with the e-mailed link. The reviewer's session."""
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1, file_ids), story("o-me", 1), story("o-ee", 1))
    round_id = wait_until(lambda: the_round(store), timeout=30, what="the round")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": "专家甲",
                                                          "email": "a@example.edu.cn"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    return redeem(outbox(store, "reviewer_invited")[0]["data"]["sign_in_url"])


def checked_files(store) -> dict:
    from services.review.models import FileCopy

    with store.transaction() as s:
        return {f.file_id: f.verdict for f in s.scalars(select(FileCopy)) if f.verdict}


def test_no_byte_a_reviewer_can_fetch_names_the_author(review, make_config, start_service, tmp_path):  # noqa: F811
    from services.media.service import MediaService

    start_service(MediaService, make_config("media", DATABASE_URL=f"sqlite:///{tmp_path / 'media.db'}"))
    base, store = review["base"], review["store"]
    objects = FolderStore(review["objects"])  # the folder store media and review share (DATA_DIR/objects)
    originals, uploads = {}, []
    for n, (name, make) in enumerate(sorted(TAGGED_MAKERS.items())):
        folder = tmp_path / "planted" / name
        folder.mkdir(parents=True)
        path = make(folder)
        originals[name] = path.read_bytes()
        assert names_in(originals[name]) == set(LEAK_NAMES), f"{name} must carry both names, or the search proves nothing"
        key = f"seu/f-{n}"
        objects.put_file(key, str(path))
        uploads.append(upload_event(f"f{n:031d}", name, key, path.stat().st_size))
    publish(review["amqp"], INTAKE, *uploads)
    wait_until(lambda: len(checked_files(store)) == len(uploads), timeout=180,
               what="media's checks of every planted file, as review records them")
    verdicts = checked_files(store)
    assert set(verdicts.values()) <= {"passed", "warnings"}, verdicts

    reviewer = reviewer_of_the_round(review, [e.data["file_id"] for e in uploads])

    queue = reviewer.get(f"{base}/queue")
    reached = [("/queue", queue)]
    works = list(dict.fromkeys(re.findall(r'href="(/works/[0-9a-f]{32})"', queue.text)))
    assert len(works) == 3
    file_links = []
    for work in works:
        page = reviewer.get(base + work)
        assert page.status_code == 200
        reached.append((work, page))
        file_links += re.findall(r'(?:src|href|poster)="([^"]*/files/[^"]+)"', page.text)
    planted_page = next(p.text for w, p in reached if "视频1" in p.text)
    # Every planted file has a link to its clean copy (a test that found no link would prove nothing),
    # plus the poster and contact sheet of each video.
    assert "未能生成去除作者信息的评审副本" not in planted_page
    assert len(set(file_links)) == len(uploads) + 2 * 2, file_links
    for link in dict.fromkeys(file_links):
        got = reviewer.get(link if link.startswith("http") else base + link, timeout=30)
        assert got.status_code == 200, (link, got.status_code)
        ctype = got.headers["Content-Type"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in got.headers["Content-Security-Policy"]
        assert ctype.split(";")[0] not in PAGE_TYPES, ctype
        inline = got.headers["Content-Disposition"].startswith("inline")
        assert inline == ctype.startswith(INLINE), (ctype, got.headers["Content-Disposition"])
        assert got.content not in originals.values(), f"{link} is an original, not media's copy"
        reached.append((f"{link} ({ctype})", got))
    served = {got.headers["Content-Type"].split(";")[0] for _, got in reached[len(works) + 1:]}
    assert {"video/mp4", "audio/wav", "audio/mpeg", "audio/mp4", "text/vtt", "application/pdf", "image/jpeg",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"} <= served, served

    leaked = {}
    for where, r in reached:
        found = names_in(r.content) | names_in(str(r.headers).encode())
        if found:
            leaked[where] = sorted(found)
    assert not leaked, leaked
