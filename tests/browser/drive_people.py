"""Drives people's pages across the platform in Debian's chromium (headless) through Playwright; run by
test_people_ui.py.

A separate process, as drive_review.py is: the tests' process is monkey-patched by eventlet, which Playwright's
own event loop must not share. One step of a person's visit a run:

    drive_people.py ACTION '{"state": "...", "shots": "...", ...}'

`state` is the person's browser state (cookies) kept in a file between runs, so a later step goes on in the same
sessions; `shots` a folder for screenshots of the pages passed on the way. Prints one JSON line of what the
person saw; a failed expectation raises and exits non-zero with the trace.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pyotp
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_review import CHROMIUM_ARGS, reviewer, set_up_round  # noqa: E402  (the same browser, the same reviewer's visit)

TOTP_STEP_S = 30
REVIEW, NOTIFY = "评审系统", "进度看板与作品库"  # the links on intake's home page


class Visit:
    """One run: the page, and where its screenshots go."""

    def __init__(self, page, shots: str | None):
        self.page, self.shots = page, Path(shots) if shots else None

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]


# --------------------------------------------------------------------------- the second factor


def totp_code(secret: str, last_step: int | None) -> tuple[str, int]:
    """A code the server takes now: of the current 30-second step, or of the next when the current one was used.

    Intake takes a step either side of its clock and no step twice, so a person signing in again within the
    same half minute types the next code, or waits for it.
    """
    step = int(time.time()) // TOTP_STEP_S
    if last_step is not None and last_step >= step:
        step = last_step + 1
        while step > int(time.time()) // TOTP_STEP_S + 1:
            time.sleep(1)
    return pyotp.TOTP(secret).at(step * TOTP_STEP_S), step


def second_factor(visit: Visit, secret: str | None, last_step: int | None, name: str) -> dict:
    """Enrol (the page shows the QR code and the secret) or give a code; the secret and the step used."""
    page = visit.page
    if page.url.endswith("/account/second-factor"):
        expect(page.locator("h1")).to_have_text("启用第二重验证")
        assert page.locator(".qr svg").count() == 1, "the QR code is drawn inline"
        secret = page.locator("code.secret").inner_text().strip()
        visit.shot(f"{name}-enrol")
        code, step = totp_code(secret, None)
        page.fill("#code", f"{code[:3]} {code[3:]}")  # as an authenticator app shows it
        page.click("main button[type=submit]")
        return {"enrolled": True, "secret": secret, "step": step}
    if page.url.endswith("/sign-in/code"):
        expect(page.locator("h1")).to_have_text("输入验证码")
        visit.shot(f"{name}-code")
        code, step = totp_code(secret, last_step)
        page.fill("#code", code)
        page.click("main button[type=submit]")
        return {"enrolled": False, "secret": secret, "step": step}
    return {}


# --------------------------------------------------------------------------- intake: invitation, sign-in, links


def accept_invitation(visit: Visit, url: str, password: str, name: str) -> dict:
    page = visit.page
    page.goto(url)
    expect(page.locator("h1")).to_have_text("设置登录密码")
    visit.shot(f"{name}-invitation")
    page.fill("#password", password)
    page.fill("#password_confirmation", password)
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("密码已设置")
    visit.shot(f"{name}-invitation-done")
    return {"notice": page.locator(".notice").inner_text()}


def home(visit: Visit) -> dict:
    """What intake's home page says of the person: name, roles, second factor."""
    page = visit.page
    rows = page.locator("main table tr").all()
    grants = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in rows]
    return {"name": page.locator("h1").inner_text(), "grants": [g for g in grants if g],
            "destinations": visit.texts("ul.destinations a"), "html": page.content()}


def sign_in(visit: Visit, intake: str, email: str, password: str, name: str, secret: str | None = None,
            last_step: int | None = None) -> dict:
    page = visit.page
    page.goto(f"{intake}/sign-in")
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("#email", email)
    page.fill("#password", password)
    visit.shot(f"{name}-sign-in")
    page.click("main form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state()
    factor = second_factor(visit, secret, last_step, name)
    expect(page.locator("h2").first).to_have_text("进入")  # the home page
    visit.shot(f"{name}-home")
    return {**factor, **home(visit)}


def request_sign_in_link(visit: Visit, intake: str, email: str, name: str) -> dict:
    page = visit.page
    page.goto(f"{intake}/sign-in")
    page.click("text=通过邮箱获取登录链接")
    expect(page.locator("h1")).to_have_text("通过邮箱获取登录链接")
    page.fill("#email", email)
    page.click("main button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("登录链接的邮件已经发出")
    visit.shot(f"{name}-link-sent")
    return {"notice": page.locator(".notice").inner_text()}


def use_sign_in_link(visit: Visit, url: str, name: str) -> dict:
    page = visit.page
    page.goto(url)
    expect(page.locator("h1")).to_have_text("登录四个一行动平台")
    visit.shot(f"{name}-link")
    page.click("main button[type=submit]")
    expect(page.locator("h2").first).to_have_text("进入")
    visit.shot(f"{name}-home")
    return home(visit)


def single_sign_on(visit: Visit, intake: str, button: str, account: str, name: str) -> dict:
    """From intake's sign-in page through the university's provider (its page: one field, `account`) and back."""
    page = visit.page
    page.goto(f"{intake}/sign-in")
    visit.shot(f"{name}-sign-in")
    page.click(f"ul.providers a:text-is('{button}')")
    page.wait_for_selector("input[name=account]")
    provider = page.url
    visit.shot(f"{name}-provider")
    page.fill("input[name=account]", account)
    page.click("form[action$='/login'] button")
    expect(page.locator("h2").first).to_have_text("进入")
    visit.shot(f"{name}-home")
    return {"provider_page": provider, **home(visit)}


# --------------------------------------------------------------------------- review and notify, handed on by intake


def hand_on(visit: Visit, intake: str, link: str) -> bool:
    """From intake's home page to review or notify: the link's page posts a one-minute ticket by its script.

    The home page links only what the person's grants open; without the link, the person types the address
    (/go/review, /go/notify) as someone would. Whether the home page linked it.
    """
    page = visit.page
    page.goto(f"{intake}/")
    linked = page.locator(f"ul.destinations a:text-is('{link}')").count() == 1
    if linked:
        page.click(f"ul.destinations a:text-is('{link}')")
    else:
        page.goto(f"{intake}/go/{'review' if link == REVIEW else 'notify'}")
    page.wait_for_url(lambda url: not url.startswith(intake), timeout=20000)
    page.wait_for_load_state()
    return linked


def review_home(visit: Visit, intake: str, name: str, expect_rounds: int = 0) -> dict:
    """Review's home page as the person reaches it from intake: the rounds listed and the scopes named.

    `expect_rounds`: wait (reloading) until at least that many rounds are listed, as works reach review by events.
    """
    hand_on(visit, intake, REVIEW)
    page = visit.page
    for _ in range(60):
        if page.locator("table.list tbody a").count() >= expect_rounds:
            break
        page.wait_for_timeout(500)
        page.reload()
    visit.shot(f"{name}-review")
    return {"url": page.url, "h1": page.locator("h1").inner_text(), "rounds": visit.texts("table.list tbody a"),
            "scopes": visit.texts("p.scope"), "who": visit.texts("header .who"),
            "error": visit.texts("p.error"), "tasks_link": page.locator("#tasks-link").count() == 1}


def notify_dashboard(visit: Visit, intake: str, name: str) -> dict:
    """Notify's dashboard as the person reaches it from intake: its heading and the tracks it counts."""
    linked = hand_on(visit, intake, NOTIFY)
    page = visit.page
    if page.locator("#tracks").count():  # the charts come drawn (HTML, on the server): nothing to wait for
        expect(page.locator(".chart").first).to_be_visible()
    visit.shot(f"{name}-notify")
    return {"url": page.url, "h1": page.locator("h1").inner_text(), "tracks": visit.texts("#tracks tbody tr td:first-child"),
            "track_choices": visit.texts("select[name=track] option"), "error": visit.texts("p.error"),
            "who": visit.texts("header .who, header .user"), "linked": linked}


# --------------------------------------------------------------------------- a round, administered by a person


def open_round(visit: Visit, intake: str, title: str, name: str) -> None:
    review_home(visit, intake, name)
    visit.page.click(f"table.list tbody a:text-is('{title}')")
    expect(visit.page.locator("h1")).to_contain_text(title)


def run_round(visit: Visit, intake: str, title: str, expert: str, email: str, name: str) -> dict:
    """Settings, an expert added, assignment and the invitation, on the round's page."""
    page = visit.page
    open_round(visit, intake, title, name)
    set_up_round(page, expert, email)
    visit.shot(f"{name}-round")
    return {"reviewers": visit.texts("#reviewers tbody tr td:first-child"), "url": page.url}


def close_and_select(visit: Visit, intake: str, title: str, name: str) -> dict:
    page = visit.page
    open_round(visit, intake, title, name)
    page.click("#close")
    expect(page.locator(".notice")).to_contain_text("评分已结束")
    page.click("text=排名与入选")
    rows = page.locator("#ranking tbody tr").count()
    first_checked = page.locator("#ranking tbody tr >> nth=0 >> input[type=checkbox]").is_checked()
    visit.shot(f"{name}-ranking")
    page.click("#confirm")
    expect(page.get_by_role("status")).to_contain_text("已确认")
    visit.shot(f"{name}-selected")
    return {"rows": rows, "first_checked": first_checked, "status": page.get_by_role("status").inner_text()}


# --------------------------------------------------------------------------- an expert's task list


def work_tasks(visit: Visit, intake: str, name: str) -> dict:
    """The expert's one task list: score every open work, whichever university's round it is in."""
    hand_on(visit, intake, REVIEW)
    page = visit.page
    expect(page.locator("h1")).to_have_text("我的评审任务")
    landed = page.url
    visit.shot(f"{name}-tasks")
    before = visit.texts("section.task-round h2")
    scored = []
    for n in range(10):
        open_work = page.locator("section.task-round tr.state-open a, section.task-round tr.state-draft a")
        if not open_work.count():
            break
        open_work.first.click()
        title = page.locator("#work-title").inner_text()
        for field in page.locator("#score-form input[type=number]").all():
            field.fill("8")
        page.fill("#comment", "主题鲜明，感人至深。")
        if n == 0:
            visit.shot(f"{name}-work")
        page.click("#submit-score")
        expect(page.locator(".notice")).to_contain_text("评分已提交")
        scored.append({"title": title, "total": page.locator("#total").inner_text() if page.locator("#total").count() else None})
        page.goto(landed)
    visit.shot(f"{name}-tasks-done")
    return {"url": landed, "rounds_before": before, "scored": scored,
            "done": visit.texts("section.task-round strong.done"), "html": page.content()}


# --------------------------------------------------------------------------- signing out


def sign_out_everywhere(visit: Visit, intake: str, review: str, notify: str, name: str) -> dict:
    """Review and notify open in the person's sessions; sign out at intake; the next load there asks to sign in.

    Signing out deletes intake's cookie only: review's and notify's stay in the browser, so their sign-in page
    can only mean that their sessions ended on the server.
    """
    page = visit.page
    places = {"review": review + "/", "notify": notify + "/dashboard"}
    before = {}
    for where, url in places.items():
        page.goto(url)
        before[where] = {"url": page.url, "h1": page.locator("h1").inner_text()}
    page.goto(f"{intake}/")
    page.click("text=退出登录")
    expect(page.locator("h1")).to_have_text("登录")
    visit.shot(f"{name}-signed-out")
    cookies = sorted(c["name"] for c in visit.page.context.cookies())
    after = {}
    for where, url in places.items():
        # account_sessions_ended reaches review and notify through the broker: a moment later
        for _ in range(40):
            page.goto(url)
            if page.locator("input[name=api_key]").count():  # the sign-in page, wherever it is shown
                break
            page.wait_for_timeout(250)
        after[where] = {"url": page.url, "h1": page.locator("h1").inner_text(), "error": visit.texts("p.error"),
                        "sign_in_form": page.locator("input[name=api_key]").count() == 1}
        visit.shot(f"{name}-after-{where}")
    page.goto(f"{intake}/")
    return {"before": before, "after": after, "intake_after": page.url, "cookies_after": cookies}


ACTIONS = {
    "accept-invitation": accept_invitation,
    "sign-in": sign_in,
    "request-sign-in-link": request_sign_in_link,
    "use-sign-in-link": use_sign_in_link,
    "single-sign-on": single_sign_on,
    "review-home": review_home,
    "notify-dashboard": notify_dashboard,
    "run-round": run_round,
    "close-and-select": close_and_select,
    "work-tasks": work_tasks,
    "sign-out-everywhere": sign_out_everywhere,
}


def main():
    action, raw = sys.argv[1], json.loads(sys.argv[2])
    state, shots = raw.pop("state", None), raw.pop("shots", None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", storage_state=state if state and Path(state).exists() else None)
        page = context.new_page()
        page.set_default_timeout(20000)
        visit = Visit(page, shots)
        try:
            if action == "reviewer":  # the expert's visit from review's mailed link, as drive_review.py makes it
                result = reviewer(page, raw["review"], raw["link"])
                visit.shot(f"{raw.get('name', 'reviewer')}-scored")
            else:
                result = ACTIONS[action](visit, **raw)
            if state:
                context.storage_state(path=state)
        except Exception:
            visit.shot("failed-" + re.sub(r"\W", "-", action))
            raise
        finally:
            browser.close()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
