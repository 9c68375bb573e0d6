"""Intake: the portal API of the universities (and of the ministry).

Each entrypoint authenticates, validates, runs one operation in one
transaction and returns JSON. Events leave through the outbox.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml
from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from common import clock, looplag
from common.dependencies import Database, Limits, ObjectStore, Segmenter
from common.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from common.http import JsonApi, SchemaValidator, api, parse_yaml, read_json
from common.messaging import OutboxRelay, handles
from common.objectstore import SizeExceeded
from common.query import QueryValidator, openapi_path
from services.intake import operations as ops
from services.intake.domain.analysis import analyse_work
from services.intake.domain.orgs import parse_org_table, render_template_xlsx
from services.intake.models import FileRecord, OutboxMessage, ProcessedEvent, Receipt

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
OPENAPI = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
schemas = SchemaValidator(OPENAPI)
queries = QueryValidator(OPENAPI)


class IntakeApi(JsonApi):
    """Intake's entrypoints: the query string is checked against the API document before anything runs,
    for every operation in this one place (an enum value matching nothing once answered 200 and [])."""

    def handle_request(self, request):
        try:
            queries.check(request.method, openapi_path(self.url), request.args)
        except DomainError as exc:
            return self.response_from_exception(exc)
        return super().handle_request(request)


api = IntakeApi.decorator  # noqa: F811  (every entrypoint below is an IntakeApi)

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


class IntakeService:
    name = "intake"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    store = ObjectStore()
    segmenter = Segmenter()  # jieba and OpenCC loaded at start, for keywords and theme suggestions
    limits = Limits()

    def _tenant(self, s, request):
        """The caller's university; a client that keeps sending wrong keys is told to wait (429)."""
        return self.limits.key_checked(request, lambda: ops.authenticate(s, request.headers))

    @staticmethod
    def _parse_orgs(*args):
        """`parse_org_table` in a real thread: a workbook is unzipped and parsed, which would hold the loop."""
        return tpool.execute(parse_org_table, *args)

    @staticmethod
    def _analyse(*args):
        """`analyse_work` in a real thread: jieba would otherwise hold the event loop."""
        return tpool.execute(analyse_work, *args)

    def _once(self, request, session, tenant, body, action):
        """Honour `Idempotency-Key` on a POST; without the header, just run."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return action()
        return ops.run_idempotent(session, tenant, key, f"{request.method} {request.path}", body, action)

    # ------------------------------------------------------------------ basics

    @api("GET", "/health")
    def health(self, request):
        return {"service": "intake", "status": "ok", **looplag.monitor.report()}

    @api("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return OPENAPI

    @api("GET", "/api/v1/me")
    def me(self, request):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return {"tenant": tenant.id, "name": tenant.name, "kind": tenant.kind}

    # ------------------------------------------------------------------ campaigns

    @api("GET", "/api/v1/campaigns")
    def list_campaigns(self, request):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return {"items": ops.list_campaigns(s, tenant)}

    @api("GET", "/api/v1/campaigns/<string:campaign_id>")
    def get_campaign(self, request, campaign_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.campaign_json(ops.visible_campaign(s, tenant, campaign_id))

    @api("POST", "/api/v1/campaigns")
    def publish_campaign(self, request):
        doc = self._definition_body(request)
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return self._once(request, s, tenant, doc, lambda: (
                201, ops.campaign_json(ops.publish_campaign(s, self.outbox, tenant, doc))))

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
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.list_orgs(s, tenant, request.args.get("level"), request.args.get("parent_id"),
                                 request.args.get("q"), page, per_page)

    @api("GET", "/api/v1/orgs/template.xlsx")
    def org_template(self, request):
        with self.db.transaction() as s:
            self._tenant(s, request)
        return Response(render_template_xlsx(), mimetype=XLSX_TYPE,
                        headers={"Content-Disposition": "attachment; filename=org-template.xlsx"})

    @api("GET", "/api/v1/orgs/<string:org_id>")
    def get_org(self, request, org_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.org_json(ops.get_org(s, tenant, org_id))

    @api("POST", "/api/v1/orgs/import", max_body=MAX_IMPORT_BYTES)
    def import_orgs(self, request):
        if request.content_length and request.content_length > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"组织名单文件最大 10 MB，实际为 {request.content_length} 字节。",
                                  code="body_too_large", expected=MAX_IMPORT_BYTES, found=request.content_length)
        data = request.stream.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge("组织名单文件最大 10 MB。", code="body_too_large", expected=MAX_IMPORT_BYTES)
        filename = request.args.get("filename")
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.import_orgs(s, self.outbox, tenant, data, filename, request.mimetype, self._parse_orgs)

    # ------------------------------------------------------------------ submissions

    @api("GET", "/api/v1/submissions")
    def list_submissions(self, request):
        page, per_page = _page_args(request)
        filters = {k: request.args.get(k) for k in ("campaign_id", "track", "org_id", "state", "stage", "q")}
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.list_submissions(s, tenant, filters, page, per_page)

    @api("POST", "/api/v1/submissions")
    def create_submission(self, request):
        body = schemas.validate(read_json(request), "SubmissionCreate")
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return self._once(request, s, tenant, body, lambda: (
                201, ops.submission_json(s, ops.create_submission(s, tenant, body, self._analyse))))

    @api("GET", "/api/v1/submissions/<string:submission_id>")
    def get_submission(self, request, submission_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.submission_json(s, ops.get_submission(s, tenant, submission_id))

    @api("PATCH", "/api/v1/submissions/<string:submission_id>")
    def update_submission(self, request, submission_id):
        body = schemas.validate(read_json(request), "SubmissionUpdate")
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            sub = ops.update_submission(s, tenant, ops.get_submission(s, tenant, submission_id), body["fields"],
                                        self._analyse)
            return ops.submission_json(s, sub)

    @api("POST", "/api/v1/submissions/<string:submission_id>/submit")
    def submit_submission(self, request, submission_id):
        body = schemas.validate(read_json(request), "SubmitRequest") if request.content_length else {}
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            sub = ops.get_submission(s, tenant, submission_id)
            return self._once(request, s, tenant, body, lambda: (
                200, ops.submission_json(s, ops.submit_submission(s, self.outbox, tenant, sub, body.get("stage")))))

    @api("POST", "/api/v1/submissions/<string:submission_id>/withdraw")
    def withdraw_submission(self, request, submission_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            sub = ops.get_submission(s, tenant, submission_id)
            return self._once(request, s, tenant, {}, lambda: (
                200, ops.submission_json(s, ops.withdraw_submission(s, self.outbox, tenant, sub))))

    @api("GET", "/api/v1/submissions/<string:submission_id>/receipts")
    def list_receipts(self, request, submission_id):
        from sqlalchemy import select

        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            sub = ops.get_submission(s, tenant, submission_id)
            rows = s.scalars(select(Receipt).where(Receipt.submission_id == sub.id).order_by(Receipt.issued_at))
            return {"items": [{"receipt_no": r.receipt_no, "stage": r.stage, "issued_at": r.issued_at.isoformat(),
                               "summary": r.summary} for r in rows]}

    # ------------------------------------------------------------------ files

    @api("POST", "/api/v1/submissions/<string:submission_id>/files")
    def register_file(self, request, submission_id):
        body = schemas.validate(read_json(request), "FileCreate")
        public = self.config["PUBLIC_URL"]
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            sub = ops.get_submission(s, tenant, submission_id)

            def register():
                self.limits.uploads.check(tenant.id, "登记上传文件")
                f, target, reopened = ops.register_file(s, self.outbox, tenant, sub, body, self.store, public,
                                                        self.config["UPLOAD_TTL_S"])
                self.limits.uploads.hit(tenant.id)
                return 201, {"file": ops.file_json(f), "upload": target, **({"reopened": reopened} if reopened else {})}

            return self._once(request, s, tenant, body, register)

    @api("PUT", "/api/v1/uploads/<string:token>", stream_body=True)  # up to gigabytes: streamed
    def upload_bytes(self, request, token):
        """The folder backend's upload URL: the token authorises, like a presigned URL."""
        from sqlalchemy import select

        with self.db.transaction() as s:
            f = s.scalar(select(FileRecord).where(FileRecord.upload_token == token))
            if f is None or f.state not in ("pending", "received") or f.expires_at < clock.now():
                raise NotFound("上传地址无效或已过期。请重新申请上传。", code="upload_not_found")
            key, declared, file_id = f.object_key, f.declared_size, f.id
        if request.content_length is not None and request.content_length > declared:
            raise PayloadTooLarge(f"申报的文件大小为 {declared} 字节，本次发送 {request.content_length} 字节。"
                                  f"请上传申报的那个文件，或重新申请上传。", code="size_mismatch",
                                  expected=declared, found=request.content_length)
        try:
            # wsgi.input, not request.stream: werkzeug hands an empty stream to a
            # chunked request (no Content-Length); eventlet's input decodes chunks.
            stored = self.store.write_stream(key, request.environ["wsgi.input"], limit=declared)
        except SizeExceeded:
            raise PayloadTooLarge(f"发送的内容超过申报的 {declared} 字节，已丢弃。请上传申报的那个文件，或重新申请上传。",
                                  code="size_mismatch", expected=declared) from None
        with self.db.transaction() as s:
            f = s.get(FileRecord, file_id)
            if stored.size != f.declared_size or stored.sha256 != f.declared_sha256:
                self.store.delete(key)
                raise ops.mismatch_error(f, stored.size, stored.sha256)
            f.state = "received"
        return {"file_id": file_id, "size": stored.size, "sha256": stored.sha256, "state": "received"}

    @api("POST", "/api/v1/files/<string:file_id>/complete")
    def complete_file(self, request, file_id):
        body = schemas.validate(read_json(request), "FileComplete") if request.content_length else {}
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            f = ops.get_file(s, tenant, file_id)
            state, key, upload_id = f.state, f.object_key, f.upload_id
            declared = (f.declared_size, f.declared_sha256)
        size = sha = None
        if state == "received":
            size, sha = declared  # verified while the bytes arrived
        elif state == "pending" and self.store.kind == "s3":
            if upload_id:
                if not body.get("parts"):
                    raise InvalidInput("分片上传需要在确认时提供每个分片的 part_number 和 etag。", code="parts_missing",
                                       field="parts", expected="parts", found=None)
                try:
                    self.store.complete_multipart(key, upload_id, body["parts"])
                except Exception as exc:  # noqa: BLE001 - S3 says which part is wrong
                    raise InvalidInput(f"合并分片失败：{exc}。请检查每个分片都已上传成功后重试。",
                                       code="multipart_failed", found=str(exc)[:300]) from None
            stat = self.store.stat(key)
            if stat is not None:
                size, sha = stat.size, stat.sha256
                if (size, sha) != declared:
                    self.store.delete(key)
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            f = ops.confirm_file(s, self.outbox, tenant, ops.get_file(s, tenant, file_id), size, sha)
            return ops.file_json(f)

    @api("GET", "/api/v1/files/<string:file_id>")
    def get_file(self, request, file_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return ops.file_json(ops.get_file(s, tenant, file_id))

    @api("DELETE", "/api/v1/files/<string:file_id>")
    def delete_file(self, request, file_id):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            f, reopened = ops.delete_file(s, self.outbox, tenant, ops.get_file(s, tenant, file_id))
            key, upload_id = f.object_key, f.upload_id
        self.store.abort(key, upload_id)
        return {"id": file_id, "state": "deleted", **({"reopened": reopened} if reopened else {})}

    @timer(interval=600)
    def clean_abandoned_uploads(self):
        """Uploads never confirmed within UPLOAD_TTL_S are aborted and their bytes removed."""
        with self.db.transaction() as s:
            expired = ops.expired_uploads(s, clock.now())
            targets = [(f.object_key, f.upload_id) for f in expired]
            for f in expired:
                f.state, f.upload_token = "expired", None
            ops.forget_idempotency_keys(s, clock.now())
        for key, upload_id in targets:
            try:
                self.store.abort(key, upload_id)
            except Exception:  # noqa: BLE001 - try again next round is not needed: state already says expired
                log.exception("could not remove abandoned upload %s", key)
        partials = self.store.clean_partials(self.config["UPLOAD_TTL_S"])
        if targets or partials:
            log.info("cleaned %d abandoned uploads, %d partial files", len(targets), partials)

    # ------------------------------------------------------------------ extensions

    @api("GET", "/api/v1/extensions")
    def list_extensions(self, request):
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return {"items": ops.list_extensions(s, tenant, request.args.get("campaign_id"))}

    @api("POST", "/api/v1/extensions")
    def grant_extension(self, request):
        body = schemas.validate(read_json(request), "ExtensionCreate")
        with self.db.transaction() as s:
            tenant = self._tenant(s, request)
            return self._once(request, s, tenant, body, lambda: (
                201, ops.extension_json(ops.grant_extension(s, tenant, body))))

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
