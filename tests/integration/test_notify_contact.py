"""Every mail names whom its reader asks (issue #17 item 3): the campaign's own contacts where the campaign is the
recipient university's, else the office that runs the track with its registered mailbox, else 教育部思政司.
SQLite; the mails themselves through enqueue, as the service writes them."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.db import Store, migrate
from common.settings import migrations_dir
from services.notify import messages
from services.notify.contact import whom_to_ask
from services.notify.mail import Templates
from services.notify.models import CampaignCopy, MessageLog, TenantName

TEMPLATES = Path(messages.__file__).parent / "templates"
# Mails that name whom to ask in their own words, not {{ contact }}: the undeliverable-address report goes to the
# office everyone else is told to ask; the forwarding reminder to a university names 教育部思政司; a 督办 names the
# person who sent it; an account invitation names the university that invited.
OWN_WORDS = {"address_failed", "forward_reminder", "supervision_reminder", "account_invite"}
SEU_CONTACTS = [{"name": "崔琳", "department": "organisation", "phone": "025-52090134", "email": "seuzzb@126.com"},
                {"name": "王宣", "department": "propaganda", "phone": "025-52090000"}]


@pytest.fixture
def store(sqlite_url):
    migrate(sqlite_url, migrations_dir("notify"))
    store = Store(sqlite_url)
    with store.transaction() as s:
        s.add(TenantName(tenant="seu", name="东南大学", contact_email="zzb@seu.edu.cn"))
        s.add(TenantName(tenant="wust", name="武汉科技大学"))
        s.add(CampaignCopy(campaign_id="siyige-2020", tenant="ministry", title="四个一", version=1,
                           tracks={"story": {"label": "战疫故事汇"}, "report": {"label": "宣传报道",
                                                                             "department": "propaganda"}},
                           announcement={"contacts": [{"name": "思政司联系人", "phone": "010-66096000"}]}))
        s.add(CampaignCopy(campaign_id="seu.siyige-2020-seu", tenant="seu", title="四个一", version=1,
                           derives_from="siyige-2020",
                           tracks={"story": {"label": "战疫故事汇"}, "report": {"label": "宣传报道",
                                                                             "department": "propaganda"}},
                           announcement={"contacts": SEU_CONTACTS}))
    yield store
    store.dispose()


def test_the_campaigns_own_contacts_come_first_and_the_tracks_office_leads(store):
    with store.transaction() as s:
        assert whom_to_ask(s, "seu", "seu.siyige-2020-seu", "story") == (
            "崔琳（东南大学党委组织部，电话 025-52090134，邮箱 seuzzb@126.com）；王宣（东南大学党委宣传部，电话 025-52090000）")
        assert whom_to_ask(s, "seu", "seu.siyige-2020-seu", "report").startswith("王宣（东南大学党委宣传部")


def test_without_its_own_contacts_the_university_office_with_its_mailbox_and_the_ministry_is_sizhengsi(store):
    with store.transaction() as s:
        # the ministry's campaign at SEU: SEU's office, not the ministry's people (they do not answer a branch)
        assert whom_to_ask(s, "seu", "siyige-2020", "story") == "东南大学党委组织部（zzb@seu.edu.cn）"
        assert whom_to_ask(s, "seu", "siyige-2020", "report") == "东南大学党委宣传部（zzb@seu.edu.cn）"
        assert whom_to_ask(s, "wust") == "武汉科技大学党委组织部"  # no mailbox registered: the office alone
        assert whom_to_ask(s, "ministry", "siyige-2020", "story") == "思政司联系人（电话 010-66096000）"
        assert whom_to_ask(s, "ministry") == "教育部思政司"
        assert whom_to_ask(s, "unregistered") == "学校党委组织部"  # never a slug


def test_every_template_names_whom_to_ask():
    kinds = sorted(p.name.removesuffix(".body.txt") for p in TEMPLATES.glob("*.body.txt"))
    assert len(kinds) >= 15
    silent = [k for k in kinds if k not in OWN_WORDS and "{{ contact }}" not in (TEMPLATES / f"{k}.body.txt").read_text()]
    assert silent == [], f"these mails name nobody to ask: {silent}"


def test_a_reviewers_mail_names_the_rounds_people_and_how_to_get_a_new_link(store):
    with store.transaction() as s:
        messages.enqueue(s, Templates(), kind="reviewer_invite", tenant="seu", recipient="li@demo.local",
                         dedupe_key="invite:1", about=("seu.siyige-2020-seu", "story"), context={
                             "name": "李老师", "round_title": "东南大学 · 四个一", "assigned": 3, "open": 3,
                             "reminder": False, "deadline": None, "expires": "2020-07-14 12:00",
                             "sign_in_url": "http://localhost:8001/sign-in/x"})
    with store.transaction() as s:
        body = s.query(MessageLog).one().body
    assert "对评审安排有疑问，请联系崔琳（东南大学党委组织部，电话 025-52090134" in body
    assert "向我的邮箱重新发送登录链接" in body
