"""Notify: receipts by e-mail and the ministry's progress feed.

Reminders, webhooks and the full feeds come with issue #5.
"""
from __future__ import annotations

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from sqlalchemy import select

from common.db import utcnow
from common.dependencies import Database
from common.http import api
from common.messaging import OutboxRelay, handles
from services.notify.mailer import Mailer, build_message
from services.notify.models import CampaignTitle, MessageLog, OutboxMessage, ProcessedEvent, TrackProgress

RECEIPT_BODY = """{org_name}：

您单位提交的作品已收到。

回执编号：{receipt_no}
作品名称：{title}
所属活动：{campaign}
赛道：{track}　阶段：{stage}
提交时间：{submitted_at}

请妥善保存回执编号，查询或咨询时请提供。本邮件由系统自动发送，请勿直接回复。
"""


class MailerProvider(DependencyProvider):
    def setup(self):
        self.mailer = Mailer(self.container.config["MAIL_URL"])

    def get_dependency(self, worker_ctx):
        return self.mailer


class NotifyService:
    name = "notify"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    mailer = MailerProvider()

    @api("GET", "/health")
    def health(self, request):
        return {"service": "notify", "status": "ok"}

    @api("GET", "/feed/progress.json")
    def progress_feed(self, request):
        with self.db.transaction() as s:
            rows = s.scalars(select(TrackProgress).order_by(TrackProgress.tenant, TrackProgress.track)).all()
            return {"items": [{"tenant": r.tenant, "campaign_id": r.campaign_id, "track": r.track,
                               "submitted": r.submitted, "withdrawn": r.withdrawn, "orgs_submitted": len(r.orgs),
                               "updated_at": r.updated_at.isoformat()} for r in rows]}

    @handles("campaign_published")
    def on_campaign_published(self, event):
        with self.db.handling(event) as s:
            if s is not None:
                s.merge(CampaignTitle(campaign_id=event.data["campaign_id"], title=event.data["title"],
                                      derives_from=event.data["derives_from"]))

    @handles("submission_submitted")
    def on_submission_submitted(self, event):
        d = event.data
        with self.db.handling(event) as s:
            if s is None:
                return
            row = s.get(TrackProgress, (event.tenant, d["campaign_id"], d["track"]))
            if row is None:
                row = TrackProgress(tenant=event.tenant, campaign_id=d["campaign_id"], track=d["track"],
                                    submitted=0, withdrawn=0, orgs=[])
                s.add(row)
            if d.get("final_stage"):
                row.submitted += 1
            if d["org_id"] not in row.orgs:
                row.orgs = row.orgs + [d["org_id"]]
            row.updated_at = utcnow()
            if d.get("contact_email"):
                campaign = s.get(CampaignTitle, d["campaign_id"])
                subject = f"【回执 {d['receipt_no']}】{d['title']}"
                body = RECEIPT_BODY.format(campaign=campaign.title if campaign else d["campaign_id"], **d)
                # Sent inside the transaction: if the send fails, nothing is
                # recorded and the event is retried.
                self.mailer.send(build_message(self.config["MAIL_FROM"], d["contact_email"], subject, body))
                s.add(MessageLog(event_id=event.event_id, kind="receipt", tenant=event.tenant,
                                 recipient=d["contact_email"], subject=subject, state="sent"))

    @handles("submission_withdrawn")
    def on_submission_withdrawn(self, event):
        d = event.data
        with self.db.handling(event) as s:
            if s is None:
                return
            row = s.get(TrackProgress, (event.tenant, d["campaign_id"], d["track"]))
            if row is not None:
                row.withdrawn += 1
                row.updated_at = utcnow()
