"""Media: checks every uploaded file against its track's media policy."""
from __future__ import annotations

from nameko.web.handlers import http

from common.dependencies import Database
from common.messaging import OutboxRelay, handles
from services.media.models import CheckReport, MediaPolicyCopy, OutboxMessage, ProcessedEvent
from services.media.policy import judge


class MediaService:
    name = "media"

    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)

    @http("GET", "/health")
    def health(self, request):
        return 200, '{"service": "media", "status": "ok"}'

    @handles("campaign_published")
    def on_campaign_published(self, event):
        with self.db.handling(event) as s:
            if s is None:
                return
            for track, spec in event.data["tracks"].items():
                for kind, policy in spec["media"].items():
                    s.merge(MediaPolicyCopy(campaign_id=event.data["campaign_id"], track=track, kind=kind,
                                            policy=policy))

    @handles("file_uploaded")
    def on_file_uploaded(self, event):
        d = event.data
        with self.db.handling(event) as s:
            if s is None:
                return
            copy = s.get(MediaPolicyCopy, (d["campaign_id"], d["track"], d["kind"]))
            facts = {"size_bytes": d["size"], "declared_content_type": d["content_type"]}
            verdict, findings = judge(facts, copy.policy if copy else None)
            s.merge(CheckReport(file_id=d["file_id"], submission_id=d["submission_id"], tenant=event.tenant,
                                verdict=verdict, findings=findings, facts=facts))
            self.outbox.add(s, "file_checked", event.tenant, {
                "file_id": d["file_id"], "submission_id": d["submission_id"], "verdict": verdict,
                "findings": findings, "facts": facts})
