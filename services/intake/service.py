"""Intake: the portal API of the universities (and of the ministry), and the invitation page people open.

Each entrypoint authenticates (the key first, so a caller without one learns nothing of what a body
should be), validates, runs one use case (operations/) in one transaction and returns JSON; the upload
lifecycle's use cases take the transaction factory, as the object store's work runs between two. Events
leave through the outbox. Pages for people (`/invitations/<token>`) are
Chinese HTML (pages/, common.web.WebPages) and are not part of the API document.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml
from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from common import looplag
from common.auth import same_secret
from common.dependencies import Database, Limits, ObjectStore, Segmenter
from common.errors import DomainError, InvalidInput, PayloadTooLarge, Unauthorized
from common.http import JsonApi, SchemaValidator, api, parse_yaml, read_json
from common.messaging import OutboxRelay, handles
from common.query import QueryValidator, openapi_path
from common.web import WebPages, csrf_refused, page
from services.intake import operations as ops
from services.intake.audit_pages import AuditPages
from services.intake.domain import keys as key_rules, people
from services.intake.domain.account_table import parse_account_table
from services.intake.domain.analysis import analyse_work
from services.intake.domain.orgs import parse_org_table, render_template_xlsx
from services.intake.models import OutboxMessage, ProcessedEvent, WebSession
from services.intake.operations import (
    audit as ops_audit,
    keys as ops_keys,
    sso as ops_sso,
    uploads as ops_uploads,
    versions as ops_versions,
)
from services.intake.passwords import hash_off_loop
from services.intake.people_pages import PERSON, PeoplePages
from services.intake.submission_pages import SubmissionPages
from services.intake.supervision_pages import SupervisionPages

HERE = Path(__file__).resolve().parent
OPENAPI_PATH = HERE / "openapi.yaml"
OPENAPI = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
schemas = SchemaValidator(OPENAPI)
queries = QueryValidator(OPENAPI)


class IntakeApi(JsonApi):
    """Intake's entrypoints: the query string is checked against the API document before anything runs,
    for every operation in this one place (an enum value matching nothing once answered 200 and [])."""

    def handle_request(self, request):
        path = openapi_path(self.url)
        try:
            queries.check(request.method, path, request.args)
        except DomainError as exc:
            return self.response_from_exception(exc)
        # the scope a key needs here (domain/keys.py), found once; an undocumented route needs the strictest
        request.environ[SCOPE_NEEDED] = key_rules.ROUTE_SCOPES.get((request.method, path), key_rules.Scope.ADMIN)
        return super().handle_request(request)


api = IntakeApi.decorator  # noqa: F811  (every entrypoint below is an IntakeApi)
SCOPE_NEEDED = "intake.scope_needed"
CSRF_HEADER = "X-CSRF-Token"

MAX_IMPORT_BYTES = 10 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


_ROUTES = [
    (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"),
     sorted(m.upper() for m in ops_ if m != "parameters"))
    for path, ops_ in OPENAPI["paths"].items()
]


def _documented_methods(path: str) -> list[str]:
    return next((methods for pattern, methods in _ROUTES if pattern.match(path)), [])


def _page_args(request) -> tuple[int, int]:
    def number(name, default, lo, hi):
        raw = request.args.get(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"参数 {name} 应为整数，实际为“{raw}”。", code="invalid_query", field=name,
                               expected="integer", found=raw) from None
        if not lo <= value <= hi:
            raise InvalidInput(f"参数 {name} 应在 {lo} 到 {hi} 之间，实际为 {value}。", code="invalid_query",
                               field=name, expected=[lo, hi], found=value)
        return value

    return number("page", 1, 1, 10**6), number("per_page", 50, 1, ops.MAX_PER_PAGE)


class IntakeService(PeoplePages, AuditPages, SupervisionPages, SubmissionPages):
    name = "intake"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    store = ObjectStore()
    segmenter = Segmenter()  # jieba and OpenCC loaded at start, for keywords and theme suggestions
    limits = Limits()
    # the invitation page: templates, its form's pre-session CSRF token, the limits on tries per link and address
    web = WebPages(HERE / "pages", WebSession, returns_to_page=False, min_length=people.MIN_PASSWORD_LENGTH,
                   max_length=people.MAX_PASSWORD_LENGTH)

    def _tenant(self, session, request):
        """The caller's university, by a key valid now with the route's scope (or a person's session, `_caller`); a
        client that keeps sending wrong keys is told to wait (429)."""
        if self._signed_in(session, request) is not None:
            return self._caller(session, request).tenant
        address, needs = self.limits.client_of(request), request.environ.get(SCOPE_NEEDED, key_rules.Scope.ADMIN)
        return self.limits.key_checked(request, lambda: ops.authenticate(session, request.headers, needs, address))

    def _caller(self, session, request) -> ops.Caller:
        """Who is acting, for the audit log: a tenant's key, acting as the tenant's owner (单位管理员), with the key's
        reach (some orgs or tracks); or, for a request with no key, the person signed in on these pages, with what
        their grants give (the hosted submission pages call this same API). Every route that reads or changes works,
        files, orgs or extensions takes this, not `_tenant`, so the reach goes wherever the key or person does."""
        address, needs = self.limits.client_of(request), request.environ.get(SCOPE_NEEDED, key_rules.Scope.ADMIN)
        visitor = self._signed_in(session, request)
        if visitor is not None:
            return ops.person_caller(session, visitor["account_id"], request.headers, address, needs)
        return self.limits.key_checked(request, lambda: ops.key_caller(session, request.headers, address, needs))

    def _signed_in(self, session, request) -> dict | None:
        """The person's session a request without a key comes with, or None (a key, or no session cookie: the key
        path then answers). A cookie is sent by the browser whoever made the page, so every such call, GET included,
        must carry the session's CSRF token in `X-CSRF-Token`, which only our own pages can read."""
        if request.headers.get("Authorization") or request.headers.get("X-API-Key"):
            return None
        sessions = self.web.sessions
        if sessions.cookie not in request.cookies:
            return None
        visitor = sessions.current(session, request)
        if visitor is None or visitor["role"] != PERSON:
            raise Unauthorized("尚未登录或登录已失效。请重新登录后再操作。", code="not_signed_in",
                               expected="已登录的会话或 API 密钥", found="已失效的会话")
        sent = request.headers.get(CSRF_HEADER, "")
        if not same_secret(sent, sessions.csrf_token(visitor)):
            raise csrf_refused(sent)
        return visitor

    @staticmethod
    def _parse_accounts(*args, **kwargs):
        """`parse_account_table` in a real thread, as the org list is parsed."""
        return tpool.execute(parse_account_table, *args, **kwargs)

    @staticmethod
    def _parse_orgs(*args):
        """`parse_org_table` in a real thread: a workbook is unzipped and parsed, which would hold the loop."""
        return tpool.execute(parse_org_table, *args)

    @staticmethod
    def _analyse(*args):
        """`analyse_work` in a real thread: jieba would otherwise hold the event loop."""
        return tpool.execute(analyse_work, *args)

    def _once(self, request, session, tenant, body, action, reach: key_rules.Reach = key_rules.WHOLE_TENANT):
        """Honour `Idempotency-Key` on a POST; without the header, just run. A key limited to some orgs or tracks
        keeps its own keys: it never replays an answer given to a key that reaches more."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return action()
        endpoint = f"{request.method} {request.path}"
        if reach.limited:
            stored = json.dumps(reach.to_stored(), sort_keys=True)
            endpoint += f" (reach {hashlib.sha256(stored.encode()).hexdigest()[:16]})"
        return ops.run_idempotent(session, tenant, key, endpoint, body, action)

    # ------------------------------------------------------------------ basics

    @api("GET", "/health")
    def health(self, request):
        return {"service": "intake", "status": "ok", **looplag.monitor.report()}

    @api("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return OPENAPI

    @api("GET", "/api/v1/me")
    def me(self, request):
        with self.db.transaction() as session:
            tenant = self._tenant(session, request)
            return {"tenant": tenant.id, "name": tenant.name, "kind": tenant.kind}

    # ------------------------------------------------------------------ campaigns

    @api("GET", "/api/v1/campaigns")
    def list_campaigns(self, request):
        with self.db.transaction() as session:
            tenant = self._tenant(session, request)
            return {"items": ops.list_campaigns(session, tenant)}

    @api("GET", "/api/v1/campaigns/<string:campaign_id>")
    def get_campaign(self, request, campaign_id):
        with self.db.transaction() as session:
            tenant = self._tenant(session, request)
            return ops.campaign_json(ops.visible_campaign(session, tenant, campaign_id))

    @api("POST", "/api/v1/campaigns")
    def publish_campaign(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            doc = self._definition_body(request)
            return self._once(request, session, caller.tenant, doc, lambda: (
                201, ops.campaign_json(ops.publish_campaign(session, self.outbox, caller, doc))))

    @api("POST", "/api/v1/campaigns/<string:campaign_id>/versions")
    def publish_campaign_version(self, request, campaign_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "CampaignVersionCreate")
            return self._once(request, session, caller.tenant, body, lambda: (
                201, ops.campaign_json(ops_versions.publish_version(session, self.outbox, caller, campaign_id, body))))

    def _definition_body(self, request):
        # Definitions are written in YAML by people; JSON is accepted too.
        if (request.mimetype or "") in ("application/yaml", "application/x-yaml", "text/yaml"):
            raw = request.stream.read(1_000_001)
            if len(raw) > 1_000_000:
                raise PayloadTooLarge("活动定义不能超过 1 MB。", code="body_too_large", expected=1_000_000)
            doc = parse_yaml(raw)  # the limits of JSON bodies too: nesting, numbers, Unicode, size
        else:
            doc = read_json(request)
        if not isinstance(doc, dict):
            raise InvalidInput("活动定义应为一个对象（键值映射）。", code="validation_failed", expected="object",
                               found=type(doc).__name__)
        return doc

    # ------------------------------------------------------------------ orgs

    @api("GET", "/api/v1/orgs")
    def list_orgs(self, request):
        page, per_page = _page_args(request)
        sync = ops.sync_of(request.args)
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            return ops.list_orgs(session, caller, request.args.get("level"), request.args.get("parent_id"),
                                 request.args.get("q"), page, per_page, sync)

    @api("GET", "/api/v1/orgs/template.xlsx")
    def org_template(self, request):
        with self.db.transaction() as session:
            self._tenant(session, request)
        return Response(render_template_xlsx(), mimetype=XLSX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=org-template.xlsx"})

    @api("GET", "/api/v1/orgs/<string:org_id>")
    def get_org(self, request, org_id):
        with self.db.transaction() as session:
            return ops.org_json(ops.get_org(session, self._caller(session, request), org_id))

    @staticmethod
    def _list_file(request, what: str) -> bytes:
        """An uploaded list (组织名单, 人员名单): at most 10 MB, refused before it is read when it says it is more."""
        if request.content_length and request.content_length > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"{what}文件最大 10 MB，实际为 {request.content_length} 字节。",
                                  code="body_too_large", expected=MAX_IMPORT_BYTES, found=request.content_length)
        data = request.stream.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"{what}文件最大 10 MB。", code="body_too_large", expected=MAX_IMPORT_BYTES)
        return data

    @api("POST", "/api/v1/orgs/import", max_body=MAX_IMPORT_BYTES)
    def import_orgs(self, request):
        filename = request.args.get("filename")
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            data = self._list_file(request, "组织名单")
            return ops.import_orgs(session, self.outbox, caller, data, filename, request.mimetype, self._parse_orgs)

    # ------------------------------------------------------------------ submissions

    @api("GET", "/api/v1/submissions")
    def list_submissions(self, request):
        page, per_page = _page_args(request)
        filters = {k: request.args.get(k) for k in ("campaign_id", "track", "org_id", "state", "stage", "q")}
        sync = ops.sync_of(request.args)
        with self.db.transaction() as session:
            return ops.list_submissions(session, self._caller(session, request), filters, page, per_page, sync)

    @api("POST", "/api/v1/submissions")
    def create_submission(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "SubmissionCreate")
            return self._once(request, session, caller.tenant, body, lambda: (
                201, ops.submission_json(session, ops.create_submission(session, caller, body, self._analyse))),
                reach=caller.reach)

    @api("GET", "/api/v1/submissions/<string:submission_id>")
    def get_submission(self, request, submission_id):
        with self.db.transaction() as session:
            sub = ops.get_submission(session, self._caller(session, request), submission_id)
            # flags of later versions of the campaign's rules (operations/versions.py): shown, never a refusal
            return {**ops.submission_json(session, sub), "rule_flags": ops_versions.rule_flags_of(session, sub.id)}

    @api("PATCH", "/api/v1/submissions/<string:submission_id>")
    def update_submission(self, request, submission_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "SubmissionUpdate")
            sub = ops.get_submission(session, caller, submission_id)
            return ops.submission_json(session, ops.update_submission(session, caller, sub, body["fields"], self._analyse))

    @api("POST", "/api/v1/submissions/<string:submission_id>/submit")
    def submit_submission(self, request, submission_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "SubmitRequest") if request.content_length else {}
            sub = ops.get_submission(session, caller, submission_id)
            return self._once(request, session, caller.tenant, body, lambda: (200, ops.submission_json(
                session, ops.submit_submission(session, self.outbox, caller, sub, body.get("stage")))))

    @api("POST", "/api/v1/submissions/<string:submission_id>/withdraw")
    def withdraw_submission(self, request, submission_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            sub = ops.get_submission(session, caller, submission_id)
            return self._once(request, session, caller.tenant, {}, lambda: (
                200, ops.submission_json(session, ops.withdraw_submission(session, self.outbox, caller, sub))))

    @api("GET", "/api/v1/submissions/<string:submission_id>/receipts")
    def list_receipts(self, request, submission_id):
        with self.db.transaction() as session:
            sub = ops.get_submission(session, self._caller(session, request), submission_id)
            return {"items": ops.list_receipts(session, sub)}

    # ------------------------------------------------------------------ files

    @api("POST", "/api/v1/submissions/<string:submission_id>/files")
    def register_file(self, request, submission_id):
        public = self.config["PUBLIC_URL"]
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "FileCreate")
            tenant = caller.tenant
            sub = ops.get_submission(session, caller, submission_id)

            def register():
                self.limits.uploads.check(tenant.id, "登记上传文件")
                f, target, reopened = ops.register_file(session, self.outbox, caller, sub, body, self.store, public,
                                                        self.config["UPLOAD_TTL_S"])
                self.limits.uploads.hit(tenant.id)
                return 201, {"file": ops.file_json(f), "upload": target, **({"reopened": reopened} if reopened else {})}

            return self._once(request, session, tenant, body, register)

    @api("PUT", "/api/v1/uploads/<string:token>", stream_body=True)  # up to gigabytes: streamed
    def upload_bytes(self, request, token):
        """The folder backend's upload URL: the token authorises, like a presigned URL."""
        # wsgi.input, not request.stream: werkzeug hands an empty stream to a
        # chunked request (no Content-Length); eventlet's input decodes chunks.
        return ops.receive_upload(self.db.transaction, self.store, token, request.content_length,
                                  request.environ["wsgi.input"], request.headers.get("Content-Range"))

    @api("GET", "/api/v1/uploads/<string:token>")
    def upload_progress(self, request, token):
        """How much of the upload has arrived: a client whose connection dropped resumes from `received`."""
        return ops_uploads.upload_progress(self.db.transaction, self.store, token)

    @api("POST", "/api/v1/files/<string:file_id>/complete")
    def complete_file(self, request, file_id):
        with self.db.transaction() as session:
            self._caller(session, request)  # the key first (complete_upload checks it again in its own transactions)
        body = schemas.validate(read_json(request), "FileComplete") if request.content_length else {}
        return ops.complete_upload(self.db.transaction, self.store, self.outbox,
                                   lambda session: self._caller(session, request), file_id, body.get("parts"))

    @api("GET", "/api/v1/files/<string:file_id>")
    def get_file(self, request, file_id):
        with self.db.transaction() as session:
            return ops.file_json(ops.get_file(session, self._caller(session, request), file_id))

    @api("DELETE", "/api/v1/files/<string:file_id>")
    def delete_file(self, request, file_id):
        return ops.discard_file(self.db.transaction, self.store, self.outbox,
                                lambda session: self._caller(session, request), file_id)

    @timer(interval=60)
    def expire_keys(self):
        """Keys past their time (a rotated key's overlap, a year) are revoked: review and notify drop them too."""
        with self.db.transaction() as session:
            ops_keys.expire_keys(session, self.outbox)

    @timer(interval=600)
    def clean_abandoned_uploads(self):
        """Uploads never confirmed within UPLOAD_TTL_S are aborted and their bytes removed."""
        ops.clean_abandoned_uploads(self.db.transaction, self.store, self.config["UPLOAD_TTL_S"])

    # ------------------------------------------------------------------ extensions

    @api("GET", "/api/v1/extensions")
    def list_extensions(self, request):
        sync, per_page = ops.sync_of(request.args), _page_args(request)[1]  # per_page: a mirroring read's page size
        with self.db.transaction() as session:
            return ops.list_extensions(session, self._caller(session, request), request.args.get("campaign_id"), sync,
                                       per_page)

    @api("POST", "/api/v1/extensions")
    def grant_extension(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "ExtensionCreate")
            return self._once(request, session, caller.tenant, body, lambda: (
                201, ops.extension_json(ops.grant_extension(session, caller, body, self.outbox))))

    # ------------------------------------------------------------------ API keys

    @api("GET", "/api/v1/keys")
    def list_keys(self, request):
        with self.db.transaction() as session:
            return ops_keys.list_keys(session, self._caller(session, request))

    @api("POST", "/api/v1/keys")
    def create_key(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "KeyCreate")
            return self._once(request, session, caller.tenant, body, lambda: (
                201, ops_keys.create_key(session, self.outbox, caller, body)))

    @api("POST", "/api/v1/keys/<string:key_id>/rotate")
    def rotate_key(self, request, key_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "KeyRotate") if request.content_length else {}
            return self._once(request, session, caller.tenant, {"key": key_id, **body}, lambda: (
                201, ops_keys.rotate_key(session, self.outbox, caller, key_id, body)))

    @api("DELETE", "/api/v1/keys/<string:key_id>")
    def revoke_key(self, request, key_id):
        with self.db.transaction() as session:
            return ops_keys.revoke_key(session, self.outbox, self._caller(session, request), key_id)

    # ------------------------------------------------------------------ single sign-on

    @api("GET", "/api/v1/sso")
    def get_sso(self, request):
        with self.db.transaction() as session:
            return ops_sso.get_sso(session, self._caller(session, request))

    @api("PUT", "/api/v1/sso")
    def configure_sso(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "SsoUpdate")
            return ops_sso.configure_sso(session, caller, body, self.web.secret, self._sso_outbound())

    @api("DELETE", "/api/v1/sso")
    def remove_sso(self, request):
        with self.db.transaction() as session:
            return ops_sso.remove_sso(session, self._caller(session, request))

    # ------------------------------------------------------------------ people and the audit log

    @api("GET", "/api/v1/accounts")
    def list_accounts(self, request):
        page, per_page = _page_args(request)
        filters = {k: request.args.get(k) for k in ("state", "role", "q")}
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            return ops.list_accounts(session, caller.tenant, filters, page, per_page)

    @api("POST", "/api/v1/accounts")
    def invite_account(self, request):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "AccountInvite")
            return self._once(request, session, caller.tenant, body, lambda: ops.invite(
                session, self.outbox, caller, body, self.config["PUBLIC_URL"]))

    @api("POST", "/api/v1/accounts/import", max_body=MAX_IMPORT_BYTES)
    def import_accounts(self, request):
        filename = request.args.get("filename")
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            data = self._list_file(request, "人员名单")
            fingerprint = {"sha256": hashlib.sha256(data).hexdigest(), "filename": filename}
            return self._once(request, session, caller.tenant, fingerprint, lambda: (200, ops.import_accounts(
                session, self.outbox, caller, data, filename, request.mimetype, self.config["PUBLIC_URL"],
                self._parse_accounts)))

    @api("GET", "/api/v1/accounts/<string:account_id>")
    def get_account(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            return ops.account_json(session, caller.tenant, ops.get_account(session, caller.tenant, account_id))

    @api("PATCH", "/api/v1/accounts/<string:account_id>")
    def update_account(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "AccountUpdate")
            return ops.update_account(session, caller, ops.get_account(session, caller.tenant, account_id), body)

    @api("POST", "/api/v1/accounts/<string:account_id>/grants")
    def add_grant(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            body = schemas.validate(read_json(request), "GrantCreate")
            account = ops.get_account(session, caller.tenant, account_id)
            return self._once(request, session, caller.tenant, body, lambda: (
                201, ops.add_grant(session, caller, account, body)))

    @api("DELETE", "/api/v1/accounts/<string:account_id>/grants/<string:grant_id>")
    def remove_grant(self, request, account_id, grant_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            return ops.remove_grant(session, self.outbox, caller, ops.get_account(session, caller.tenant, account_id), grant_id)

    @api("POST", "/api/v1/accounts/<string:account_id>/disable")
    def disable_account(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            account = ops.get_account(session, caller.tenant, account_id)
            return self._once(request, session, caller.tenant, {}, lambda: (
                200, ops.disable_account(session, self.outbox, caller, account)))

    @api("POST", "/api/v1/accounts/<string:account_id>/enable")
    def enable_account(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            account = ops.get_account(session, caller.tenant, account_id)
            return self._once(request, session, caller.tenant, {}, lambda: (
                200, ops.enable_account(session, caller, account)))

    @api("POST", "/api/v1/accounts/<string:account_id>/second-factor/reset")
    def reset_second_factor(self, request, account_id):
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            account = ops.get_account(session, caller.tenant, account_id)
            return self._once(request, session, caller.tenant, {}, lambda: (
                200, ops.reset_second_factor(session, self.outbox, caller, account)))

    @api("GET", "/api/v1/audit")
    def list_audit(self, request):
        page, per_page = _page_args(request)
        args = request.args
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            return ops.list_audit(session, caller.tenant, args.get("action"), args.get("since"), args.get("until"),
                                  page, per_page)

    @api("GET", "/api/v1/audit.xlsx")
    def export_audit(self, request):
        """The same rows as a workbook (at most 20,000: narrow the dates for more), written in a tpool thread."""
        args = request.args
        with self.db.transaction() as session:
            caller = self._caller(session, request)
            rows = ops_audit.export_rows(session, caller.tenant.id,
                                         ops_audit.api_filter(args.get("action"), args.get("since"), args.get("until")))
            title = f"{caller.tenant.name} 审计日志"
        return Response(tpool.execute(ops_audit.audit_xlsx, rows, title), mimetype=XLSX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=audit.xlsx"})

    # ------------------------------------------------------------------ the invitation page

    @page("GET", "/invitations/<string:token>")
    def invitation_page(self, request, token):
        # A page with a form, never a change on GET: mail scanners open links, and the link is single-use.
        with self.db.transaction() as session:
            view = ops.invitation_view(session, token)
        status = view.refusal.status if view.refusal else 200
        return self.web.render("invitation.html", None, status, request=request, token=token, view=view)

    @page("POST", "/invitations/<string:token>")
    def accept_invitation(self, request, token):
        # Counted per link as well as per address, as review's sign-in links are: guessing links is guessing keys.
        subject = "invitation:" + ops.token_hash(token)
        with self.db.transaction() as session:
            view = ops.invitation_view(session, token)
        refused = self.web.sign_in_refusal(request, subject, page="invitation.html", token=token, view=view)
        if refused is not None:
            return refused
        if view.refusal is not None:
            self.web.failed(request, subject)
            return self.web.render("invitation.html", None, view.refusal.status, request=request, token=token, view=view)
        password = request.form.get("password", "")
        problems = people.password_problems(password, view.email, request.form.get("password_confirmation", ""))
        if problems:
            return self.web.render("invitation.html", None, 400, request=request, token=token, view=view,
                                   problems=problems)
        password_hash = hash_off_loop(password)  # Argon2id: CPU and memory by design, off the loop, two at a time
        try:
            with self.db.transaction() as session:
                account = ops.accept_invitation(session, token, password_hash, self.web.limits.client_of(request))
                name, email = account.name, account.email
        except DomainError as exc:  # the link was used (or the account disabled) since the form was read
            self.web.failed(request, subject)
            gone = ops.InvitationView(view.name, view.email, view.inviter,
                                      people.InvitationRefusal(exc.code, exc.status, exc.message))
            return self.web.render("invitation.html", None, exc.status, request=request, token=token, view=gone)
        return self.web.render("invitation_done.html", None, request=request, person=name, email=email)

    # ------------------------------------------------------------------ fallbacks

    @api("GET,POST,PUT,PATCH,DELETE", "/api/v1/<path:rest>")
    def unknown_route(self, request, rest):
        path = f"/api/v1/{rest}"
        allowed = _documented_methods(path)
        if allowed:
            raise DomainError(f"接口 {path} 不支持 {request.method}，支持：{'、'.join(allowed)}。",
                              code="method_not_allowed", status=405, expected=allowed, found=request.method)
        raise DomainError(f"没有这个接口：{request.method} {path}。接口清单见 /api/v1/openapi.json。",
                          code="route_not_found", status=404, found=f"{request.method} {path}")

    # ------------------------------------------------------------------ events

    @handles("selection_made", once=True)
    def on_selection_made(self, session, event):
        ops.forward_selection(session, self.outbox, event.tenant, event.data)

    @handles("file_checked", once=True)
    def on_file_checked(self, session, event):
        ops.record_file_check(session, self.outbox, event.data, self._analyse)

    @handles("review_audited", once=True)
    def on_review_audited(self, session, event):
        ops_audit.record_review(session, event.data)  # a change on review's pages: its row in the round tenant's log
