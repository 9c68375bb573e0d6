"""Intake's hosted submission pages in a real browser (issue #20): the people of a university without a portal
submit through /submit, on a phone's 390 px screen and on a desktop's.

All four services run as processes. Two people of 武汉科技大学 are invited over the university's API, set a password
from the mailed link and sign in: a branch secretary (组织管理员 of a 党支部) and a college's 组织员 (组织管理员 of
its 二级党组织; 武汉科技大学's copy has the colleges submit the 战疫故事汇 their branches wrote). Then, in chromium:

1. the college submits a story with photos: the live 字数 shown is the server's count; a photo that is no picture
   fails its check and says why; it is deleted and replaced; the work is submitted, the receipt shown and mailed;
2. the branch secretary registers a 专题微党课, then uploads a 200 MB video over a 40 MB/s connection that drops a
   quarter of the way: the upload resumes from the bytes that arrived (a PUT with Content-Range), the check passes,
   the video stage is submitted;
3. the branch secretary nominates a 优秀共产党员 in the university's own 两优一先 (a campaign it published itself):
   a choice, a person's 姓名，职务，所在组织 on one line, a date, a phone number, the deeds, a document.
Every call the page makes is the public API with the person's session (the walk in test_role_walk covers who may
call what); screenshots of each step are kept with the test's logs.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.text import count_chars
from tests.browser.test_people_ui import PASSWORD, Portal, broker_vhost, drive, link_in, mail_to
from tests.conftest import ROOT
from tests.platform import running_platform

UNIVERSITIES = {"wust": "武汉科技大学"}
COLLEGE, BRANCH = "计算机科学与技术学院党委", "计算机学院学生第一党支部"
EMAILS = {COLLEGE: "cs@wust.demo.local", BRANCH: "cs1@wust.demo.local"}  # the orgs' contact addresses: receipts go there
PEOPLE = {"college": ("钱组织员", "qian.college@wust.edu.cn", COLLEGE), "branch": ("赵书记", "zhao.branch@wust.edu.cn", BRANCH)}
CAMPAIGN = "wust.siyige-2020-wust"
WUST_COPY = "让党旗始终高高飘扬——高校基层党组织常态化疫情防控“四个一”行动（武汉科技大学）"
STORY_TEXT = ("疫情期间，支部党员组成志愿服务队，连续三个月坚守校门测温点。😷\n"
              "“我是党员，我先上！”COVID-19 没有让我们退缩，反而让支部更加团结。")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hosted-submission")
    with broker_vhost() as amqp_uri, running_platform(folder, amqp_uri, UNIVERSITIES) as running:
        portal = Portal(running["urls"]["intake"], running["keys"]["wust"])
        csv = (f"名称,层级,上级组织,邮箱\n{COLLEGE},二级党组织,,{EMAILS[COLLEGE]}\n"
               f"{BRANCH},党支部,{COLLEGE},{EMAILS[BRANCH]}\n")
        portal.ok("POST", "/orgs/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
        orgs = portal.org_ids()
        running["states"] = {}
        for who, (name, email, org) in PEOPLE.items():
            portal.invite(name, email, {"role": "org_admin", "org_id": orgs[org]})
            mail = mail_to(running, email, "【账号邀请】")
            drive(running, "accept-invitation", url=link_in(mail, "/invitations/"), password=PASSWORD, name=who)
            running["states"][who] = str(folder / f"{who}.json")
            drive(running, "sign-in", intake=running["urls"]["intake"], email=email, password=PASSWORD, name=who,
                  state=running["states"][who])
        yield running


@pytest.fixture(scope="module")
def files(platform) -> dict:
    """Two photos that pass, one that is no picture, and a 200 MB lecture video (made once for the module)."""
    from PIL import Image

    from tests.bench.bench_media import generate

    folder = platform["logs"] / "media"
    folder.mkdir(exist_ok=True)
    made = {}
    for n, colour in ((1, (178, 24, 30)), (2, (212, 175, 55))):
        path = folder / f"志愿服务{n}.jpg"
        Image.new("RGB", (800, 600), colour).save(path, "JPEG", quality=85)
        made[f"photo{n}"] = str(path)
    broken = folder / "测温点.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + hashlib.sha256(b"not a picture").digest() * 64)  # a JPEG's start, then nothing
    made["broken"] = str(broken)
    made["video"] = str(generate(folder, minutes=10, target_mb=200)[0])
    return made


def submit_in_browser(platform, who: str, action: str, width: int, **args) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "browser" / "drive_submission.py"), action,
                           json.dumps({"intake": platform["urls"]["intake"], "state": platform["states"][who],
                                       "shots": str(platform["logs"] / "shots"), "width": width,
                                       "campaign": CAMPAIGN, **args}, ensure_ascii=False)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("width", [390, 1280])
def test_a_college_submits_a_story_with_photos(platform, files, width):
    title = f"{COLLEGE}战疫故事（{width}）"
    seen = submit_in_browser(platform, "college", "story", width, title=title, text=STORY_TEXT, good_photo=files["photo1"],
                             broken_photo=files["broken"], second_photo=files["photo2"], withdraw=width == 1280)
    # the university's own copy, not the ministry's campaign it derives from; the tracks a college submits to
    assert seen["home"]["campaigns"] == [WUST_COPY], seen["home"]
    assert {"专题微党课", "战疫故事汇", "组织生活会情况"} <= set(seen["home"]["tracks"]), seen["home"]
    assert seen["count"].startswith(f"{count_chars(STORY_TEXT)} 字"), seen["count"]  # the server's count, live
    assert seen["findings"] and all(f.startswith("错误：") for f in seen["findings"]), seen["findings"]
    assert seen["receipt"] and "已提交" in seen["state"], seen
    mail = mail_to(platform, EMAILS[COLLEGE], f"【回执 {seen['receipt']}】")
    assert title in mail["subject"] and seen["receipt"] in mail["body"]
    # the work is there through the API, as the university's portal key sees it, with its two photos
    portal = Portal(platform["urls"]["intake"], platform["keys"]["wust"])
    work = portal.ok("GET", f"/submissions/{seen['work']}")
    assert work["receipt_no"] == seen["receipt"] and work["title"] == title
    assert sorted(f["check"]["verdict"] for f in work["files"]) == ["passed", "passed"]
    # on the desktop, the college then withdraws it (until the deadline it may)
    assert work["state"] == ("withdrawn" if width == 1280 else "submitted"), work["state"]
    if width == 1280:
        assert seen["withdrawn"].startswith("状态：已撤回"), seen["withdrawn"]
    else:
        assert seen["withdrawn"] is None


def test_a_branch_secretarys_lecture_video_resumes_after_the_connection_drops(platform, files):
    seen = submit_in_browser(platform, "branch", "lecture", 390, title=f"{BRANCH}专题微党课", video=files["video"])
    size = Path(files["video"]).stat().st_size
    assert size >= 190_000_000
    # the first PUT broke off; the next sent the rest, from the bytes intake had kept
    assert seen["content_ranges"], seen
    start = int(seen["content_ranges"][0].split(" ")[1].split("-")[0])
    assert 0 < start < size and seen["content_ranges"][0].endswith(f"-{size - 1}/{size}"), seen["content_ranges"]
    assert "正在上传" in seen["progress"] and "续传" in seen["resuming"], seen
    assert "缺少“讲授时间”" in seen["refused"]  # the stage's refusal, in the words of the API, shown once
    assert seen["refused"].count("讲授时间") == 1, seen["refused"]
    assert seen["registered"] and seen["receipt"] and seen["receipt"] != seen["registered"]
    mail_to(platform, EMAILS[BRANCH], f"【回执 {seen['receipt']}】")
    portal = Portal(platform["urls"]["intake"], platform["keys"]["wust"])
    work = portal.ok("GET", f"/submissions/{seen['work']}")
    assert work["complete"] and work["receipt_no"] == seen["receipt"]
    (video,) = work["files"]
    assert video["size"] == size and video["check"]["verdict"] == "passed"
    assert seen["facts"].startswith("时长 10:00 · 1920x1080"), seen["facts"]  # what media measured, shown with it


def test_a_branch_secretary_nominates_in_the_universitys_own_campaign(platform, files):
    import yaml

    from tests import media_fixtures

    # 武汉科技大学 runs a 两优一先 of its own (同济大学's 2018 notice as the shape, dated this summer)
    definition = yaml.safe_load((ROOT / "common" / "campaign" / "definitions" / "own" / "tongji-lianyou-2018.yaml")
                                .read_text(encoding="utf-8"))
    definition.update(id="wust-lianyou-2020", title="武汉科技大学2020年“两优一先”评选表彰", short_title="两优一先 2020")
    for stage in definition["tracks"]["nomination"]["stages"]:
        stage["deadlines"] = {"branch": "2020-06-30", "level2": "2020-07-10"}
    portal = Portal(platform["urls"]["intake"], platform["keys"]["wust"])
    portal.ok("POST", "/campaigns", data=yaml.safe_dump(definition, allow_unicode=True).encode(),
              headers={"Content-Type": "application/yaml"})
    document = media_fixtures.make_document_docx(platform["logs"] / "media")
    deeds = "张明同志担任支部书记期间，带领支部党员坚守抗疫一线，组织志愿服务 120 余次。"
    seen = submit_in_browser(platform, "branch", "nomination", 390, campaign="wust.wust-lianyou-2020", deeds=deeds,
                             document=str(document))
    assert seen["unlabelled"] == [], seen["unlabelled"]  # every control of the form has its label
    assert seen["receipt"], seen
    work = portal.ok("GET", f"/submissions/{seen['work']}")
    assert work["fields"]["nominee"] == [{"name": "张明", "post": "学生第一党支部书记", "org": "计算机学院学生第一党支部"}]
    assert work["fields"]["category"] == "member" and work["fields"]["phone"] == "027-68862000"
    assert work["receipt_no"] == seen["receipt"] and seen["nominee"].startswith("张明，学生第一党支部书记")
