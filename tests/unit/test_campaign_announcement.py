"""The announcement of a published campaign (活动通知): who is told, what the mail says, the notice as a document."""
import dataclasses
import email
import io
import time
from email import policy

import docx
import pytest

from common.campaign import campaign_event_data, load_builtin_definitions
from common.campaign.events import PublishedCampaign
from common.events import make_event
from services.notify import announcement
from services.notify.announcement import Recipient
from services.notify.mail import Templates, Unbuildable
from services.notify.mailer import build_message

NOTICE = "各高校党委组织部：\n\n为深入贯彻落实中央精神，现就开展“四个一”行动通知如下。\n一、工作主题\n联系人：崔琳"
UNIVERSITIES = [{"tenant": "ministry", "name": "教育部思想政治工作司", "contact_email": "szs@moe.local"},
                {"tenant": "wust", "name": "武汉科技大学", "contact_email": "wustzzb@demo.local"},
                {"tenant": "seu", "name": "东南大学", "contact_email": "seuzzb@demo.local"},
                {"tenant": "nomail", "name": "未登记邮箱大学", "contact_email": None}]
ORGS = [{"tenant": "seu", "org_id": "o-cse", "name": "计算机学院党委", "level": "level2", "email": "cse@demo.local"},
        {"tenant": "seu", "org_id": "o-b1", "name": "计算机学院教工第一党支部", "level": "branch", "email": "b1@demo.local"},
        {"tenant": "seu", "org_id": "o-none", "name": "无邮箱学院党委", "level": "level2", "email": None},
        {"tenant": "wust", "org_id": "o-w", "name": "武科大学院党委", "level": "level2", "email": "w@demo.local"}]


def event_data(name="siyige-2020-seu", **extra):
    definition = load_builtin_definitions()[name]
    return campaign_event_data(dataclasses.replace(definition, **extra))


def test_the_ministrys_campaign_is_told_to_every_university_with_a_mailbox():
    tracks = event_data("siyige-2020")["tracks"]
    told = announcement.recipients("ministry", tracks, UNIVERSITIES, ORGS)
    assert [(r.tenant, r.email, r.level) for r in told] == [("seu", "seuzzb@demo.local", "university"),
                                                            ("wust", "wustzzb@demo.local", "university")]


def test_a_universitys_copy_is_told_to_its_own_orgs_at_the_levels_it_takes_submissions_from():
    tracks = event_data()["tracks"]
    levels = {level for t in tracks.values() for level in t["submit_levels"]}
    told = announcement.recipients("seu", tracks, UNIVERSITIES, ORGS)
    assert all(r.tenant == "seu" for r in told) and "o-w" not in [r.key for r in told]
    assert "o-none" not in [r.key for r in told]  # no address, no mail
    assert ("o-b1" in [r.key for r in told]) == ("branch" in levels)
    only_level2 = {k: {**t, "submit_levels": ["level2"]} for k, t in tracks.items()}
    assert [r.key for r in announcement.recipients("seu", only_level2, UNIVERSITIES, ORGS)] == ["o-cse"]


def test_a_correction_is_a_new_key_and_a_redelivery_the_same():
    r = Recipient("seu", "o-cse", "计算机学院党委", "cse@demo.local", "level2")
    assert announcement.dedupe_key("c", 1, r) == announcement.dedupe_key("c", 1, r)
    assert announcement.dedupe_key("c", 2, r) != announcement.dedupe_key("c", 1, r)


def test_each_track_gives_the_deadline_of_the_recipients_level_in_beijing_time_and_its_opening():
    tracks = {"story": {"label": "战疫故事汇", "department": "propaganda", "submit_levels": ["level2"],
                        "stage_labels": {"submission": "提交作品"}, "quota": {"level2": 2},
                        "deadlines": {"submission": {"level2": "2020-07-20T15:59:59+00:00",
                                                     "university": "2020-07-31T23:59:59+08:00"}},
                        "opens": {"submission": "2020-06-30T16:00:00+00:00"}},
              "lecture": {"label": "专题微党课", "department": "organisation", "submit_levels": ["branch"],
                          "stage_labels": {}, "deadlines": {"video": {"university": "2020-07-17T23:59:59+08:00"}}}}
    org = announcement.track_lines(tracks, "level2")
    assert [t["label"] for t in org] == ["战疫故事汇"]  # level-2 orgs do not submit lectures here
    assert org[0]["stages"] == [{"label": "提交作品", "opens": "2020年07月01日 00:00",
                                 "deadline": "2020年07月20日 23:59"}]
    assert org[0]["office"] == "党委宣传部" and org[0]["limit"] == 2
    university = announcement.track_lines(tracks, "university")
    assert [t["label"] for t in university] == ["战疫故事汇", "专题微党课"]
    assert university[1]["stages"][0] == {"label": "video", "opens": None, "deadline": "2020年07月17日 23:59"}
    # a branch has no lecture deadline of its own: the nearest above (the university's) is its own
    assert announcement.track_lines(tracks, "branch")[0]["stages"][0]["deadline"] == "2020年07月17日 23:59"


def render(data, publisher="seu", issuer="东南大学", recipient=None, attachment="四个一 2020 · 东南大学通知.docx"):
    recipient = recipient or Recipient("seu", "o-cse", "计算机学院党委", "cse@demo.local", "level2")
    return Templates().render("campaign_announcement", recipient.tenant,
                              {**announcement.mail_context(data, publisher, issuer, recipient, attachment),
                               "contact": f"{issuer}党委组织部（zzb@demo.local）"})


def test_the_mail_names_the_campaign_its_issuer_tracks_contacts_and_the_notice():
    data = event_data(notice=NOTICE)
    mail = render(data)
    assert mail.subject == f"【活动通知】{data['title']}" and mail.template_error is None
    assert mail.body.startswith("计算机学院党委：\n\n东南大学发布了")
    assert "专题微党课" in mail.body and "（北京时间）前" in mail.body
    assert "崔琳，东南大学党委组织部，电话 025-52090134，邮箱 seuzzb@126.com" in mail.body
    assert NOTICE in mail.body and "附件“四个一 2020 · 东南大学通知.docx”" in mail.body
    bare = render({**data, "notice": None, "contacts": []}, attachment=None)
    assert "通知原文" not in bare.body and "联系人" not in bare.body
    assert "如有疑问，请联系东南大学党委组织部（zzb@demo.local）" in bare.body  # no contacts: whom to ask all the same


def test_a_university_is_asked_to_run_the_ministrys_campaign_by_its_own_deadlines():
    data = event_data("siyige-2020")
    mail = render(data, "ministry", "教育部思想政治工作司",
                  Recipient("seu", "seu", "东南大学", "seuzzb@demo.local", "university"), None)
    assert mail.body.startswith("东南大学党委组织部：\n\n教育部思想政治工作司发布了")
    assert "请贵校按以下安排组织实施" in mail.body and "向教育部报送不超过" in mail.body


def test_a_correction_says_what_changed():
    mail = render({**event_data(), "version": 2, "change_note": "故事正文字数上限改为200字"})
    assert mail.subject.startswith("【活动更正】")
    assert "（第 2 版）：故事正文字数上限改为200字" in mail.body


def test_the_event_carries_contacts_notice_and_short_title_and_old_events_still_read():
    data = event_data(notice=NOTICE)
    make_event("campaign_published", "seu", data)  # the catalogue's schema accepts them
    campaign = PublishedCampaign.from_event(data)
    assert campaign.notice == NOTICE and campaign.contacts[0].phone == "025-52090134"
    assert campaign.short_title == "四个一 2020 · 东南大学"
    old = {k: v for k, v in data.items() if k not in ("contacts", "notice", "short_title")}
    make_event("campaign_published", "seu", old)
    assert PublishedCampaign.from_event(old).contacts == [] and PublishedCampaign.from_event(old).notice is None
    with pytest.raises(Exception):
        make_event("campaign_published", "seu", {**data, "notice": "长" * 20001})


def test_the_notice_document_opens_and_holds_the_notice_line_by_line():
    data = announcement.notice_document("四个一行动", NOTICE + "\x0b\ud800")
    text = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert text[0] == "四个一行动" and text[1] == "各高校党委组织部："
    assert "一、工作主题" in text and "" not in text


def test_the_same_notice_of_the_same_event_is_the_same_bytes():
    from datetime import datetime, timezone

    at = datetime(2020, 6, 10, 2, 0, tzinfo=timezone.utc)
    first = announcement.notice_document("t", NOTICE, at)
    time.sleep(2.1)  # zip entries are dated to 2 s: a build dated by the clock would differ by now
    assert announcement.notice_document("t", NOTICE, at) == first


def test_the_attachment_is_named_by_the_short_title_as_a_file_may_be():
    assert announcement.attachment_name("四个一 2020 · 东南大学", "x") == "四个一 2020 · 东南大学通知.docx"
    assert announcement.attachment_name(None, "a/b:c\n d") == "a_b_c d通知.docx"
    assert announcement.attachment_name("...", "x") == "活动通知.docx"


def test_a_built_message_carries_the_attachment_under_its_chinese_name():
    data = announcement.notice_document("四个一行动", NOTICE)
    msg = build_message("平台 <noreply@demo.local>", "cse@demo.local", "【活动通知】x", "正文", "<id@x>", None,
                        [("四个一 2020通知.docx", announcement.DOCX_TYPE, data)])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    body, = [p for p in parsed.walk() if p.get_content_type() == "text/plain"]
    files = list(parsed.iter_attachments())
    assert body.get_content().strip() == "正文"
    assert [f.get_filename() for f in files] == ["四个一 2020通知.docx"]
    assert files[0].get_payload(decode=True) == data
    with pytest.raises(Unbuildable, match="附件"):
        build_message("平台 <noreply@demo.local>", "cse@demo.local", "s", "b", "<id@x>", None,
                      [("gone.docx", announcement.DOCX_TYPE, None)])


def test_the_ministrys_campaign_is_told_only_to_the_universities_in_its_audience():
    data = event_data("siyige-2020")
    assert data["audience"] == {"categories": ["direct", "co_built"]}
    universities = [{**u, "category": c} for u, c in zip(UNIVERSITIES, (None, "direct", "local", None))]
    universities.append({"tenant": "newu", "name": "新登记大学", "contact_email": "newu@demo.local", "category": None})
    told = announcement.recipients("ministry", data["tracks"], universities, ORGS, data["audience"])
    # 武汉科技大学 (直属高校) and one whose category is not registered; not 东南大学 registered here as a 地方高校
    assert [r.tenant for r in told] == ["newu", "wust"]
    named = announcement.recipients("ministry", data["tracks"], universities, ORGS, {"universities": ["seu"]})
    assert [r.tenant for r in named] == ["seu"]
    # a university's copy goes to its own orgs, whatever audience it names
    assert announcement.recipients("seu", data["tracks"], universities, ORGS, {"categories": ["local"]})
