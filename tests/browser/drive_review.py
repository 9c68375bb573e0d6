"""Drives the review UI in Debian's chromium (headless) through Playwright; run by test_review_ui.py.

A separate process: the tests' process is monkey-patched by eventlet, which
Playwright's own event loop must not share. Prints one JSON line of what it saw;
any failed expectation raises and exits non-zero with the trace.

    drive_review.py admin-setup BASE_URL API_KEY ROUND_ID
    drive_review.py reviewer BASE_URL SIGN_IN_URL
    drive_review.py admin-select BASE_URL API_KEY ROUND_ID
    drive_review.py dashboard NOTIFY_URL API_KEY
"""
from __future__ import annotations

import json
import os
import sys

from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def sign_in_admin(page, base, key):
    page.goto(f"{base}/sign-in")
    page.fill("#api_key", key)
    page.click("text=登录 >> nth=-1")
    expect(page.locator("h1")).to_contain_text("评审轮次")


def open_round(page, base, round_id):
    """The round's page; "first": the first round listed, waiting for it to appear (events are asynchronous)."""
    if round_id != "first":
        page.goto(f"{base}/rounds/{round_id}")
        return
    for _ in range(60):
        if page.locator("table.list tbody a").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    page.locator("table.list tbody a").first.click()


def set_up_round(page, expert: str, email: str) -> None:
    """On the round's page: one review per work, one expert added, the works assigned, the invitation sent."""
    page.fill("#k", "1")
    page.click("form[action$='/settings'] button")
    expect(page.locator(".notice")).to_contain_text("已保存")
    form = page.locator("#add-reviewer")
    form.locator("[name=name]").fill(expert)
    form.locator("[name=email]").fill(email)
    form.locator("[name=expertise]").fill("党课、思政")
    form.locator("button").click()
    expect(page.locator(".notice")).to_contain_text("已添加 1 位")
    page.click("#assign")
    expect(page.locator(".notice")).to_contain_text("已分配")
    page.click("#invite")
    expect(page.locator(".notice")).to_contain_text("已发送 1 封")


def admin_setup(page, base, key, round_id):
    sign_in_admin(page, base, key)
    open_round(page, base, round_id)
    set_up_round(page, "王评委", "wang.expert@example.edu.cn")
    return {"reviewers": page.locator("#reviewers tbody tr").count()}


def reviewer(page, base, link):
    page.goto(link)
    page.click("text=进入评审")
    expect(page.locator("h1")).to_have_text("我的评审任务")
    queue = page.content()
    page.click("a.button")  # 继续评审下一件
    video = page.locator("video")
    expect(video).to_be_visible()
    # The player loads the video and can seek: the server answers HTTP ranges.
    # Predicates as functions: a string would be eval'ed in the page, which our CSP forbids.
    page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=20000)
    duration = page.evaluate("document.querySelector('video').duration")
    page.evaluate("v => { const el = document.querySelector('video'); el.currentTime = el.duration / 2; }", None)
    page.wait_for_function("() => document.querySelector('video').seeking === false "
                           "&& document.querySelector('video').currentTime > 0", timeout=20000)
    work = page.content()
    # The rubric from the keyboard: the first criterion has the focus; Tab moves on; Ctrl+Enter submits.
    page.keyboard.type("9")
    page.keyboard.press("Tab")
    page.keyboard.type("8.5")
    page.keyboard.press("Tab")
    page.keyboard.type("8")
    page.keyboard.press("Tab")
    page.keyboard.type("<b>讲得好</b>")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".notice")).to_contain_text("评分已提交")
    total = page.locator("#total").inner_text()
    escaped = "&lt;b&gt;讲得好&lt;/b&gt;" in page.content() and page.locator("#comment b").count() == 0
    phone = on_a_phone(page, "work")
    page.goto(f"{base}/queue")
    done = page.locator("#done").inner_text()
    return {"queue_html": queue, "work_html": work, "duration": duration, "total": total, "done": done,
            "comment_escaped": escaped, "phone": phone}


PHONE = {"width": 390, "height": 844}


def on_a_phone(page, name: str) -> dict:
    """The page as a 390 px wide phone shows it (issue #17 item 9): how wide it is against the screen, where the
    rubric sits against the work, how wide the charts are; a screenshot beside the test's logs."""
    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_load_state("load")
    measured = page.evaluate("""() => {
        const box = sel => { const el = document.querySelector(sel); return el ? el.getBoundingClientRect() : null; };
        const content = box('.work .content'), rubric = box('.work .rubric');
        return {page_width: document.documentElement.scrollWidth, screen: window.innerWidth,
                rubric_below: content && rubric ? rubric.top >= content.bottom - 1 : null,
                rubric_width: rubric ? rubric.width : null,
                charts: [...document.querySelectorAll('.chart')].map(el => el.getBoundingClientRect().width),
                // what sticks out past the screen, to say which element a failure is about
                too_wide: [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right >
                    window.innerWidth + 1 && !el.closest('table.list')).slice(0, 8).map(el =>
                    el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className ===
                    'string' ? '.' + el.className.split(' ').join('.') : '') + ' ' +
                    Math.round(el.getBoundingClientRect().right))};
    }""")
    shots = os.environ.get("SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, f"phone-{name}.png"), full_page=True)
    return measured


def admin_select(page, base, key, round_id):
    sign_in_admin(page, base, key)
    open_round(page, base, round_id)
    page.click("#close")
    expect(page.locator(".notice")).to_contain_text("评分已结束")
    page.click("text=排名与入选")
    rows = page.locator("#ranking tbody tr").count()
    first_checked = page.locator("#ranking tbody tr >> nth=0 >> input[type=checkbox]").is_checked()
    page.click("#confirm")
    expect(page.get_by_role("status")).to_contain_text("已确认")
    return {"rows": rows, "first_checked": first_checked, "html": page.content()}


def round_record(page, base, key, round_id):
    """The confirmed round after its chosen work went up to the ministry: its ranking page as it was confirmed (the
    work still ranked and ticked), on a desktop screen and on a phone; screenshots for the README."""
    sign_in_admin(page, base, key)
    open_round(page, base, round_id)
    page.click("text=排名与入选")
    first = page.locator("#ranking tbody tr >> nth=0")
    seen = {"rows": page.locator("#ranking tbody tr").count(), "rank": first.locator("td >> nth=1").inner_text(),
            "ticked": first.locator("input[type=checkbox]").is_checked(),
            "confirmed": page.locator("text=入选名单已于").count()}
    shots = os.environ.get("SCREENSHOTS")
    if shots:
        page.set_viewport_size({"width": 1100, "height": 700})
        page.screenshot(path=os.path.join(shots, "ranking-after-forwarding.png"), full_page=True)
    return {**seen, "phone": on_a_phone(page, "ranking")}


CHART_LABELS = """() => [...document.querySelectorAll('.chart .bar-row')].map(row => {
    const label = row.querySelector('.bar-label'), bars = row.querySelector('.bars').getBoundingClientRect();
    const box = label.getBoundingClientRect();
    // cut: the text needs more room than its box shows; overlapping: the label runs into its bars
    return {text: label.textContent, cut: label.scrollWidth > label.clientWidth + 1 ||
            label.scrollHeight > label.clientHeight + 1, overlaps: box.right > bars.left + 0.5};
})"""


def dashboard(page, base, key):
    """notify's dashboard: charts drawn on the server as HTML bars, each label in a column beside its bars."""
    page.goto(f"{base}/sign-in")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("进度")
    drawn = {"charts": page.locator(".chart").count(), "labels": page.evaluate(CHART_LABELS),
             "empty": page.locator(".chart.empty:has-text('暂无数据')").count()}
    page_phone = on_a_phone(page, "dashboard")
    return {**drawn, "phone": page_phone, "phone_labels": page.evaluate(CHART_LABELS)}


def main():
    action, base, *rest = sys.argv[1:]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(20000)
        try:
            if action == "admin-setup":
                result = admin_setup(page, base, *rest)
            elif action == "reviewer":
                result = reviewer(page, base, *rest)
            elif action == "dashboard":
                result = dashboard(page, base, *rest)
            elif action == "round-record":
                result = round_record(page, base, *rest)
            else:
                result = admin_select(page, base, *rest)
        finally:
            browser.close()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
