"""What a reviewer can reach and see (issue #7): every review route walked with a reviewer's session.

Names are planted in a work (its org, the org's short name, the university, the
branch, the original file name) and in another reviewer's comment; every response a
reviewer can get, from every route the running service has, is searched for them.
A route added later without a decision about reviewers fails the test.
"""
import re

import requests

from tests.conftest import wait_until
from tests.integration.test_review_service import (  # noqa: F401  (fixture)
    INTAKE,
    MEDIA,
    admin,
    checked,
    csrf,
    outbox,
    publish,
    review,
    story,
    the_round,
    upload,
)
from tests.security.test_tenant_isolation import routes
from tests.signin import redeem

# reviewer: a reviewer's own pages; admin: a round admin's (a reviewer must get 403/404 and nothing else);
# public: before signing in.
REVIEW_ACCESS = {
    ("GET", "/health"): "public",
    ("GET", "/static/<path:name>"): "public",
    ("GET", "/sign-in"): "public",
    ("POST", "/sign-in"): "public",
    ("GET", "/sign-in/<string:token>"): "public",
    ("POST", "/sign-in/<string:token>"): "public",
    ("POST", "/sign-in/<string:token>/resend"): "public",  # a new link to the reviewer's own address
    ("POST", "/sign-in/resend"): "public",  # new links to an expert's own address, the same answer for anyone
    ("POST", "/sign-in/ticket"): "public",  # a person handed on from intake (common.handoff)
    ("POST", "/sign-out"): "reviewer",
    ("GET", "/tasks"): "reviewer",  # a person's task list across rounds
    ("GET", "/files/<string:token>"): "reviewer",
    ("GET", "/queue"): "reviewer",
    ("GET", "/works/<string:assignment_id>"): "reviewer",
    ("POST", "/works/<string:assignment_id>/score"): "reviewer",
    ("POST", "/works/<string:assignment_id>/draft"): "reviewer",  # the work page's autosave (JSON)
    ("POST", "/works/<string:assignment_id>/decline"): "reviewer",
    ("POST", "/works/<string:assignment_id>/discussion"): "reviewer",  # a message to the work's 专家讨论
    ("GET", "/"): "admin",
    ("GET", "/rounds/<string:round_id>"): "admin",
    ("POST", "/rounds/<string:round_id>/settings"): "admin",
    ("POST", "/rounds/<string:round_id>/reviewers"): "admin",
    ("POST", "/rounds/<string:round_id>/reviewers/import"): "admin",
    ("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/remove"): "admin",
    ("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/invite"): "admin",
    ("POST", "/rounds/<string:round_id>/assign"): "admin",
    ("POST", "/rounds/<string:round_id>/assignments"): "admin",
    ("POST", "/rounds/<string:round_id>/assignments/<string:assignment_id>/remove"): "admin",
    ("POST", "/rounds/<string:round_id>/conflicts"): "admin",
    ("POST", "/rounds/<string:round_id>/invite"): "admin",
    ("POST", "/rounds/<string:round_id>/close"): "admin",
    ("POST", "/rounds/<string:round_id>/reopen"): "admin",
    ("GET", "/rounds/<string:round_id>/ranking"): "admin",
    ("POST", "/rounds/<string:round_id>/selection"): "admin",
    ("GET", "/rounds/<string:round_id>/export.xlsx"): "admin",
    ("GET", "/rounds/<string:round_id>/entries/<string:submission_id>"): "admin",  # every expert's marks and comment
    ("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion"): "admin",  # the admin speaks
    ("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion/open"): "admin",
}
OTHERS_COMMENT = "另一位专家的评语壹贰叁"


def test_a_reviewer_sees_nothing_that_names_the_author_and_no_other_reviewers_scores(review):  # noqa: F811
    missing = routes(review["container"]) - set(REVIEW_ACCESS)
    assert not missing, f"classify these review routes in REVIEW_ACCESS: {sorted(missing)}"
    base, store = review["base"], review["store"]
    photo = review["objects"] / "derived" / "f-photo" / "review.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"\xff\xd8\xff\xe0 a review copy")
    publish(review["amqp"], INTAKE, upload("f-photo", "s-o-cse-1"))
    publish(review["amqp"], MEDIA, checked("f-photo", "s-o-cse-1"))
    publish(review["amqp"], INTAKE, story("o-cse", 1, ["f-photo"]), story("o-me", 1), story("o-ee", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    table = ("姓名,邮箱,所在单位,研究方向\n专家甲,a@example.edu.cn,数学学院党委,党建\n"
             "专家乙,b@example.edu.cn,化学化工学院党委,党建\n")
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    assert "新增 2 位" in web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                                 files={"file": ("专家.csv", table.encode(), "text/csv")}).text
    wait_until(lambda: "3" in web.get(f"{base}/rounds/{round_id}").text, timeout=20)
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    links = [i["data"]["sign_in_url"] for i in outbox(store, "reviewer_invited")]
    assert len(links) == 2
    first, second = requests.Session(), requests.Session()
    for session, link in ((first, links[0]), (second, links[1])):
        assert redeem(link, session)[1].status_code == 303

    # The second reviewer scores everything with a planted comment; the first must never see it.
    for aid in dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', second.get(f"{base}/queue").text)):
        page = second.get(f"{base}/works/{aid}").text
        second.post(f"{base}/works/{aid}/score", data={
            "csrf_token": csrf(page), "action": "submit", "mark_thought": "8", "mark_appeal": "8", "mark_form": "8",
            "comment": OTHERS_COMMENT})

    planted = ["东南大学", "计算机科学与工程学院", "计算机学院", "机械工程学院", "电子科学与工程学院", "教工第一党支部",
               "张三的照片", "s-o-cse-1", "SEU-o-cse", OTHERS_COMMENT]
    seen = []
    queue = first.get(f"{base}/queue")
    assignments = list(dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', queue.text)))
    assert len(assignments) == 3
    seen.append(("/queue", queue))
    for aid in assignments:
        page = first.get(f"{base}/works/{aid}")
        assert page.status_code == 200 and "〔已隐去〕" in page.text
        seen.append((f"/works/{aid}", page))
        for link in re.findall(r'(?:src|href)="(/files/[^"]+)"', page.text):
            got = first.get(base + link)
            assert got.status_code in (200, 206)
            seen.append((link, got))
    assert any(path.startswith("/files/") for path, _ in seen), "the work with a photo shows its review copy"
    # every admin route, with the reviewer's session: refused, and nothing in the refusal
    ids = {"round_id": round_id, "assignment_id": assignments[0], "reviewer_id": "0" * 32, "submission_id": "s-o-ee-1"}
    for (method, url), access in sorted(REVIEW_ACCESS.items()):
        if access != "admin":
            continue
        path = url
        for name, value in ids.items():
            path = path.replace(f"<string:{name}>", value)
        r = first.request(method, base + path, data={"csrf_token": csrf(queue.text)}, allow_redirects=False)
        assert r.status_code in (303, 401, 403, 404), (method, path, r.status_code)
        seen.append((path, r))
    for path, r in seen:
        text = r.content.decode("utf-8", errors="replace") + str(r.headers)
        leaked = [p for p in planted if p in text]
        assert not leaked, (path, leaked, [text[max(0, text.find(p) - 200):text.find(p) + 50] for p in leaked])
    # a work assigned to nobody in this session answers 404
    assert first.get(f"{base}/works/{'0' * 32}").status_code == 404
    # a reviewer's forms without their CSRF token are refused, and change nothing
    for path, data in ((f"/works/{assignments[0]}/score", {"action": "submit", "mark_thought": "9",
                                                            "mark_appeal": "9", "mark_form": "9"}),
                       (f"/works/{assignments[0]}/draft", {"mark_thought": "9"}),
                       (f"/works/{assignments[0]}/decline", {"confirm": "on"}),
                       (f"/works/{assignments[0]}/discussion", {"body": "无令牌的发言"}), ("/sign-out", {})):
        assert first.post(base + path, data=data, allow_redirects=False).status_code == 403, path
    assert first.get(f"{base}/queue").status_code == 200  # still signed in, nothing declined
    assert len(set(re.findall(r'href="/works/([0-9a-f]{32})"', first.get(f"{base}/queue").text))) == 3


def test_another_universitys_admin_gets_404_on_every_round_route_and_every_form_needs_its_token(review):  # noqa: F811
    from tests.integration.test_review_service import OTHER_KEY

    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    own, other = admin(base), admin(base, OTHER_KEY)
    other_token = csrf(other.get(f"{base}/").text)
    ids = {"round_id": round_id, "assignment_id": "0" * 32, "reviewer_id": "0" * 32, "submission_id": "s-o-cse-1"}
    for (method, url), access in sorted(REVIEW_ACCESS.items()):
        if access != "admin" or "<string:round_id>" not in url:
            continue
        path = url
        for name, value in ids.items():
            path = path.replace(f"<string:{name}>", value)
        r = other.request(method, base + path, data={"csrf_token": other_token}, allow_redirects=False)
        assert r.status_code == 404, (method, path, r.status_code)
        assert "东南大学" not in r.text
        if method == "POST":  # the round's own admin, but the form without its token: refused, nothing done
            r = own.request(method, base + path, data={}, allow_redirects=False)
            assert r.status_code == 403, (method, path, r.status_code)
    assert own.get(f"{base}/rounds/{round_id}").status_code == 200  # the round is still there, unchanged
    assert "新增" not in own.get(f"{base}/rounds/{round_id}").text
