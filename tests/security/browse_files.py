"""Opens every file link of a reviewer's work page in Debian's chromium (Playwright); run by test_file_types.py.

A separate process, as tests/browser/drive_review.py: Playwright's loop must not share the tests'
eventlet-patched process. Prints one JSON line of what the browser did.

    python -m tests.security.browse_files COOKIES_JSON WORK_URL PAYLOAD

COOKIES_JSON: the reviewer's signed-in cookies. PAYLOAD: the HTML planted in the file; it is first
rendered as a page on its own (the control: it must run there), then every file link is clicked and
opened, and any sign of it running (its title, its request, a dialog) is reported.
"""
from __future__ import annotations

import json
import sys

from playwright.sync_api import Error as PlaywrightError, sync_playwright

from tests.browser.drive_review import CHROMIUM_ARGS

MARK = "XSS-RAN"  # the title the payload sets when it runs


def colours(context, tab) -> int:
    """How many colours the tab shows: a blocked or blank page has one or two, a rendered PDF many.

    Through CDP: Playwright's own screenshot waits for the PDF viewer's frame, which never reports ready.
    """
    import base64
    import io

    from PIL import Image

    shot = context.new_cdp_session(tab).send("Page.captureScreenshot", {"format": "png"})
    with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as image:
        return len(image.convert("RGB").getcolors(1 << 24) or [])


def main():
    cookies, work_url, payload = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", accept_downloads=True)
        context.add_cookies(cookies)
        control = context.new_page()
        control.set_content(payload)
        control.wait_for_timeout(200)
        result = {"control_title": control.title(), "files": [], "dialogs": [], "requests_after": []}
        control.close()

        page = context.new_page()
        page.goto(work_url)
        links = [(a.get_attribute("href"), a.inner_text(), a.get_attribute("download") is not None)
                 for a in page.locator("a[href*='/files/']").all()]
        watching = True
        context.on("request", lambda r: watching and "/queue" in r.url and result["requests_after"].append(r.url))
        context.on("dialog", lambda d: (result["dialogs"].append(d.message), d.dismiss()))
        for href, text, download in links:
            url = href if href.startswith("http") else work_url.split("/works/")[0] + href
            seen = {"name": text.split(" ", 1)[-1], "url_is_download_link": download}
            if download:  # as a reviewer clicks it on the work page
                with page.expect_download() as got:
                    page.locator(f"a[href='{href}']").click()
                seen["suggested"] = got.value.suggested_filename
            tab = context.new_page()
            try:
                with tab.expect_download(timeout=5000) as got:
                    try:
                        tab.goto(url)
                    except PlaywrightError:
                        pass  # "Download is starting": the browser saves it instead of showing it
                seen["outcome"] = "download"
                seen.setdefault("suggested", got.value.suggested_filename)
            except PlaywrightError:
                tab.wait_for_timeout(1500)
                seen["outcome"], seen["title"] = "shown", tab.title()
                seen["colours"] = colours(context, tab)
            result["files"].append(seen)
            tab.close()
        page.wait_for_timeout(500)
        watching = False
        result["script_ran"] = any(f.get("title") == MARK for f in result["files"]) or page.title() == MARK
        browser.close()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
