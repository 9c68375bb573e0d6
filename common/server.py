"""The HTTP side of every service: a server slow clients cannot stall, and workers of its own.

nameko's web server (eventlet.wsgi) waits for a client without limit, reads a request's
body inside the service worker, and takes that worker from `max_workers`, the pool its
event consumers and timers use too. Twelve connections that sent their headers and then
a body byte every 2 s held every worker: /health, every university's calls and every
event waited (issue #14, item 3). Here:

- a request's head (request line and headers) must arrive within `HTTP_HEAD_DEADLINE_S`
  of the connection asking for it (also how long an idle keep-alive connection is kept),
  and no read waits longer than `HTTP_READ_TIMEOUT_S`;
- a body is read in the connection's own green thread, before any worker is taken:
  over the entrypoint's cap it is refused at once (413), and it must arrive within
  `HTTP_BODY_DEADLINE_S` plus one second per `HTTP_BODY_MIN_RATE` bytes it declares
  (408); either way the connection is closed, since the rest of the body is unread;
- a body too large to hold (intake's upload URL, `stream_body=True`) is handed to the
  worker as a stream that must keep up `HTTP_BODY_MIN_RATE` on average once its first
  `HTTP_BODY_DEADLINE_S` are over;
- HTTP requests run in a pool of their own (`HTTP_WORKERS`); events and timers keep
  nameko's (`max_workers`). Services run in `ServiceContainer` (common.run, the tests);
- a URL no entrypoint serves (or a method it does not take) is answered in Chinese: an HTML
  page for a browser, the JSON error envelope for an API client (`unrouted`), not werkzeug's
  English page.
"""
from __future__ import annotations

import io
import socket
import time

import eventlet
from eventlet.greenpool import GreenPool
from nameko.containers import ServiceContainer as NamekoContainer, WorkerContext
from nameko.exceptions import ContainerBeingKilled
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request

from common.errors import DomainError, PayloadTooLarge

DEFAULTS = {
    "HTTP_WORKERS": 10,
    "HTTP_READ_TIMEOUT_S": 30.0,
    "HTTP_HEAD_DEADLINE_S": 20.0,
    "HTTP_BODY_DEADLINE_S": 10.0,
    "HTTP_BODY_MIN_RATE": 64 * 1024,  # bytes per second: a 1 MB body may take 26 s, a 10 MB list 170 s
}
MAX_BODY = 1_000_000  # an entrypoint's default cap: JSON documents, HTML forms
CLOSE_HOOK = "siyige.close_connection"


def setting(config: dict, name: str) -> float:
    return type(DEFAULTS[name])(config.get(name, DEFAULTS[name]))


class RequestTimeout(DomainError):
    status = 408
    code = "request_timeout"


class _HeadTimeout(socket.timeout):
    """Raised into a connection whose head is late; eventlet's server closes it quietly."""


class GuardedProtocol(HttpOnlyProtocol):
    """eventlet's HTTP protocol with a deadline on each request's head."""

    _head_timer = None

    def _read_request_line(self):
        # The clock starts when the connection is ready for a request: an idle keep-alive
        # connection is closed after the same time a slow head is allowed.
        self._cancel_head_timer()
        self._head_timer = eventlet.Timeout(self.server.head_deadline_s, _HeadTimeout("request head too slow"))
        return super()._read_request_line()

    def parse_request(self):
        try:
            return super().parse_request()
        finally:
            self._cancel_head_timer()

    def handle_one_request(self):
        try:
            super().handle_one_request()
        finally:
            self._cancel_head_timer()  # a request that never reached parse_request (414, empty line)

    def _cancel_head_timer(self):
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def get_environ(self):
        env = super().get_environ()
        env[CLOSE_HOOK] = self._close_after_response
        return env

    def _close_after_response(self):
        # Set before the response's headers go out: eventlet then sends `Connection: close`
        # and does not try to read (discard) the rest of a body we refused.
        self.close_connection = 1


def wants_html(request) -> bool:
    """A browser asks for HTML first; an API client (requests, curl: `*/*`; or `application/json`) gets JSON."""
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def unrouted(request, exc: HTTPException):
    """The answer to a request no entrypoint takes: 404 for a URL we do not serve, 405 for a method it does not
    take, in Chinese. A browser gets an HTML page; an API client the same JSON envelope as every other error."""
    from common.http import error_response, printable  # they build on this module: imported when first needed
    from common.web import error_page

    path = printable(request.path[:200])
    if isinstance(exc, MethodNotAllowed):
        allowed = sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"})
        error = DomainError(f"地址 {path} 不支持 {request.method} 请求，只支持 {'、'.join(allowed)}。",
                            code="method_not_allowed", status=405, expected=allowed, found=request.method)
        page = f"此地址（{path}）不能这样打开或提交。请从平台页面上的链接和按钮操作。"
    else:
        error = DomainError(f"没有这个地址：{request.method} {path}。请检查地址是否正确。",
                            code="route_not_found", status=404, found=f"{request.method} {path}")
        page = f"您要找的页面不存在：{path}。请检查地址是否输入正确，或回到首页重新进入。"
    response = error_page(error.status, page) if wants_html(request) else error_response(error)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


class GuardedWsgiApp(WsgiApp):
    """nameko's WSGI app, but a URL or method no entrypoint takes is answered by `unrouted`."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)  # shallow, as nameko's: nothing reads the body here
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except (NotFound, MethodNotAllowed) as exc:
            response = unrouted(request, exc)
        except HTTPException as exc:  # e.g. the redirect to a rule's trailing slash: as werkzeug answers it
            response = exc
        return response(environ, start_response)


class GuardedWebServer(WebServer):
    """nameko's WebServer with a per-read timeout and a deadline on every request's head, and Chinese answers
    for URLs it does not serve."""

    def get_wsgi_app(self):
        return GuardedWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=GuardedProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        config = self.container.config
        server.socket_timeout = setting(config, "HTTP_READ_TIMEOUT_S")
        server.head_deadline_s = setting(config, "HTTP_HEAD_DEADLINE_S")
        return server


def close_after_response(request) -> None:
    hook = request.environ.get(CLOSE_HOOK)
    if hook is not None:
        hook()


def _declared_length(environ) -> int | None:
    raw = environ.get("CONTENT_LENGTH") or ""
    return int(raw) if raw.strip().isdigit() else None


def _has_body(environ) -> bool:
    return bool(_declared_length(environ)) or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _too_large(cap: int, found: int | None) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"请求体最大 {cap} 字节，实际{'为 ' + str(found) + ' 字节' if found is not None else '超过此上限'}。"
        "请精简内容；文件请通过上传接口提交。",
        code="body_too_large", expected=cap, found=found)


def _too_slow(deadline_s: float, received: int, declared: int | None) -> RequestTimeout:
    of = f"（共 {declared} 字节）" if declared is not None else ""
    return RequestTimeout(
        f"请求体发送过慢：{deadline_s:.0f} 秒内只收到 {received} 字节{of}，连接已关闭。请检查网络后重新发送。",
        expected=f"{deadline_s:.0f} 秒内发送完毕", found=f"{received} 字节")


def read_body_first(request, cap: int, config: dict) -> Request:
    """The request with its body already in memory, read here rather than in a worker.

    Raises PayloadTooLarge (413) or RequestTimeout (408); the caller closes the connection.
    """
    environ = request.environ
    if not _has_body(environ):
        return request
    declared = _declared_length(environ)
    if declared is not None and declared > cap:
        raise _too_large(cap, declared)
    expected = declared if declared is not None else cap
    deadline_s = setting(config, "HTTP_BODY_DEADLINE_S") + expected / setting(config, "HTTP_BODY_MIN_RATE")
    stream, chunks, received = environ["wsgi.input"], [], 0
    try:
        with eventlet.Timeout(deadline_s):
            while received <= cap:
                chunk = stream.read(min(64 * 1024, cap + 1 - received))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
    except eventlet.Timeout:
        raise _too_slow(deadline_s, received, declared) from None
    except (OSError, ValueError):  # the client went away, or sent broken chunked framing
        raise _too_slow(deadline_s, received, declared) from None
    if received > cap:
        raise _too_large(cap, None)
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = True
    fresh = Request(environ)
    fresh.path_values = request.path_values
    return fresh


class RateGuardedInput:
    """A streamed body that must keep up a minimum average rate once its grace period is over."""

    def __init__(self, inner, grace_s: float, min_rate: float, clock=time.monotonic):
        self._inner, self._grace_s, self._min_rate, self._clock = inner, grace_s, min_rate, clock
        self._start, self.received = clock(), 0

    def read(self, size=-1):
        return self._account(self._inner.read, size)

    def readline(self, size=-1):
        return self._account(self._inner.readline, size)

    def _account(self, reader, size):
        try:
            chunk = reader(size)
        except (OSError, ValueError):  # no byte for HTTP_READ_TIMEOUT_S, or broken chunked framing
            raise self._refusal() from None
        self.received += len(chunk)
        elapsed = self._clock() - self._start
        if chunk and elapsed > self._grace_s and self.received < self._min_rate * elapsed:
            raise self._refusal()
        return chunk

    def _refusal(self) -> RequestTimeout:
        elapsed = self._clock() - self._start
        return RequestTimeout(
            f"上传过慢或中断：{elapsed:.0f} 秒只收到 {self.received} 字节（平均每秒应不少于 {self._min_rate:.0f} 字节），"
            "连接已关闭。请检查网络后重新上传。",
            code="upload_too_slow", expected=f"≥ {self._min_rate:.0f} 字节/秒", found=f"{self.received} 字节")


class GuardedHandler(HttpRequestHandler):
    """An HTTP entrypoint whose body is read (or refused) before it takes a worker.

    `max_body`: the largest body it accepts, in bytes. `stream_body=True`: the body is too
    large to hold and reaches the worker as a rate-guarded stream (`environ["wsgi.input"]`).
    """

    server = GuardedWebServer()

    def __init__(self, method, url, *, max_body: int = MAX_BODY, stream_body: bool = False, **kwargs):
        self.max_body, self.stream_body = max_body, stream_body
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        config = self.container.config
        try:
            if self.stream_body:
                request.environ["wsgi.input"] = RateGuardedInput(
                    request.environ["wsgi.input"], setting(config, "HTTP_BODY_DEADLINE_S"),
                    setting(config, "HTTP_BODY_MIN_RATE"))
            else:
                request = read_body_first(request, self.max_body, config)
        except DomainError as exc:
            close_after_response(request)
            return self.response_from_exception(exc)
        response = super().handle_request(request)
        if self.stream_body and response.status_code == 408:
            close_after_response(request)
        return response


class _EventPool(GreenPool):
    """nameko's worker pool, kept for events and timers; waiting for it waits for HTTP workers too."""

    def __init__(self, size: int, http: GreenPool):
        super().__init__(size)
        self.http = http

    def waitall(self):
        super().waitall()
        self.http.waitall()


class ServiceContainer(NamekoContainer):
    """A nameko container whose HTTP requests have workers of their own (`HTTP_WORKERS`).

    Without it a burst of slow requests takes every worker and events stop being
    handled, and a burst of events delays every page.
    """

    def __init__(self, service_cls, config):
        super().__init__(service_cls, config)
        self.http_pool = GreenPool(size=int(setting(config, "HTTP_WORKERS")))
        self._worker_pool = _EventPool(self.max_workers, self.http_pool)

    def spawn_worker(self, entrypoint, args, kwargs, context_data=None, handle_result=None):
        if not isinstance(entrypoint, HttpRequestHandler):
            return super().spawn_worker(entrypoint, args, kwargs, context_data, handle_result)
        if self._being_killed:
            raise ContainerBeingKilled()
        # as nameko's, but in the HTTP pool
        worker_ctx = WorkerContext(self, self.service_cls(), entrypoint, args, kwargs, data=context_data)
        gt = self.http_pool.spawn(self._run_worker, worker_ctx, handle_result)
        gt.link(self._handle_worker_thread_exited, worker_ctx)
        self._worker_threads[worker_ctx] = gt
        return worker_ctx
