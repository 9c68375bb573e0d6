"""The universities' own campaigns to their end, across the running platform (issue #16, "Campaigns v2").

All four services as processes (tests/platform.py), driven only over HTTP: each university publishes its own
campaign (`common/campaign/definitions/own/`) with its portal key, its orgs submit, and each campaign ends where
its definition says:

- 同济 2018 两优一先: colleges nominate by category; the university's round (the deciding level) is scored by an
  expert the notify mail invited, closed, and its award confirmed by category; intake shows each work's result,
  notify mails each org its result.
- 同济 2018 示范党支部: branches apply; their college's round scores and forwards the best two; the university's
  round (final, a selection) chooses; the results reach intake and the orgs' mailboxes.
- 石油大学 2020 monthly 组织生活: a branch files this month's record; it is collected (no round), and notify's
  progress feed counts it for the current month.
- 大连民族大学 2022 lockdown duties: every track is collected (no rubric, no decision): each work is submitted with a
  receipt, never enters a round, has no result, and is counted in the progress feed.

One platform serves the module (its start is most of the time); each test moves every service's clock into its
campaign's year (tests/platform.py move_clock) and works in its own campaign (同济's two share its org tree), so
any one of them may run alone.
"""
from __future__ import annotations

import hashlib
import mailbox
import os
import re
import subprocess
import sys
import uuid
from email.header import decode_header, make_header

import pytest
import requests

from common.campaign import DEFINITIONS_DIR
from tests import media_fixtures
from tests.conftest import AMQP_BASE, RABBIT_API, ROOT
from tests.e2e.test_round_trip import poll
from tests.platform import move_clock, running_platform
from tests.signin import form_token, redeem, sign_in

OWN = DEFINITIONS_DIR / "own"
YAML = {"Content-Type": "application/yaml"}
CSV = {"Content-Type": "text/csv"}
UNIVERSITIES = {"tongji": "同济大学", "upc": "中国石油大学", "dlnu": "大连民族大学"}


# --------------------------------------------------------------------------- the platform, once for the module


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """The platform as processes on a vhost of its own, with 同济, 石油大学 and 大连民族大学 added by the operator's
    commands while it runs (the launcher publishes a copy of 四个一 for each university it starts with; these
    universities have none), each with a portal key."""
    api = RABBIT_API.rstrip("/")
    vhost = f"test-{uuid.uuid4().hex[:12]}"
    requests.put(f"{api}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/api/permissions/{vhost}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
    folder = tmp_path_factory.mktemp("own-campaigns")
    try:
        with running_platform(folder, f"{AMQP_BASE}/{vhost}", {}) as running:
            env = dict(os.environ, DATA_DIR=str(running["data"]))

            def admin(*args) -> str:
                return subprocess.run([sys.executable, "-m", "services.intake.admin", *args], cwd=ROOT, env=env,
                                      check=True, capture_output=True, text=True).stdout.strip()

            keys = {}
            for slug, name in UNIVERSITIES.items():
                admin("create-tenant", slug, name, "--contact-email", f"zzb@{slug}.demo.local")
                keys[slug] = admin("issue-key", slug, "--label", "portal")
            notify = f"http://127.0.0.1:{running['ports']['notify']}/api/v1/feed/progress"
            for key in keys.values():  # the keys reach notify (and review) through intake's outbox
                poll(lambda: requests.get(notify, headers={"Authorization": f"Bearer {key}"}, timeout=5).ok, 30)
            yield {**running, "keys": keys}
    finally:
        requests.delete(f"{api}/api/vhosts/{vhost}", timeout=10)


class Portal:
    """A university's portal: its key on intake's API and notify's progress feed."""

    def __init__(self, platform, slug: str):
        self.platform, self.slug, self.key = platform, slug, platform["keys"][slug]
        self.base = f"http://127.0.0.1:{platform['ports']['intake']}/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.key}"

    def __call__(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=30, **kw)

    def import_orgs(self, rows: str) -> dict[str, str]:
        r = self("POST", "/orgs/import", data=("名称,层级,上级组织,邮箱\n" + rows).encode(), headers=CSV)
        assert r.status_code == 200, r.text
        return {o["name"]: o["id"] for o in self("GET", "/orgs").json()["items"]}

    def publish(self, filename: str) -> dict:
        """The university publishes its own campaign, the shipped YAML as it stands: not a copy of anything."""
        r = self("POST", "/campaigns", data=(OWN / filename).read_bytes(), headers=YAML)
        assert r.status_code == 201, r.text  # never 403 must_derive: a university may publish its own
        doc = r.json()
        assert (doc["id"], doc["owner"], doc["derives_from"]) == (f"{self.slug}.{filename[:-5]}", self.slug, None)
        return doc

    def draft(self, campaign: str, track: str, org_id: str, **fields) -> dict:
        r = self("POST", "/submissions", json={"campaign_id": campaign, "track": track, "org_id": org_id,
                                               "fields": fields})
        assert r.status_code == 201, r.text
        return r.json()

    def attach(self, work_id: str, kind: str, filename: str, data: bytes, content_type: str) -> str:
        r = self("POST", f"/submissions/{work_id}/files", json={
            "kind": kind, "filename": filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": content_type})
        assert r.status_code == 201, r.text
        ticket = r.json()
        assert requests.put(ticket["upload"]["url"], data=data, timeout=30).status_code == 200
        file_id = ticket["file"]["id"]
        assert self("POST", f"/files/{file_id}/complete").json()["state"] == "stored"
        return file_id

    def checked(self, file_id: str) -> None:
        """media checked the file (file_uploaded -> media -> file_checked -> intake), and it passed."""
        verdict = poll(lambda: self("GET", f"/files/{file_id}").json()["check"]["verdict"], timeout=60)
        assert verdict == "passed", self("GET", f"/files/{file_id}").json()["check"]

    def submit(self, work_id: str) -> dict:
        r = self("POST", f"/submissions/{work_id}/submit")
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["state"] == "submitted" and done["receipt_no"], done
        return done

    def work(self, work_id: str) -> dict:
        return self("GET", f"/submissions/{work_id}").json()

    def progress(self, campaign_id: str) -> dict[tuple[str, str], dict]:
        """notify's progress feed for this university's campaign: the newest row per (track, level)."""
        feed = f"http://127.0.0.1:{self.platform['ports']['notify']}/api/v1/feed/progress"
        latest: dict[tuple[str, str], dict] = {}
        for item in self.http.get(feed, params={"limit": 200}, timeout=10).json()["items"]:
            if item["campaign_id"] == campaign_id:
                latest[(item["track"], item["level"])] = item
        return latest


def document(platform, name: str) -> bytes:
    """A real PDF (media opens it, counts its pages, reads its text): the 推荐表, 申报表 or 预案 a work carries."""
    folder = platform["logs"] / "documents" / name
    folder.mkdir(parents=True, exist_ok=True)
    return media_fixtures.make_document_pdf(folder).read_bytes()


# --------------------------------------------------------------------------- mail and review, as people see them


def mails(platform, to: str | None = None) -> list[dict]:
    box = mailbox.Maildir(platform["data"] / "mailbox", create=False)
    out = []
    for m in box:
        if to is not None and m["To"] != to:
            continue
        body = m.get_payload(decode=True) if not m.is_multipart() else m.get_payload(0).get_payload(decode=True)
        out.append({"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))),
                    "body": body.decode("utf-8")})
    return out


def mail_to(platform, to: str, starts: str, count: int = 1, timeout: float = 30) -> list[dict]:
    """The mails to `to` whose subject starts with `starts`, once there are `count` of them (and no more)."""
    found = poll(lambda: (m := [x for x in mails(platform, to) if x["subject"].startswith(starts)])
                 and len(m) >= count and m, timeout=timeout)
    assert len(found) == count, [m["subject"] for m in found]
    return found


class ReviewAdmin:
    """The university's 组织部 on review's pages, signed in with its key."""

    def __init__(self, platform, key: str):
        self.base = f"http://127.0.0.1:{platform['ports']['review']}"
        self.web, r = sign_in(self.base, key)
        assert r.status_code == 303, r.text

    def rounds(self) -> dict[str, tuple[str, int]]:
        """title -> (round id, works in it), as the admin's home page lists them."""
        html = self.web.get(f"{self.base}/", timeout=10).text
        return {title: (rid, int(n)) for rid, title, n in
                re.findall(r'<a href="/rounds/([0-9a-f]+)">([^<]+)</a></td><td>(\d+)</td>', html)}

    def round_with(self, *words: str, works: int) -> str:
        """The id of the one round whose title has all `words`, once `works` works are in it."""
        def found():
            hits = [(rid, n) for title, (rid, n) in self.rounds().items() if all(w in title for w in words)]
            assert len(hits) <= 1, self.rounds()
            return hits and hits[0][1] == works and hits[0][0]
        return poll(found, timeout=30)

    def token(self, round_id: str) -> str:
        return form_token(self.web.get(f"{self.base}/rounds/{round_id}", timeout=10).text)

    def post(self, round_id: str, action: str, **data) -> requests.Response:
        r = self.web.post(f"{self.base}/rounds/{round_id}/{action}", data={"csrf_token": self.token(round_id), **data},
                          allow_redirects=False, timeout=30)
        assert r.status_code == 303, (action, r.status_code, r.text[-2000:])
        return r

    def staff(self, round_id: str, email: str) -> None:
        """One expert per work, added, assigned every work and sent their sign-in link (notify mails it)."""
        self.post(round_id, "settings", reviewers_per_work="1")
        self.post(round_id, "reviewers", name="李专家", email=email, university="", org="", expertise="党建")
        self.post(round_id, "assign")
        self.post(round_id, "invite")

    def close(self, round_id: str) -> None:
        self.post(round_id, "close")

    def ranking(self, round_id: str) -> str:
        return self.web.get(f"{self.base}/rounds/{round_id}/ranking", timeout=10).text

    def confirm(self, round_id: str, selected: list[str]) -> requests.Response:
        token = form_token(self.ranking(round_id))
        return self.web.post(f"{self.base}/rounds/{round_id}/selection",
                             data={"csrf_token": token, "selected": selected}, timeout=30)


def score_all(platform, email: str, marks_by_marker: dict[str, dict[str, str]]) -> int:
    """The expert opens the link notify mailed them and submits a score for each work in their queue: the marks of
    the marker (a title, a brand) the work's page shows. Reviewers score blind: org names on it are 〔已隐去〕."""
    [invite] = mail_to(platform, email, "【评审邀请】")
    link = re.search(r"http://\S+/sign-in/\S+", invite["body"]).group(0)
    expert, r = redeem(link)
    assert r.status_code == 303, r.text
    base = link.split("/sign-in/")[0]
    queue = expert.get(f"{base}/queue", timeout=10).text
    scored = 0
    for aid in dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', queue)):
        page = expert.get(f"{base}/works/{aid}", timeout=10).text
        markers = [t for t in marks_by_marker if f"{t}<" in page]
        assert len(markers) == 1, (markers, page[-3000:])
        marks = {f"mark_{k}": v for k, v in marks_by_marker[markers[0]].items()}
        r = expert.post(f"{base}/works/{aid}/score", data={"csrf_token": form_token(page), "action": "submit",
                                                           "comment": "事迹突出。", **marks},
                        allow_redirects=False, timeout=10)
        assert r.status_code == 303 and "saved=submitted" in r.headers["Location"], r.text[-2000:]
        scored += 1
    return scored


# --------------------------------------------------------------------------- 同济 2018 两优一先

# 同济's org tree, the same for both its campaigns (each test imports it: either may run alone)
TONGJI_ORGS = ("土木工程学院党委,二级党组织,,civil@tongji.demo.local\n"
               "机械与能源工程学院党委,二级党组织,,mech@tongji.demo.local\n"
               "电子与信息工程学院党委,二级党组织,,eie@tongji.demo.local\n"
               "电信学院教工第一党支部,党支部,电子与信息工程学院党委,eie-t1@tongji.demo.local\n"
               "电信学院学生第一党支部,党支部,电子与信息工程学院党委,eie-s1@tongji.demo.local\n"
               "电信学院学生第二党支部,党支部,电子与信息工程学院党委,eie-s2@tongji.demo.local\n")



def test_tongji_awards_its_two_excellent_one_advanced_by_category(platform):
    move_clock(platform, "2018-06-01T09:00:00+08:00")  # nominations: branches by 6/8, colleges by 6/15
    tongji = Portal(platform, "tongji")
    orgs = tongji.import_orgs(TONGJI_ORGS)
    campaign = tongji.publish("tongji-lianyou-2018.yaml")
    assert campaign["id"] == "tongji.tongji-lianyou-2018"
    assert campaign["tracks"]["nomination"]["decision"]["kind"] == "award"

    # colleges nominate, each with the category the award reads, the signed 推荐审批表 checked by media
    nominations = [  # (org, category, title, marks)
        ("土木工程学院党委", "member", "张明", {"deeds": "9", "example": "9", "excellence": "9"}),
        ("土木工程学院党委", "worker", "李华", {"deeds": "6", "example": "6", "excellence": "6"}),
        ("机械与能源工程学院党委", "org", "动力装备教工党支部", {"deeds": "8", "example": "8.5", "excellence": "8"}),
    ]
    works = {}
    for org, category, title, _ in nominations:
        w = tongji.draft("tongji-lianyou-2018", "nomination", orgs[org], title=title, category=category,
                         phone="021-65982200", deeds=f"{title}扎根一线，示范引领作用突出，多次获评先进。",
                         **({"party_members": 28} if category == "org" else
                            {"nominee": [{"name": title, "post": "教授", "org": org}]}))
        tongji.checked(tongji.attach(w["id"], "document", "推荐审批表.pdf", document(platform, w["id"]),
                                     "application/pdf"))
        done = tongji.submit(w["id"])
        assert done["receipt_no"].startswith("TONGJI-20180601-") and done["complete"] is True
        works[title] = w["id"]

    # review: the colleges' nominations are in the university's round, where the award is decided
    review = ReviewAdmin(platform, tongji.key)
    round_id = review.round_with("“两优一先”推荐", "校级", works=3)
    page = review.web.get(f"{review.base}/rounds/{round_id}", timeout=10).text
    assert "本轮为最终评定" in page  # the categories by their names, not the definition's keys (member, worker, org)
    assert "表彰名额（校级“两优一先”表彰）：优秀共产党员 50 名、优秀党务工作者 20 名、先进基层党组织 20 名" in page
    review.staff(round_id, "li.expert@tongji.demo.local")
    assert score_all(platform, "li.expert@tongji.demo.local", {t: m for _, _, t, m in nominations}) == 3
    review.close(round_id)
    ranking = review.ranking(round_id)
    assert "确认表彰名单" in ranking and "可向" not in ranking
    # each title links to its reviews page; the category follows in its own cell
    assert re.findall(r'class="reviews"[^>]*>(张明|李华|动力装备教工党支部)</a></td><td>([^<]+)</td>', ranking) == [
        ("张明", "优秀共产党员"), ("动力装备教工党支部", "先进基层党组织"), ("李华", "优秀党务工作者")]  # by score
    # 张明 (优秀共产党员) and the college's branch (先进基层党组织) are awarded; 李华 is not
    r = review.confirm(round_id, [works["张明"], works["动力装备教工党支部"]])
    assert r.status_code == 200 and "已确认" in r.text, r.text[-2000:]

    # intake: each work's result, in the words a portal shows
    def result(title):
        return poll(lambda: tongji.work(works[title])["result"], timeout=30)

    member, org = result("张明"), result("动力装备教工党支部")
    assert (member["level"], member["kind"], member["passed"]) == ("university", "award", True)
    assert member["label"] == "校级“两优一先”表彰"
    assert member["words"] == "获表彰（优秀共产党员）", member
    assert org["words"] == "获表彰（先进基层党组织）", org
    assert tongji.work(works["李华"])["result"] is None  # not chosen: nothing decided for it
    assert all(tongji.work(w)["forwarded_to"] is None for w in works.values())  # nothing goes above 同济

    # notify: each college is told its works' results
    civil = mail_to(platform, "civil@tongji.demo.local", "【评审结果】", count=2)
    subjects = sorted(m["subject"] for m in civil)
    assert subjects == ["【评审结果】张明：获表彰（优秀共产党员）", "【评审结果】李华：未入选"], subjects
    awarded = next(m for m in civil if "张明" in m["subject"])
    assert "在同济大学的评选中获优秀共产党员表彰" in awarded["body"]
    [mech] = mail_to(platform, "mech@tongji.demo.local", "【评审结果】")
    assert mech["subject"] == "【评审结果】动力装备教工党支部：获表彰（先进基层党组织）"


# --------------------------------------------------------------------------- 同济 2018 示范党支部


def test_tongji_chooses_its_model_party_branches_through_its_colleges_round(platform):
    move_clock(platform, "2018-10-08T09:00:00+08:00")  # applications: branches by 10/15, colleges forward by 10/31
    tongji = Portal(platform, "tongji")
    orgs = tongji.import_orgs(TONGJI_ORGS)
    campaign = tongji.publish("tongji-shifan-2018.yaml")
    decision = campaign["tracks"]["model_branch"]["decision"]
    assert (decision["level"], decision["kind"], decision["places"]) == ("university", "select", 20)

    # three branches of one college apply, each for itself, with its 申报表 checked by media
    applications = {  # branch -> (its brand, the marks its college's expert gives, the university's expert's)
        "电信学院教工第一党支部": ("信仰之光", "9", "9"),
        "电信学院学生第一党支部": ("青春护航", "8", "6"),
        "电信学院学生第二党支部": ("红芯向党", "6", None),
    }
    works = {}
    for branch, (brand, _, _) in applications.items():
        w = tongji.draft("tongji-shifan-2018", "model_branch", orgs[branch], title=branch, branch_type="student",
                         secretary=[{"name": "赵书记", "post": "支部书记"}], party_members=18, brand=brand,
                         features=f"以“{brand}”为品牌，工作规范、特色鲜明、作用突出。", phone="021-65982200")
        tongji.checked(tongji.attach(w["id"], "document", "示范党支部申报表.pdf", document(platform, w["id"]),
                                     "application/pdf"))
        assert tongji.submit(w["id"])["complete"] is True
        works[branch] = w["id"]
    teachers, students, second = works.values()

    # the college's round: scored by its expert, the best two (its forward limit) go up to the university
    review = ReviewAdmin(platform, tongji.key)
    college_round = review.round_with("示范党支部申报", "院级", works=3)
    review.staff(college_round, "zhou.expert@tongji.demo.local")
    marks = {brand: {"standard": m, "distinctive": m, "effect": m} for brand, m, _ in applications.values()}
    assert score_all(platform, "zhou.expert@tongji.demo.local", marks) == 3
    review.close(college_round)
    ranking = review.ranking(college_round)
    assert "确认入选名单并报送" in ranking and "本轮为最终评定" not in ranking
    # a third is over the college's limit of 2
    over = review.confirm(college_round, [teachers, students, second])
    assert over.status_code == 409 and 'data-code="selection_over_quota"' in over.text
    r = review.confirm(college_round, [teachers, students])
    assert r.status_code == 200 and "已确认" in r.text, r.text[-2000:]
    poll(lambda: all(tongji.work(w)["forwarded_to"] == "university" for w in (teachers, students)), timeout=30)
    assert tongji.work(second)["forwarded_to"] is None and tongji.work(second)["result"] is None
    [not_chosen] = mail_to(platform, "eie-s2@tongji.demo.local", "【评审结果】")
    assert not_chosen["subject"] == "【评审结果】电信学院学生第二党支部：未入选"

    # the university's round decides (kind select): its expert scores, the 组织部 confirms one
    final_round = review.round_with("示范党支部申报", "校级", works=2)
    page = review.web.get(f"{review.base}/rounds/{final_round}", timeout=10).text
    assert "本轮为最终评定" in page and "最终评选（校级示范党支部）：入选 20 件" in page
    review.staff(final_round, "wu.expert@tongji.demo.local")
    marks = {brand: {"standard": m, "distinctive": m, "effect": m} for brand, _, m in applications.values() if m}
    assert score_all(platform, "wu.expert@tongji.demo.local", marks) == 2
    review.close(final_round)
    assert "确认最终入选名单" in review.ranking(final_round)
    r = review.confirm(final_round, [teachers])
    assert r.status_code == 200 and "已确认" in r.text, r.text[-2000:]

    # intake: the chosen branch's result; nothing goes above 同济
    result = poll(lambda: tongji.work(teachers)["result"], timeout=30)
    assert (result["level"], result["kind"], result["label"], result["passed"], result["words"]) == (
        "university", "select", "校级示范党支部", True, "已入选")
    assert tongji.work(students)["result"] is None
    assert tongji.work(teachers)["forwarded_to"] == "university"  # where it was decided, not above

    # notify: each branch hears each round's result
    chosen = mail_to(platform, "eie-t1@tongji.demo.local", "【评审结果】", count=2)
    assert [m["subject"] for m in chosen] == ["【评审结果】电信学院教工第一党支部：入选"] * 2
    assert any("在同济大学的评选中入选（校级示范党支部）" in m["body"] for m in chosen)
    went_up = mail_to(platform, "eie-s1@tongji.demo.local", "【评审结果】", count=2)
    assert sorted(m["subject"] for m in went_up) == ["【评审结果】电信学院学生第一党支部：入选",
                                                     "【评审结果】电信学院学生第一党支部：未入选"]


# --------------------------------------------------------------------------- 石油大学 2020 monthly 组织生活


def record(upc: Portal, org_id: str, held_on: str, title: str) -> dict:
    return upc.draft("upc-zuzhishenghuo-2020", "monthly_record", org_id, title=title, held_on=held_on,
                     platforms=["tencent_meeting", "wechat"], form="study_discussion", attendance=15,
                     topic="同舟共济，武汉加油", summary="支部通过腾讯会议开展线上学习研讨，党员逐一发言。")


def test_upc_counts_each_branchs_monthly_record_in_its_month(platform):
    move_clock(platform, "2020-04-10T09:00:00+08:00")
    upc = Portal(platform, "upc")
    orgs = upc.import_orgs("石油工程学院党委,二级党组织,,pe@upc.demo.local\n"
                           "研钻井19-1党支部,党支部,石油工程学院党委,b1@upc.demo.local\n"
                           "研钻井19-2党支部,党支部,石油工程学院党委,b2@upc.demo.local\n")
    campaign = upc.publish("upc-zuzhishenghuo-2020.yaml")
    track = campaign["tracks"]["monthly_record"]
    assert track["rubric"] == [] and track["recurrence"]["first"] == "2020-03"  # collected, monthly

    # April's record, filed in April: taken, with a receipt
    april = record(upc, orgs["研钻井19-1党支部"], "2020-04-08", "研钻井19-1党支部4月组织生活")
    done = upc.submit(april["id"])
    assert done["receipt_no"].startswith("UPC-20200410-") and done["complete"] is True
    # March is over: its record is refused; May has not begun
    late = record(upc, orgs["研钻井19-2党支部"], "2020-03-20", "研钻井19-2党支部3月组织生活")
    r = upc("POST", f"/submissions/{late['id']}/submit")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "deadline_passed"), r.text
    early = record(upc, orgs["研钻井19-2党支部"], "2020-05-06", "研钻井19-2党支部5月组织生活")
    r = upc("POST", f"/submissions/{early['id']}/submit")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "period_not_open"), r.text

    # notify counts April: one of the two branches has filed this month's record
    feed = lambda: upc.progress(campaign["id"]).get(("monthly_record", "branch"))  # noqa: E731
    row = poll(lambda: (r := feed()) and r["works"]["submitted"] == 1 and r, timeout=30)
    assert (row["period"], row["orgs_expected"], row["orgs_submitted"]) == ("2020-04", 2, 1), row
    [receipt] = mail_to(platform, "b1@upc.demo.local", "【回执")
    assert done["receipt_no"] in receipt["subject"]

    # collected, never scored: no round for it in review
    review = ReviewAdmin(platform, upc.key)
    assert review.rounds() == {}

    # May: the row counts May's records, not April's
    move_clock(platform, "2020-05-12T09:00:00+08:00")  # the record refused in April is taken in its month
    may = upc.submit(early["id"])
    assert may["receipt_no"].startswith("UPC-20200512-")
    row = poll(lambda: (r := feed()) and r["period"] == "2020-05" and r, timeout=30)
    assert (row["orgs_expected"], row["orgs_submitted"], row["works"]["submitted"]) == (2, 1, 1), row
    assert review.rounds() == {}
    assert upc.work(april["id"])["result"] is None and upc.work(may["id"])["result"] is None


# --------------------------------------------------------------------------- 大连民族大学 2022 lockdown duties


def test_dlnu_collects_every_lockdown_register_and_report(platform):
    move_clock(platform, "2022-03-17T09:00:00+08:00")  # the notice is of 3/16; the registers close 3/20 and 3/31
    dlnu = Portal(platform, "dlnu")
    orgs = dlnu.import_orgs("计算机科学与工程学院党委,二级党组织,,cs@dlnu.demo.local\n"
                            "计算机学院学生第一党支部,党支部,计算机科学与工程学院党委,cs-s1@dlnu.demo.local\n")
    campaign = dlnu.publish("dlnu-fengkong-2022.yaml")
    assert set(campaign["tracks"]) == {"vanguard", "duty_log", "exemplar", "contingency_plan"}
    assert all(not t.get("rubric") for t in campaign["tracks"].values())  # nothing is scored: all collected
    branch, college = orgs["计算机学院学生第一党支部"], orgs["计算机科学与工程学院党委"]
    person = {"name": "王强", "post": "学生党员", "org": "计算机学院学生第一党支部"}

    works = {
        ("vanguard", "branch"): dlnu.draft(
            "dlnu-fengkong-2022", "vanguard", branch, title="计算机学院学生第一党支部党员先锋队", basis="branch",
            area="3号学生公寓", leader=[{"name": "刘洋", "post": "支部书记"}], members=[person, {"name": "陈晨"}],
            duties="值守公寓出入口，协助核酸检测，联系服务同学。", phone="0411-87656000"),
        ("duty_log", "branch"): dlnu.draft(
            "dlnu-fengkong-2022", "duty_log", branch, title="3月18日 3号公寓核酸检测秩序维护", served_on="2022-03-18",
            volunteers=[person], kind=["duty", "dormitory_visit"], summary="维持检测秩序两小时，走访寝室12间。"),
        ("exemplar", "branch"): dlnu.draft(
            "dlnu-fengkong-2022", "exemplar", branch, title="“校园先锋”王强", people=[person],
            story="封闭管理期间，王强同学主动请缨，连续十天值守公寓。"),
        ("exemplar", "level2"): dlnu.draft(
            "dlnu-fengkong-2022", "exemplar", college, title="学院教工党员志愿服务队", people=[{"name": "李老师"}],
            story="学院教工党员组成志愿服务队，为封闭管理中的学生配送物资。"),
        ("contingency_plan", "level2"): dlnu.draft(
            "dlnu-fengkong-2022", "contingency_plan", college, title="计算机科学与工程学院疫情防控工作预案",
            first_responsible=[{"name": "张院长", "post": "党委书记"}], campus_vanguards=[person],
            summary="先锋队伍到位，后勤保障到位，宣传引导到位，关爱防护到位，重点盯防到位。", phone="0411-87656001"),
    }
    plan = works[("contingency_plan", "level2")]["id"]
    dlnu.checked(dlnu.attach(plan, "document", "工作预案.pdf", document(platform, plan), "application/pdf"))
    receipts = {}
    for key, w in works.items():
        done = dlnu.submit(w["id"])
        assert done["complete"] is True and done["receipt_no"].startswith("DLNU-20220317-"), (key, done)
        receipts[key] = done["receipt_no"]

    # notify counts each track's works at each level, the org that owes it submitted
    def counted():
        rows = dlnu.progress(campaign["id"])
        return all(key in rows and rows[key]["works"]["submitted"] == 1 for key in works) and rows

    rows = poll(counted, timeout=30)
    assert {key: (rows[key]["orgs_expected"], rows[key]["orgs_submitted"]) for key in works} == {
        key: (1, 1) for key in works}
    assert len(mail_to(platform, "cs-s1@dlnu.demo.local", "【回执", count=3)) == 3
    college_receipts = mail_to(platform, "cs@dlnu.demo.local", "【回执", count=2)
    assert {receipts[("exemplar", "level2")], receipts[("contingency_plan", "level2")]} == {
        m["subject"].split("】")[0].removeprefix("【回执 ") for m in college_receipts}

    # the end its definition says: collected and listed, never put into a round, no result on any work
    assert ReviewAdmin(platform, dlnu.key).rounds() == {}
    assert all(dlnu.work(w["id"])["state"] == "submitted" and dlnu.work(w["id"])["result"] is None
               for w in works.values())
