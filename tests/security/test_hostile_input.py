"""Hostile input gets a 4xx, never a 500, on every route of all four services (issue #14, item 11).

Found by hand: a body nested 1,000 levels (RecursionError), a lone surrogate `"\\ud800"` in a
JSON string (and the error page that echoed it back failed too: an empty text/plain 500), a
`csrf_token` that is not ASCII on review's forms, a signature that is not ASCII in
`/files/<token>` (hmac.compare_digest raises TypeError on such a str). The class: input a
parser, a comparison or an encoder cannot take. So every route each running service has
(walked from its entrypoints: a new route is walked too) is called with hostile values in
every place a client controls: path parameters, query parameters, JSON bodies (every string
and number of a valid-shaped body, plus nesting bombs, NaN and non-ASCII keys), form fields
(with a valid session and CSRF token, so the values reach the handlers, and as the token
itself), uploaded files, raw bodies, the key and idempotency headers and the cookies.
A fixed list of values, then more drawn by hypothesis (with surrogates and control characters).
"""
from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

import pytest
import requests
from hypothesis import given, settings, strategies as st

from common import clock
from tests.conftest import wait_until
from tests.integration.test_intake_api import start_intake
from tests.integration.test_notify_service import key_events, publish as publish_intake, smtp  # noqa: F401
from tests.integration.test_review_service import csrf, review  # noqa: F401  (fixture)
from tests.security.test_reviewer_blind import REVIEW_ACCESS
from tests.security.test_tenant_isolation import routes
from tests.signin import form_token, redeem, staffed_round

FIXED = [
    "\ud800", "a\udfffb", "\udbff\udfff\ud800", "签名é", "令牌" * 40, "\x00", "%00", "\x07\x1b[31m", "../../etc/passwd",
    "' OR 1=1 --", "%_%", "<script>alert(1)</script>", "9" * 5000, "-1", "1e999", "NaN", "-0", "😀\u200d🔥",
    "\u202e\u2028\u0085", "東南大學", "x" * 20_000, "",
]
HOSTILE_TEXT = st.text(st.characters(categories=["Cs", "Cc", "Lo", "Ll", "Nd", "Zs", "So", "Po", "Mn"]),
                       min_size=1, max_size=30)
QUERY_NAMES = ("q", "state", "level", "page", "per_page", "limit", "cursor", "campaign", "campaign_id", "track",
               "theme", "university", "year", "msg", "saved", "filename", "org_id", "parent_id", "stage", "sent")
FORM_NAMES = ("api_key", "name", "email", "university", "org", "expertise", "reviewers_per_work", "scoring_deadline",
              "reviewer_id", "submission_id", "reason", "conflict", "action", "mark_thought", "mark_appeal",
              "mark_form", "comment", "selected", "reminder")
DEEP = 1000
YAML_BOMBS = [
    b"[" * 5000 + b"]" * 5000,
    b'title: "\\ud800"\nlimit: 123456789012345678901234567890\nratio: .nan\n',
    # "billion laughs": nine levels of nine aliases stand for 9^9 values
    b"a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n".encode() for n in range(1, 10)),
]


def utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def in_url(value: str) -> str:
    return quote(utf8(value), safe="")


def in_header(value: str) -> str:
    # what a client can put on the wire: bytes, read as latin-1; no line breaks (they end the header)
    return re.sub(r"[\r\n\x00]", "", utf8(value)[:2000].decode("latin-1"))


def form_body(fields: dict) -> bytes:
    return b"&".join(f"{k}={v}".encode() if isinstance(v, str) and v.isascii() and "&" not in v and "=" not in v
                     and "%" not in v and "+" not in v else f"{k}=".encode() + in_url(v).encode()
                     for k, v in fields.items())


def leaves(doc, value):
    """`doc` with every string leaf replaced by `value` and every number by a huge one."""
    if isinstance(doc, dict):
        return {k: leaves(v, value) for k, v in doc.items()}
    if isinstance(doc, list):
        return [leaves(v, value) for v in doc]
    if isinstance(doc, bool) or doc is None:
        return doc
    if isinstance(doc, (int, float)):
        return 10**30
    return value


def json_bodies(template: dict, value: str) -> list[bytes]:
    return [
        json.dumps(leaves(template, value)).encode(),  # ensure_ascii: a surrogate goes as "\ud800"
        json.dumps({**template, value: value}).encode(),
        utf8(value),  # not JSON at all, perhaps not UTF-8 either
    ]


def json_bombs(template: dict) -> list[bytes]:
    deep = '{"a":' * DEEP + "1" + "}" * DEEP
    return [
        json.dumps({**template, "fields": "__DEEP__"}).replace('"__DEEP__"', deep).encode(),
        ("[" * 100_000 + "]" * 100_000).encode(),
        json.dumps(template).replace("}", ', "size": NaN}', 1).encode(),
        json.dumps(template).replace("}", ', "size": 1e999}', 1).encode(),
        json.dumps(template).replace("}", ', "size": ' + "9" * 5000 + "}", 1).encode(),
    ]


class Walk:
    """Calls one service's routes with one hostile value in every place, and collects any 5xx."""

    def __init__(self, base: str, route_list, ids: dict, *, client_for, json_templates=None, raw_routes=(),
                 form_token_for=None, skip_valid_token=()):
        # one call per method of a route that takes several ("GET,POST,PUT,PATCH,DELETE")
        self.base, self.ids = base, ids
        self.routes = sorted((m, url, methods) for methods, url in route_list for m in methods.split(","))
        self.client_for = client_for
        self.json_templates = json_templates or {}
        self.raw_routes = set(raw_routes)
        self.form_token_for = form_token_for
        self.skip_valid_token = set(skip_valid_token)
        self.server_errors: list[tuple] = []
        self.calls = 0

    def path(self, url: str, value: str | None = None, param: str | None = None) -> str:
        def fill(match):
            name = match.group(2)
            return in_url(value) if name == param else self.ids.get(name, "x")

        return re.sub(r"<(string:|path:)?([a-z_]+)>", fill, url)

    def send(self, client, method, path, **kw):
        self.calls += 1
        try:
            r = client.request(method, self.base + path, allow_redirects=False, timeout=60, **kw)
        except requests.exceptions.ConnectionError as exc:  # a server that hangs up on a request is a failure too
            self.server_errors.append((method, path, "connection error", str(exc)[:200]))
            return
        if r.status_code >= 500:
            self.server_errors.append((method, path, r.status_code, r.text[:300]))

    def run(self, value: str) -> None:
        for method, url, route_methods in self.routes:
            client = self.client_for(route_methods, url)
            for param in re.findall(r"<(?:string:|path:)?([a-z_]+)>", url):
                self.send(client, method, self.path(url, value, param))
            path = self.path(url)
            self.send(client, method, f"{path}?" + "&".join(f"{n}={in_url(value)}" for n in QUERY_NAMES))
            self.send(client, method, path, headers={"Authorization": f"Bearer {in_header(value)}",
                                                     "Idempotency-Key": in_header(value),
                                                     "Cookie": f"review_session={in_header(value)}; "
                                                               f"notify_session={in_header(value)}"})
            if method == "GET":
                continue
            if (route_methods, url) in self.raw_routes:
                for ctype in ("text/csv", "application/octet-stream", "application/yaml"):
                    self.send(client, method, path, data=utf8(value) + b"\n" + utf8(value),
                              headers={"Content-Type": ctype})
                for bomb in YAML_BOMBS if value == FIXED[0] else ():  # the same whatever the value: once
                    self.send(client, method, path, data=bomb, headers={"Content-Type": "application/yaml"})
            if (route_methods, url) in self.json_templates or url.startswith("/api/"):
                template = self.json_templates.get((route_methods, url), {})
                bombs = json_bombs(template) if value == FIXED[0] else []  # the same whatever the value: once
                for body in json_bodies(template, value) + bombs:
                    self.send(client, method, path, data=body, headers={"Content-Type": "application/json",
                                                                        "Idempotency-Key": in_header(value)})
            if self.form_token_for is not None and not url.startswith("/api/"):
                token = self.form_token_for(route_methods, url)
                self.send(client, method, path, data=form_body({"csrf_token": value, **{n: value for n in FORM_NAMES}}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
                if (route_methods, url) not in self.skip_valid_token:
                    self.send(client, method, path, data=form_body({"csrf_token": token,
                                                                    **{n: value for n in FORM_NAMES}}),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
                    self.send(client, method, path, data={"csrf_token": token},
                              files={"file": (in_header(value) or "x", utf8(value) * 3, "text/csv")})

    def walk_all(self, extra_examples: int = 12) -> None:
        for value in FIXED:
            self.run(value)

        @settings(max_examples=extra_examples, derandomize=True, deadline=None, database=None)
        @given(HOSTILE_TEXT)
        def more(value):
            self.run(value)

        more()
        assert not self.server_errors, self.server_errors[:10]
        assert self.calls > len(self.routes) * len(FIXED)


def test_intake_answers_hostile_input_with_4xx(sqlite_url, make_config, start_service):
    env = start_intake(sqlite_url, make_config, start_service, RATE_BAD_KEYS="100000000", RATE_UPLOADS="100000000")
    try:
        seu = env["seu"]
        org = seu.org_id("计算机科学与工程学院党委")
        work = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="计算机学院党委战疫故事")
        data = b"\xff\xd8\xff\xe0" + bytes(60)
        ticket = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
            "kind": "image", "filename": "照片.jpg", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "image/jpeg"}).json()
        ids = {"campaign_id": "siyige-2020-seu", "org_id": org, "submission_id": work["id"],
               "file_id": ticket["file"]["id"], "token": ticket["upload"]["url"].rsplit("/", 1)[-1], "rest": "x"}
        draft = {"campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
                 "fields": {"title": "标题", "text": "正文", "tags": ["一", "二"]}}
        templates = {
            ("POST", "/api/v1/submissions"): draft,
            ("PATCH", "/api/v1/submissions/<string:submission_id>"): {"fields": draft["fields"]},
            ("POST", "/api/v1/submissions/<string:submission_id>/submit"): {"stage": "submission"},
            ("POST", "/api/v1/submissions/<string:submission_id>/files"): {
                "kind": "image", "filename": "照片.jpg", "size": 64, "sha256": "0" * 64, "content_type": "image/jpeg"},
            ("POST", "/api/v1/files/<string:file_id>/complete"): {"parts": [{"part_number": 1, "etag": "e"}]},
            ("POST", "/api/v1/extensions"): {"campaign_id": "siyige-2020-seu", "track": "story",
                                             "stage": "submission", "org_id": org,
                                             "until": "2020-08-01T00:00:00+08:00", "reason": "理由"},
            ("POST", "/api/v1/campaigns"): {"id": "x-2020", "title": "活动", "derives_from": "siyige-2020",
                                            "tracks": {"story": {"label": "故事", "fields": []}}},
            ("POST", "/api/v1/accounts"): {"name": "王宣传", "email": "wang@seu.edu.cn", "grants": [
                {"role": "org_admin", "department": None, "org_id": org}]},
            ("POST", "/api/v1/accounts/<string:account_id>/grants"): {"role": "org_admin", "org_id": org},
        }
        walk = Walk(env["base"], routes(env["container"]), ids, client_for=lambda m, u: seu.http,
                    json_templates=templates,
                    raw_routes={("POST", "/api/v1/orgs/import"), ("PUT", "/api/v1/uploads/<string:token>"),
                                ("POST", "/api/v1/campaigns"), ("POST", "/api/v1/accounts/import")})
        walk.walk_all()
    finally:
        clock.set_start(None)


def test_review_answers_hostile_input_with_4xx(review):  # noqa: F811
    base = review["base"]
    missing = routes(review["container"]) - set(REVIEW_ACCESS)
    assert not missing, f"classify these review routes in REVIEW_ACCESS: {sorted(missing)}"
    staffed = staffed_round(review, reviewers=3)
    web, token, round_id, invites = staffed["admin"], staffed["token"], staffed["round_id"], staffed["invites"]
    expert, _ = redeem(invites[0]["sign_in_url"])
    queue = expert.get(f"{base}/queue").text
    assignment = re.search(r'href="/works/([0-9a-f]{32})"', queue).group(1)
    others = [i["reviewer_id"] for i in invites[1:]] or ["0" * 32]
    visitor = requests.Session()
    visitor_token = form_token(visitor.get(f"{base}/sign-in").text)
    ids = {"round_id": round_id, "assignment_id": assignment, "reviewer_id": others[0], "token": "x",
           "name": "site.css"}
    clients = {"admin": web, "reviewer": expert, "public": visitor}
    tokens = {"admin": token, "reviewer": csrf(queue), "public": visitor_token}

    walk = Walk(base, routes(review["container"]), ids,
                client_for=lambda m, u: clients[REVIEW_ACCESS[(m, u)]],
                form_token_for=lambda m, u: tokens[REVIEW_ACCESS[(m, u)]],
                # a valid token there would end the walk's own session or the round
                skip_valid_token={("POST", "/sign-out"), ("POST", "/rounds/<string:round_id>/close")})
    walk.walk_all()


def test_notify_answers_hostile_input_with_4xx(make_config, start_service, sqlite_url, smtp):  # noqa: F811
    from services.notify.service import NotifyService
    from tests.security.test_tenant_isolation import NOTIFY_ACCESS

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         RATE_BAD_KEYS="100000000", WEBHOOK_ALLOW_HOSTS="127.0.0.1")  # a loopback receiver
    container = start_service(NotifyService, config)
    base = "http://" + config["WEB_SERVER_ADDRESS"]
    missing = routes(container) - set(NOTIFY_ACCESS)
    assert not missing, f"classify these notify routes in NOTIFY_ACCESS: {sorted(missing)}"
    publish_intake(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_walk"))
    api = requests.Session()
    api.headers["Authorization"] = "Bearer sk_seu_walk"
    sub = wait_until(lambda: (r := api.post(f"{base}/api/v1/webhooks", json={
        "url": "http://127.0.0.1:9/hook", "event_types": ["submission_submitted"]}, timeout=10)).status_code == 201
        and r.json(), timeout=20, what="the key copy")
    from tests.signin import sign_in

    board, r = sign_in(base, "sk_seu_walk")
    assert r.status_code == 303
    board_token = form_token(board.get(f"{base}/dashboard").text)
    visitor = requests.Session()
    visitor_token = form_token(visitor.get(f"{base}/sign-in").text)
    ids = {"sub_id": sub["id"], "delivery_id": "0" * 32, "token": "x", "name": "site.css"}

    def client_for(method, url):
        if url.startswith("/api/"):
            return api
        return visitor if NOTIFY_ACCESS[(method, url)] == "public" else board

    walk = Walk(base, routes(container), ids, client_for=client_for,
                json_templates={("POST", "/api/v1/webhooks"): {"url": "https://portal.example/hook",
                                                               "event_types": ["submission_submitted"]}},
                form_token_for=lambda m, u: visitor_token if NOTIFY_ACCESS[(m, u)] == "public" else board_token,
                skip_valid_token={("POST", "/sign-out")})
    walk.walk_all()


def test_media_answers_hostile_input_with_4xx(make_config, start_service, sqlite_url):
    from services.media.service import MediaService

    config = make_config("media", DATABASE_URL=sqlite_url)
    container = start_service(MediaService, config)
    walk = Walk("http://" + config["WEB_SERVER_ADDRESS"], routes(container), {}, client_for=lambda m, u: requests)
    walk.walk_all(extra_examples=5)


@pytest.mark.parametrize("body, code", [
    ('{"campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o", "fields": '
     + '{"a":' * DEEP + '1' + '}' * DEEP + '}', "json_too_deep"),
    ('{"campaign_id": "\\ud800", "track": "story", "org_id": "o", "fields": {}}', "invalid_unicode"),
    ('{"campaign_id": "x", "track": "story", "org_id": "o", "fields": {"n": 123456789012345678901234567890}}',
     "number_out_of_range"),
    ('{"campaign_id": "x", "track": "story", "org_id": "o", "fields": {"n": NaN}}', "number_out_of_range"),
])
def test_what_the_probe_sent_gets_a_clear_400(sqlite_url, make_config, start_service, body, code):
    env = start_intake(sqlite_url, make_config, start_service)
    try:
        r = env["seu"]("POST", "/api/v1/submissions", data=body.encode(), headers={"Content-Type": "application/json"})
    finally:
        clock.set_start(None)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json"), r.text[:300]
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and "expected" in error


def test_an_error_that_echoes_a_lone_surrogate_is_still_a_json_answer():
    from common.errors import InvalidInput
    from common.http import error_response
    from common.web import error_page

    r = error_response(InvalidInput("字段 x 只能取 a、b 之一，实际为 '\ud800'。", found="\ud800"))
    assert r.status_code == 400 and json.loads(r.get_data())["error"]["found"] == "\ufffd"
    page = error_page(400, "实际为 \ud800")
    assert page.status_code == 400 and "\ufffd" in page.get_data(as_text=True)


def test_a_non_ascii_csrf_token_is_refused_on_every_review_form(review):  # noqa: F811
    staffed = staffed_round(review, reviewers=1)
    base, web, round_id = review["base"], staffed["admin"], staffed["round_id"]
    expert, _ = redeem(staffed["invites"][0]["sign_in_url"])
    assignment = re.search(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text).group(1)
    work = re.search(rf'href="/rounds/{round_id}/entries/([^"/]+)"', web.get(f"{base}/rounds/{round_id}").text).group(1)
    ids = {"round_id": round_id, "assignment_id": assignment, "reviewer_id": staffed["invites"][0]["reviewer_id"],
           "submission_id": work}
    forms = [(m, u) for (m, u), access in REVIEW_ACCESS.items() if m == "POST" and access in ("admin", "reviewer")]
    assert len(forms) >= 14
    for method, url in forms:
        client = web if REVIEW_ACCESS[(method, url)] == "admin" else expert
        path = re.sub(r"<string:([a-z_]+)>", lambda m: ids[m.group(1)], url)
        for token in ("令牌", "é" * 64, "\ud800"):
            r = client.post(base + path, data=form_body({"csrf_token": token}), allow_redirects=False,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code == 403 and "缺少有效的防伪令牌" in r.text, (path, ascii(token), r.status_code)
    assert expert.get(f"{base}/queue").status_code == 200  # nothing was done: still signed in


def test_a_file_link_whose_signature_is_not_ascii_answers_404(review, make_config, start_service, sqlite_url,  # noqa: F811
                                                              smtp):  # noqa: F811
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url.replace("service.db", "notify.db"),
                         MAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
    start_service(NotifyService, config)
    for base in (review["base"], "http://" + config["WEB_SERVER_ADDRESS"]):
        for signature in ("签名", "é" * 27, "%ED%A0%80"):
            r = requests.get(f"{base}/files/eyJrIjoieCJ9.{quote(signature, safe='%')}", timeout=10)
            assert r.status_code == 404, (base, signature, r.status_code, r.text[:200])
