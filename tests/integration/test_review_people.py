"""Review's pages for people signed in on the platform (issue #15), against a real RabbitMQ.

Intake signs a person in and its page posts a one-minute ticket to review's `/sign-in/ticket`. Here the
tickets are minted with common.handoff and the service's own web secret, exactly as intake's page does,
and posted without an Origin (a script) or with intake's. What is proved: only intake's pages may post
one, each opens one session, forged and expired ones open none; each admin sees and acts on the rounds
of their grants only (the rest answers 404 word for word as a missing round); an expert has one task list
across universities and scores in each; intake's `account_sessions_ended` signs the person out of review.
"""
import hashlib
import re
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from common import handoff
from common.events import make_event
from common.web import web_secret
from tests.conftest import wait_until
from tests.integration.test_review_service import (  # noqa: F401  (review is a fixture)
    ADMIN_KEY,
    INTAKE,
    ORG_NAMES,
    OTHER_KEY,
    admin,
    campaign_event,
    csrf,
    outbox,
    publish,
    review,
)
from tests.signin import redeem, sign_in

SEU_BRANCHES = {"b-cse-1": ("计算机学院教工第一党支部", "o-cse"), "b-me-1": ("机械学院学生第二党支部", "o-me")}
WUST_ORGS = {"w-res": "资源与环境工程学院党委"}
EXPERT_EMAIL = "expert.li@example.edu.cn"
MARKS = {"mark_thought": "8", "mark_appeal": "7", "mark_form": "9"}  # the story rubric


def submitted(tenant, org_id, org_name, org_level, track="story", parent=None, n=1):
    title = f"{org_name}的作品{n}"
    return make_event("submission_submitted", tenant, {
        "submission_id": f"{tenant}-{org_id}-{track}-{n}", "campaign_id": f"siyige-2020-{tenant}", "track": track,
        "stage": "submission", "final_stage": True, "org_id": org_id, "org_name": org_name, "org_level": org_level,
        "title": title, "receipt_no": f"R-{org_id}-{track}-{n}", "submitted_at": "2020-07-14T02:00:00+00:00",
        "file_ids": [], "fields": {"title": title, "text": "抗疫一线的党员教师坚守岗位。"}, "parent_org_id": parent})


def orgs(tenant, name, rows):
    return make_event("orgs_imported", tenant, {"tenant_name": name, "orgs": [
        {"org_id": oid, "name": n, "level": level, "parent_id": parent, "contact_email": None}
        for oid, (n, level, parent) in rows.items()]})


@pytest.fixture
def world(review):
    """东南大学: a university story round and two colleges' level-2 rounds; 武汉科技大学: a story and a material round."""
    from services.review.models import CampaignCopy, OrgCopy, Round

    store = review["store"]
    seu_tree = {oid: (name, "level2", None) for oid, name in ORG_NAMES.items()}
    seu_tree.update({oid: (name, "branch", parent) for oid, (name, parent) in SEU_BRANCHES.items()})
    publish(review["amqp"], INTAKE, campaign_event("siyige-2020-wust", "wust"), orgs("seu", "东南大学", seu_tree),
            orgs("wust", "武汉科技大学", {oid: (name, "level2", None) for oid, name in WUST_ORGS.items()}))

    def copies_in():
        with store.transaction() as s:
            return s.get(CampaignCopy, "siyige-2020-wust") and s.get(OrgCopy, "b-cse-1") and s.get(OrgCopy, "w-res")

    wait_until(copies_in, timeout=20, what="WUST's campaign and both org trees")
    publish(review["amqp"], INTAKE,
            submitted("seu", "o-cse", ORG_NAMES["o-cse"], "level2"), submitted("seu", "o-me", ORG_NAMES["o-me"], "level2"),
            *(submitted("seu", oid, name, "branch", parent=parent) for oid, (name, parent) in SEU_BRANCHES.items()),
            submitted("wust", "w-res", WUST_ORGS["w-res"], "level2"),
            submitted("wust", "w-res", WUST_ORGS["w-res"], "level2", track="material"))
    names = {("seu", "story", "university", ""): "seu_story", ("seu", "story", "level2", "o-cse"): "seu_cse",
             ("seu", "story", "level2", "o-me"): "seu_me", ("wust", "story", "university", ""): "wust_story",
             ("wust", "material", "university", ""): "wust_material"}

    def rounds():
        with store.transaction() as s:
            found = {names[(r.tenant, r.track, r.level, r.owner_org_id)]: r.id for r in s.scalars(select(Round))}
        return found if len(found) == len(names) else None

    ids = wait_until(rounds, timeout=20, what="the five rounds")
    wait_until(lambda: _entries_in_rounds(store) == 6, what="the six works in their rounds")
    return {**review, "rounds": ids, "config": review["container"].config}


def _entries_in_rounds(store) -> int:
    from services.review.models import Entry

    with store.transaction() as s:
        return len(s.scalars(select(Entry).where(Entry.round_id.is_not(None))).all())


# --------------------------------------------------------------------------- people and their tickets


def grant(tenant, role, department=None, org_id=None):
    kind, name = {"seu": ("university", "东南大学"), "wust": ("university", "武汉科技大学"),
                  "moe": ("ministry", "教育部")}[tenant]
    return {"tenant": tenant, "tenant_kind": kind, "tenant_name": name, "role": role, "department": department,
            "org_id": org_id}


def person(name, email, *grants):
    return {"account_id": uuid.uuid4().hex, "name": name, "email": email, "grants": list(grants)}


def intake_session(label: str) -> str:
    """What intake puts in a ticket for one of its sessions (a hash, never the cookie)."""
    return hashlib.sha256(label.encode()).hexdigest()


def ticket(world, who, *, session=None, service="review", secret=None, now=None, expires_in=3600):
    return handoff.issue_ticket(secret or web_secret(world["config"]), service, account_id=who["account_id"],
                                name=who["name"], email=who["email"], grants=who["grants"],
                                session=session or intake_session(who["account_id"]),
                                session_expires=(now or time.time()) + expires_in, now=now)


def post_ticket(base, token, web=None, **headers):
    web = web or requests.Session()
    r = web.post(f"{base}/sign-in/ticket", data={handoff.TICKET_FIELD: token}, headers=headers,
                 allow_redirects=False, timeout=10)
    return web, r


def signed_in(world, who, **kw) -> requests.Session:
    web, r = post_ticket(world["base"], ticket(world, who, **kw))
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text[:500]
    return web


OWNER = person("王书记", "wang@seu.edu.cn", grant("seu", "owner"))
WUST_PROPAGANDA = person("张部长", "zhang@wust.edu.cn", grant("wust", "department_admin", department="propaganda"))
CSE_ADMIN = person("刘老师", "liu@seu.edu.cn", grant("seu", "org_admin", org_id="o-cse"))


# --------------------------------------------------------------------------- signing in


def test_a_ticket_from_intakes_pages_opens_one_session_and_nothing_else_does(world):
    base, config = world["base"], world["config"]
    page = requests.get(f"{base}/sign-in", timeout=10).text
    assert f'href="{config["INTAKE_PUBLIC_URL"]}/sign-in?to=review"' in page and "使用平台账号登录" in page

    token = ticket(world, OWNER)
    # Another site's page may not sign anyone in (login CSRF): refused before the ticket is read.
    web, r = post_ticket(base, token, Origin="https://evil.example")
    assert r.status_code == 403 and "请求来自其他网站" in r.text and "review_session" not in r.headers.get("Set-Cookie", "")
    # Intake's page may; the same ticket then opens a session, once.
    web, r = post_ticket(base, token, Origin=config["INTAKE_PUBLIC_URL"])
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert web.get(f"{base}/", timeout=10).status_code == 200
    again, r = post_ticket(base, token)
    assert r.status_code == 403 and "已使用过" in r.text
    assert again.get(f"{base}/", allow_redirects=False, timeout=10).headers["Location"] == "/sign-in"

    forged = ticket(world, OWNER, secret=b"not-the-secret")
    for bad in (forged, "garbage", token[:-4] + "AAAA", ticket(world, OWNER, service="notify"),
                ticket(world, OWNER, now=time.time() - 120)):  # expired a minute ago
        stranger, r = post_ticket(base, bad)
        assert r.status_code == 401 and "无效或已过期" in r.text, bad
        assert stranger.get(f"{base}/", allow_redirects=False, timeout=10).headers["Location"] == "/sign-in"
    # A ticket of an intake session that already ended opens nothing either.
    stranger, r = post_ticket(base, ticket(world, OWNER, expires_in=-5))
    assert r.status_code == 401


@pytest.mark.parametrize("grants", [
    [grant("seu", "viewer")], [grant("seu", "viewer", org_id="o-cse")], []], ids=["viewer", "org-viewer", "no-role"])
def test_a_person_with_no_role_in_review_is_refused(world, grants):
    who = person("赵老师", "zhao@seu.edu.cn", *grants)
    web, r = post_ticket(world["base"], ticket(world, who))
    assert r.status_code == 403 and "没有可用的角色" in r.text and "zhao@seu.edu.cn" in r.text
    r = web.get(f"{world['base']}/rounds/{world['rounds']['seu_story']}", allow_redirects=False, timeout=10)
    assert r.status_code == 401


# --------------------------------------------------------------------------- admins within their scope


def _post_paths(round_id: str) -> dict[str, dict]:
    """Every admin action on a round, with a form that would change something."""
    return {
        f"/rounds/{round_id}/settings": {"reviewers_per_work": "2"},
        f"/rounds/{round_id}/reviewers": {"name": "闯入者", "email": "intruder@example.cn"},
        f"/rounds/{round_id}/reviewers/import": {},
        f"/rounds/{round_id}/reviewers/{'0' * 32}/remove": {},
        f"/rounds/{round_id}/assign": {},
        f"/rounds/{round_id}/assignments": {"reviewer_id": "x", "submission_id": "y"},
        f"/rounds/{round_id}/assignments/{'0' * 32}/remove": {},
        f"/rounds/{round_id}/conflicts": {"reviewer_id": "x", "submission_id": "y"},
        f"/rounds/{round_id}/invite": {},
        f"/rounds/{round_id}/close": {},
        f"/rounds/{round_id}/reopen": {},
        f"/rounds/{round_id}/selection": {"selected": []},
    }


def _round_row(world, round_id):
    from services.review.models import Reviewer, Round

    with world["store"].transaction() as s:
        rnd = s.get(Round, round_id)
        reviewers = s.scalars(select(Reviewer.email).where(Reviewer.round_id == round_id)).all()
        return rnd.reviewers_per_work, rnd.state, sorted(reviewers)


@pytest.mark.parametrize("who, mine", [
    (OWNER, {"seu_story", "seu_cse", "seu_me"}),
    (WUST_PROPAGANDA, {"wust_material"}),  # 武汉科技大学 routes material to 宣传部, story to 组织部
    (CSE_ADMIN, {"seu_cse"}),  # its college's round of its branches' works, not the university's
], ids=["seu-owner", "wust-propaganda", "seu-college-admin"])
def test_an_admin_sees_and_acts_on_the_rounds_of_their_scope_only(world, who, mine):
    base, ids = world["base"], world["rounds"]
    web = signed_in(world, who)
    home = web.get(f"{base}/", timeout=10)
    assert home.status_code == 200 and "评审轮次" in home.text and who["name"] in home.text
    assert set(re.findall(r'href="/rounds/([0-9a-f]{32})"', home.text)) == {ids[k] for k in mine}
    assert 'id="tasks-link"' not in home.text  # not an expert
    token = csrf(home.text)
    missing = web.get(f"{base}/rounds/{'f' * 32}", timeout=10)
    assert missing.status_code == 404
    for name, round_id in ids.items():
        page = web.get(f"{base}/rounds/{round_id}", timeout=10)
        if name in mine:
            assert page.status_code == 200, name
            assert web.get(f"{base}/rounds/{round_id}/ranking", timeout=10).status_code == 200
            assert web.get(f"{base}/rounds/{round_id}/export.xlsx", timeout=10).status_code == 200
            continue
        # outside the scope: exactly what a missing round answers, for every page and every action
        assert (page.status_code, page.text) == (404, missing.text.replace("f" * 32, round_id)), name
        for path in ("ranking", "export.xlsx"):
            assert web.get(f"{base}/rounds/{round_id}/{path}", timeout=10).status_code == 404, (name, path)
        before = _round_row(world, round_id)
        for path, form in _post_paths(round_id).items():
            r = web.post(f"{base}{path}", data={**form, "csrf_token": token}, allow_redirects=False, timeout=10)
            assert r.status_code == 404, (name, path, r.status_code)
        assert _round_row(world, round_id) == before, name
    # and within it, the person acts: a setting saved, a reviewer added
    round_id = ids[sorted(mine)[0]]
    r = web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 303
    web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": "专家甲",
                                                         "email": "jia@example.edu.cn"}, timeout=10)
    assert _round_row(world, round_id)[0] == 2 and "jia@example.edu.cn" in _round_row(world, round_id)[2]


def test_a_person_with_grants_in_two_tenants_sees_each_tenants_rounds_under_its_name(world):
    ids = world["rounds"]
    who = person("陈老师", "chen@seu.edu.cn", grant("seu", "org_admin", org_id="o-me"),
                 grant("wust", "department_admin", department="organisation"))
    page = signed_in(world, who).get(f"{world['base']}/", timeout=10).text
    assert set(re.findall(r'href="/rounds/([0-9a-f]{32})"', page)) == {ids["seu_me"], ids["wust_story"]}
    seu, wust = page.index('id="tenant-seu"'), page.index('id="tenant-wust"')
    assert page.index(ids["seu_me"]) in range(seu, wust) and page.index(ids["wust_story"]) > wust
    assert "组织管理员（机械工程学院党委）" in page and "部门管理员（党委组织部）" in page


def test_key_signed_admins_keep_every_round_of_their_university(world):
    base, ids = world["base"], world["rounds"]
    web, r = sign_in(base, ADMIN_KEY)
    assert r.status_code == 303
    page = web.get(f"{base}/", timeout=10).text
    assert set(re.findall(r'href="/rounds/([0-9a-f]{32})"', page)) == {ids["seu_story"], ids["seu_cse"], ids["seu_me"]}
    assert "东南大学 · 评审轮次" in page and "管理员" in page
    assert web.get(f"{base}/rounds/{ids['seu_cse']}", timeout=10).status_code == 200
    assert web.get(f"{base}/rounds/{ids['wust_story']}", timeout=10).status_code == 404


# --------------------------------------------------------------------------- one task list for an expert


def _assignments_of(world, email):
    from services.review.models import Assignment, Reviewer

    with world["store"].transaction() as s:
        return dict(s.execute(select(Assignment.id, Reviewer.round_id).join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                              .where(Reviewer.email == email)).all())


def _staff(web, base, round_id, *emails, deadline=""):
    token = csrf(web.get(f"{base}/rounds/{round_id}", timeout=10).text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "scoring_deadline": deadline,
                                                        "csrf_token": token}, timeout=10)
    for i, email in enumerate(emails):
        web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": f"专家{i}", "email": email},
                 timeout=10)
    r = web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token}, timeout=10)
    assert "已分配" in r.text, r.text[:500]
    return token


def test_an_expert_invited_by_two_universities_has_one_task_list_and_scores_in_both(world):
    base, ids, store = world["base"], world["rounds"], world["store"]
    colleague = "colleague@example.edu.cn"
    # 东南大学's owner, signed in on the platform, staffs its round; 武汉科技大学's admin uses the key, as before.
    owner = signed_in(world, OWNER)
    token = _staff(owner, base, ids["seu_story"], EXPERT_EMAIL, colleague)
    _staff(admin(base, OTHER_KEY), base, ids["wust_story"], EXPERT_EMAIL, deadline="2099-07-25")
    mine = _assignments_of(world, EXPERT_EMAIL)
    theirs = _assignments_of(world, colleague)
    assert sorted(mine.values()) == sorted([ids["seu_story"], ids["wust_story"]]) and len(theirs) == 1

    # Invited by e-mail only: no expert grant, and the address as typed at intake, in another case.
    expert = signed_in(world, person("李教授", f"  {EXPERT_EMAIL.upper()} "))
    assert expert.get(f"{base}/", allow_redirects=False, timeout=10).headers["Location"] == "/tasks"
    assert expert.get(f"{base}/queue", allow_redirects=False, timeout=10).headers["Location"] == "/tasks"
    tasks = expert.get(f"{base}/tasks", timeout=10)
    assert tasks.status_code == 200 and tasks.text.count('class="card task-round"') == 2
    assert set(re.findall(r'href="/works/([0-9a-f]{32})"', tasks.text)) == set(mine)
    assert "评分截止：2099-07-25" in tasks.text and "战疫故事汇 · 校级评审" in tasks.text
    for name in ("东南大学", "武汉科技大学", *ORG_NAMES.values(), *WUST_ORGS.values()):
        assert name not in tasks.text  # blind: neither university nor org
    for aid in mine:
        work = expert.get(f"{base}/works/{aid}", timeout=10)
        assert work.status_code == 200 and 'href="/tasks"' in work.text
        r = expert.post(f"{base}/works/{aid}/score", data={**MARKS, "action": "submit", "csrf_token": csrf(work.text)},
                        allow_redirects=False, timeout=10)
        assert r.status_code == 303, r.text[:500]
    from services.review.models import Score

    with store.transaction() as s:
        assert {a: (s.get(Score, a).state, s.get(Score, a).total) for a in mine} == {a: ("submitted", 78.0) for a in mine}
    assert expert.get(f"{base}/tasks", timeout=10).text.count('class="done">1</strong>') == 2

    # Not theirs: a colleague's work, and the admin pages (an expert administers nothing).
    other = next(iter(theirs))
    assert expert.get(f"{base}/works/{other}", timeout=10).status_code == 404
    r = expert.post(f"{base}/works/{other}/score", data={**MARKS, "action": "draft", "csrf_token": csrf(tasks.text)},
                    timeout=10)
    assert r.status_code == 404
    assert expert.post(f"{base}/works/{other}/decline", data={"csrf_token": csrf(tasks.text)}, timeout=10).status_code == 404
    assert expert.get(f"{base}/rounds/{ids['seu_story']}", timeout=10).status_code == 404

    # The colleague still signs in with the e-mailed link, as before: one round's queue.
    owner.post(f"{base}/rounds/{ids['seu_story']}/invite", data={"csrf_token": token}, timeout=10)
    link = next(i["data"]["sign_in_url"] for i in outbox(store, "reviewer_invited") if i["data"]["email"] == colleague)
    by_link, r = redeem(link)
    assert r.status_code == 303 and by_link.get(f"{base}/queue", timeout=10).status_code == 200
    assert by_link.get(f"{base}/tasks", allow_redirects=False, timeout=10).headers["Location"] == "/queue"
    assert by_link.get(f"{base}/works/{next(iter(mine))}", timeout=10).status_code == 404

    # Taken out of a round, the expert no longer sees or scores its work.
    seu_reviewer = _reviewer_id(world, ids["seu_story"], EXPERT_EMAIL)
    owner.post(f"{base}/rounds/{ids['seu_story']}/reviewers/{seu_reviewer}/remove", data={"csrf_token": token}, timeout=10)
    seu_work = next(a for a, r in mine.items() if r == ids["seu_story"])
    assert expert.get(f"{base}/works/{seu_work}", timeout=10).status_code == 404
    assert expert.get(f"{base}/tasks", timeout=10).text.count('class="card task-round"') == 1


def _reviewer_id(world, round_id, email):
    from services.review.models import Reviewer

    with world["store"].transaction() as s:
        return s.scalar(select(Reviewer.id).where(Reviewer.round_id == round_id, Reviewer.email == email))


def test_an_admin_who_is_also_an_expert_finds_the_task_list_on_the_home_page(world):
    base, ids = world["base"], world["rounds"]
    _staff(admin(base, OTHER_KEY), base, ids["wust_story"], OWNER["email"])
    page = signed_in(world, OWNER).get(f"{base}/", timeout=10).text
    assert 'id="tasks-link"' in page and ids["seu_story"] in page


# --------------------------------------------------------------------------- sessions end with intake's


def _status(web, world, round_id):
    return web.get(f"{world['base']}/rounds/{round_id}", allow_redirects=False, timeout=10).status_code


def test_account_sessions_ended_signs_the_person_out_of_review(world):
    round_id = world["rounds"]["seu_story"]
    desk, laptop = intake_session("desk"), intake_session("laptop")
    at_desk = signed_in(world, OWNER, session=desk)
    on_laptop = signed_in(world, OWNER, session=laptop)
    bystander = signed_in(world, CSE_ADMIN)
    assert _status(at_desk, world, round_id) == _status(on_laptop, world, round_id) == 200

    # Signing out at intake ends the session opened from that intake session only.
    publish(world["amqp"], INTAKE, make_event("account_sessions_ended", "seu", {
        "account_id": OWNER["account_id"], "reason": "signed_out", "intake_session": desk}))
    wait_until(lambda: _status(at_desk, world, round_id) == 401, timeout=20, what="the desk's session ended")
    assert _status(on_laptop, world, round_id) == 200
    # A grant removed ends all of them; another person's stays open.
    publish(world["amqp"], INTAKE, make_event("account_sessions_ended", "seu", {
        "account_id": OWNER["account_id"], "reason": "grant_removed", "intake_session": None}))
    wait_until(lambda: _status(on_laptop, world, round_id) == 401, timeout=20, what="every session of the person ended")
    r = on_laptop.get(f"{world['base']}/", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in"
    assert _status(bystander, world, world["rounds"]["seu_cse"]) == 200

