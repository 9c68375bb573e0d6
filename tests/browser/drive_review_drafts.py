"""Drives the work page's autosave in Debian's chromium (headless) through Playwright; run by test_review_drafts.py.

A separate process: the tests' process is monkey-patched by eventlet. Prints one JSON line of what it saw.

    drive_review_drafts.py BASE_URL FIRST_SIGN_IN_URL SECOND_SIGN_IN_URL DATABASE_FILE
"""
from __future__ import annotations

import json
import sqlite3
import sys

from drive_review import CHROMIUM_ARGS  # the script's folder is on the path: the shared driver's flags
from playwright.sync_api import expect, sync_playwright

WAIT = 15000


def values(page) -> dict:
    return {name: page.locator(f"#{name}").input_value()
            for name in ("mark_thought", "mark_appeal", "mark_form", "comment", "comment_for_org")}


def drafts(page, base, first_link, second_link, database):
    page.goto(first_link)
    page.click("text=进入评审")
    expect(page.locator("h1")).to_have_text("我的评审任务")
    page.locator("table.list a").first.click()
    work_url = page.url
    status = page.locator("#draft-status")
    # typed, not submitted: saved on the server about a second after the last keystroke
    page.locator("#mark_thought").fill("7")
    page.locator("#mark_appeal").press_sequentially("8.5")
    page.locator("#comment").press_sequentially("结构清楚")
    page.locator("#comment_for_org").press_sequentially("建议精简")  # the comment for the org autosaves too
    expect(status).to_contain_text("草稿已自动保存", timeout=WAIT)
    page.reload()
    reloaded = values(page)

    # the session ends (idle, signed out elsewhere): its row is gone; the expert types on
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM web_sessions WHERE role = 'reviewer'")
    page.locator("#mark_form").fill("9")
    page.locator("#comment").press("Control+End")  # focusing a textarea may put the caret at its start
    page.locator("#comment").press_sequentially("，史料翔实")
    page.locator("#comment_for_org").press("Control+End")
    page.locator("#comment_for_org").press_sequentially("开头")
    expect(status).to_contain_text("登录已过期，您的打分已保存在本机浏览器中", timeout=WAIT)
    typed = values(page)
    sign_in = page.locator("#draft-sign-in").get_attribute("href")
    page.click("#draft-sign-in")
    expect(page.locator("h1")).to_have_text("登录")
    sign_in_url = page.url

    # a new e-mailed link: back to the work page (the sign-in page remembered it), which restores and saves
    page.goto(second_link)
    page.click("text=进入评审")
    expect(page.locator("#draft-status")).to_contain_text("草稿已自动保存", timeout=WAIT)
    landed = page.url
    restored = values(page)
    left = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('review-draft:')).length")
    page.reload()
    return {"reloaded": reloaded, "typed": typed, "sign_in": sign_in, "sign_in_url": sign_in_url, "landed": landed,
            "restored": restored, "left_in_browser": left, "after_reload": values(page), "work_url": work_url}


def main():
    base, first, second, database = sys.argv[1:]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(20000)
        try:
            result = drafts(page, base, first, second, database)
        finally:
            browser.close()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
