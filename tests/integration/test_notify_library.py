"""The education material library (教育素材库, issue #6): full-text search on SQLite FTS5 and PostgreSQL,
filters, snippets, and the whole path from the ministry's selection to the search API, the page and the
case collection; a university's own 素材库 on its own shelf, read by that university only."""
import io
from datetime import datetime, timezone

import pytest
import requests
from kombu import Connection, Exchange

from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_notify_dashboard import sign_in
from tests.integration.test_notify_service import key_events, notify, publish, seu_campaign, smtp  # noqa: F401  (fixtures)

STORIES = [
    ("s-1", "seu", "东南大学", "story", "战疫故事汇", None, 2020, "筑牢校园红色防火墙",
     "党支部设立党员先锋岗，二十四小时值守校门，筑牢校园红色防火墙。"),
    ("s-2", "wust", "武汉科技大学", "story", "战疫故事汇", None, 2020, "青年志愿者在社区",
     "研究生党员志愿者走进社区，协助核酸检测，青春在抗疫一线绽放。"),
    ("s-3", "seu", "东南大学", "lecture", "专题微党课", "有序推进学校复学复课", 2020, "返校复学第一课",
     "学生分批返校，线上教学与课堂教学衔接，有序推进复课。红色防火墙守护校园。"),
    ("s-4", "wust", "武汉科技大学", "material", "教育素材", None, 2021, "云端组织生活会",
     "疫情期间党支部通过三微一端召开线上组织生活会，<script>alert(1)</script>党员踊跃发言。"),
]


@pytest.fixture
def library_db(db_url):
    from common.db import Store, migrate
    from common.settings import migrations_dir

    migrate(db_url, migrations_dir("notify"))
    store = Store(db_url)
    _fill(store)
    return store


def _fill(store):
    from services.notify import library
    from services.notify.models import LibraryWork

    with store.transaction() as s:
        for n, (sid, tenant, name, track, label, theme, year, title, text) in enumerate(STORIES):
            body = f"{title}\n{text}"
            tokens, keywords = library.analyse(body)
            library.add(s, LibraryWork(
                submission_id=sid, shelf="ministry", tenant=tenant, tenant_name=name, campaign_id="siyige-2020", track=track,
                track_label=label, theme=theme, year=year, title=title, org_name="某学院党委", text=body,
                keywords=keywords, files=[], selected_at=datetime(2020, 8, 1, n, tzinfo=timezone.utc)), tokens)
        # a redelivered selection adds nothing
        tokens, keywords = library.analyse("重复")
        library.add(s, LibraryWork(submission_id="s-1", shelf="ministry", tenant="seu", tenant_name="东南大学", campaign_id="x",
                                   track="story", track_label="战疫故事汇", theme=None, year=2020, title="重复",
                                   org_name="", text="重复", keywords=[], files=[],
                                   selected_at=datetime(2020, 8, 2, tzinfo=timezone.utc)), tokens)


def found(store, q="", shelves=("ministry",), **filters):
    from services.notify import library

    query = library.Query(q=q, words=library.query_words(q) if q else (), **filters)
    with store.transaction() as s:
        works, total, _ = library.search(s, query, shelves)
        return [w.submission_id for w in works], total, [library.work_json(w, query.words) for w in works]


def test_words_match_whole_and_inside_longer_words_and_every_word_must_match(library_db):
    ids, total, _ = found(library_db, "红色防火墙")
    assert sorted(ids) == ["s-1", "s-3"] and total == 2
    assert found(library_db, "防火墙 复课")[0] == ["s-3"]  # both words
    assert found(library_db, "志愿者")[0] == ["s-2"]
    assert found(library_db, "核酸")[0] == ["s-2"]  # inside 核酸检测 (search-mode tokens)
    assert found(library_db, "組織生活會")[0] == ["s-4"]  # Traditional script finds Simplified text
    assert found(library_db, "航天")[:2] == ([], 0)


def test_filters_and_the_newest_first_without_words(library_db):
    assert found(library_db)[0] == ["s-4", "s-3", "s-2", "s-1"]
    assert found(library_db, track="story")[0] == ["s-2", "s-1"]
    assert found(library_db, "红色防火墙", tenant="seu", track="lecture")[0] == ["s-3"]
    assert found(library_db, theme="有序推进学校复学复课")[0] == ["s-3"]
    assert found(library_db, year=2021)[0] == ["s-4"]
    assert found(library_db, "红色防火墙", year=2021)[:2] == ([], 0)


@pytest.mark.parametrize("hostile", ['"', "'", "\\", 'AND OR NOT "', "NEAR(党支部", "*", "党支部'); DROP TABLE x; --",
                                     "a:b", "{}", "^"])
def test_query_syntax_in_the_words_is_taken_literally(library_db, hostile):
    from services.notify import library

    ids, total, _ = found(library_db, hostile)
    if library.query_words(hostile):
        assert (ids, total) == ([], 0)  # no work has these words (NEAR, DROP, TABLE …): no error, no match
    else:
        assert total == 4  # only punctuation: no words, so the whole library, newest first


def test_snippets_mark_the_words_and_escape_the_text(library_db):
    _, _, items = found(library_db, "组织生活会 党员")
    html = items[0]["snippet_html"]
    assert "<mark>组织生活会</mark>" in html and "<mark>党员</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_facets_count_each_value(library_db):
    from services.notify import library

    with library_db.transaction() as s:
        f = library.facets(s, ("ministry",))
    assert {t["value"]: t["count"] for t in f["tracks"]} == {"lecture": 1, "material": 1, "story": 2}
    assert [u["label"] for u in f["universities"]] == ["东南大学", "武汉科技大学"]
    assert f["themes"] == [{"value": "有序推进学校复学复课", "count": 1}]
    assert {y["value"]: y["count"] for y in f["years"]} == {2020: 3, 2021: 1}


# SEU's own 素材库 (its own round's library decision): on SEU's shelf, with words and values no national work has
SEU_OWN = ("s-own", "seu", "东南大学", "story", "战疫故事汇", "校本抗疫专题", 2022, "校园红色防火墙的校本经验",
           "东南大学自评入库：红色防火墙与网格化值守的校本经验。")


def _add_own(store, shelf="seu"):
    from services.notify import library
    from services.notify.models import LibraryWork

    sid, tenant, name, track, label, theme, year, title, text_ = SEU_OWN
    body = f"{title}\n{text_}"
    tokens, keywords = library.analyse(body)
    with store.transaction() as s:
        library.add(s, LibraryWork(
            submission_id=sid, shelf=shelf, tenant=tenant, tenant_name=name, campaign_id="siyige-2020-seu",
            track=track, track_label=label, theme=theme, year=year, title=title, org_name="某学院党委", text=body,
            keywords=keywords, files=[], selected_at=datetime(2022, 8, 1, tzinfo=timezone.utc)), tokens)


def test_a_universitys_own_shelf_is_read_by_that_university_only(library_db):
    from services.notify import library

    _add_own(library_db)
    seu, wust, ministry = library.shelves_for("seu"), library.shelves_for("wust"), library.shelves_for(None)
    assert sorted(found(library_db, "红色防火墙", shelves=seu)[0]) == ["s-1", "s-3", "s-own"]
    for other in (wust, ministry):
        assert sorted(found(library_db, "红色防火墙", shelves=other)[0]) == ["s-1", "s-3"]
        assert found(library_db, "校本", shelves=other)[:2] == ([], 0)  # words only the own entry has
        assert found(library_db, shelves=other)[1] == 4  # without words: the national works, all of them
        # a filter naming SEU gives SEU's national works, never its own shelf
        assert found(library_db, shelves=other, tenant="seu")[0] == ["s-3", "s-1"]
        assert found(library_db, shelves=other, year=2022)[:2] == ([], 0)
    assert found(library_db, shelves=seu, tenant="seu")[0] == ["s-own", "s-3", "s-1"]

    with library_db.transaction() as s:
        mine, theirs = library.facets(s, seu), library.facets(s, wust)
        sizes = library.size(s, seu), library.size(s, wust), library.size(s, ministry)
        cased = {shelves: [c.submission_id for c in library.cases(s, library.Query(), shelves, 100)]
                 for shelves in (seu, wust, ministry)}
    assert sizes == (5, 4, 4)
    assert {u["value"]: u["count"] for u in mine["universities"]} == {"seu": 3, "wust": 2}
    assert {u["value"]: u["count"] for u in theirs["universities"]} == {"seu": 2, "wust": 2}
    assert {t["value"]: t["count"] for t in theirs["tracks"]} == {"lecture": 1, "material": 1, "story": 2}
    assert "校本抗疫专题" in [t["value"] for t in mine["themes"]]
    assert "校本抗疫专题" not in [t["value"] for t in theirs["themes"]] and 2022 not in [y["value"] for y in theirs["years"]]
    assert "s-own" in cased[seu] and "s-own" not in cased[wust] and "s-own" not in cased[ministry]


def test_the_migration_puts_a_universitys_own_entries_on_its_shelf_and_the_rest_on_the_national_one(db_url):
    """Entries from before shelves: the ministry's selection (forwarded to the ministry) is national; a university's
    own 素材库 entry (never forwarded to the ministry) goes to its university's shelf, not everyone's."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from common.db import make_engine
    from common.settings import migrations_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir("notify")))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0011")
            conn.commit()
            conn.execute(text(
                "INSERT INTO forwarded_works (submission_id, tenant, tenant_name, campaign_id, track, org_name, "
                "org_level, to_level, title, fields, files, forwarded_at, seq) VALUES "
                "('s-up', 'seu', '东南大学', 'siyige-2020-seu', 'story', '学院党委', 'level2', 'ministry', '上报', "
                "'{}', '[]', '2020-10-20 02:00:00', 1), "
                "('s-mid', 'seu', '东南大学', 'siyige-2020-seu', 'story', '学院党委', 'branch', 'university', '校内', "
                "'{}', '[]', '2020-10-20 02:00:00', 2)"))
            for sid in ("s-up", "s-mid", "s-own"):
                conn.execute(text(
                    "INSERT INTO library_works (submission_id, tenant, tenant_name, campaign_id, track, track_label, "
                    "year, title, org_name, text, keywords, files, selected_at) VALUES (:sid, 'seu', '东南大学', "
                    "'siyige-2020', 'story', '战疫故事汇', 2020, :sid, '学院党委', '正文', '[]', '[]', "
                    "'2020-11-01 00:00:00')"), {"sid": sid})
            conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
            shelves = dict(conn.execute(text("SELECT submission_id, shelf FROM library_works")).all())
    finally:
        engine.dispose()
    assert shelves == {"s-up": "ministry", "s-mid": "seu", "s-own": "seu"}


def test_the_ministrys_selection_enters_the_library_with_its_documents_text(notify, tmp_path):  # noqa: F811
    import docx

    from common.objectstore import open_store

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    store = open_store(notify["container"].config["OBJECT_STORE_URL"])
    text_key = "derived/seu/f-doc/text.txt"
    doc_text = "案例：学院党委以三微一端开展线上主题党日，党员先锋岗覆盖全部实验室。"
    (tmp_path / "text.txt").write_text(doc_text, encoding="utf-8")
    store.put_file(text_key, str(tmp_path / "text.txt"))

    forwarded = make_event("submission_forwarded", "seu", {
        "submission_id": "s-case", "campaign_id": "siyige-2020-seu", "track": "material", "org_id": "o-cse",
        "org_name": "计算机科学与工程学院党委", "org_level": "level2", "from_level": "university",
        "to_level": "ministry", "title": "云端党日的实践", "receipt_no": "SEU-1",
        "forwarded_at": "2020-10-20T02:00:00+00:00", "fields": {"title": "云端党日的实践", "summary": "线上主题党日活动。"},
        "files": [{"file_id": "f-doc", "kind": "document", "object_key": "seu/f-doc", "size": 10,
                   "content_type": "application/pdf"}]}, )
    forwarded.data["tenant_name"] = "东南大学"
    uploaded = make_event("file_uploaded", "seu", {
        "file_id": "f-doc", "submission_id": "s-case", "campaign_id": "siyige-2020-seu", "track": "material",
        "kind": "document", "object_key": "seu/f-doc", "size": 10, "sha256": "0" * 64,
        "content_type": "application/pdf", "original_name": "案例.pdf", "org_id": "o-cse"})
    checked = make_event("file_checked", "seu", {
        "file_id": "f-doc", "submission_id": "s-case", "verdict": "passed", "findings": [], "facts": {},
        "checked_at": "2020-10-01T00:00:00+00:00", "derived": {"text": text_key}})
    ministry_round = make_event("selection_made", "ministry", {
        "round_id": "rd-m", "campaign_id": "siyige-2020", "track": "material", "level": "ministry",
        "to_level": None, "owner_org_id": None, "selected": ["s-case"], "not_selected": [],
        "results": [{"submission_id": "s-case", "tenant": "seu", "rank": 1, "selected": True, "title": "云端党日的实践"}]})
    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu"), seu_campaign(), uploaded)
    with Connection(notify["amqp"]) as conn:
        producer = conn.Producer()
        producer.publish(checked.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                         routing_key="file_checked", serializer="json", delivery_mode=2)
    # As in life, the file's check (weeks before) is in before the work is forwarded: handled on
    # another queue, it could otherwise come after the selection, and the library would miss its text.
    from services.notify.models import FileCopy

    def text_known():
        with notify["store"].transaction() as s:
            f = s.get(FileCopy, "f-doc")
            return f is not None and f.text_key == text_key

    wait_until(text_known, timeout=30, what="the document's check with its text")
    publish(notify["amqp"], forwarded)
    # the ministry's selection may come before the forwarded work it names: it waits and retries
    with Connection(notify["amqp"]) as conn:
        for _ in range(2):  # and a redelivery adds nothing
            conn.Producer().publish(ministry_round.to_dict(), exchange=Exchange("review.events", type="topic",
                                                                                durable=True),
                                    routing_key="selection_made", serializer="json", delivery_mode=2)

    auth = {"Authorization": "Bearer sk_seu"}

    def search(**params):
        r = requests.get(f"{base}/api/v1/library", params=params, headers=auth, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    page = wait_until(lambda: (p := search(q="先锋岗")) and p["total"] and p, timeout=30,
                      what="the selected case in the library")
    item = page["items"][0]
    assert page["total"] == 1 and item["title"] == "云端党日的实践" and item["university"] == "东南大学"
    assert "<mark>先锋岗</mark>" in item["snippet_html"] or "<mark>党员先锋岗</mark>" in item["snippet_html"]
    assert item["year"] == 2020 and item["track_label"] == "教育素材" and "三微一端" in item["keywords"]
    assert page["facets"]["tracks"] == [{"value": "material", "label": "教育素材", "count": 1}]
    assert search(q="先锋岗", track="story")["total"] == 0
    feed = requests.get(f"{base}/api/v1/feed/forwarded", headers=auth, timeout=10).json()["items"]
    everything = "云端党日的实践 线上主题党日活动。" + doc_text
    assert feed[0]["keywords"] and all(w in everything for w in feed[0]["keywords"])

    r = requests.get(f"{base}/api/v1/library", params={"year": "二〇二〇"}, headers=auth, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query" and "整数" in r.json()["error"]["message"]
    assert requests.get(f"{base}/api/v1/library", timeout=10).status_code == 401

    r = requests.get(f"{base}/api/v1/library/casebook.docx", params={"q": "党日"}, headers=auth, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    paragraphs = [p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs]
    assert any("云端党日的实践" in p for p in paragraphs) and any(doc_text in p for p in paragraphs)

    web, r = sign_in(base, "sk_seu")
    html = web.get(f"{base}/library", params={"q": "三微一端"}, timeout=10).text
    assert "云端党日的实践" in html and "<mark>三微一端</mark>" in html and "导出案例集" in html
    assert web.get(f"{base}/library/casebook.docx", timeout=30).status_code == 200


def test_seus_own_library_is_seus_alone_and_the_national_selection_everyones(notify):  # noqa: F811
    """SEU's own round puts a work in SEU's 素材库: SEU's key, page and case collection find it; WUST's key, page,
    case collection, facets and size, and the ministry's, never do. The ministry's selection stays everyone's."""
    import docx

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    national = make_event("submission_forwarded", "wust", {
        "submission_id": "s-nat", "campaign_id": "siyige-2020-wust", "track": "story", "org_id": "o-w",
        "org_name": "武汉科技大学研究生院党委", "org_level": "level2", "from_level": "university",
        "to_level": "ministry", "title": "社区里的研究生党员", "receipt_no": "WUST-1",
        "forwarded_at": "2020-10-20T02:00:00+00:00",
        "fields": {"title": "社区里的研究生党员", "summary": "研究生党员志愿者协助社区防控，筑牢红色防线。"}, "files": []})
    national.data["tenant_name"] = "武汉科技大学"
    ministry_round = make_event("selection_made", "ministry", {
        "round_id": "rd-m", "campaign_id": "siyige-2020", "track": "story", "level": "ministry", "to_level": None,
        "owner_org_id": None, "selected": ["s-nat"], "not_selected": [],
        "results": [{"submission_id": "s-nat", "tenant": "wust", "rank": 1, "selected": True,
                     "title": "社区里的研究生党员"}]})
    # SEU's own round: the selection ends at the university, in its library (nothing is forwarded)
    seu_round = make_event("selection_made", "seu", {
        "round_id": "rd-seu", "campaign_id": "siyige-2020-seu", "track": "story", "level": "university",
        "to_level": None, "owner_org_id": None, "selected": ["s-own"], "not_selected": ["s-out"],
        "decision": {"level": "university", "kind": "library", "label": "校级素材库"},
        "results": [{"submission_id": "s-own", "tenant": "seu", "rank": 1, "selected": True,
                     "title": "网格化值守的校本经验", "org_name": "计算机科学与工程学院党委",
                     "fields": {"title": "网格化值守的校本经验", "text": "校内网格化值守，筑牢红色防线。"}},
                    {"submission_id": "s-out", "tenant": "seu", "rank": 2, "selected": False, "title": "未入库"}]})
    publish(notify["amqp"], key_events("ministry", "ministry", "教育部思政司", "sk_ministry"),
            key_events("seu", "university", "东南大学", "sk_seu"), key_events("wust", "university", "武汉科技大学", "sk_wust"),
            seu_campaign(), national)
    with Connection(notify["amqp"]) as conn:
        for ev in (ministry_round, seu_round):
            conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                    routing_key="selection_made", serializer="json", delivery_mode=2)

    def search(key, **params):
        r = requests.get(f"{base}/api/v1/library", params=params, headers={"Authorization": f"Bearer {key}"},
                         timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def titles(page):
        return sorted(item["title"] for item in page["items"])

    # both entries in: SEU sees both (its own marked as not national)
    seu = wait_until(lambda: (p := search("sk_seu", q="红色防线")) and p["total"] == 2 and p, timeout=30,
                     what="the national and SEU's own entry in SEU's library")
    assert titles(seu) == ["社区里的研究生党员", "网格化值守的校本经验"]
    assert {i["submission_id"]: (i["shelf"], i["national"]) for i in seu["items"]} == {
        "s-nat": ("ministry", True), "s-own": ("seu", False)}
    assert {u["value"]: u["count"] for u in seu["facets"]["universities"]} == {"seu": 1, "wust": 1}
    assert titles(search("sk_seu", q="校本")) == ["网格化值守的校本经验"]

    for key in ("sk_wust", "sk_ministry"):
        page = search(key, q="红色防线")
        assert titles(page) == ["社区里的研究生党员"] and page["total"] == 1
        assert search(key, q="校本")["total"] == 0
        everything = search(key)
        assert titles(everything) == ["社区里的研究生党员"] and everything["total"] == 1
        # the facets count the national work only: nothing says SEU has an own library entry
        assert {u["value"]: u["count"] for u in everything["facets"]["universities"]} == {"wust": 1}
        assert [(t["value"], t["count"]) for t in everything["facets"]["tracks"]] == [("story", 1)]
        assert everything["facets"]["years"] == [{"value": 2020, "count": 1}]
        # naming SEU in the filter filters the visible shelves, it opens none
        assert search(key, university="seu") | {"facets": None} == {
            "items": [], "total": 0, "page": 1, "per_page": 20, "words": [], "order": "newest", "facets": None}

    def casebook_text(get, headers=False, **params):
        r = get("/api/v1/library/casebook.docx" if headers else "/library/casebook.docx", params)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        return "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)

    def with_key(key):
        return lambda path, params: requests.get(f"{base}{path}", params=params,
                                                 headers={"Authorization": f"Bearer {key}"}, timeout=30)

    assert "网格化值守的校本经验" in casebook_text(with_key("sk_seu"), headers=True)
    for key in ("sk_wust", "sk_ministry"):
        book = casebook_text(with_key(key), headers=True)
        assert "社区里的研究生党员" in book and "网格化值守" not in book
        assert "网格化值守" not in casebook_text(with_key(key), headers=True, university="seu")

    # the pages: SEU's visitor sees its own entry, marked; WUST's does not, nor counts it
    seu_web, _ = sign_in(base, "sk_seu")
    html = seu_web.get(f"{base}/library", timeout=10).text
    assert "网格化值守的校本经验" in html and "本校素材库" in html and "共 2 件" in html
    seu_book = seu_web.get(f"{base}/library/casebook.docx", timeout=30)
    assert "网格化值守的校本经验" in "\n".join(p.text for p in docx.Document(io.BytesIO(seu_book.content)).paragraphs)
    for key in ("sk_wust", "sk_ministry"):
        web, _ = sign_in(base, key)
        for params in ({}, {"q": "红色防线"}, {"university": "seu"}):
            html = web.get(f"{base}/library", params=params, timeout=10).text
            assert "网格化值守" not in html and "东南大学（1）" not in html and "共 1 件" in html
        assert "社区里的研究生党员" in web.get(f"{base}/library", timeout=10).text
        book = web.get(f"{base}/library/casebook.docx", params={"university": "seu"}, timeout=30)
        assert book.status_code == 200
        assert "网格化值守" not in "\n".join(p.text for p in docx.Document(io.BytesIO(book.content)).paragraphs)
