"""Drives intake's hosted submission pages (/submit) in Debian's chromium through Playwright, as a branch secretary
on a phone would; run by test_hosted_submission.py, in a process of its own as the other drivers are.

    drive_submission.py ACTION '{"intake": "...", "state": "...", "shots": "...", "width": 390, ...}'

ACTION is `story` (a story with photos: one fails its check and is replaced), `lecture` (registered, then a video
uploaded over a throttled connection that drops part-way and resumes) or `nomination` (a 两优一先 form: a person,
a phone, a document). Prints one JSON line of what the person saw.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_review import CHROMIUM_ARGS  # noqa: E402  (the same browser)

CHECK_TIMEOUT_MS = 180_000  # the media check of a 200 MB video, on a CI machine's two cores


class Phone:
    """The page at the person's width, and where its screenshots go."""

    def __init__(self, page, shots: str | None, width: int):
        self.page, self.shots, self.width = page, Path(shots) if shots else None, width
        page.on("dialog", lambda dialog: dialog.accept())  # 确定删除 / 确定撤回

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.shots / f"{name}-{self.width}.png"), full_page=True)

    def fits(self) -> None:
        """Nothing wider than the screen: a phone user never scrolls sideways."""
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        assert wide <= self.width, f"the page is {wide} px wide on a {self.width} px screen"

    def open_new(self, campaign: str, track: str, label: str) -> None:
        page = self.page
        page.goto(self.page.url.split("#")[0] + "#/")
        expect(page.locator("h1")).to_contain_text("报送作品")
        page.locator(f"a.button[href='#/new/{campaign}/{track}']").click()
        expect(page.locator("h1")).to_have_text(f"新建{label}作品")

    def save_draft(self) -> str:
        self.page.get_by_role("button", name="保存草稿").click()
        self.page.wait_for_url(re.compile(r"#/work/[0-9a-f]+$"))
        return self.page.url.rsplit("/", 1)[-1]

    def upload(self, kind: str, path: str) -> None:
        self.page.set_input_files(f"#upload-{kind}", path)

    def file_row(self, name: str):
        return self.page.locator("ul.files li", has=self.page.locator(".name", has_text=name))

    def submit(self) -> str:
        """The next stage submitted: the receipt the page then shows (a new one, not the last stage's)."""
        receipt = self.page.locator("#receipt")
        before = receipt.inner_text().strip() if receipt.count() else None
        self.page.locator("#submit-work").click()
        expect(self.page.locator("#status")).to_contain_text("回执编号", timeout=30_000)
        if before:
            expect(receipt).not_to_have_text(before)
        return receipt.inner_text().strip()


def story(phone: Phone, args: dict) -> dict:
    page = phone.page
    page.goto(args["intake"] + "/submit")
    expect(page.locator("h1")).to_contain_text("报送作品")
    phone.shot("submit-home")
    phone.fits()
    home = {"campaigns": [t.strip() for t in page.locator("section.campaign h2").all_inner_texts()],
            "tracks": [t.strip() for t in page.locator("section.campaign h3").all_inner_texts()]}
    phone.open_new(args["campaign"], "story", "战疫故事汇")
    quota = page.locator("#quota")
    expect(quota).to_contain_text("还可报")
    page.fill("#f-title", args["title"])
    page.fill("#f-text", args["text"])
    count = page.locator("#f-text-count").inner_text()
    phone.shot("story-form")
    work = phone.save_draft()
    expect(page.locator("h1")).to_have_text(args["title"])
    # a photo that passes, and one that is no picture at all: its check fails, with the reason
    phone.upload("image", args["good_photo"])
    good = phone.file_row(Path(args["good_photo"]).name)
    expect(good).to_contain_text("检查通过", timeout=CHECK_TIMEOUT_MS)
    phone.upload("image", args["broken_photo"])
    broken = phone.file_row(Path(args["broken_photo"]).name)
    expect(broken.locator(".check.failed")).to_be_visible(timeout=CHECK_TIMEOUT_MS)
    findings = [t.strip() for t in broken.locator("li").all_inner_texts()]
    phone.shot("story-failed-check")
    # replaced: removed, and another photo uploaded in its place
    broken.get_by_role("button").click()
    expect(phone.file_row(Path(args["broken_photo"]).name)).to_have_count(0)
    phone.upload("image", args["second_photo"])
    expect(phone.file_row(Path(args["second_photo"]).name)).to_contain_text("检查通过", timeout=CHECK_TIMEOUT_MS)
    receipt = phone.submit()
    expect(page.locator("#status")).to_contain_text("回执编号")
    phone.shot("story-receipt")
    phone.fits()
    submitted = page.locator("#state").inner_text()
    withdrawn = None
    if args.get("withdraw"):  # changed their mind before the deadline: withdrawn, it leaves the selection
        page.locator("#withdraw-work").click()
        expect(page.locator("#state")).to_contain_text("已撤回")
        withdrawn = page.locator("#state").inner_text()
        phone.shot("story-withdrawn")
    return {"home": home, "work": work, "count": count, "findings": findings, "withdrawn": withdrawn, "receipt": receipt,
            "state": submitted}


def lecture(phone: Phone, args: dict) -> dict:
    page = phone.page
    page.goto(args["intake"] + "/submit")
    phone.open_new(args["campaign"], "lecture", "专题微党课")
    page.fill("#f-title", args["title"])
    page.fill("#f-lecturers", "李书记、王老师")
    page.fill("#f-planned_date", "2020-06-25")
    page.select_option("#f-theme", index=1)
    work = phone.save_draft()
    registered = phone.submit()  # the registration stage: no file yet
    # the video: over a connection of 40 MB/s up, which drops a quarter of the way (the browser's connection is
    # closed mid-body, as when a phone leaves a cell; the page is not told beforehand)
    puts = []
    page.on("request", lambda r: puts.append(r.headers.get("content-range")) if r.method == "PUT" else None)
    page.evaluate("""() => {
        const send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.send = function (body) { window.__sending = this; return send.call(this, body); };
    }""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 5, "downloadThroughput": -1,
                                                  "uploadThroughput": 40 * 1024 * 1024})
    phone.upload("video", args["video"])
    uploader = page.locator("div.uploader", has=page.locator("#upload-video"))
    bar, hint = uploader.locator("progress"), uploader.locator(".hint")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        said = hint.inner_text()
        seen.append(said)
        if said.startswith("正在上传") and int(bar.get_attribute("value") or 0) >= 25:
            phone.shot("lecture-uploading")
            page.evaluate("() => window.__sending.abort()")
            break
        time.sleep(0.1)
    expect(hint).to_contain_text("续传", timeout=60_000)
    resuming = hint.inner_text()
    phone.shot("lecture-resuming")
    name = Path(args["video"]).name
    expect(phone.file_row(name)).to_contain_text("检查通过", timeout=CHECK_TIMEOUT_MS)
    # the video stage also asks when the lecture was held: the refusal says so, the field is filled, then it goes
    page.locator("#submit-work").click()
    refusal = page.locator("#action-status [role=alert]")
    expect(refusal).to_contain_text("讲授时间")
    refused = refusal.inner_text()
    phone.shot("lecture-refused")
    page.fill("#f-held_on", "2020-06-28")
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator("#status")).to_contain_text("已保存")
    receipt = phone.submit()
    phone.shot("lecture-receipt")
    measured = phone.file_row(name).locator(".facts").inner_text().strip()
    return {"work": work, "registered": registered, "receipt": receipt, "content_ranges": [p for p in puts if p],
            "refused": refused, "facts": measured, "puts": len(puts), "resuming": resuming,
            "progress": sorted({s.split(" ")[0] for s in seen if s}), "state": page.locator("#state").inner_text()}


def nomination(phone: Phone, args: dict) -> dict:
    """A 两优一先 nomination: a choice, a person (姓名，职务，所在组织), a number, a phone, long text, a document."""
    page = phone.page
    page.goto(args["intake"] + "/submit")
    phone.open_new(args["campaign"], "nomination", "“两优一先”推荐")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll("#work-form input, #work-form select, #work-form textarea")]
        .filter(e => !e.labels || !e.labels.length).map(e => e.id || e.name)""")
    page.fill("#f-title", "张明")
    page.select_option("#f-category", label="优秀共产党员")
    page.fill("#f-nominee", "张明，学生第一党支部书记，计算机学院学生第一党支部")
    page.fill("#f-joined_party_on", "2012-06-01")
    page.fill("#f-deeds", args["deeds"])
    page.fill("#f-phone", "027-68862000")
    phone.shot("nomination-form")
    work = phone.save_draft()
    phone.upload("document", args["document"])
    expect(phone.file_row(Path(args["document"]).name)).to_contain_text("检查通过", timeout=CHECK_TIMEOUT_MS)
    receipt = phone.submit()
    phone.shot("nomination-receipt")
    phone.fits()
    return {"work": work, "receipt": receipt, "unlabelled": unlabelled,
            "nominee": page.locator("#f-nominee").input_value()}


def main() -> None:
    action, args = sys.argv[1], json.loads(sys.argv[2])
    width = int(args.get("width", 390))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(storage_state=args["state"], viewport={"width": width, "height": 844},
                                      is_mobile=width < 600, has_touch=width < 600, locale="zh-CN")
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            visit = {"story": story, "lecture": lecture, "nomination": nomination}[action]
            seen = visit(Phone(page, args.get("shots"), width), args)
        finally:
            context.storage_state(path=args["state"])
            browser.close()
        assert not errors, errors
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main()
