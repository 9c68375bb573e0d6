"""Notify: e-mail (receipts, deadline reminders) and the ministry's progress feed.

Handlers never talk to the mail server. They render the message and write it
to the message log in the same transaction as the event's other effects, under
a unique key, so a redelivered event adds nothing. A sender loop delivers due
messages, retries temporary failures with backoff, and marks permanent
refusals failed. Webhooks and the full feeds come with the rest of issue #5.
"""
from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from sqlalchemy import delete, func, select
from werkzeug.wrappers import Response

from common import clock, looplag
from common.auth import bearer_key, hash_key, invalid_key
from common.db import utcnow
from common.dependencies import Database, Limits, ObjectStore, Segmenter
from common.errors import InvalidInput
from common.files import FileLinks
from common.http import SchemaValidator, api, read_json
from common.locale import BEIJING, LEVEL_LABELS, ROUND_LABELS, beijing_minute as beijing
from common.messaging import OutboxRelay, handles
from common.text import work_prose
from common.web import WebPages, end_sessions, page, static_file, web_secret
from services.notify import (
    casebook,
    dashboard,
    delivery,
    destinations,
    feeds,
    hooks,
    library,
    mail,
    readmodel,
    reminders,
    webhooks,
)
from services.notify.mailer import Mailer, build_message, sender_address
from services.notify.models import (
    ApiKeyCopy,
    CampaignCopy,
    Contact,
    FileCopy,
    ForwardedWork,
    LibraryWork,
    MessageLog,
    OutboxMessage,
    ProcessedEvent,
    SubmissionCopy,
    TenantName,
    WebhookDelivery,
    WebhookSubscription,
    WebSession,
)

log = logging.getLogger(__name__)
SEND_BATCH = 50
# How often due mail is looked for: a receipt waits up to this long before it goes out (an indexed
# query on pending rows when there is none; at 1 s, the wait was most of the submit → inbox time).
SEND_TICK_S = 0.25
WEBHOOK_TICK_S = 0.5  # how often due webhook deliveries are looked for (the same indexed query as mail)
# Who may use the dashboard and library pages: a session opened with a university's or the ministry's
# key (`tenant_kind`), never another service's or another purpose's.
VIEWER_ROLES = ("ministry", "university")
VERDICT_LABELS = {"warnings": "通过（有建议）", "failed": "未通过"}
EXPORT_LIMIT = 100_000  # rows in one Atom or XLSX export (3,000 universities × tracks × levels fit)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CASEBOOK_LIMIT = 1000  # works in one exported case collection
FILE_TEXT_LIMIT = 2_000_000  # bytes of a file's extracted text read into the library
EXPORT_LINK_TTL_S = 24 * 3600  # file links in an exported list: a working day to download them
WEBHOOK_SCHEMAS = SchemaValidator({"components": {"schemas": {"Subscription": {
    "type": "object", "additionalProperties": False, "required": ["url", "event_types"],
    "properties": {"url": {"type": "string", "maxLength": 500},
                   "event_types": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}}}})


class MailerProvider(DependencyProvider):
    def setup(self):
        cfg = self.container.config
        self.mailer = Mailer(cfg["MAIL_URL"])
        self.sender = sender_address(cfg["MAIL_FROM"])  # a bad MAIL_FROM stops the start, not every message
        self.templates = mail.Templates(cfg.get("TEMPLATE_DIR") or None)

    def get_dependency(self, worker_ctx):
        return self


class WebhookSender(DependencyProvider):
    """Where webhooks may go (WEBHOOK_ALLOW_HOSTS, WEBHOOK_DNS) and the deliveries in flight."""

    def setup(self):
        cfg = self.container.config
        self.policy = destinations.Policy.from_setting(cfg.get("WEBHOOK_ALLOW_HOSTS"))
        self.resolve = destinations.resolver_from_setting(cfg.get("WEBHOOK_DNS"))
        self.total_s = float(cfg.get("WEBHOOK_TIMEOUT_S", 10))
        # a claimed delivery is left alone this long; its attempt ends within total_s
        self.lease = timedelta(seconds=self.total_s + 30)
        self.flights = delivery.Flights(int(cfg.get("WEBHOOK_CONCURRENCY", 20)),
                                        int(cfg.get("WEBHOOK_PER_DESTINATION", 2)),
                                        int(cfg.get("WEBHOOK_PER_UNIVERSITY", 5)))

    def check(self, url: str) -> destinations.Target:
        return destinations.check(url, self.policy, self.resolve)

    def stop(self):
        self.flights.stop()  # a delivery cut here is tried again when its claim's lease ends

    def kill(self):
        self.flights.stop()

    def get_dependency(self, worker_ctx):
        return self


def enqueue(session, templates, *, kind: str, tenant: str, recipient: str, dedupe_key: str, context: dict) -> bool:
    """Add a message to the log unless one with this key exists; True if added."""
    if session.scalar(select(MessageLog.id).where(MessageLog.dedupe_key == dedupe_key)) is not None:
        return False
    rendered = templates.render(kind, tenant, context)
    if rendered.template_error:
        log.warning("tenant %s: template for %s not used: %s", tenant, kind, rendered.template_error)
    session.add(MessageLog(dedupe_key=dedupe_key, kind=kind, tenant=tenant, recipient=recipient,
                           subject=rendered.subject, body=rendered.body, html_body=rendered.html,
                           template_error=rendered.template_error, state="pending", attempts=0,
                           next_attempt_at=utcnow()))
    return True


def stage_labels(s, campaign_id: str, track: str, stage: str) -> dict:
    """What a mail calls the campaign, track and stage: their titles from the campaign notify keeps."""
    campaign = s.get(CampaignCopy, campaign_id)
    spec = campaign.tracks.get(track, {}) if campaign else {}
    return {"campaign": campaign.title if campaign else campaign_id, "track": spec.get("label", track),
            "stage": spec.get("stage_labels", {}).get(stage, stage)}


def submission_copy(s, tenant: str, d: dict, level: str, state: str) -> SubmissionCopy:
    """Notify's copy of a work, made on the first event about it with the state that event implies."""
    copy = s.get(SubmissionCopy, d["submission_id"])
    if copy is None:
        copy = SubmissionCopy(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"],
                              track=d["track"], org_id=d["org_id"], level=level, stages=[], complete=False,
                              state=state)
        s.add(copy)
    return copy


class NotifyService:
    name = "notify"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    mail = MailerProvider()
    webhook_sender = WebhookSender()
    store = ObjectStore()
    web = WebPages(Path(__file__).resolve().parent / "pages", WebSession)
    limits = Limits()  # wrong keys on the API, as on intake's
    segmenter = Segmenter()  # jieba and OpenCC loaded at start, for the material library

    @api("GET", "/health")
    def health(self, request):
        return {"service": "notify", "status": "ok", **looplag.monitor.report()}

    # ------------------------------------------------------------------ feeds

    def _caller(self, s, request) -> str | None:
        """The tenant whose rows the caller may see; None means all (the ministry).

        A client that keeps sending wrong keys is told to wait (429), as on intake.
        """
        def authenticate():
            key = bearer_key(request.headers)
            row = s.get(ApiKeyCopy, hash_key(key))
            if row is None or row.revoked:
                raise invalid_key(key)
            return None if row.tenant_kind == "ministry" else row.tenant

        return self.limits.key_checked(request, authenticate)

    def _progress_rows(self, request, limit: int):
        cursor = request.args.get("cursor")
        with self.db.transaction() as s:
            tenant = self._caller(s, request)
            # one row more than asked, so the page knows whether more follow
            return readmodel.rows_after(s, feeds.decode_cursor(cursor), limit + 1, tenant), cursor

    @api("GET", "/api/v1/feed/progress")
    def progress_feed(self, request):
        """Progress rows changed since the cursor, oldest change first."""
        limit = feeds.parse_limit(request.args.get("limit"))
        rows, cursor = self._progress_rows(request, limit)
        return feeds.page(rows, limit, cursor=cursor)

    @api("GET", "/api/v1/feed/progress.atom")
    def progress_atom(self, request):
        rows, _ = self._progress_rows(request, EXPORT_LIMIT)
        body = feeds.progress_atom(rows[:EXPORT_LIMIT], request.url, clock.now())
        return Response(body, mimetype="application/atom+xml")

    @api("GET", "/api/v1/feed/progress.xlsx")
    def progress_xlsx(self, request):
        rows, _ = self._progress_rows(request, EXPORT_LIMIT)
        return Response(feeds.progress_xlsx(rows[:EXPORT_LIMIT]), mimetype=XLSX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=progress.xlsx"})

    @api("GET", "/api/v1/feed/forwarded")
    def forwarded_feed(self, request):
        """Works forwarded upward, oldest change first, with short-lived links to their files.

        The ministry sees what universities forwarded to it; a university sees what it forwarded.
        """
        limit = feeds.parse_limit(request.args.get("limit"))
        cursor = request.args.get("cursor")
        links = self._file_links()
        with self.db.transaction() as s:
            tenant = self._caller(s, request)
            rows = readmodel.forwarded_after(s, feeds.decode_cursor(cursor), limit + 1, tenant)
            types = readmodel.checked_types(s, rows)
            items = [readmodel.forwarded_json(r, links, types) for r in rows]
        return feeds.page(items, limit, cursor=cursor)

    def _file_links(self, ttl_s: float | None = None) -> FileLinks:
        """Absolute links (API clients follow them), on FILES_PUBLIC_URL when files have their own origin."""
        base = self.config.get("FILES_PUBLIC_URL") or self.config.get("PUBLIC_URL", "")
        return FileLinks(web_secret(self.config), base, **({"ttl_s": ttl_s} if ttl_s else {}))

    def _forwarded_export(self, request, ttl_s: float):
        links = self._file_links(ttl_s)
        with self.db.transaction() as s:
            tenant = self._caller(s, request)
            rows = readmodel.forwarded_after(s, 0, EXPORT_LIMIT, tenant)
            labels = readmodel.track_labels(s)
            types = readmodel.checked_types(s, rows)
            return [readmodel.forwarded_json(r, links, types) for r in rows], labels

    @api("GET", "/api/v1/feed/forwarded.atom")
    def forwarded_atom(self, request):
        items, labels = self._forwarded_export(request, EXPORT_LINK_TTL_S)
        return Response(feeds.forwarded_atom(items, request.url, clock.now(), labels),
                        mimetype="application/atom+xml")

    @api("GET", "/api/v1/feed/forwarded.xlsx")
    def forwarded_xlsx(self, request):
        items, labels = self._forwarded_export(request, EXPORT_LINK_TTL_S)
        return Response(feeds.forwarded_xlsx(items, labels, EXPORT_LINK_TTL_S // 3600), mimetype=XLSX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=forwarded.xlsx"})

    @api("GET", "/files/<string:token>")
    def file(self, request, token):
        # The type in the link is media's; common.files adds nosniff, a sandbox CSP, and makes
        # anything but pictures, sound, video and PDF a download.
        return FileLinks(web_secret(self.config)).response(self.store, token, request)

    # ------------------------------------------------------------------ the education material library

    def _library_query(self, args, tenant_param: str = "university") -> library.Query:
        def whole(name: str, low: int, high: int) -> int | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise InvalidInput(f"参数 {name} 应为 {low}–{high} 之间的整数，收到的是“{raw[:20]}”。请改正后重试。",
                                   code="invalid_parameter", field=name, expected=f"{low}–{high}", found=raw[:20])
            return int(raw)

        q = (args.get("q") or "").strip()
        if len(q) > 100:
            raise InvalidInput(f"检索词最多 100 个字符，收到 {len(q)} 个。请缩短后重试。", code="query_too_long",
                               field="q", expected="≤ 100", found=len(q))
        return library.Query(q=q, track=args.get("track") or None, theme=args.get("theme") or None,
                             tenant=args.get(tenant_param) or None, year=whole("year", 2000, 2100),
                             page=whole("page", 1, 10_000) or 1,
                             words=tpool.execute(library.query_words, q) if q else ())

    def _library_page(self, query: library.Query) -> dict:
        with self.db.transaction() as s:
            works, total, ranked = library.search(s, query)
            return {"items": [library.work_json(w, query.words) for w in works], "total": total,
                    "page": query.page, "per_page": library.PER_PAGE, "words": list(query.words),
                    "order": "relevance" if ranked else "newest"}

    def _casebook(self, query: library.Query) -> Response:
        with self.db.transaction() as s:
            works = library.all_matching(s, query, CASEBOOK_LIMIT)
            cases = [casebook.Case(submission_id=w.submission_id, title=w.title, track=w.track,
                                   track_label=w.track_label, university=w.tenant_name, org_name=w.org_name,
                                   theme=w.theme, year=w.year, text=w.text, keywords=tuple(w.keywords))
                     for w in works]
        subtitle = f"检索：{' '.join(query.words)}" if query.words else ""
        body = tpool.execute(casebook.case_collection, "教育素材库案例集", cases, subtitle=subtitle)
        return Response(body, mimetype=DOCX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=casebook.docx"})

    @api("GET", "/api/v1/library")
    def library_search(self, request):
        """The education material library: full-text search with filters, a page of works with snippets."""
        with self.db.transaction() as s:
            self._caller(s, request)  # any university or the ministry: the library is shared material
        page = self._library_page(self._library_query(request.args))
        with self.db.transaction() as s:
            page["facets"] = library.facets(s)
        return page

    @api("GET", "/api/v1/library/casebook.docx")
    def library_casebook(self, request):
        """The case collection (案例集) of the works matching the query and filters, as a Word document."""
        with self.db.transaction() as s:
            self._caller(s, request)
        return self._casebook(self._library_query(request.args))

    @page("GET", "/library")
    def library_page(self, request):
        session = self.web.require(request, *VIEWER_ROLES)
        query = self._library_query(request.args)
        data = self._library_page(query)
        with self.db.transaction() as s:
            facets, size = library.facets(s), s.scalar(select(func.count()).select_from(LibraryWork))
            viewer = self._viewer(s, session)
        args = {k: v for k, v in (("q", query.q), ("track", query.track), ("theme", query.theme),
                                  ("university", query.tenant), ("year", query.year)) if v}
        return self.web.render("library.html", session, viewer=viewer, query=query, facets=facets, size=size,
                               items=data["items"], total=data["total"], per_page=library.PER_PAGE,
                               export_args=urlencode(args),
                               page_args=lambda n: urlencode({**args, "page": n}))

    @page("GET", "/library/casebook.docx")
    def library_page_casebook(self, request):
        self.web.require(request, *VIEWER_ROLES)
        return self._casebook(self._library_query(request.args))

    def _viewer(self, s, session) -> str:
        if session["role"] == "ministry":
            return "教育部思政司"
        name = s.get(TenantName, session["tenant"])
        return name.name if name else session["tenant"]

    # ------------------------------------------------------------------ the dashboard (people in a browser)

    @page("GET", "/static/<path:name>")
    def static(self, request, name):
        return static_file(Path(__file__).resolve().parent / "static", name)

    @page("GET", "/sign-in")
    def sign_in_form(self, request):
        return self.web.sign_in_page(request)

    @page("POST", "/sign-in")
    def sign_in(self, request):
        def who(s, key_hash):
            row = s.get(ApiKeyCopy, key_hash)
            return None if row is None or row.revoked else {"role": row.tenant_kind, "tenant": row.tenant}

        return self.web.sign_in_with_key(request, who, "/dashboard")

    @page("POST", "/sign-out")
    def sign_out(self, request):
        return self.web.sign_out(request)

    @page("GET", "/dashboard")
    def dashboard(self, request):
        session = self.web.require(request, *VIEWER_ROLES)
        tenant = None if session["role"] == "ministry" else session["tenant"]
        filters = dashboard.Filters(request.args.get("campaign") or None, request.args.get("track") or None)
        with self.db.transaction() as s:
            data = dashboard.aggregate(s, tenant, filters)
            viewer = self._viewer(s, session)
        return self.web.render(
            "dashboard.html", session, viewer=viewer, filters=filters, total=data["total"], tracks=data["tracks"],
            track_labels=data["track_labels"], campaigns=data["campaigns"], show_universities=tenant is None,
            universities=len(data["universities"]), laggards=dashboard.laggards(data["universities"]),
            heading="全国高校进度" if tenant is None else f"{viewer}进度",
            charts=(charts := dashboard.charts(data)), chart_json=dashboard.embed(charts))

    @api("GET", "/api/v1/messages")
    def list_messages(self, request):
        """The message log of the caller's university (the ministry's key: all), newest first.

        `?state=failed` is the list of addresses that refused mail for good:
        what the organisation department fixes in its org list.
        """
        state = request.args.get("state")
        if state not in (None, "pending", "sent", "failed"):
            raise InvalidInput(f"参数 state 只能是 pending、sent 或 failed，实际为“{state}”。", code="invalid_query",
                               field="state", expected=["pending", "sent", "failed"], found=state)
        limit = feeds.parse_limit(request.args.get("limit"))
        with self.db.transaction() as s:
            tenant = self._caller(s, request)
            query = select(MessageLog)
            if tenant is not None:
                query = query.where(MessageLog.tenant == tenant)
            if state:
                query = query.where(MessageLog.state == state)
            rows = s.scalars(query.order_by(MessageLog.id.desc()).limit(limit))
            return {"items": [{"id": m.id, "kind": m.kind, "recipient": m.recipient, "subject": m.subject,
                               "state": m.state, "attempts": m.attempts, "last_error": m.last_error,
                               "template_error": m.template_error, "created_at": m.created_at.isoformat(),
                               "sent_at": m.sent_at.isoformat() if m.sent_at else None} for m in rows]}

    # ------------------------------------------------------------------ webhooks

    @api("POST", "/api/v1/webhooks")
    def subscribe(self, request):
        with self.db.transaction() as s:
            caller = self._caller(s, request)  # the key first: a caller without one learns nothing of the body's rules
            body = WEBHOOK_SCHEMAS.validate(read_json(request), "Subscription")
            sub, secret = hooks.subscribe(s, caller, body, self.webhook_sender.check)
            s.flush()
            # the secret is shown once, like an API key
            return 201, {**hooks.subscription_json(sub), "secret": secret}

    @api("GET", "/api/v1/webhooks")
    def list_subscriptions(self, request):
        with self.db.transaction() as s:
            tenant = self._caller(s, request)
            subs = s.scalars(select(WebhookSubscription).where(WebhookSubscription.tenant == tenant,
                                                               WebhookSubscription.active))
            return {"items": [hooks.subscription_json(x) for x in subs]}

    @api("DELETE", "/api/v1/webhooks/<string:sub_id>")
    def unsubscribe(self, request, sub_id):
        with self.db.transaction() as s:
            hooks.own_subscription(s, self._caller(s, request), sub_id).active = False
            return {"id": sub_id, "active": False}

    @api("GET", "/api/v1/webhooks/<string:sub_id>/deliveries")
    def list_deliveries(self, request, sub_id):
        with self.db.transaction() as s:
            sub = hooks.own_subscription(s, self._caller(s, request), sub_id)
            rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                             .order_by(WebhookDelivery.created_at.desc()).limit(200))
            return {"items": [hooks.delivery_json(d) for d in rows]}

    @api("POST", "/api/v1/webhooks/<string:sub_id>/deliveries/<string:delivery_id>/replay")
    def replay_delivery(self, request, sub_id, delivery_id):
        with self.db.transaction() as s:
            return hooks.delivery_json(hooks.replay(s, self._caller(s, request), sub_id, delivery_id))

    @timer(interval=WEBHOOK_TICK_S)
    def deliver_webhooks(self):
        """Start the due deliveries there is room for, signed; each runs on its own in the pool.

        The tick does not wait for them: a slow receiver holds its own deliveries, not the next tick.
        """
        hooks_out = self.webhook_sender
        with self.db.transaction() as s:
            claimed = hooks.claim_due(s, utcnow(), hooks_out.flights, hooks_out.lease,
                                      destinations.destination_key)
        for delivery_id, lanes, url, secret, body, event_type, active in claimed:
            hooks_out.flights.start(delivery_id, lanes, functools.partial(
                self._deliver, delivery_id, url, secret, body, event_type, active))
        return len(claimed)

    def _deliver(self, delivery_id: str, url: str, secret: str, body: str, event_type: str, active: bool) -> None:
        hooks_out = self.webhook_sender
        if active:
            data = body.encode("utf-8")
            # Real time, whatever the platform clock says: receivers check the timestamp against
            # their own clock (5 minutes), and a rehearsal's clock stands in 2020.
            headers = webhooks.signature_headers(data, secret, int(time.time()), delivery_id, event_type)
            outcome = delivery.attempt(url, hooks_out.policy, hooks_out.resolve, data, headers, hooks_out.total_s)
        else:
            outcome = delivery.Outcome(None, "订阅已删除")
        with self.db.transaction() as s:
            d = s.get(WebhookDelivery, delivery_id)
            hooks.record_attempt(d, outcome.status, outcome.summary, utcnow())
            if not active:
                d.state = "failed"

    # ------------------------------------------------------------------ copies of other services' data

    @handles("campaign_published", once=True)
    def on_campaign_published(self, session, event):
        d = event.data
        campaign = session.merge(CampaignCopy(campaign_id=d["campaign_id"], tenant=event.tenant, title=d["title"],
                                              derives_from=d["derives_from"], tracks=d["tracks"]))
        session.flush()
        readmodel.refresh_campaign(session, campaign)

    @handles("tenant_registered", once=True)
    def on_tenant_registered(self, session, event):
        d = event.data
        row = session.get(TenantName, event.tenant) or TenantName(tenant=event.tenant, name=d["name"])
        row.name, row.contact_email = d["name"], d["contact_email"]
        session.merge(row)

    @handles("api_key_issued", once=True)
    def on_api_key_issued(self, session, event):
        d = event.data
        session.merge(ApiKeyCopy(key_hash=d["key_hash"], tenant=event.tenant, tenant_kind=d["tenant_kind"],
                                 revoked=False))
        row = session.get(TenantName, event.tenant)
        if row is None:
            session.add(TenantName(tenant=event.tenant, name=d["tenant_name"]))
        else:
            row.name = d["tenant_name"]

    @handles("api_key_revoked", once=True)
    def on_api_key_revoked(self, session, event):
        row = session.get(ApiKeyCopy, event.data["key_hash"])
        if row is not None:
            row.revoked = True
        end_sessions(session, WebSession, event.data["key_hash"])  # signed in with it: signed out now

    @handles("orgs_imported", once=True)
    def on_orgs_imported(self, session, event):
        session.execute(delete(Contact).where(Contact.tenant == event.tenant))
        for org in event.data["orgs"]:
            session.add(Contact(org_id=org["org_id"], tenant=event.tenant, name=org["name"], level=org["level"],
                                parent_id=org.get("parent_id"), email=org.get("contact_email")))
        session.flush()
        readmodel.refresh_tenant(session, event.tenant)

    @handles("submission_submitted", once=True)
    def on_submission_submitted(self, session, event):
        d = event.data
        copy = submission_copy(session, event.tenant, d, d["org_level"], "submitted")
        submitted_at = datetime.fromisoformat(d["submitted_at"])
        copy.level = d["org_level"]
        # A reopening that overtook this event undid this stage already; the count stays as it left it.
        if not readmodel.happened_before(submitted_at, copy.last_reopened_at):
            # A withdrawal that overtook this event wins: withdrawn is final in intake.
            copy.stages = sorted(set(copy.stages) | {d["stage"]})
            copy.state = "withdrawn" if copy.state == "withdrawn" else "submitted"
            copy.complete = copy.complete or d["final_stage"]
            copy.last_submitted_at = readmodel.latest(copy.last_submitted_at, submitted_at)
        session.flush()
        readmodel.refresh(session, event.tenant, d["campaign_id"], d["track"], d["org_level"])
        hooks.enqueue(session, event)
        if d.get("contact_email"):
            enqueue(session, self.mail.templates, kind="receipt", tenant=event.tenant, recipient=d["contact_email"],
                    dedupe_key=f"receipt:{d['receipt_no']}", context={
                        **d, **stage_labels(session, d["campaign_id"], d["track"], d["stage"]),
                        "submitted_at": beijing(d["submitted_at"])})

    @handles("file_uploaded", once=True)
    def on_file_uploaded(self, session, event):
        d = event.data
        session.merge(FileCopy(file_id=d["file_id"], tenant=event.tenant, submission_id=d["submission_id"],
                               org_id=d["org_id"], name=d["original_name"]))

    @handles("file_checked", once=True)
    def on_file_checked(self, session, event):
        """Tell the org what to fix (a clean pass needs no e-mail); remember what the file is (the type media
        determined, which its links serve it under) and where media put its text."""
        d = event.data
        text_key = (d.get("derived") or {}).get("text")
        f = session.get(FileCopy, d["file_id"])
        if f is None:
            # the upload'session event is still on its way: retry later rather than lose the type or the mail
            raise LookupError(f"file {d['file_id']} not known yet")
        f.content_type = (d.get("facts") or {}).get("content_type")
        if text_key:
            f.text_key = text_key
        if d["verdict"] == "passed":
            return
        contact = session.get(Contact, f.org_id)
        if contact is None or not contact.email:
            return
        enqueue(session, self.mail.templates, kind="check_result", tenant=event.tenant, recipient=contact.email,
                dedupe_key=f"check:{d['file_id']}:{d['checked_at']}", context={
                    "org_name": contact.name, "file_name": f.name, "verdict": d["verdict"],
                    "verdict_label": VERDICT_LABELS[d["verdict"]], "findings": d["findings"]})

    @handles("submission_withdrawn", once=True)
    def on_submission_withdrawn(self, session, event):
        d = event.data
        # Out of order, the submission'session event is still on its way: the copy made here remembers
        # the withdrawal, so that event does not count the work as submitted when it arrives.
        contact = session.get(Contact, d["org_id"])
        copy = submission_copy(session, event.tenant, d, contact.level if contact else "level2", "withdrawn")
        copy.state = "withdrawn"
        session.flush()
        readmodel.refresh(session, event.tenant, copy.campaign_id, copy.track, copy.level)
        hooks.enqueue(session, event)

    @handles("submission_reopened", once=True)
    def on_submission_reopened(self, session, event):
        """A file of a submitted stage changed: the work counts as submitted only up to the stages still in, and
        the org is told that its receipt no longer holds (a change it did not make should not go unnoticed)."""
        d = event.data
        copy = submission_copy(session, event.tenant, d, d["org_level"], "draft")
        reopened_at = datetime.fromisoformat(d["reopened_at"])
        # A submission after this reopening that arrived first already counts the work as it is now.
        if copy.state != "withdrawn" and not readmodel.happened_before(reopened_at, copy.last_submitted_at):
            copy.stages = [st for st in copy.stages if st in d["stages_submitted"]]
            copy.complete, copy.state = False, "submitted" if copy.stages else "draft"
            copy.last_reopened_at = readmodel.latest(copy.last_reopened_at, reopened_at)
        session.flush()
        readmodel.refresh(session, event.tenant, copy.campaign_id, copy.track, copy.level)
        if d.get("contact_email"):
            enqueue(session, self.mail.templates, kind="reopened", tenant=event.tenant, recipient=d["contact_email"],
                    dedupe_key=f"reopened:{d['submission_id']}:{d['reopened_at']}", context={
                        **d, **stage_labels(session, d["campaign_id"], d["track"], d["reopened_stage"]),
                        "reopened_at": beijing(d["reopened_at"])})

    @handles("submission_forwarded", once=True)
    def on_submission_forwarded(self, session, event):
        d = event.data
        text = self._work_text(session, d["fields"], d["files"])
        keywords = [w for w, _ in tpool.execute(self.segmenter.keywords, text, 8)] if text else []
        readmodel.record_forwarded(session, event.tenant, d, keywords)
        hooks.enqueue(session, event)

    @handles("reviewer_invited", once=True)
    def on_reviewer_invited(self, session, event):
        d = event.data
        enqueue(session, self.mail.templates, kind="reviewer_invite", tenant=event.tenant, recipient=d["email"],
                dedupe_key=f"invite:{event.event_id}",
                context={**d, "reminder": d.get("reminder", False), "expires": beijing(d["link_expires_at"]),
                         "deadline": beijing(d["deadline"]) if d.get("deadline") else None})

    @handles("selection_made", once=True)
    def on_selection_made(self, session, event):
        """Tell each org whose work was ranked whether it goes on."""
        d = event.data
        campaign = session.get(CampaignCopy, d["campaign_id"])
        track = campaign.tracks.get(d["track"], {}) if campaign else {}
        round_title = f"{track.get('label', d['track'])} · {ROUND_LABELS.get(d['level'], d['level'])}"
        for result in d["results"]:
            copy = session.get(SubmissionCopy, result["submission_id"])
            contact = session.get(Contact, copy.org_id) if copy is not None else None
            if contact is None or not contact.email:
                continue
            enqueue(session, self.mail.templates, kind="selection_result", tenant=contact.tenant,
                    recipient=contact.email, dedupe_key=f"selection:{d['round_id']}:{result['submission_id']}",
                    context={**result, "org_name": contact.name, "round_title": round_title,
                             "title": result.get("title", ""),
                             "to_level_label": LEVEL_LABELS.get(d["to_level"] or "", "")})
        if d["level"] == "ministry":
            self._add_to_library(session, d, track.get("label"))
        hooks.enqueue(session, event)

    def _add_to_library(self, s, d: dict, track_label: str | None) -> None:
        """The ministry's final selection enters the education material library."""
        for result in d["results"]:
            if not result["selected"]:
                continue
            work = s.get(ForwardedWork, result["submission_id"])
            if work is None:
                # its `submission_forwarded` is still on its way: retry later rather than leave it out
                raise LookupError(f"forwarded work {result['submission_id']} not known yet")
            text = self._work_text(s, work.fields, work.files)
            tokens, keywords = tpool.execute(library.analyse, text)
            theme = work.fields.get("theme")
            if not track_label:  # the ministry's campaign unknown here: the university's own words for the track
                own = s.get(CampaignCopy, work.campaign_id)
                track_label = (own.tracks.get(work.track, {}).get("label") if own else None) or work.track
            library.add(s, LibraryWork(
                submission_id=work.submission_id, tenant=work.tenant, tenant_name=work.tenant_name,
                campaign_id=work.root_campaign_id or work.campaign_id, track=work.track, track_label=track_label,
                theme=theme if isinstance(theme, str) and theme else None,
                year=work.forwarded_at.astimezone(BEIJING).year, title=work.title, org_name=work.org_name,
                text=text, keywords=keywords, files=work.files, selected_at=clock.now()), tokens)

    def _work_text(self, s, fields: dict, files: list[dict]) -> str:
        """A work's prose and the text media read in its documents and subtitles."""
        texts = [work_prose(fields)] + [self._file_text(s, f["file_id"]) for f in files]
        return "\n".join(t for t in texts if t)

    def _file_text(self, s, file_id: str) -> str:
        f = s.get(FileCopy, file_id)
        if f is None or not f.text_key:
            return ""
        with self.store.open(f.text_key) as stream:
            return stream.read(FILE_TEXT_LIMIT).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ reminders

    @timer(interval=3600)
    def send_reminders(self):
        """Queue the deadline reminders due today (不掉队); safe to run any number of times."""
        with self.db.transaction() as s:
            campaigns = [{"campaign_id": c.campaign_id, "tenant": c.tenant, "title": c.title, "tracks": c.tracks}
                         for c in s.scalars(select(CampaignCopy).where(CampaignCopy.tenant != "ministry"))]
            contacts = {c.org_id: c for c in s.scalars(select(Contact))}
            submitted = {(x.campaign_id, x.track, stage, x.org_id)
                         for x in s.scalars(select(SubmissionCopy).where(SubmissionCopy.state == "submitted"))
                         for stage in x.stages}
            due = reminders.due_reminders(
                clock.now(), campaigns,
                [{"tenant": c.tenant, "org_id": c.org_id, "level": c.level} for c in contacts.values()], submitted)
            by_id = {c["campaign_id"]: c for c in campaigns}
            queued = 0
            for r in due:
                contact = contacts[r.org_id]
                if not contact.email:
                    continue
                track = by_id[r.campaign_id]["tracks"][r.track]
                queued += enqueue(s, self.mail.templates, kind="reminder", tenant=r.tenant, recipient=contact.email,
                                  dedupe_key=r.dedupe_key, context={
                                      "org_name": contact.name, "campaign": by_id[r.campaign_id]["title"],
                                      "track": track.get("label", r.track),
                                      "stage": track.get("stage_labels", {}).get(r.stage, r.stage),
                                      "deadline": beijing(r.deadline), "days_left": r.days_left})
        if queued:
            log.info("queued %d deadline reminders", queued)
        return queued

    # ------------------------------------------------------------------ delivery

    @timer(interval=SEND_TICK_S)
    def send_due(self):
        """Deliver pending messages whose time has come, batch by batch until none is due."""
        sent = 0
        while True:
            with self.db.transaction() as s:
                due = s.scalars(select(MessageLog).where(MessageLog.state == "pending",
                                                         MessageLog.next_attempt_at <= utcnow())
                                .order_by(MessageLog.id).limit(SEND_BATCH)).all()
                rows = [(m.id, m.dedupe_key, m.recipient, m.subject, m.body, m.html_body) for m in due]
            if not rows:
                return sent
            # A message that cannot be built fails on its own, now; the rest of the batch goes out.
            batch, messages = [], []
            for row in rows:
                message_id, key, to, subject, body, html = row
                try:
                    messages.append(build_message(self.mail.sender, to, subject, body, mail.message_id(key), html))
                    batch.append(row)
                except Exception as exc:
                    with self.db.transaction() as s:
                        self._attempt_failed(s, s.get(MessageLog, message_id), exc)
            if not messages:
                continue
            accepted = 0

            def record(index: int, error: Exception | None) -> None:
                # One commit per message, right after the mail server's answer: after a crash only the
                # message between its answer and this commit can go out again (with the same Message-ID).
                nonlocal accepted
                with self.db.transaction() as s:
                    m = s.get(MessageLog, batch[index][0])
                    if error is None:
                        m.state, m.sent_at, m.attempts, m.last_error = "sent", utcnow(), m.attempts + 1, None
                        accepted += 1
                    else:
                        self._attempt_failed(s, m, error)

            outcomes = self.mail.mailer.send_many(messages, on_outcome=record)
            sent += accepted
            if len(rows) < SEND_BATCH or all(e is not None for e in outcomes):
                return sent  # the rest waits for its retry time

    def _attempt_failed(self, s, m: MessageLog, exc: Exception) -> None:
        self._failed(m, exc)
        if m.state == "failed":
            self._report_failed_address(s, m)

    def _report_failed_address(self, s, m: MessageLog) -> None:
        """Tell the university's organisation department that an address cannot be reached (once per message)."""
        tenant = s.get(TenantName, m.tenant)
        if m.kind == "address_failed" or tenant is None or not tenant.contact_email:
            return  # never report a report: a dead admin mailbox would loop
        enqueue(s, self.mail.templates, kind="address_failed", tenant=m.tenant, recipient=tenant.contact_email,
                dedupe_key=f"address_failed:{m.id}", context={
                    "tenant_name": tenant.name, "recipient": m.recipient, "subject": m.subject,
                    "error": m.last_error or "", "attempts": m.attempts})

    @staticmethod
    def _failed(m: MessageLog, exc: Exception) -> None:
        m.attempts += 1
        # mail.Unbuildable carries a Chinese reason for the organisation department; other errors are
        # the mail server's own words
        m.last_error = (str(exc) if isinstance(exc, mail.Unbuildable) else f"{type(exc).__name__}: {exc}")[:1000]
        if mail.is_permanent(exc) or m.attempts >= mail.MAX_ATTEMPTS:
            m.state = "failed"
            log.warning("message %s to %s failed for good: %s", m.id, m.recipient, m.last_error)
        else:
            m.next_attempt_at = utcnow() + mail.retry_delay(m.attempts)
