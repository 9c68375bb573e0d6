"""Server-rendered pages for people in a browser: templates, sessions, CSRF, static files.

The review UI and notify's dashboard are HTML, not JSON. What they share:
- `page(...)`: the guarded http entrypoint (common.server), but a `DomainError` becomes
  a Chinese HTML error page with its status (a JSON client gets `api` instead); a POST
  from a page of another site (its Origin or Referer) is refused before it takes a worker;
- `Templates`: Jinja2 with autoescaping on, so text from submitters is always escaped;
- `Sessions`: kept in the service's own database (`session_model`); the cookie carries
  only a signed random id, so signing out, revoking the key a session was opened with
  and removing a reviewer end sessions at once, on every replica (issue #14, item 9);
- keys per service and purpose, derived from WEB_SECRET with HMAC, and cookie names per
  service (`review_session`, `notify_session`): browsers scope cookies by host, not port,
  so review and notify on one host see each other's cookies and must not accept them
  (item 10);
- CSRF: every form carries a token derived from the session (HMAC of the session id),
  checked on every POST; the sign-in forms, which have no session yet, carry one bound to
  a short-lived pre-session cookie (login CSRF, item 12); the cookies are SameSite=Lax;
- `static_file`: files shipped in the project (CSS, scripts), never from a CDN; gzipped for clients that
  take it.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.extensions import DependencyProvider
from sqlalchemy import JSON, Column, String, delete
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from common.auth import same_secret
from common.db import UTCDateTime, utcnow
from common.errors import DomainError, Forbidden
from common.http import printable
from common.locale import beijing_date, beijing_short
from common.server import GuardedHandler

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
SESSION_TTL_S = 8 * 3600  # the absolute limit: a session opened in the morning ends by the evening
# The idle limit: a session unused this long ends. Generous enough for an expert watching a long video.
SESSION_IDLE_S = 2 * 3600
_TOUCH_EVERY_S = 60  # a session's idle deadline is moved at most once a minute: one write, not one per request
# A sign-in form's token lives this long: a reviewer may open the e-mailed link and press its button later.
PRESESSION_TTL_S = 12 * 3600


def web_secret(config: dict) -> bytes:
    """The key that signs cookies and links: WEB_SECRET, or one kept in DATA_DIR.

    Replicas of a service must share it (compose sets WEB_SECRET); the embedded
    default writes a random one once, so sessions survive a restart.
    """
    if config.get("WEB_SECRET"):
        return str(config["WEB_SECRET"]).encode()
    path = Path(config["DATA_DIR"]) / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic: two services starting at once keep the first secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signed, expiring tokens: `payload.signature`, both URL-safe."""

    def __init__(self, secret: bytes, purpose: str):
        self._key = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    def sign(self, payload: dict, ttl_s: float, now: float | None = None) -> str:
        body = dict(payload, exp=int((now or time.time()) + ttl_s))
        data = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{data}.{self._mac(data)}"

    def unsign(self, token: str, now: float | None = None) -> dict | None:
        """The payload, or None if the token is forged, malformed or expired."""
        data, _, mac = (token or "").partition(".")
        if not data or not same_secret(mac, self._mac(data)):
            return None
        try:
            body = json.loads(_unb64(data))
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("exp", 0) < (now or time.time()):
            return None
        return body

    def _mac(self, data: str) -> str:
        return _b64(hmac.new(self._key, data.encode(), hashlib.sha256).digest()[:20])


def session_model(Base):
    """The table of open sessions, declared on a service's own Base (like `messaging_models`)."""

    class WebSession(Base):
        __tablename__ = "web_sessions"
        id_hash = Column(String(64), primary_key=True)  # SHA-256 of the id in the cookie: a copy of the table opens nothing
        role = Column(String(16), nullable=False)
        tenant = Column(String(64), nullable=True)
        # whose credential opened it: an API key's hash, a reviewer's id; ended with it
        principal = Column(String(64), nullable=False, index=True)
        data = Column(JSON, nullable=False, default=dict)
        created_at = Column(UTCDateTime, nullable=False, default=utcnow)
        expires_at = Column(UTCDateTime, nullable=False, index=True)

    return WebSession


def _id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def session_key(visitor: dict) -> str:
    """The stored id of a visitor's session (the SHA-256 of the cookie's id): names it in events and tickets."""
    return _id_hash(visitor["sid"])


def end_sessions(session, model, principal: str) -> int:
    """End every session opened with `principal` (a revoked key, a removed reviewer); how many ended."""
    return session.execute(delete(model).where(model.principal == principal)).rowcount or 0


def csrf_refused(sent: str) -> DomainError:
    return DomainError("表单已失效或来源不明（缺少有效的防伪令牌）。请刷新页面后重新提交。",
                       code="csrf_failed", status=403, expected="有效的 csrf_token", found="缺失" if not sent else "不匹配")


class Sessions:
    """Who is signed in: a row in the service's `web_sessions`, named by a signed random id in a cookie.

    Real time, not the platform's clock: a demo clock set back must not keep sessions open.
    """

    def __init__(self, secret: bytes, service: str, model=None, ttl_s: float = SESSION_TTL_S,
                 secure: bool = False, idle_s: float = SESSION_IDLE_S):
        self.service, self.model, self.ttl_s, self.secure, self.idle_s = service, model, ttl_s, secure, idle_s
        self.cookie = f"{service}_session"
        self.pre_cookie = f"{service}_presession"
        self._signer = Signer(secret, f"{service}/session")
        self._pre_signer = Signer(secret, f"{service}/presession")
        self._csrf_key = hmac.new(secret, f"{service}/csrf".encode(), hashlib.sha256).digest()

    # -- the session itself

    def open(self, session, response: Response, *, role: str, principal: str, tenant: str | None = None,
             ttl_s: float | None = None, **data: Any) -> dict:
        """A new session; it ends after `ttl_s` (at most the service's absolute limit) or when idle too long."""
        now = utcnow()
        session.execute(delete(self.model).where(self.model.expires_at < now))  # the expired, while we are here
        sid = secrets.token_urlsafe(32)
        ttl = max(1.0, min(self.ttl_s, ttl_s if ttl_s is not None else self.ttl_s))
        until = int(now.timestamp() + ttl)
        session.add(self.model(id_hash=_id_hash(sid), role=role, tenant=tenant, principal=principal,
                               data={**data, "until": until}, created_at=now,
                               expires_at=now + timedelta(seconds=min(ttl, self.idle_s))))
        self._set(response, self.cookie, self._signer.sign({"sid": sid}, ttl), ttl)
        response.delete_cookie(self.pre_cookie, path="/")
        return {**data, "until": until, "sid": sid, "role": role, "tenant": tenant}

    def current(self, session, request) -> dict | None:
        """The open session the request's cookie names, or None (no cookie, forged, expired, idle or ended).

        A session in use has its idle deadline moved on (never past its absolute end).
        """
        claim = self._signer.unsign(request.cookies.get(self.cookie, ""))
        sid = claim.get("sid") if claim else None
        if not isinstance(sid, str):
            return None
        row = session.get(self.model, _id_hash(sid))
        now = utcnow()
        if row is None or row.expires_at < now:
            return None
        data = row.data or {}
        until = data.get("until") or (row.created_at.timestamp() + self.ttl_s)
        idle_end = min(until, now.timestamp() + self.idle_s)
        if idle_end - row.expires_at.timestamp() > _TOUCH_EVERY_S:
            row.expires_at = datetime.fromtimestamp(idle_end, timezone.utc)
        shown = {k: v for k, v in data.items() if k != "flash"}  # a page's one-time message (WebPages.flash) is no claim
        return {**shown, "sid": sid, "role": row.role, "tenant": row.tenant}

    def close(self, session, visitor: dict, response: Response) -> None:
        session.execute(delete(self.model).where(self.model.id_hash == _id_hash(visitor["sid"])))
        response.delete_cookie(self.cookie, path="/")

    def _set(self, response: Response, name: str, value: str, ttl_s: float) -> None:
        response.set_cookie(name, value, max_age=int(ttl_s), httponly=True, samesite="Lax", secure=self.secure,
                            path="/")

    # -- CSRF: a session's forms, and the sign-in forms before there is a session

    def csrf_token(self, visitor: dict) -> str:
        return hmac.new(self._csrf_key, visitor["sid"].encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, request, visitor: dict) -> None:
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
        if not same_secret(sent, self.csrf_token(visitor)):
            raise csrf_refused(sent)

    def pre_session(self, request) -> tuple[str, str]:
        """(nonce, token) for a sign-in form: the nonce of the request's pre-session cookie, or a new one."""
        claim = self._pre_signer.unsign(request.cookies.get(self.pre_cookie, "")) if request is not None else None
        nonce = claim.get("n") if claim else None
        if not isinstance(nonce, str):
            nonce = secrets.token_urlsafe(16)
        return nonce, self._pre_token(nonce)

    def set_pre_session(self, response: Response, nonce: str, next_path: str | None = None) -> None:
        """`next_path`: the page signing in should lead back to, for a way in whose form cannot carry it (a
        reviewer's e-mailed link, opened from the mail after the sign-in page sent them there)."""
        claim = {"n": nonce, **({"next": next_path} if next_path else {})}
        self._set(response, self.pre_cookie, self._pre_signer.sign(claim, PRESESSION_TTL_S), PRESESSION_TTL_S)

    def pre_next(self, request) -> str | None:
        """The page the request's pre-session cookie says signing in leads back to (safe_next), or None."""
        claim = self._pre_signer.unsign(request.cookies.get(self.pre_cookie, "")) if request is not None else None
        return safe_next(claim.get("next")) if claim else None

    def check_pre_session(self, request) -> None:
        """A sign-in POST must carry the token of the pre-session cookie its own form set.

        Without it a page elsewhere could sign a victim in as the attacker (login CSRF):
        the victim would then type their work into the attacker's account.
        """
        sent = request.form.get(CSRF_FIELD, "")
        claim = self._pre_signer.unsign(request.cookies.get(self.pre_cookie, ""))
        nonce = claim.get("n") if claim else None
        if not isinstance(nonce, str) or not same_secret(sent, self._pre_token(nonce)):
            raise csrf_refused(sent)

    def _pre_token(self, nonce: str) -> str:
        return hmac.new(self._csrf_key, f"pre/{nonce}".encode(), hashlib.sha256).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url.strip().lower()


def check_origin(request, public_url: str, *also: str) -> None:
    """A state-changing request from a browser must come from one of our own pages (or `also`'s).

    Browsers send Origin on every cross-site POST (and Referer unless told not to); a
    value naming another site, or `null`, is refused. A request with neither comes from
    no browser page (a script, a test): the CSRF token still guards it.
    """
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return
    own = {_origin(public_url), f"{request.scheme}://{request.host}".lower(), *map(_origin, also)} - {""}
    if _origin(source) not in own:
        shown = printable(source[:100])
        raise Forbidden(f"请求来自其他网站（{shown}），已拒绝。请在本平台自己的页面上操作。",
                        code="cross_site_request", expected=sorted(own), found=shown)




class Templates:
    """Jinja2 pages with autoescaping: text from submitters can never become markup."""

    def __init__(self, directory: Path, **globals_: Any):
        self.env = Environment(loader=FileSystemLoader(str(directory)), autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(globals_, csrf_field=CSRF_FIELD)
        # People read times in Beijing time, whatever the server's zone.
        self.env.filters["beijing"] = beijing_short
        self.env.filters["beijing_date"] = beijing_date

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def response(self, name: str, status: int = 200, **context: Any) -> Response:
        return html_response(self.render(name, **context), status)


def html_response(body: str, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(printable(body), status=status, headers=headers, mimetype="text/html")
    # Pages embed no third-party content; forbid framing and sniffing.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


_ERROR_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/site.css"><main class="error"><h1>{title}</h1><p>{message}</p>
<p><a href="/">返回首页</a></p></main></html>"""


def error_page(status: int, message: str) -> Response:
    from html import escape

    titles = {400: "请求有误", 401: "请先登录", 403: "无权操作", 404: "未找到", 405: "不支持的操作",
              409: "状态冲突", 413: "内容过大", 429: "操作过于频繁"}
    title = titles.get(status, "出错了")
    return html_response(_ERROR_PAGE.format(title=title, message=escape(message)), status)


MAX_NEXT = 300
# what a signed-in person of each role is told on a page that is not for them (not the sign-in page's instructions)
_WRONG_ROLE = {
    "reviewer": "您以评审专家身份登录，此页面供评审管理员使用。您的评审任务在「我的评审任务」（/queue）；"
                "如需管理评审，请先退出，再以管理员身份登录。",
    "admin": "您以管理员身份（API 密钥）登录，此页面供本人账号使用。请先退出，再使用平台账号或评审邀请邮件中的链接登录。",
    "person": "您以平台账号登录，但您的角色不能使用此页面。如需使用，请向本单位管理员申请相应的角色。",
}


def safe_next(raw: object) -> str | None:
    """A page of this site to return to once signed in (`next`): a local path only, never a URL with a scheme or a
    host (no `//`, no backslash, no control character), so `next` can send nobody elsewhere (no open redirect)."""
    if not isinstance(raw, str) or not raw.startswith("/") or raw.startswith("//") or len(raw) > MAX_NEXT:
        return None
    if "\\" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw) or raw.startswith(("/sign-in", "/sign-out")):
        return None
    return raw


def wrong_role_message(role: str | None) -> str:
    return _WRONG_ROLE.get(role or "", "当前登录的身份不能使用此页面。请以有权限的身份重新登录。")


class SignInRequired(DomainError):
    """Not signed in (401), or signed in as someone this page is not for (403): answered with the sign-in page."""

    def __init__(self, message: str, response: Response, **kw):
        super().__init__(message, **kw)
        self.response = response


class HtmlPage(GuardedHandler):
    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, method, url, *, also_from: tuple[str, ...] = (), **kwargs):
        """`also_from`: config keys of other sites whose pages may POST here (intake's, for a sign-in ticket)."""
        kwargs.setdefault("expected_exceptions", (DomainError,))  # see common.http: not incidents
        self.also_from = also_from
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        # before the body is read or a worker taken: a cross-site POST costs us nothing
        if request.method not in self.SAFE_METHODS:
            config = self.container.config
            try:
                check_origin(request, config.get("PUBLIC_URL", ""), *(config.get(k, "") for k in self.also_from))
            except DomainError as exc:
                return self.response_from_exception(exc)
        return super().handle_request(request)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        return html_response(str(result))

    def response_from_exception(self, exc):
        if isinstance(exc, SignInRequired):
            return exc.response
        if isinstance(exc, DomainError):
            if exc.status == 401:
                response = error_page(401, exc.message)
                response.headers["Location"] = "/sign-in"
                return response
            return error_page(exc.status, exc.message)
        if isinstance(exc, HTTPException):
            return error_page(exc.code or 400, exc.description or exc.name)
        log.error("unhandled error in %s %s", self.method, self.url, exc_info=exc)
        return error_page(500, "服务器内部错误，操作未完成，也未保存任何数据。请稍后重试；若反复出现，请联系平台管理员。")


page = HtmlPage.decorator


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location})


# Types worth compressing. Pictures, fonts and media are compressed already: gzip would cost CPU and save nothing.
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml", "image/svg+xml")
_MIN_GZIP_BYTES = 256  # below this the gzip header and the extra header lines eat what compression saves


@dataclass(frozen=True)
class _StaticFile:
    stamp: tuple[int, int]  # (mtime_ns, size) when read: a file changed on disk is read (and compressed) again
    mimetype: str
    body: bytes
    gzipped: bytes | None  # None: not worth compressing
    etag: str  # of the bytes; the gzipped copy is another representation, so its ETag differs ("…-gz")


_STATIC: dict[Path, _StaticFile] = {}


def _static_entry(path: Path) -> _StaticFile:
    """The file's bytes and their gzipped copy, compressed once per process (and again only if the file changes)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    known = _STATIC.get(path)
    if known is not None and known.stamp == stamp:
        return known
    body = path.read_bytes()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gzipped = None
    if mimetype.startswith(_COMPRESSIBLE) and len(body) >= _MIN_GZIP_BYTES:
        packed = gzip.compress(body, compresslevel=9, mtime=0)  # mtime=0: the same bytes, the same copy
        gzipped = packed if len(packed) < len(body) else None
    entry = _StaticFile(stamp, mimetype, body, gzipped, hashlib.sha256(body).hexdigest()[:32])
    _STATIC[path] = entry
    return entry


def static_file(directory: Path, name: str, request=None) -> Response:
    """A file shipped with the service; names cannot leave the folder.

    Gzipped when the request's Accept-Encoding takes gzip and the type is worth it (`Vary: Accept-Encoding` says
    so to caches); each representation has its ETag, and a request naming the one it holds gets a 304.
    """
    base = directory.resolve()
    try:  # a NUL byte or a name too long for the file system is simply no file of ours
        path = (base / name).resolve()
        found = base in path.parents and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        raise DomainError(f"没有名为 {printable(name[:100])} 的静态文件。", code="not_found", status=404)
    entry = _static_entry(path)
    zipped = entry.gzipped is not None and request is not None and request.accept_encodings["gzip"] > 0
    etag = f'"{entry.etag}-gz"' if zipped else f'"{entry.etag}"'
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff", "ETag": etag}
    if entry.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if request is not None and request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    # bytes given at once: werkzeug sets Content-Length to what is sent (the gzipped length when gzipped)
    return Response(entry.gzipped if zipped else entry.body, mimetype=entry.mimetype, headers=headers)


class WebPages(DependencyProvider):
    """A service's pages: sessions, sign-in with its limits, templates from its `pages/` folder, file links.

    `session_model` is the service's `session_model(Base)`; `store_attr` names its `Database`
    dependency, whose database keeps the sessions.
    """

    def __init__(self, pages: Path, session_model, store_attr: str = "db", returns_to_page: bool = True, **globals_: Any):
        """`returns_to_page`: the service's sign-in leads back to the page that asked for it (`next`); intake's own
        sign-in carries a destination service instead (people_pages), so it says False."""
        self.pages, self.session_model, self.store_attr, self.globals = pages, session_model, store_attr, globals_
        self.returns_to_page = returns_to_page

    def setup(self):
        cfg = self.container.config
        self.secret = secret = web_secret(cfg)
        self.public_url = cfg.get("PUBLIC_URL", "")
        self.sessions = Sessions(secret, self.container.service_name, self.session_model,
                                 secure=str(self.public_url).startswith("https://"))
        from common.files import FileLinks  # file serving lives in common.files (it imports this module)

        # FILES_PUBLIC_URL: another origin for uploaded files; unset, pages link to files on their own host.
        self.links = FileLinks(secret, cfg.get("FILES_PUBLIC_URL", ""))
        self.templates = Templates(self.pages, **self.globals)
        # where people sign in (intake's pages): review's and notify's sign-in pages link there. Configuration,
        # known only once the container starts, so it joins the templates' globals here.
        self.templates.env.globals["intake_url"] = str(cfg.get("INTAKE_PUBLIC_URL") or "").rstrip("/")
        from common.ratelimit import RateLimits

        self.limits = RateLimits(cfg)

    def get_dependency(self, worker_ctx):
        return self

    @property
    def store(self):
        provider = next(d for d in self.container.dependencies if getattr(d, "attr_name", None) == self.store_attr)
        return provider.store

    def _in_transaction(self, db, work):
        # `db`: the caller's open transaction. On SQLite a second one would wait for the first: never nest.
        if db is not None:
            return work(db)
        with self.store.transaction() as session:
            return work(session)

    # -- who is signed in

    def visitor(self, request, db=None) -> dict | None:
        """Who is signed in on this request (their web session), or None."""
        return self._in_transaction(db, lambda session: self.sessions.current(session, request))

    def require(self, request, *roles: str, db=None, next_path: str | None = None) -> dict:
        """The request's session, with one of `roles` if given; a POST's CSRF token checked.

        No session: 401 with the sign-in page. A session of another role: 403 with the sign-in page.
        `next_path`: the page a form was posted from, where signing in leads back to (a POST's own URL is no page).
        """
        visitor = self.visitor(request, db)
        if visitor is None:
            message = "尚未登录或登录已失效（已退出、超时、密钥已停用或权限已变更）。请重新登录，登录后回到本页。"
            # a page asked for (not a form posted): signing in leads back to it
            asked = next_path or (request.full_path.rstrip("?") if request.method == "GET" else None)
            back = safe_next(asked) if asked and self.returns_to_page else None
            back = None if back == "/" else back  # the landing page needs no way back
            raise SignInRequired(message, self.sign_in_page(request, 401, message, next_path=back), code="not_signed_in")
        if roles and visitor["role"] not in roles:
            message = wrong_role_message(visitor["role"])
            raise SignInRequired(message, self.sign_in_page(request, 403, message), code="wrong_role", status=403)
        if request.method == "POST":
            self.sessions.check_csrf(request, visitor)
        return visitor

    def flash(self, visitor: dict, page: str, db=None, **data) -> None:
        """Something for the next GET of `page` to show (a refused form's message and values, an action's notice).

        Kept in the session's row, not in the URL: the answer to the POST can be a redirect (Back and reload post
        nothing again), the values typed are not in any address, and no link can make a page say something."""
        def keep(session):
            row = session.get(self.session_model, _id_hash(visitor["sid"]))
            if row is not None:
                row.data = {**(row.data or {}), "flash": {**data, "page": page}}  # a new dict: JSON columns see it

        self._in_transaction(db, keep)

    def take_flash(self, visitor: dict, page: str, db=None) -> dict:
        """What `flash` kept for `page`, once (a reload shows the page as it is); {} if nothing."""
        def take(session):
            row = session.get(self.session_model, _id_hash(visitor["sid"]))
            kept = dict(row.data or {}) if row is not None else {}
            if (kept.get("flash") or {}).get("page") != page:
                return {}
            flashed = kept.pop("flash")
            row.data = kept
            return flashed

        return self._in_transaction(db, take)

    def open_session(self, session, response: Response, *, role: str, principal: str, **data) -> dict:
        return self.sessions.open(session, response, role=role, principal=principal, **data)

    def sign_out(self, request, landing: str = "/sign-in") -> Response:
        with self.store.transaction() as session:
            visitor = self.require(request, db=session)
            response = redirect(landing)
            self.sessions.close(session, visitor, response)
        return response

    # -- pages

    def render(self, name: str, visitor: dict | None, status: int = 200, *, request=None, **context) -> Response:
        """A page; without a visitor signed in its forms carry the pre-session token (the cookie is set here)."""
        if visitor:
            # templates call the visitor `session`, as they always have
            return self.templates.response(name, status, session=visitor,
                                           csrf_token=self.sessions.csrf_token(visitor), **context)
        nonce, token = self.sessions.pre_session(request)
        response = self.templates.response(name, status, session=None, csrf_token=token, **context)
        # the way back a sign-in page was shown with stays until a session opens (the link page keeps it too)
        self.sessions.set_pre_session(response, nonce, context.get("next_path") or self.sessions.pre_next(request))
        return response

    def sign_in_page(self, request, status: int = 200, error: str | None = None, next_path: str | None = None) -> Response:
        """The sign-in page; `next_path` (a local path, safe_next) is where signing in leads back to."""
        response = self.render("sign_in.html", None, status, request=request, error=error, next_path=next_path)
        if status == 401:
            response.headers["Location"] = "/sign-in" + (f"?next={quote(next_path, safe='/')}" if next_path else "")
        return response

    # -- signing in: the form's own token, then the limits

    def sign_in_refusal(self, request, subject: str, page: str = "sign_in.html", **context) -> Response | None:
        """The answer to a sign-in POST that may not be tried now, else None.

        403 without its form's pre-session token (login CSRF); 429 when this client address,
        or this key prefix or link (`subject`), failed too often lately.
        """
        try:
            self.sessions.check_pre_session(request)
        except DomainError:
            return self.render(page, None, 403, request=request, error=(
                "登录表单已过期或不是从本页提交的。请在本页重新登录。"), **context)
        wait = self.limits.sign_in_wait(self.limits.client_of(request), subject)
        if wait is None:
            return None
        response = self.render(page, None, 429, request=request, **context,
                               error=f"登录失败次数过多。请 {max(1, round(wait))} 秒后再试；若忘记密钥，请向平台管理员申请。")
        response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response

    def failed(self, request, subject: str) -> None:
        self.limits.sign_in_failed(self.limits.client_of(request), subject)

    def sign_in_with_key(self, request, who, landing: str) -> Response:
        """Sign in with an API key.

        `who(session, key_hash)` gives the visitor's web session (role, tenant, ...), or None for a bad key.
        """
        from common.auth import hash_key, key_subject

        key = (request.form.get("api_key") or "").strip()
        subject = key_subject(key)
        refused = self.sign_in_refusal(request, subject)
        if refused is not None:
            return refused
        key_hash = hash_key(key)
        with self.store.transaction() as session:
            try:
                payload = who(session, key_hash) if key else None
            except DomainError as exc:  # a valid key that may not sign in here, e.g. one limited to some orgs
                return self.render("sign_in.html", None, exc.status, request=request, error=exc.message)
            if payload is not None:
                response = redirect(safe_next(request.form.get("next")) or landing)
                self.open_session(session, response, principal=key_hash, **payload)
                return response
        self.failed(request, subject)
        return self.render("sign_in.html", None, 401, request=request, next_path=safe_next(request.form.get("next")),
                           error="密钥无效或已停用。请核对后重新输入，或向平台管理员申请新密钥。")


    def sign_in_with_ticket(self, request, who, landing: str) -> Response:
        """Sign a person in with the ticket intake's page posted (common.handoff).

        `who(session, person)` gives the visitor's web session (role, tenant, ...) from the person's
        grants, or None when none of them is for this service (403). The ticket is used once: its id is
        kept as a row of this table (never a session: no cookie names it) until it would have expired.
        """
        from common import handoff

        # counted per client address: forged tickets from one place must not stop everyone's sign-in
        subject = "ticket:" + self.limits.client_of(request)
        wait = self.limits.sign_in_wait(self.limits.client_of(request), subject)
        if wait is not None:
            raise DomainError(f"登录失败次数过多。请 {max(1, round(wait))} 秒后再试。", code="too_many_sign_ins", status=429)
        person = handoff.read_ticket(self.secret, self.container.service_name, request.form.get(handoff.TICKET_FIELD, ""))
        if person is None:
            self.failed(request, subject)
            return self.sign_in_page(request, 401, "登录凭据无效或已过期（有效期 1 分钟）。请回到平台首页重新进入。")
        with self.store.transaction() as session:
            used = session.get(self.session_model, _id_hash("ticket:" + person["jti"]))
            payload = None if used else who(session, person)
            if payload is None:
                message = ("此登录凭据已使用过。请回到平台首页重新进入。" if used else
                           f"{person['name']}（{person['email']}）在本系统没有可用的角色。如需使用，请向本单位管理员申请。")
                return self.sign_in_page(request, 403, message)
            session.add(self.session_model(id_hash=_id_hash("ticket:" + person["jti"]), role="used_ticket",
                                           principal="ticket", data={}, created_at=utcnow(),
                                           expires_at=utcnow() + timedelta(seconds=handoff.TICKET_TTL_S)))
            response = redirect(safe_next(request.form.get("next")) or landing)
            self.open_session(session, response, principal=handoff.person_principal(person["account_id"], person["session"]),
                              ttl_s=person["session_expires"] - time.time(), account_id=person["account_id"],
                              name=person["name"], email=person["email"], grants=person["grants"], **payload)
        return response


class SignInPages:
    """The pages every service with a web UI has: its static files, signing in with a key or with intake's
    ticket (a person signed in on the platform, common.handoff), signing out.

    A service class mixes it in (nameko finds the inherited entrypoints) and says where its
    static files are (`static_dir`), where a person lands once signed in (`landing`), who
    holds a key: `key_session(session, key_hash)` returns the new web session's role and tenant,
    or None for a key that may not sign in here; and what a person may do here:
    `person_session(session, person)` from their grants, or None. The service's `web` is its `WebPages`.
    """

    static_dir: Path
    landing = "/"

    def key_session(self, session, key_hash: str) -> dict | None:
        raise NotImplementedError

    def person_session(self, session, person: dict) -> dict | None:
        return None  # a service that takes no people yet

    @page("POST", "/sign-in/ticket", also_from=("INTAKE_PUBLIC_URL",))
    def sign_in_ticket(self, request):
        return self.web.sign_in_with_ticket(request, self.person_session, self.landing)

    @page("GET", "/static/<path:name>")
    def static(self, request, name):
        return static_file(self.static_dir, name, request)

    @page("GET", "/sign-in")
    def sign_in_form(self, request):
        return self.web.sign_in_page(request, next_path=safe_next(request.args.get("next")))

    @page("POST", "/sign-in")
    def sign_in(self, request):
        return self.web.sign_in_with_key(request, self.key_session, self.landing)

    @page("POST", "/sign-out")
    def sign_out(self, request):
        return self.web.sign_out(request)
