"""Notify: e-mail (receipts, deadline reminders), webhooks to portals, and the ministry's feeds and pages.

The entrypoints only validate, call one use case and answer; what they call:

- copies.py keeps notify's copies of other services' data, one use case per event;
- messages.py builds each mail and adds it to the message log in the transaction of the event
  that causes it, under a unique key, so a redelivered event adds nothing;
- outgoing.py is the send loops: due mail to the mail server (temporary failures retried with
  backoff, permanent refusals failed) and due webhook deliveries to their receivers;
- readmodel.py, feeds.py, library.py, dashboard.py and hooks.py answer the API and the pages.
- access.py says who holds a key, and people.py what a person signed in on the platform (intake's ticket)
  may see on the pages.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

import yaml
from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from common import clock, handoff, looplag
from common.auth import bearer_key
from common.dependencies import Database, Limits, ObjectStore, Segmenter
from common.errors import DomainError
from common.files import FileLinks
from common.http import JsonApi, SchemaValidator, read_json
from common.messaging import OutboxRelay, handles
from common.query import QueryValidator, openapi_path
from common.web import SignInPages, WebPages, page, web_secret
from services.notify import access, casebook, copies, dashboard, feeds, hooks, library, messages, outgoing, people, readmodel
from services.notify.dependencies import MailerProvider, WebhookSender
from services.notify.models import OutboxMessage, ProcessedEvent, WebSession

log = logging.getLogger(__name__)

# How often due mail is looked for: a receipt waits up to this long before it goes out (an indexed
# query on pending rows when there is none; at 1 s, the wait was most of the submit → inbox time).
SEND_TICK_S = 0.25
# How often recurring tracks' progress rows are checked for a new period: the dashboard shows the new month's 0/N
# at most this late (a query over the campaign copies and their rows)
PERIOD_TICK_S = 600
WEBHOOK_TICK_S = 0.5  # how often due webhook deliveries are looked for (the same indexed query as mail)
EXPORT_LIMIT = 100_000  # rows in one Atom or XLSX export (3,000 universities × tracks × levels fit)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CASEBOOK_LIMIT = 1000  # works in one exported case collection
EXPORT_LINK_TTL_S = 24 * 3600  # file links in an exported list: a working day to download them


def load_openapi(path: Path) -> dict:
    """The API document, with the `data` of each event a webhook delivers taken from the event catalogue."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    listed = doc["components"]["schemas"]["WebhookEvent"]["properties"]["type"]["enum"]
    if listed != list(hooks.DELIVERABLE):  # what a portal may subscribe to is what the document describes
        raise RuntimeError(f"{path.name}: WebhookEvent lists {listed}, portal.py delivers {list(hooks.DELIVERABLE)}")
    for name in hooks.DELIVERABLE:
        doc["components"]["schemas"][name] = hooks.data_schema(name)
    return doc


OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
OPENAPI = load_openapi(OPENAPI_PATH)
schemas = SchemaValidator(OPENAPI)
queries = QueryValidator(OPENAPI)


class NotifyApi(JsonApi):
    """Notify's JSON entrypoints: the query string is checked against the API document before anything runs,
    for every operation in this one place, as on intake (an unknown parameter is refused, not ignored)."""

    def handle_request(self, request):
        try:
            queries.check(request.method, openapi_path(self.url), request.args)
        except DomainError as exc:
            return self.response_from_exception(exc)
        return super().handle_request(request)


api = NotifyApi.decorator


class NotifyService(SignInPages):
    name = "notify"
    static_dir = Path(__file__).resolve().parent / "static"
    landing = "/dashboard"

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

    @api("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return OPENAPI

    # ------------------------------------------------------------------ feeds

    def _caller(self, session, request) -> str | None:
        """The tenant whose rows the caller may see; None means all (the ministry).

        A client that keeps sending wrong keys is told to wait (429), as on intake.
        """
        return self.limits.key_checked(request, lambda: access.key_tenant(session, bearer_key(request.headers)))

    def _progress_rows(self, request, limit: int):
        cursor = request.args.get("cursor")
        with self.db.transaction() as session:
            tenant = self._caller(session, request)
            # one row more than asked, so the page knows whether more follow
            return readmodel.rows_after(session, feeds.decode_cursor(cursor), limit + 1, tenant), cursor

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
        with self.db.transaction() as session:
            tenant = self._caller(session, request)
            items = readmodel.forwarded_page(session, feeds.decode_cursor(cursor), limit + 1, tenant, links)
        return feeds.page(items, limit, cursor=cursor)

    def _file_links(self, ttl_s: float | None = None) -> FileLinks:
        """Absolute links (API clients follow them), on FILES_PUBLIC_URL when files have their own origin."""
        base = self.config.get("FILES_PUBLIC_URL") or self.config.get("PUBLIC_URL", "")
        return FileLinks(web_secret(self.config), base, **({"ttl_s": ttl_s} if ttl_s else {}))

    def _forwarded_export(self, request, ttl_s: float):
        links = self._file_links(ttl_s)
        with self.db.transaction() as session:
            tenant = self._caller(session, request)
            return readmodel.forwarded_page(session, 0, EXPORT_LIMIT, tenant, links), readmodel.track_labels(session)

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

    # Every read of the library takes the reader's shelves (library.shelves_for): the national one, and the own
    # library of the university a key belongs to or a visitor reads as; the ministry reads the national one only.

    def _key_shelves(self, request) -> tuple[str, ...]:
        with self.db.transaction() as session:
            return library.shelves_for(self._caller(session, request))

    def _casebook(self, query: library.Query, shelves: tuple[str, ...]) -> Response:
        with self.db.transaction() as session:
            cases = library.cases(session, query, shelves, CASEBOOK_LIMIT)
        subtitle = f"检索：{' '.join(query.words)}" if query.words else ""
        body = tpool.execute(casebook.case_collection, "教育素材库案例集", cases, subtitle=subtitle)
        return Response(body, mimetype=DOCX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=casebook.docx"})

    @api("GET", "/api/v1/library")
    def library_search(self, request):
        """The education material library: full-text search with filters, a page of works with snippets.

        Any university or the ministry: the national shelf is shared material; a university's own is its own.
        """
        shelves = self._key_shelves(request)
        query = library.parse_query(request.args)
        with self.db.transaction() as session:
            page = library.search_page(session, query, shelves)
            page["facets"] = library.facets(session, shelves)
        return page

    @api("GET", "/api/v1/library/casebook.docx")
    def library_casebook(self, request):
        """The case collection (案例集) of the works matching the query and filters, as a Word document."""
        shelves = self._key_shelves(request)
        return self._casebook(library.parse_query(request.args), shelves)

    @page("GET", "/library")
    def library_page(self, request):
        visitor = self.web.require(request, *access.VIEWER_ROLES)
        query = library.parse_query(request.args)
        reader = library.page_reader(visitor, query.tenant)
        shelves = library.shelves_for(reader)
        with self.db.transaction() as session:
            data = library.search_page(session, query, shelves)
            facets, size = library.facets(session, shelves), library.size(session, shelves)
            viewer = access.tenant_label(session, reader)
        args = library.query_args(query)
        return self.web.render("library.html", visitor, viewer=viewer, own_shelf=reader is not None, query=query,
                               facets=facets, size=size, items=data["items"], total=data["total"],
                               per_page=library.PER_PAGE,
                               export_args=urlencode(args),
                               page_args=lambda n: urlencode({**args, "page": n}))

    @page("GET", "/library/casebook.docx")
    def library_page_casebook(self, request):
        visitor = self.web.require(request, *access.VIEWER_ROLES)
        query = library.parse_query(request.args)
        return self._casebook(query, library.shelves_for(library.page_reader(visitor, query.tenant)))

    # ------------------------------------------------------------------ the dashboard (people in a browser)

    def key_session(self, session, key_hash):
        """Static files, sign-in and sign-out are SignInPages'; a university's or the ministry's key signs in."""
        return access.signed_in_as(session, key_hash)

    def person_session(self, session, person):
        """A person signed in on the platform (intake's ticket): what their grants show here, or None (403)."""
        return people.session_of(person["grants"])

    @page("GET", "/dashboard")
    def dashboard(self, request):
        visitor = self.web.require(request, *access.VIEWER_ROLES)
        scope = people.scope_of(visitor, request.args.get("university") or None)  # another university: 403
        filters = dashboard.Filters(request.args.get("campaign") or None, request.args.get("track") or None)
        with self.db.transaction() as session:
            context = dashboard.view(session, scope, filters)
        return self.web.render("dashboard.html", visitor, **context)

    @api("GET", "/api/v1/messages")
    def list_messages(self, request):
        """The message log of the caller's university (the ministry's key: all), newest first.

        `?state=failed` is the list of addresses that refused mail for good:
        what the organisation department fixes in its org list.
        """
        state = request.args.get("state")  # one of the document's enum (NotifyApi checked it)
        limit = feeds.parse_limit(request.args.get("limit"))
        with self.db.transaction() as session:
            return messages.log_page(session, self._caller(session, request), state, limit)

    # ------------------------------------------------------------------ webhooks

    @api("POST", "/api/v1/webhooks")
    def subscribe(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)  # the key first: a caller without one learns nothing of the body's rules
            body = schemas.validate(read_json(request), "SubscriptionCreate")
            sub, secret = hooks.subscribe(session, caller, body, self.webhook_sender.check)
            # the secret is shown once, like an API key
            return 201, {**hooks.subscription_json(sub), "secret": secret}

    @api("GET", "/api/v1/webhooks")
    def list_subscriptions(self, request):
        with self.db.transaction() as session:
            subs = hooks.active_subscriptions(session, self._caller(session, request))
            return {"items": [hooks.subscription_json(x) for x in subs]}

    @api("DELETE", "/api/v1/webhooks/<string:sub_id>")
    def unsubscribe(self, request, sub_id):
        with self.db.transaction() as session:
            hooks.unsubscribe(session, self._caller(session, request), sub_id)
            return {"id": sub_id, "active": False}

    @api("GET", "/api/v1/webhooks/<string:sub_id>/deliveries")
    def list_deliveries(self, request, sub_id):
        with self.db.transaction() as session:
            rows = hooks.deliveries(session, self._caller(session, request), sub_id)
            return {"items": [hooks.delivery_json(d) for d in rows]}

    @api("POST", "/api/v1/webhooks/<string:sub_id>/deliveries/<string:delivery_id>/replay")
    def replay_delivery(self, request, sub_id, delivery_id):
        with self.db.transaction() as session:
            return hooks.delivery_json(hooks.replay(session, self._caller(session, request), sub_id, delivery_id))

    @timer(interval=WEBHOOK_TICK_S)
    def deliver_webhooks(self):
        """Start the due deliveries there is room for; the tick does not wait for them."""
        return outgoing.start_due_deliveries(self.db, self.webhook_sender)

    # ------------------------------------------------------------------ copies of other services' data

    @handles("campaign_published")
    def on_campaign_published(self, event):
        # 活动通知, with the notice as a .docx: python-docx is CPU work, done in tpool BEFORE the transaction opens
        # so that no database lock waits on it (on SQLite the write lock would stall every other handler)
        notice = messages.notice_attachment(event)
        with self.db.handling(event) as session:
            # an older version replayed after a correction must not announce old deadlines
            if session is not None and copies.record_campaign_published(session, event):
                messages.queue_campaign_announcement(session, self.mail.templates, event, notice)
                hooks.enqueue_campaign(session, event)  # to each university it is for

    @handles("tenant_registered", once=True)
    def on_tenant_registered(self, session, event):
        copies.record_tenant_registered(session, event)
        # a university registered after the ministry's campaign went out is told of it (活动通知), once
        messages.queue_late_announcements(session, self.mail.templates, "ministry", clock.now())

    @handles("api_key_issued", once=True)
    def on_api_key_issued(self, session, event):
        copies.record_api_key_issued(session, event)

    @handles("api_key_revoked", once=True)
    def on_api_key_revoked(self, session, event):
        copies.record_api_key_revoked(session, event)

    @handles("orgs_imported", once=True)
    def on_orgs_imported(self, session, event):
        copies.record_orgs_imported(session, event)
        # orgs new to the list, or with an address added or changed, are told of the campaigns still running, once
        messages.queue_late_announcements(session, self.mail.templates, event.tenant, clock.now())

    @handles("submission_submitted", once=True)
    def on_submission_submitted(self, session, event):
        copies.record_submission_submitted(session, event)
        hooks.enqueue(session, event)
        messages.queue_receipt(session, self.mail.templates, event)

    @handles("file_uploaded", once=True)
    def on_file_uploaded(self, session, event):
        copies.record_file_uploaded(session, event)

    @handles("file_checked", once=True)
    def on_file_checked(self, session, event):
        file = copies.record_file_checked(session, event)
        messages.queue_check_result(session, self.mail.templates, event, file)
        hooks.enqueue_file_checked(session, event, file)

    @handles("submission_withdrawn", once=True)
    def on_submission_withdrawn(self, session, event):
        copies.record_submission_withdrawn(session, event)
        hooks.enqueue(session, event)

    @handles("submission_reopened", once=True)
    def on_submission_reopened(self, session, event):
        copies.record_submission_reopened(session, event)
        messages.queue_reopened(session, self.mail.templates, event)

    @handles("submission_forwarded", once=True)
    def on_submission_forwarded(self, session, event):
        copies.record_submission_forwarded(session, event, self.store, self.segmenter)
        hooks.enqueue_forwarded(session, event)

    @handles("extension_granted", once=True)
    def on_extension_granted(self, session, event):
        """An org was given more time: the university's portal hears it (the mail is the portal's to send)."""
        hooks.enqueue(session, event)

    @handles("account_invited", once=True)
    def on_account_invited(self, session, event):
        messages.queue_account_invite(session, self.mail.templates, event)

    @handles("account_link_requested", once=True)
    def on_account_link_requested(self, session, event):
        messages.queue_account_link(session, self.mail.templates, event)

    @handles("account_sessions_ended", once=True)
    def on_account_sessions_ended(self, session, event):
        """Signed out on the platform, a grant removed, the account disabled: its pages here close at once."""
        ended = handoff.end_person_sessions(session, WebSession, event.data["account_id"],
                                            event.data.get("intake_session"))
        log.info("account %s: %d web sessions ended (%s)", event.data["account_id"], ended, event.data["reason"])

    @handles("supervision_reminded", once=True)
    def on_supervision_reminded(self, session, event):
        """督办: a person reminded the orgs (or universities) behind in a track; each is mailed once."""
        messages.queue_supervision_reminders(session, self.mail.templates, event)

    @handles("reviewer_invited", once=True)
    def on_reviewer_invited(self, session, event):
        messages.queue_reviewer_invite(session, self.mail.templates, event)

    @handles("selection_made", once=True)
    def on_selection_made(self, session, event):
        messages.queue_selection_results(session, self.mail.templates, event)
        if library.enters_library(event.data):  # the ministry's final selection, or a level's own 素材库
            library.add_selected(session, self.store, event.data, decided_by=event.tenant)
        # one result per work, to its own university's portal (a ministry round spans universities)
        hooks.enqueue_selection(session, event, messages.final_decision(event.data))

    @handles("publicity_ended", once=True)
    def on_publicity_ended(self, session, event):
        """公示期满: each org whose work was published hears that the result stands."""
        messages.queue_publicity_ended(session, self.mail.templates, event)

    # ------------------------------------------------------------------ mail

    @timer(interval=3600)
    def send_reminders(self):
        """Queue the deadline reminders due today (不掉队), and the universities' reminders to forward to the ministry;
        safe to run any number of times."""
        with self.db.transaction() as session:
            queued = messages.queue_reminders(session, self.mail.templates, clock.now())
            queued += messages.queue_forward_reminders(session, self.mail.templates, clock.now())
        if queued:
            log.info("queued %d deadline reminders", queued)
        return queued

    @timer(interval=PERIOD_TICK_S)
    def roll_periods(self):
        """A new period of a recurring track began (a month turned): its progress rows count that period now."""
        with self.db.transaction() as session:
            return readmodel.roll_periods(session, clock.now())

    @timer(interval=SEND_TICK_S)
    def send_due(self):
        """Deliver pending messages whose time has come, batch by batch until none is due."""
        return outgoing.send_due_mail(self.db, self.mail)
