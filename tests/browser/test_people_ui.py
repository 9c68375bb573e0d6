"""People, roles and signing in across the platform, in a real browser (issue #15, its "Proof").

Debian's chromium, headless, driven by Playwright in a subprocess (drive_people.py), against all four
services as processes. Two universities: 武汉科技大学 (wust), whose campaign routes 教育素材 and 成果宣传报道
to 党委宣传部, and 东南大学 (seu). Their portals submit works over the API before any test, so review
holds rounds at both levels (a college's 院级评审 of its branches' works, the university's 校级评审) and
notify counts progress per track. Then, one test each:

1. a university's owner, its 宣传部 admin and a 院系 admin, each invited over the API, set a password
   from the mailed link and sign in (the first two with a TOTP code from the secret the page shows);
   review's home page and notify's dashboard show each of them only their scope;
2. the 院系 admin runs the college's round in the browser: settings, an expert, assignment,
   invitation; the expert scores from the mailed link; the admin closes and selects;
3. an expert reviewing for both universities signs in once with an e-mailed sign-in link and works
   both rounds from one task list;
4. single sign-on through the university's own OpenID Connect provider;
5. signing out at intake ends the person's sessions at review and notify.

The services keep running for the whole module (starting them costs more than every test): each test
works with people and rounds of its own, and asserts only what its own people see.
"""
from __future__ import annotations

import hashlib
import json
import mailbox
import re
import subprocess
import sys
import uuid
from contextlib import contextmanager
from email.header import decode_header, make_header

import pytest
import requests

from tests.conftest import AMQP_BASE, RABBIT_API, ROOT
from tests.e2e.test_round_trip import poll
from tests.platform import CLOCK, move_clock, running_platform
from tests.signin import form_token, sign_in

PASSWORD = "红旗飘飘党建引领2020"
UNIVERSITIES = {"wust": "武汉科技大学", "seu": "东南大学"}
# 名称,层级,上级组织,邮箱: two colleges with a branch each at WUST, one college at SEU
ORGS = {
    "wust": [("计算机科学与技术学院党委", "二级党组织", "", "cs@wust.demo.local"),
             ("计算机学院学生第一党支部", "党支部", "计算机科学与技术学院党委", "cs1@wust.demo.local"),
             ("机械自动化学院党委", "二级党组织", "", "me@wust.demo.local"),
             ("机械学院教工党支部", "党支部", "机械自动化学院党委", "me1@wust.demo.local")],
    "seu": [("经济管理学院党委", "二级党组织", "", "em@seu.demo.local")],
}
CS, CS_BRANCH, ME, ME_BRANCH = (row[0] for row in ORGS["wust"])
# the rounds the seed puts into review (titles as review names them)
CS_REPORTS = f"{CS} · 成果宣传报道 · 院级评审"  # never made: a report has nothing to score, it is collected
CS_LECTURES = f"{CS} · 专题微党课 · 院级评审"
ME_LECTURES = f"{ME} · 专题微党课 · 院级评审"
WUST_MATERIAL = "武汉科技大学 · 教育素材 · 校级评审"
WUST_STORIES = "武汉科技大学 · 战疫故事汇 · 校级评审"
WUST_LECTURES = "武汉科技大学 · 专题微党课 · 校级评审"
SEU_STORIES = "东南大学 · 战疫故事汇 · 校级评审"


# --------------------------------------------------------------------------- the platform


@contextmanager
def broker_vhost():
    """A RabbitMQ vhost of the module's own (the shared amqp_uri fixture lives one test)."""
    vhost = f"test-people-{uuid.uuid4().hex[:12]}"
    api = RABBIT_API.rstrip("/")
    requests.put(f"{api}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/api/permissions/{vhost}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
    try:
        yield f"{AMQP_BASE}/{vhost}"
    finally:
        requests.delete(f"{api}/api/vhosts/{vhost}", timeout=10)


class Portal:
    """A university's portal (its API key) on intake's API."""

    def __init__(self, base: str, key: str):
        self.base, self.http = base.rstrip("/") + "/api/v1", requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def __call__(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=30, **kw)

    def ok(self, method: str, path: str, **kw) -> dict:
        r = self(method, path, **kw)
        assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text[:800]}"
        return r.json()

    def org_ids(self) -> dict[str, str]:
        return {o["name"]: o["id"] for o in self.ok("GET", "/orgs", params={"per_page": 100})["items"]}

    def work(self, org: str, campaign: str, track: str, **fields) -> dict:
        """A work created and its (first) stage submitted."""
        work = self.ok("POST", "/submissions", json={"campaign_id": campaign, "track": track, "org_id": org,
                                                      "fields": fields})
        return self.ok("POST", f"/submissions/{work['id']}/submit")

    def invite(self, name: str, email: str, *grants: dict) -> dict:
        return self.ok("POST", "/accounts", json={"name": name, "email": email, "grants": list(grants)})


def seed(platform) -> dict:
    """The org trees, and works that put rounds at both levels into review; the org ids by name."""
    from tests import media_fixtures

    portals = {slug: Portal(platform["urls"]["intake"], key) for slug, key in platform["keys"].items()}
    orgs = {}
    for slug, rows in ORGS.items():
        csv = "名称,层级,上级组织,邮箱\n" + "".join(",".join(r) + "\n" for r in rows)
        portals[slug].ok("POST", "/orgs/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
        orgs.update(portals[slug].org_ids())
    wust, campaign = portals["wust"], "siyige-2020-wust"
    # reports are collected and listed, never scored: they make no round
    for branch in (CS_BRANCH, ME_BRANCH):
        wust.work(orgs[branch], campaign, "report", title=f"{branch}筑牢红色防火墙", url="https://mp.weixin.qq.com/s/demo",
                  platform="wechat")
    wust.work(orgs[CS], campaign, "story", title=f"{CS}党员突击队的故事", text="党员突击队连夜驰援社区，守护师生平安。")
    portals["seu"].work(orgs["经济管理学院党委"], "siyige-2020-seu", "story", title="经济管理学院党委战疫故事",
                        text="疫情期间，经管学院的党员志愿者坚守校门三个月，无一人请假。")
    # a branch's work sits in its college's round (院级评审), with a rubric: each branch's 微党课, registered,
    # then its video checked by media
    video = media_fixtures.make_lecture_ok(platform["logs"]).read_bytes()
    for branch, lecturer in ((CS_BRANCH, "李书记"), (ME_BRANCH, "王书记")):
        lecture = wust.work(orgs[branch], campaign, "lecture", title="让党旗在防控疫情斗争第一线高高飘扬",
                            lecturers=[lecturer], planned_date="2020-06-25", theme="让党旗在防控疫情斗争第一线高高飘扬",
                            held_on="2020-06-28", mode="online")
        ticket = wust.ok("POST", f"/submissions/{lecture['id']}/files", json={
            "kind": "video", "filename": f"{lecturer}微党课.mp4", "size": len(video),
            "sha256": hashlib.sha256(video).hexdigest(), "content_type": "video/mp4"})
        assert requests.put(ticket["upload"]["url"], data=video, timeout=60).status_code == 200
        file_id = ticket["file"]["id"]
        wust.ok("POST", f"/files/{file_id}/complete")
        poll(lambda f=file_id: wust.ok("GET", f"/files/{f}")["check"]["verdict"] == "passed", timeout=90)
        assert wust.ok("POST", f"/submissions/{lecture['id']}/submit")["complete"] is True
    # the material collection opens 「秋季开学后」 (9/1): the rehearsal's clock goes there for it, and back
    move_clock(platform, "2020-09-10T10:00:00+08:00")
    wust.work(orgs[CS], campaign, "material", title=f"{CS}战疫素材汇编", form="article")
    move_clock(platform, CLOCK)
    return orgs


def rounds_of_key(platform, tenant: str) -> dict[str, str]:
    """Review's rounds as the university's key sees them: title -> round id."""
    base = platform["urls"]["review"]
    web, _ = sign_in(base, platform["keys"][tenant])
    html = web.get(base + "/", timeout=10).text
    return {title: rid for rid, title in re.findall(r'<a href="/rounds/([0-9a-f]+)">([^<]+)</a>', html)}


def staff_round(platform, tenant: str, title: str, expert: str, email: str) -> None:
    """The university's admin (its key, over HTTP) adds an expert to a round, one per work, and assigns."""
    base = platform["urls"]["review"]
    round_id = poll(lambda: rounds_of_key(platform, tenant).get(title), timeout=30)
    web, _ = sign_in(base, platform["keys"][tenant])
    token = form_token(web.get(f"{base}/rounds/{round_id}", timeout=10).text)
    for path, data in (("settings", {"reviewers_per_work": "1"}), ("reviewers", {"name": expert, "email": email}),
                       ("assign", {})):
        r = web.post(f"{base}/rounds/{round_id}/{path}", data={"csrf_token": token, **data}, timeout=30)
        assert r.status_code == 200 and 'class="error"' not in r.text, (path, r.status_code, r.text[:1000])


# --------------------------------------------------------------------------- mail, the browser, people


def mail_to(platform, address: str, subject_part: str) -> dict:
    """The newest mail to `address` whose subject has `subject_part`, waiting for notify to send it."""
    def found():
        box = mailbox.Maildir(platform["data"] / "mailbox", create=False)
        mails = [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))),
                  "body": m.get_payload(decode=True).decode("utf-8")} for m in box]
        return [m for m in mails if address in m["to"] and subject_part in m["subject"]]
    return poll(found, timeout=30)[-1]


def link_in(mail: dict, path: str) -> str:
    return re.search(rf"http://\S+{path}\S+", mail["body"]).group(0)


def drive(platform, action: str, **args) -> dict:
    """One step in the browser (drive_people.py); screenshots go to the module's folder."""
    args.setdefault("shots", str(platform["logs"] / "shots"))
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "browser" / "drive_people.py"), action,
                           json.dumps(args, ensure_ascii=False)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# who: (university that invites, name, e-mail, grant); an org grant names its org, the id found at invitation
PEOPLE = {
    "owner": ("wust", "张书记", "owner@wust.edu.cn", {"role": "owner"}),
    "propaganda": ("wust", "王宣传", "xc@wust.edu.cn", {"role": "department_admin", "department": "propaganda"}),
    "college": ("wust", "陈院长", "chen@wust.edu.cn", {"role": "org_admin", "org": CS}),
    "expert": ("seu", "李专家", "li.expert@example.edu.cn", {"role": "expert"}),
    "organisation": ("seu", "周组织", "zhou@seu.edu.cn", {"role": "department_admin", "department": "organisation"}),
}


class People:
    """The module's people, each invited over the API and signed in once, whichever test needs them first."""

    def __init__(self, platform, orgs: dict[str, str]):
        self.platform, self.orgs, self.done = platform, orgs, {}
        self.states = platform["logs"] / "states"
        self.states.mkdir(exist_ok=True)

    def invite(self, who: str) -> dict:
        """Invited by their university's key (the API knows no person yet); the mail and the password set."""
        tenant, name, email, grant = PEOPLE[who]
        grant = dict(grant)
        if "org" in grant:
            grant["org_id"] = self.orgs[grant.pop("org")]
        portal = Portal(self.platform["urls"]["intake"], self.platform["keys"][tenant])
        account = portal.invite(name, email, grant)
        mail = mail_to(self.platform, email, "【账号邀请】")
        accepted = drive(self.platform, "accept-invitation", url=link_in(mail, "/invitations/"), password=PASSWORD, name=who)
        return {"account": account, "mail": mail, "accepted": accepted}

    def state(self, who: str) -> str:
        return str(self.states / f"{who}.json")

    def signed_in(self, who: str) -> dict:
        """Invited, then signed in with the password (enrolling a second factor where the role needs one)."""
        if who not in self.done:
            invited = self.invite(who)
            seen = drive(self.platform, "sign-in", intake=self.platform["urls"]["intake"], email=PEOPLE[who][2],
                         password=PASSWORD, name=who, state=self.state(who))
            self.done[who] = {**invited, "sign_in": seen}
        return self.done[who]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    folder = tmp_path_factory.mktemp("people-ui")
    with broker_vhost() as amqp_uri, running_platform(folder, amqp_uri, UNIVERSITIES, SSO_ALLOW_HOSTS="127.0.0.1") as running:
        running["orgs"] = seed(running)
        # every round the seed makes is in review before any test looks
        poll(lambda: {CS_LECTURES, ME_LECTURES, WUST_MATERIAL, WUST_STORIES} <= set(rounds_of_key(running, "wust"))
             and SEU_STORIES in rounds_of_key(running, "seu"), timeout=60)
        yield running


@pytest.fixture(scope="module")
def people(platform):
    return People(platform, platform["orgs"])


def wust_rounds(rounds: list[str]) -> set[str]:
    return {r for r in rounds if not r.startswith("东南大学")}


# --------------------------------------------------------------------------- 1. each sees their own scope


def test_an_owner_a_department_admin_and_a_college_admin_each_see_only_their_scope(platform, people):
    intake = platform["urls"]["intake"]
    # the owner: invited over the API, a password from the mail, the second factor enrolled at the first sign-in
    owner = people.signed_in("owner")
    assert owner["mail"]["subject"] == "【账号邀请】武汉科技大学邀请您使用四个一行动平台"
    assert "单位管理员" in owner["mail"]["body"] and "张书记同志" in owner["mail"]["body"]
    assert owner["accepted"]["notice"] == "张书记，您的账号 owner@wust.edu.cn 已启用。"
    first = owner["sign_in"]
    assert first["enrolled"] and re.fullmatch(r"[A-Z2-7]{16,}", first["secret"])
    assert first["name"] == "张书记" and first["grants"] == [["武汉科技大学", "单位管理员"]]
    assert "已启用" in first["html"]
    # next time, in another browser: the password, then a code from the authenticator (not the one just used)
    again = drive(platform, "sign-in", intake=intake, email="owner@wust.edu.cn", password=PASSWORD, name="owner-again",
                  secret=first["secret"], last_step=first["step"], state=people.state("owner-again"))
    assert again["enrolled"] is False and again["step"] > first["step"] and again["name"] == "张书记"

    # the owner invites the 宣传部 admin and a 院系 admin (over the API: with the university's key)
    propaganda = people.signed_in("propaganda")
    assert "部门管理员" in propaganda["mail"]["body"]
    assert propaganda["sign_in"]["enrolled"]  # a department admin must have a second factor too
    assert propaganda["sign_in"]["grants"] == [["武汉科技大学", "部门管理员（党委宣传部）"]]
    college = people.signed_in("college")
    assert "enrolled" not in college["sign_in"]  # an org admin signs in with the password alone
    assert college["sign_in"]["grants"] == [["武汉科技大学", f"组织管理员（{CS}）"]]

    # review: the rounds of each one's scope, and no other university's
    seen = {who: drive(platform, "review-home", intake=intake, name=who, state=people.state(who))
            for who in ("owner", "propaganda", "college")}
    for who, page in seen.items():
        assert page["h1"] == "武汉科技大学 · 评审轮次" and page["who"] == [PEOPLE[who][1]], page
        assert not [r for r in page["rounds"] if r.startswith("东南大学")], page["rounds"]
    assert {CS_LECTURES, ME_LECTURES, WUST_MATERIAL, WUST_STORIES} <= wust_rounds(seen["owner"]["rounds"])
    assert CS_REPORTS not in seen["owner"]["rounds"]  # collected, not scored
    assert seen["owner"]["scopes"] == ["您的权限：单位管理员。下面只列出这些权限范围内的轮次。"]
    # 宣传部: the tracks WUST routes to it (教育素材, 成果宣传报道), at every level; nothing of 组织部's
    assert set(seen["propaganda"]["rounds"]) == {WUST_MATERIAL}
    assert seen["propaganda"]["scopes"] == ["您的权限：部门管理员（党委宣传部）。下面只列出这些权限范围内的轮次。"]
    # 院系: its own college's rounds of its branches' works; not the other college's, not the university's
    assert set(seen["college"]["rounds"]) == {CS_LECTURES}
    assert seen["college"]["scopes"] == [f"您的权限：组织管理员（{CS}）。下面只列出这些权限范围内的轮次。"]

    # notify: the owner every track of WUST, 宣传部 its two tracks; an org admin opens nothing there (by design:
    # progress is counted per university and track, never per org) and is told so
    dashboards = {who: drive(platform, "notify-dashboard", intake=intake, name=who, state=people.state(who))
                  for who in ("owner", "propaganda", "college")}
    assert dashboards["owner"]["h1"] == "武汉科技大学进度"
    assert set(dashboards["owner"]["tracks"]) == {"专题微党课", "战疫故事汇", "组织生活会情况", "教育素材", "成果宣传报道",
                                                  "红色防火墙台账"}  # WUST's own register
    assert dashboards["propaganda"]["h1"] == "武汉科技大学党委宣传部进度"
    assert dashboards["propaganda"]["tracks"] == ["教育素材", "成果宣传报道"]
    assert dashboards["propaganda"]["track_choices"] == ["全部", "教育素材", "成果宣传报道"]
    assert dashboards["owner"]["linked"] and dashboards["propaganda"]["linked"]
    assert not dashboards["college"]["linked"]  # intake's home page does not offer what would only say no
    assert dashboards["college"]["tracks"] == [] and dashboards["college"]["h1"] == "登录进度看板"
    assert dashboards["college"]["error"] == [
        "陈院长（chen@wust.edu.cn）在本系统没有可用的角色。如需使用，请向本单位管理员申请。"]


# --------------------------------------------------------------------------- 2. a college runs its own round


def test_a_college_admin_runs_the_colleges_round_and_an_expert_scores_from_the_mailed_link(platform, people):
    intake = platform["urls"]["intake"]
    people.signed_in("college")
    staffed = drive(platform, "run-round", intake=intake, title=CS_LECTURES, expert="赵评委",
                    email="zhao.expert@example.edu.cn", name="college", state=people.state("college"))
    assert staffed["reviewers"] == ["赵评委"]

    invite = mail_to(platform, "zhao.expert@example.edu.cn", "【评审邀请】")
    seen = drive(platform, "reviewer", review=platform["urls"]["review"], link=link_in(invite, "/sign-in/"), name="zhao")
    assert seen["done"] == "1" and seen["total"] == "85.50"  # (9·40 + 8.5·30 + 8·30) / 10
    assert seen["duration"] > 1
    for html in (seen["queue_html"], seen["work_html"]):  # blind: no lecturer, branch, college or university
        for secret in ("李书记", CS_BRANCH, CS, "计算机学院", "武汉科技大学"):
            assert secret not in html, secret

    chosen = drive(platform, "close-and-select", intake=intake, title=CS_LECTURES, name="college",
                   state=people.state("college"))
    assert chosen["rows"] == 1 and chosen["first_checked"] and "已确认" in chosen["status"]
    # intake forwards the work to the university: it enters WUST's own round, which the owner sees and the
    # college's admin does not; the branch is told
    poll(lambda: WUST_LECTURES in rounds_of_key(platform, "wust"), timeout=30)
    after = drive(platform, "review-home", intake=intake, name="college-after", state=people.state("college"))
    assert set(after["rounds"]) == {CS_LECTURES}
    result = mail_to(platform, "cs1@wust.demo.local", "评审结果")
    assert "入选" in result["subject"]


# --------------------------------------------------------------------------- 3. one expert, two universities


def test_an_expert_of_two_universities_signs_in_once_by_mailed_link_and_works_both_rounds(platform, people):
    intake = platform["urls"]["intake"]
    # each university's admin puts the expert into its round, under the same address (typed differently)
    staff_round(platform, "seu", SEU_STORIES, "李专家", "Li.Expert@Example.edu.cn")
    staff_round(platform, "wust", WUST_STORIES, "李明", "li.expert@example.edu.cn")
    # SEU gives the expert an account (an expert grant); they set a password once, and then need none
    invited = people.invite("expert")
    assert "评审专家" in invited["mail"]["body"]

    asked = drive(platform, "request-sign-in-link", intake=intake, email="li.expert@example.edu.cn", name="expert")
    assert "li.expert@example.edu.cn" in asked["notice"]
    mail = mail_to(platform, "li.expert@example.edu.cn", "【平台登录链接】")
    link = link_in(mail, "/sign-in/link/")
    home = drive(platform, "use-sign-in-link", url=link, name="expert", state=people.state("expert"))
    assert home["name"] == "李专家" and home["grants"] == [["东南大学", "评审专家"]]
    gone = requests.get(link.replace("localhost", "127.0.0.1"), timeout=10)
    assert gone.status_code != 200 and "无法使用此链接" in gone.text  # used once: it signs no one in again

    tasks = drive(platform, "work-tasks", intake=intake, name="expert", state=people.state("expert"))
    assert tasks["url"].endswith("/tasks")  # an expert administers nothing: review shows the task list
    assert tasks["rounds_before"] == ["战疫故事汇 · 校级评审"] * 2  # blind: the round's owner is not named
    assert sorted(s["title"] for s in tasks["scored"]) == ["〔已隐去〕党员突击队的故事", "〔已隐去〕战疫故事"]
    assert all(s["total"] == "80.00" for s in tasks["scored"]) and tasks["done"] == ["1", "1"]
    for secret in ("东南大学", "武汉科技大学", "经济管理学院", CS):
        assert secret not in tasks["html"], secret
    # each university's admin sees the expert's score in its own round
    for tenant, title in (("seu", SEU_STORIES), ("wust", WUST_STORIES)):
        base = platform["urls"]["review"]
        web, _ = sign_in(base, platform["keys"][tenant])
        page = web.get(f"{base}/rounds/{rounds_of_key(platform, tenant)[title]}", timeout=10).text
        assert "li.expert@example.edu.cn" in page and '<strong id="progress">1 / 1</strong>' in page, tenant


# --------------------------------------------------------------------------- 4. single sign-on


def test_a_person_signs_in_through_the_universitys_own_identity_provider(platform, people):
    from tests.oidc_provider import Client, running_provider

    intake, secret = platform["urls"]["intake"], "seu-sso-secret-0123456789-abcdefghij"
    seu = Portal(intake, platform["keys"]["seu"])
    with running_provider(platform["logs"], [Client("intake-seu", secret, [f"{intake}/sso/seu/callback"])]) as provider:
        seu.ok("PUT", "/sso", json={"issuer": provider.issuer, "client_id": "intake-seu", "client_secret": secret,
                                    "scopes": ["openid", "email", "profile", "staff"],
                                    "grant_rules": [{"claim": "staff_no", "value": "2020001", "role": "viewer"}]})
        home = drive(platform, "single-sign-on", intake=intake, button="东南大学统一身份认证", account="t001",
                     name="sso", state=people.state("sso"))
        # 王老师 (t001, staff number 2020001) had no account: the rule made one, a viewer of SEU
        assert home["provider_page"].startswith(provider.issuer + "/interaction/")
        assert home["name"] == "王老师" and home["grants"] == [["东南大学", "查看者"]]
        [account] = seu.ok("GET", "/accounts", params={"q": "wang@seu.edu.cn"})["items"]
        assert account["state"] == "active" and [g["role"] for g in account["grants"]] == ["viewer"]
        dashboard = drive(platform, "notify-dashboard", intake=intake, name="sso", state=people.state("sso"))
        assert dashboard["h1"] == "东南大学进度" and "战疫故事汇" in dashboard["tracks"]
        seu.ok("DELETE", "/sso")


# --------------------------------------------------------------------------- 5. signing out ends every session


def test_signing_out_at_intake_ends_the_review_and_notify_sessions(platform, people):
    person = people.signed_in("organisation")
    assert person["sign_in"]["enrolled"]
    for place in ("review-home", "notify-dashboard"):  # sessions opened there from intake's tickets
        drive(platform, place, intake=platform["urls"]["intake"], name="organisation", state=people.state("organisation"))
    out = drive(platform, "sign-out-everywhere", intake=platform["urls"]["intake"], review=platform["urls"]["review"],
                notify=platform["urls"]["notify"], name="organisation", state=people.state("organisation"))
    assert out["before"]["review"]["h1"] == "东南大学 · 评审轮次"
    assert out["before"]["notify"]["h1"] == "东南大学党委组织部进度"
    assert out["intake_after"].endswith("/sign-in")
    # their cookies are still in the browser: the sign-in pages mean the sessions ended at review and notify
    assert {"review_session", "notify_session"} <= set(out["cookies_after"])
    for where in ("review", "notify"):
        assert out["after"][where]["sign_in_form"], out["after"][where]
    assert out["after"]["review"]["h1"] == "登录" and out["after"]["notify"]["h1"] == "登录进度看板"
    assert "已退出" in out["after"]["notify"]["error"][0]  # notify says why; review shows its sign-in page alone
