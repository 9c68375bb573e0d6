"""Server-rendered pages for people in a browser: templates, sessions, CSRF, static files.

The review UI and notify's dashboard are HTML, not JSON. What they share:
- `page(...)`: nameko's http entrypoint, but a `DomainError` becomes a Chinese
  HTML error page with its status (a JSON client gets `api` instead);
- `Templates`: Jinja2 with autoescaping on, so text from submitters is always escaped;
- `Sessions`: a signed, expiring cookie (HMAC-SHA256 over the JSON payload);
  nothing is kept server-side, so any replica can read it;
- CSRF: every form carries a token derived from the session (HMAC of the
  session id), checked on every POST; the cookie is SameSite=Lax on top;
- `static_file`: files shipped in the project (ECharts, CSS), never from a CDN.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import secrets
import time
from pathlib import Path
from typing import Any

from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from common.errors import DomainError, Unauthorized

log = logging.getLogger(__name__)

SESSION_COOKIE = "session"
CSRF_FIELD = "csrf_token"


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
        if not data or not hmac.compare_digest(mac, self._mac(data)):
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


class Sessions:
    """Who is signed in: {"sid", "role", ...} in a signed cookie that expires."""

    def __init__(self, secret: bytes, ttl_s: float = 8 * 3600, secure: bool = False):
        self._signer = Signer(secret, "session")
        self._csrf_key = hmac.new(secret, b"csrf", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self.secure = secure

    def read(self, request) -> dict | None:
        return self._signer.unsign(request.cookies.get(SESSION_COOKIE, ""))

    def start(self, response: Response, **payload: Any) -> dict:
        session = dict(payload, sid=secrets.token_hex(16))
        response.set_cookie(SESSION_COOKIE, self._signer.sign(session, self.ttl_s), max_age=int(self.ttl_s),
                            httponly=True, samesite="Lax", secure=self.secure, path="/")
        return session

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def csrf_token(self, session: dict) -> str:
        return hmac.new(self._csrf_key, session["sid"].encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, request, session: dict) -> None:
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(sent, self.csrf_token(session)):
            raise DomainError("表单已失效或来源不明（缺少有效的防伪令牌）。请刷新页面后重新提交。",
                              code="csrf_failed", status=403, expected="有效的 csrf_token",
                              found="缺失" if not sent else "不匹配")


def require_session(sessions: Sessions, request, *roles: str) -> dict:
    session = sessions.read(request)
    if session is None or (roles and session.get("role") not in roles):
        raise Unauthorized("尚未登录或登录已过期。请通过邮件中的登录链接重新登录。", code="not_signed_in")
    if request.method == "POST":
        sessions.check_csrf(request, session)
    return session


SHANGHAI = ZoneInfo("Asia/Shanghai")


class Templates:
    """Jinja2 pages with autoescaping: text from submitters can never become markup."""

    def __init__(self, directory: Path, **globals_: Any):
        self.env = Environment(loader=FileSystemLoader(str(directory)), autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(globals_, csrf_field=CSRF_FIELD)
        # People read times in Beijing time, whatever the server's zone.
        self.env.filters["beijing"] = lambda when: when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        self.env.filters["beijing_date"] = lambda when: when.astimezone(SHANGHAI).strftime("%Y-%m-%d")

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def response(self, name: str, status: int = 200, **context: Any) -> Response:
        return html_response(self.render(name, **context), status)


def html_response(body: str, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(body, status=status, headers=headers, mimetype="text/html")
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


class HtmlPage(HttpRequestHandler):
    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", (DomainError,))  # see common.http: not incidents
        super().__init__(method, url, **kwargs)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        return html_response(str(result))

    def response_from_exception(self, exc):
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


def static_file(directory: Path, name: str) -> Response:
    """A file shipped with the service; names cannot leave the folder."""
    base = directory.resolve()
    path = (base / name).resolve()
    if base not in path.parents or not path.is_file():
        raise DomainError(f"没有名为 {name} 的静态文件。", code="not_found", status=404)
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = Response(path.read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class WebPages(DependencyProvider):
    """A service's pages: sessions, templates from its `pages/` folder, and signed file links."""

    def __init__(self, pages: Path, **globals_: Any):
        self.pages, self.globals = pages, globals_

    def setup(self):
        cfg = self.container.config
        secret = web_secret(cfg)
        self.public_url = cfg.get("PUBLIC_URL", "")
        self.sessions = Sessions(secret, secure=str(self.public_url).startswith("https://"))
        from common.files import FileLinks  # file serving lives in common.files (it imports this module)

        # FILES_PUBLIC_URL: another origin for uploaded files; unset, pages link to files on their own host.
        self.links = FileLinks(secret, cfg.get("FILES_PUBLIC_URL", ""))
        self.templates = Templates(self.pages, **self.globals)
        from common.ratelimit import RateLimits

        self.limits = RateLimits(cfg)

    def get_dependency(self, worker_ctx):
        return self

    def too_many_failures(self, request) -> Response | None:
        """The sign-in page with 429 when this client address failed too often lately, else None."""
        wait = self.limits.failed_sign_ins.retry_after(self.limits.client_of(request))
        if wait is None:
            return None
        response = self.render("sign_in.html", None, 429,
                               error=f"登录失败次数过多。请 {max(1, round(wait))} 秒后再试；若忘记密钥，请向平台管理员申请。")
        response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response

    def failed(self, request) -> None:
        self.limits.failed_sign_ins.hit(self.limits.client_of(request))

    def render(self, name: str, session: dict | None, status: int = 200, **context) -> Response:
        token = self.sessions.csrf_token(session) if session else ""
        return self.templates.response(name, status, session=session, csrf_token=token, **context)

    def sign_in_with_key(self, request, who, landing: str) -> Response:
        """Sign in with an API key: `who(key_hash)` gives the session's contents, or None for a bad key.

        There is no session yet to bind a CSRF token to; signing someone in with a key only
        they hold gains an attacker nothing, and the cookie is SameSite=Lax.
        """
        from common.auth import hash_key

        refused = self.too_many_failures(request)
        if refused is not None:
            return refused
        key = (request.form.get("api_key") or "").strip()
        payload = who(hash_key(key)) if key else None
        if payload is None:
            self.failed(request)
            return self.render("sign_in.html", None, 401,
                               error="密钥无效或已停用。请核对后重新输入，或向平台管理员申请新密钥。")
        response = redirect(landing)
        self.sessions.start(response, **payload)
        return response
