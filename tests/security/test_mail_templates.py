"""Issue #14, item 17: per-university mail templates are read (TEMPLATE_DIR) and cannot reach Python.

TEMPLATE_DIR was never read from the environment, so universities' templates were inert; once
read, a university's template is not code we wrote. It renders in Jinja2's sandbox: a template
reaching for Python internals fails, the message is rendered from our template instead and says
why, and the rest of the mail goes out. Against a real RabbitMQ and a real SMTP server.
"""
import mailbox
from email.header import decode_header, make_header

import pytest
import requests

from common.events import make_event
from common.settings import service_config
from tests.conftest import wait_until
from tests.integration.test_notify_service import key_events, publish, smtp  # noqa: F401  (fixtures)

HOSTILE_TITLE = "<script>alert(1)</script>战疫故事"


def test_template_dir_is_read_from_the_environment():
    assert service_config("notify", {"TEMPLATE_DIR": "/srv/siyige/templates"})["TEMPLATE_DIR"] == \
        "/srv/siyige/templates"
    assert service_config("notify", {})["TEMPLATE_DIR"] == ""  # ours only


@pytest.fixture
def notify_with_templates(make_config, start_service, sqlite_url, smtp, tmp_path):  # noqa: F811
    from common.db import Store
    from services.notify.service import NotifyService

    templates = tmp_path / "templates"
    seu = templates / "seu"
    seu.mkdir(parents=True)
    # a subject that reaches for Python's internals, a body and an HTML part that are fine
    (seu / "receipt.subject.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    (seu / "receipt.body.txt").write_text("东南大学党委组织部回执\n{{ org_name }}：{{ title }}（{{ receipt_no }}）\n",
                                          encoding="utf-8")
    (seu / "receipt.body.html").write_text("<p>东南大学党委组织部回执：{{ title }}</p>", encoding="utf-8")
    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         **{"TEMPLATE_DIR": service_config("notify", {"TEMPLATE_DIR": str(templates)})["TEMPLATE_DIR"]})
    start_service(NotifyService, config)
    return {"amqp": config["AMQP_URI"], "store": Store(sqlite_url),
            "base": f"http://{config['WEB_SERVER_ADDRESS']}/api/v1/messages"}


def receipt(tenant, n):
    return make_event("submission_submitted", tenant, {
        "submission_id": f"s-{tenant}-{n}", "campaign_id": f"siyige-2020-{tenant}", "track": "story",
        "stage": "submission", "final_stage": True, "org_id": f"o-{tenant}", "org_name": "计算机学院党委",
        "org_level": "level2", "title": HOSTILE_TITLE, "receipt_no": f"{tenant.upper()}-{n}",
        "submitted_at": "2020-07-14T02:00:00+00:00", "file_ids": [], "contact_email": f"{tenant}{n}@demo.local"})


def test_a_template_reaching_for_python_fails_safely_and_the_mail_still_goes_out(notify_with_templates, smtp):  # noqa: F811
    notify = notify_with_templates
    smtp.start()
    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu_tpl"), receipt("seu", 1),
            receipt("wust", 1), receipt("seu", 2))
    box = mailbox.Maildir(smtp.maildir, create=True)
    wait_until(lambda: len(box) == 3, timeout=30, what="three receipts")
    mails = {m["To"]: m for m in box}

    seu = mails["seu1@demo.local"]
    # the subject is ours (theirs failed in the sandbox), nothing of Python's classes in it
    assert str(make_header(decode_header(seu["Subject"]))) == f"【回执 SEU-1】{HOSTILE_TITLE}"
    text, html = seu.get_payload()  # their body and their HTML part are used
    assert text.get_payload(decode=True).decode() == f"东南大学党委组织部回执\n计算机学院党委：{HOSTILE_TITLE}（SEU-1）\n"
    assert html.get_content_type() == "text/html"
    assert html.get_payload(decode=True).decode() == \
        "<p>东南大学党委组织部回执：&lt;script&gt;alert(1)&lt;/script&gt;战疫故事</p>\n"
    wust = mails["wust1@demo.local"]
    assert not wust.is_multipart() and "您单位提交的作品已收到" in wust.get_payload(decode=True).decode()

    # the university sees why its template was not used, on every message it concerned
    items = requests.get(notify["base"], headers={"Authorization": "Bearer sk_seu_tpl"}, timeout=10).json()["items"]
    assert [m["state"] for m in items] == ["sent", "sent"]
    for m in items:
        assert "receipt.subject.txt" in m["template_error"] and "SecurityError" in m["template_error"]
        assert "已改用平台默认模板" in m["template_error"]
