"""Deadline reminders and mail policy: pure functions."""
import smtplib
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st
from jinja2 import UndefinedError

from common.campaign.model import effective_at
from services.notify import mail
from services.notify.reminders import due_reminders

CAMPAIGN = {"campaign_id": "siyige-2020-seu", "tenant": "seu", "tracks": {
    "story": {"submit_levels": ["level2"],
              "deadlines": {"submission": {"level2": "2020-07-20T23:59:59+08:00", "university": "2020-07-31T23:59:59+08:00"}}},
    "meeting_report": {"submit_levels": ["branch"],
                       "deadlines": {"submission": {"university": "2020-07-31T23:59:59+08:00"}}},
}}
CONTACTS = [
    {"tenant": "seu", "org_id": "a", "level": "level2"},
    {"tenant": "seu", "org_id": "b", "level": "level2"},
    {"tenant": "seu", "org_id": "br", "level": "branch"},
    {"tenant": "wust", "org_id": "w", "level": "level2"},
]


def at(iso):
    return datetime.fromisoformat(iso)


@pytest.mark.parametrize("now, expected_days", [
    ("2020-07-13T08:00:00+08:00", 7),
    ("2020-07-17T23:00:00+08:00", 3),
    ("2020-07-19T00:30:00+08:00", 1),
    ("2020-07-18T12:00:00+08:00", None),  # 2 days: no reminder
    ("2020-07-21T09:00:00+08:00", None),  # past the deadline
])
def test_story_reminders_come_7_3_and_1_days_before(now, expected_days):
    due = [r for r in due_reminders(at(now), [CAMPAIGN], CONTACTS, set()) if r.track == "story"]
    if expected_days is None:
        assert due == []
    else:
        assert {(r.org_id, r.days_left) for r in due} == {("a", expected_days), ("b", expected_days)}


def test_the_day_is_counted_in_beijing_time():
    # 2020-07-12T16:30Z is already 7/13 00:30 in Beijing: 7 days before 7/20
    due = due_reminders(at("2020-07-12T16:30:00+00:00"), [CAMPAIGN], CONTACTS, set())
    assert {r.days_left for r in due if r.track == "story"} == {7}


def test_orgs_that_submitted_and_other_universities_are_left_out():
    due = due_reminders(at("2020-07-13T08:00:00+08:00"), [CAMPAIGN], CONTACTS,
                        {("siyige-2020-seu", "story", "submission", "a")})
    assert [r.org_id for r in due if r.track == "story"] == ["b"]
    assert all(r.org_id != "w" for r in due)


def test_a_level_without_its_own_deadline_uses_the_one_above():
    assert effective_at({"university": "2020-07-31T23:59:59+08:00"}, "branch") == at("2020-07-31T23:59:59+08:00")
    due = due_reminders(at("2020-07-24T10:00:00+08:00"), [CAMPAIGN], CONTACTS, set())
    assert [(r.track, r.org_id, r.days_left) for r in due] == [("meeting_report", "br", 7)]


def test_dedupe_keys_differ_per_org_stage_and_day():
    due = due_reminders(at("2020-07-13T08:00:00+08:00"), [CAMPAIGN], CONTACTS, set())
    assert len({r.dedupe_key for r in due}) == len(due) == 2


def test_templates_render_in_chinese_and_refuse_missing_values(tmp_path):
    templates = mail.Templates(str(tmp_path))
    rendered = templates.render("reminder", "seu", {"contact": "东南大学党委组织部（zzb@seu.edu.cn）",
        "org_name": "机械工程学院党委", "campaign": "四个一", "track": "战疫故事汇", "stage": "提交",
        "deadline": "2020年07月20日 23:59", "days_left": 7})
    assert "7 天后截止" in rendered.subject and "机械工程学院党委" in rendered.body
    assert rendered.html is None and rendered.template_error is None
    with pytest.raises(UndefinedError):
        templates.render("reminder", "seu", {"org_name": "x"})


def test_delivery_policy():
    assert mail.message_id("receipt:A") == mail.message_id("receipt:A") != mail.message_id("receipt:B")
    assert mail.retry_delay(1) == timedelta(seconds=30) and mail.retry_delay(20) == timedelta(hours=1)
    assert mail.is_permanent(smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")}))
    assert not mail.is_permanent(smtplib.SMTPRecipientsRefused({"x@y": (451, b"try later")}))
    assert not mail.is_permanent(ConnectionRefusedError())


# --------------------------------------------------------------------------- headers (issue #14, item 2)

# Everything str.splitlines splits on, which is what makes the email package refuse a header value.
LINE_SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _header_lines(msg) -> dict[str, list[str]]:
    """The message's header block as sent, unfolded: name -> values."""
    from email import message_from_bytes, policy

    parsed = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    return {name: [str(v) for v in parsed.get_all(name)] for name in parsed.keys()}


@pytest.mark.parametrize("separator", LINE_SEPARATORS)
def test_every_line_separator_in_a_title_becomes_a_space_in_the_subject(separator):
    from services.notify.mailer import build_message

    title = f"战疫故事{separator}Bcc: victim@example.com{separator}第二行"
    msg = build_message("平台 <noreply@localhost>", "cse@demo.local", f"【回执 SEU-1】{title}", "正文", "<a@b>")
    headers = _header_lines(msg)
    assert headers["Subject"] == ["【回执 SEU-1】战疫故事 Bcc: victim@example.com 第二行"]
    assert "Bcc" not in headers and headers["To"] == ["cse@demo.local"]


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_the_header_builder_never_raises_and_never_yields_a_line_break(text):
    from services.notify.mailer import build_message

    line = mail.header_text(text)
    assert len(line.splitlines()) <= 1 and line == line.strip() and len(line) <= mail.SUBJECT_LIMIT
    # the sender's display name as hostile as the title
    msg = build_message((text, "noreply@localhost"), "cse@demo.local", text, text, mail.message_id(text), text)
    headers = _header_lines(msg)
    assert set(headers) - {"Content-Transfer-Encoding"} == {"From", "To", "Subject", "Date", "Message-ID",
                                                             "Content-Type", "MIME-Version"}
    assert all(len(v) == 1 and len(v[0].splitlines()) <= 1 for v in headers.values())
    # Python's folding may put a space between two encoded words, where RFC 2047 readers drop it:
    # the words and their order are what must survive, never an extra header or line
    assert headers["Subject"][0].split() == line.split() or "".join(headers["Subject"][0].split()) == "".join(
        line.split())
    assert headers["To"] == ["cse@demo.local"]
    assert msg["From"].addresses[0].addr_spec == "noreply@localhost"


@pytest.mark.parametrize("address", ["cse@demo.local\u2028Bcc: x@evil.example", "a@b.example, c@d.example",
                                     "名字 <a@b.example>", "a@b.example\r\nBcc: x@y.example", "no-at-sign", ""])
def test_a_recipient_that_is_not_one_bare_address_cannot_be_built(address):
    from services.notify.mailer import build_message

    with pytest.raises(mail.Unbuildable) as refused:
        build_message("平台 <noreply@localhost>", address, "主题", "正文", "<a@b>")
    assert "不是有效的邮箱地址" in str(refused.value) and mail.is_permanent(refused.value)


def test_only_errors_about_the_network_or_the_server_are_retried():
    assert mail.is_permanent(mail.Unbuildable("x")) and mail.is_permanent(UnicodeEncodeError("utf-8", "", 0, 1, "x"))
    assert not mail.is_permanent(smtplib.SMTPServerDisconnected()) and not mail.is_permanent(TimeoutError())


# --------------------------------------------------------------------------- a university's templates (item 17)

RECEIPT = {"contact": "东南大学党委组织部（zzb@seu.edu.cn）",
    "org_name": "计算机学院党委", "receipt_no": "SEU-1", "title": "<b>战疫</b>故事", "campaign": "四个一",
           "track": "战疫故事汇", "stage": "提交", "submitted_at": "2020年07月14日 10:00"}


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ receipt_no.__class__.__base__.__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ self._TemplateReference__context }}",
    "{{ title.format.__globals__ }}",
])
def test_a_template_reaching_for_python_internals_fails_safely_and_ours_is_used(tmp_path, template):
    (tmp_path / "seu").mkdir()
    (tmp_path / "seu" / "receipt.subject.txt").write_text(template, encoding="utf-8")
    rendered = mail.Templates(str(tmp_path)).render("receipt", "seu", RECEIPT)
    assert rendered.subject == "【回执 SEU-1】<b>战疫</b>故事"  # ours
    assert "receipt.subject.txt" in rendered.template_error and "已改用平台默认模板" in rendered.template_error
    assert "class" not in rendered.subject and "uid=" not in rendered.body


def test_a_universitys_templates_are_used_and_its_html_part_is_escaped(tmp_path):
    (tmp_path / "seu").mkdir()
    (tmp_path / "seu" / "receipt.body.txt").write_text("{{ org_name }}：回执 {{ receipt_no }}，{{ title }}",
                                                       encoding="utf-8")
    (tmp_path / "seu" / "receipt.body.html").write_text("<p>{{ title }}</p>", encoding="utf-8")
    rendered = mail.Templates(str(tmp_path)).render("receipt", "seu", RECEIPT)
    assert rendered.body == "计算机学院党委：回执 SEU-1，<b>战疫</b>故事"  # text part as written
    assert rendered.html == "<p>&lt;b&gt;战疫&lt;/b&gt;故事</p>" and rendered.template_error is None
    # another university, or a tenant that is not a slug, never reads that folder
    assert mail.Templates(str(tmp_path)).render("receipt", "wust", RECEIPT).html is None
    assert mail.Templates(str(tmp_path)).render("receipt", "../seu", RECEIPT).html is None


def test_a_template_that_writes_without_end_is_cut(tmp_path):
    (tmp_path / "seu").mkdir()
    (tmp_path / "seu" / "receipt.body.txt").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}字{% endfor %}{% endfor %}", encoding="utf-8")
    assert len(mail.Templates(str(tmp_path)).render("receipt", "seu", RECEIPT).body) == mail.RENDER_LIMIT
