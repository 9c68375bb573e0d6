"""Publishing announces the campaign (活动通知) by e-mail to its audience, with the notice attached: notify against a
real RabbitMQ and a real SMTP server (aiosmtpd on loopback), as tests/integration/test_notify_service.py."""
import dataclasses
import io
import mailbox
from datetime import datetime
from email import policy
from email.parser import BytesParser

import docx
import eventlet
from sqlalchemy import func, select

from common import clock
from common.campaign import campaign_event_data, load_builtin_definitions
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_notify_service import _kept, notify, publish, smtp  # noqa: F401 (fixtures)

NOTICE = ("关于开展高校基层党组织常态化疫情防控“四个一”行动的通知\n各高校党委组织部：\n"
          "为深入贯彻落实习近平总书记关于疫情防控工作的重要指示精神，现将有关事项通知如下。")
TENANTS = [make_event("tenant_registered", "ministry", {"name": "教育部思想政治工作司", "kind": "ministry",
                                                        "contact_email": "szs@moe.local"}),
           make_event("tenant_registered", "seu", {"name": "东南大学", "kind": "university",
                                                   "contact_email": "seuzzb@demo.local"}),
           make_event("tenant_registered", "wust", {"name": "武汉科技大学", "kind": "university",
                                                    "contact_email": "wustzzb@demo.local"})]
SEU_ORGS = make_event("orgs_imported", "seu", {"orgs": [
    {"org_id": "o-cse", "name": "计算机科学与工程学院党委", "level": "level2", "parent_id": None,
     "contact_email": "cse@demo.local"},
    {"org_id": "o-me", "name": "机械工程学院党委", "level": "level2", "parent_id": None,
     "contact_email": "me@demo.local"},
    {"org_id": "o-branch", "name": "计算机科学与工程学院教工第一党支部", "level": "branch", "parent_id": "o-cse",
     "contact_email": "b1@demo.local"},
]})
WUST_ORGS = make_event("orgs_imported", "wust", {"orgs": [
    {"org_id": "o-wust-mse", "name": "材料学院党委", "level": "level2", "parent_id": None,
     "contact_email": "mse@wust.local"}]})


def campaign(name, tenant, **changes):
    definition = dataclasses.replace(load_builtin_definitions()[name], **changes)
    return make_event("campaign_published", tenant, campaign_event_data(definition))


def mails(server):
    """Every mail the SMTP server took: to, subject, text, and the attachments as (file name, bytes)."""
    out = []
    for m in mailbox.Maildir(server.maildir, create=True):
        parsed = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
        text = parsed.get_body(preferencelist=("plain",)).get_content()
        out.append({"to": parsed["To"], "subject": str(parsed["Subject"]), "body": text,
                    "files": [(a.get_filename(), a.get_payload(decode=True)) for a in parsed.iter_attachments()]})
    return out


def known(store, model, n):
    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) >= n


def test_the_ministrys_campaign_reaches_each_university_once_and_a_copy_only_its_own_orgs(notify, smtp):
    from services.notify.models import Contact, MessageLog, TenantName

    smtp.start()
    publish(notify["amqp"], *TENANTS, SEU_ORGS, WUST_ORGS)
    # each event has its own queue: who is there to tell must be known before the campaign is
    wait_until(lambda: known(notify["store"], TenantName, 3) and known(notify["store"], Contact, 4),
               what="the tenants and orgs")

    ministry = campaign("siyige-2020", "ministry", notice=NOTICE)
    publish(notify["amqp"], ministry, ministry)  # delivered twice ...
    got = wait_until(lambda: (lambda m: m if len(m) >= 2 else None)(mails(smtp)), timeout=20,
                     what="the announcements to the universities")
    assert sorted(m["to"] for m in got) == ["seuzzb@demo.local", "wustzzb@demo.local"]  # ... mailed once each
    seu = next(m for m in got if m["to"] == "seuzzb@demo.local")
    assert seu["subject"] == "【活动通知】" + ministry.data["title"]
    assert seu["body"].startswith("东南大学党委组织部：") and "教育部思想政治工作司发布了活动" in seu["body"]
    assert "2020年07月31日 23:59（北京时间）前" in seu["body"]
    (name, data), = seu["files"]
    assert name == "四个一 2020通知.docx"
    paragraphs = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert NOTICE.splitlines()[0] in paragraphs

    # SEU's copy (it has no notice): its own orgs at the levels it takes submissions from, no attachment
    publish(notify["amqp"], campaign("siyige-2020-seu", "seu"))
    levels = {lv for t in load_builtin_definitions()["siyige-2020-seu"].tracks.values() for lv in t.submit_levels}
    expected = {"cse@demo.local", "me@demo.local"} | ({"b1@demo.local"} if "branch" in levels else set())
    wait_until(lambda: len(mails(smtp)) >= len(got) + len(expected), timeout=20, what="the announcements to SEU's orgs")
    copy = [m for m in mails(smtp) if m["to"] not in ("seuzzb@demo.local", "wustzzb@demo.local")]
    assert sorted(m["to"] for m in copy) == sorted(expected)
    assert all(m["subject"].startswith("【活动通知】") and m["files"] == [] for m in copy)
    assert all("东南大学发布了活动" in m["body"] and "崔琳，东南大学党委组织部" in m["body"] for m in copy)
    assert all("通知原文" not in m["body"] for m in copy)
    with notify["store"].transaction() as s:
        keys = [k for k in s.scalars(select(MessageLog.dedupe_key)) if k.startswith("announce:siyige-2020:")]
        assert sorted(keys) == ["announce:siyige-2020:v1:seu", "announce:siyige-2020:v1:wust"]


def seu_orgs(*orgs):
    """SEU's org list as an import carries it: (org_id, name, address or None), all level-2 orgs."""
    return make_event("orgs_imported", "seu", {"orgs": [
        {"org_id": i, "name": name, "level": "level2", "parent_id": None, "contact_email": email}
        for i, name, email in orgs]})


def test_orgs_that_arrive_after_the_announcement_are_told_once_while_the_campaign_runs(notify, smtp):
    """An org imported later, or whose address was added or changed, is told of SEU's running campaign once, with
    the notice attached; a redelivered import, a re-import, a second address change and the end of the campaign
    tell no one again (issue #16)."""
    from services.notify.models import CampaignCopy, Contact, MessageLog

    clock.set_start(datetime.fromisoformat("2020-06-12T09:00:00+08:00"))  # the 2020 deadlines lie ahead
    smtp.start()
    publish(notify["amqp"], TENANTS[1], seu_orgs(("o-cse", "计算机科学与工程学院党委", "cse@demo.local"),
                                                 ("o-me", "机械工程学院党委", None)))
    wait_until(lambda: known(notify["store"], Contact, 2), what="SEU's first org list")
    publish(notify["amqp"], campaign("siyige-2020-seu", "seu", notice=NOTICE))
    wait_until(lambda: _kept(notify["store"], CampaignCopy, "siyige-2020-seu"), what="SEU's campaign")
    first = wait_until(lambda: mails(smtp) or None, timeout=20, what="the announcement to 计算机学院")
    assert [m["to"] for m in first] == ["cse@demo.local"]  # 机械 has no address yet

    # 机械 gives its address, 材料 is new, 计算机 moves to another mailbox; the import comes twice, then again anew
    later = seu_orgs(("o-cse", "计算机科学与工程学院党委", "cse-new@demo.local"),
                     ("o-me", "机械工程学院党委", "me@demo.local"), ("o-mse", "材料科学与工程学院党委", "mse@demo.local"))
    publish(notify["amqp"], later, later)
    got = wait_until(lambda: (lambda m: m if len(m) >= 4 else None)(mails(smtp)), timeout=20,
                     what="the late announcements")
    publish(notify["amqp"], seu_orgs(("o-cse", "计算机科学与工程学院党委", "cse-new@demo.local"),
                                     ("o-me", "机械工程学院党委", "me@demo.local"),
                                     ("o-mse", "材料科学与工程学院党委", "mse@demo.local")))
    # 计算机 moves once more: told late once per campaign, not at every address it takes
    publish(notify["amqp"], seu_orgs(("o-cse", "计算机科学与工程学院党委", "cse-3@demo.local"),
                                     ("o-me", "机械工程学院党委", "me@demo.local"),
                                     ("o-mse", "材料科学与工程学院党委", "mse@demo.local")))
    wait_until(lambda: _contact_email(notify["store"], "o-cse") == "cse-3@demo.local", what="the third list")

    # after the campaign's last deadline (the material collection's 10/31) a newcomer is not told
    clock.set_start(datetime.fromisoformat("2020-11-01T09:00:00+08:00"))
    publish(notify["amqp"], seu_orgs(("o-cse", "计算机科学与工程学院党委", "cse-3@demo.local"),
                                     ("o-me", "机械工程学院党委", "me@demo.local"),
                                     ("o-mse", "材料科学与工程学院党委", "mse@demo.local"),
                                     ("o-arch", "建筑学院党委", "arch@demo.local")))
    wait_until(lambda: _contact_email(notify["store"], "o-arch") == "arch@demo.local", what="the last list")
    eventlet.sleep(1.5)  # a mail the send loop would have taken by now (it looks every 0.25 s)
    got = mails(smtp)
    assert sorted(m["to"] for m in got) == ["cse-new@demo.local", "cse@demo.local", "me@demo.local", "mse@demo.local"]
    for late in (m for m in got if m["to"] != "cse@demo.local"):
        assert late["subject"] == "【活动通知】" + campaign("siyige-2020-seu", "seu").data["title"]
        assert "贵单位的联系方式在活动发布后登记或更新，现补发活动通知。东南大学发布了活动" in late["body"]
        assert "崔琳，东南大学党委组织部" in late["body"] and NOTICE.splitlines()[0] in late["body"]
        (name, data), = late["files"]
        assert name == "四个一 2020 · 东南大学通知.docx" and data == next(
            m for m in got if m["to"] == "cse@demo.local")["files"][0][1]  # the same notice, stored once
    with notify["store"].transaction() as s:
        keys = sorted(s.scalars(select(MessageLog.dedupe_key).where(MessageLog.kind == "campaign_announcement")))
    assert keys == ["announce-late:siyige-2020-seu:o-cse", "announce-late:siyige-2020-seu:o-me",
                    "announce-late:siyige-2020-seu:o-mse", "announce:siyige-2020-seu:v1:o-cse"]


def test_a_university_registered_after_the_ministrys_announcement_is_told_once(notify, smtp):
    from services.notify.models import CampaignCopy, TenantName

    clock.set_start(datetime.fromisoformat("2020-06-12T09:00:00+08:00"))
    smtp.start()
    publish(notify["amqp"], TENANTS[0], TENANTS[1])
    wait_until(lambda: known(notify["store"], TenantName, 2), what="the ministry and SEU")
    publish(notify["amqp"], campaign("siyige-2020", "ministry", notice=NOTICE))
    wait_until(lambda: _kept(notify["store"], CampaignCopy, "siyige-2020"), what="the ministry's campaign")
    wait_until(lambda: len(mails(smtp)) == 1, timeout=20, what="the announcement to SEU")
    publish(notify["amqp"], TENANTS[2], TENANTS[2])  # WUST joins later; its registration delivered twice
    got = wait_until(lambda: (lambda m: m if len(m) >= 2 else None)(mails(smtp)), timeout=20,
                     what="the late announcement to WUST")
    wust, = [m for m in got if m["to"] == "wustzzb@demo.local"]
    assert wust["body"].startswith("武汉科技大学党委组织部：\n\n贵单位的联系方式在活动发布后登记或更新")
    assert [f for f, _ in wust["files"]] == ["四个一 2020通知.docx"]
    eventlet.sleep(1.0)
    assert sorted(m["to"] for m in mails(smtp)) == ["seuzzb@demo.local", "wustzzb@demo.local"]


def _contact_email(store, org_id):
    from services.notify.models import Contact

    with store.transaction() as s:
        row = s.get(Contact, org_id)
        return row.email if row else None
