"""Review: keeps the works that enter review; scoring and the UI come with issue #4."""
from __future__ import annotations

import html

from sqlalchemy import func, select
from werkzeug.wrappers import Response

from common.db import utcnow
from common.dependencies import Database
from common.http import api
from common.messaging import OutboxRelay, handles
from services.review.models import Entry, OutboxMessage, ProcessedEvent, RubricCopy


class ReviewService:
    name = "review"

    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)

    @api("GET", "/health")
    def health(self, request):
        return {"service": "review", "status": "ok"}

    @api("GET", "/")
    def home(self, request):
        with self.db.transaction() as s:
            rows = s.execute(select(Entry.track, func.count()).where(Entry.state == "submitted")
                             .group_by(Entry.track)).all()
        items = "".join(f"<li>{html.escape(t)}：{n} 件</li>" for t, n in rows) or "<li>暂无作品</li>"
        page = (f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>专家评审</title>"
                f"<h1>专家评审</h1><p>已进入评审的作品：</p><ul>{items}</ul></html>")
        return Response(page, mimetype="text/html")

    @handles("campaign_published")
    def on_campaign_published(self, event):
        with self.db.handling(event) as s:
            if s is None:
                return
            for track, spec in event.data["tracks"].items():
                s.merge(RubricCopy(campaign_id=event.data["campaign_id"], track=track, criteria=spec["rubric"]))

    @handles("submission_submitted")
    def on_submission_submitted(self, event):
        d = event.data
        with self.db.handling(event) as s:
            if s is None:
                return
            s.merge(Entry(submission_id=d["submission_id"], tenant=event.tenant, campaign_id=d["campaign_id"],
                          track=d["track"], stage=d["stage"], title=d["title"], state="submitted",
                          updated_at=utcnow()))

    @handles("submission_withdrawn")
    def on_submission_withdrawn(self, event):
        with self.db.handling(event) as s:
            if s is None:
                return
            entry = s.get(Entry, event.data["submission_id"])
            if entry is not None:
                entry.state, entry.updated_at = "withdrawn", utcnow()
