"""The work page saves as the expert types, and an ended session loses nothing (issue #17 item 2), in a real
browser: Debian's chromium, headless, driven by Playwright in a subprocess (drive_review_drafts.py), against the
review service running in this process (the integration fixture).
"""
from __future__ import annotations

import json
import subprocess
import sys

import eventlet
from sqlalchemy import select

from tests.conftest import ROOT
from tests.integration.test_review_service import outbox, review  # noqa: F401  (fixture)
from tests.signin import staffed_round


def drive(*args, timeout: float = 180) -> dict:
    """The driver as a child process; waited for cooperatively, as the service answering it runs on this hub."""
    out, err = (ROOT / "tests" / "browser" / f".drafts-{n}.log" for n in ("out", "err"))
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "browser" / "drive_review_drafts.py"), *args],
                                 cwd=ROOT, stdout=stdout, stderr=stderr)
        waited = 0.0
        while child.poll() is None and waited < timeout:
            eventlet.sleep(0.2)
            waited += 0.2
        if child.poll() is None:
            child.kill()
    try:
        assert child.returncode == 0, err.read_text()[-3000:]
        return json.loads(out.read_text().strip().splitlines()[-1])
    finally:
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)


def test_marks_typed_are_saved_as_drafts_and_survive_an_ended_session(review, sqlite_url):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed = staffed_round(review)
    staffed["admin"].post(f"{base}/rounds/{staffed['round_id']}/invite", data={"csrf_token": staffed["token"]})
    first, second = (i["data"]["sign_in_url"] for i in outbox(store, "reviewer_invited")[:2])

    seen = drive(base, first, second, sqlite_url.removeprefix("sqlite:///"))
    assert seen["reloaded"] == {"mark_thought": "7", "mark_appeal": "8.5", "mark_form": "", "comment": "结构清楚",
                                "comment_for_org": "建议精简"}
    typed = {"mark_thought": "7", "mark_appeal": "8.5", "mark_form": "9", "comment": "结构清楚，史料翔实",
             "comment_for_org": "建议精简开头"}
    assert seen["typed"] == typed
    work = seen["work_url"].removeprefix(base)
    assert seen["sign_in"] == "/sign-in?next=" + work.replace("/", "%2F")
    assert seen["sign_in_url"].endswith(seen["sign_in"])
    assert seen["landed"] == seen["work_url"]
    assert seen["restored"] == typed and seen["after_reload"] == typed and seen["left_in_browser"] == 0

    from services.review.models import Score

    with store.transaction() as s:
        score = s.scalars(select(Score).where(Score.assignment_id == work.removeprefix("/works/"))).one()
        assert (score.state, score.marks, score.comment) == ("draft", {"thought": 7.0, "appeal": 8.5, "form": 9.0},
                                                              "结构清楚，史料翔实")
        assert score.comment_for_org == "建议精简开头"
