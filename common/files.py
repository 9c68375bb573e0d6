"""Serving stored files to browsers: short-lived signed links, and the response that carries the bytes.

Every file a person fetches was uploaded by someone else, so its response must not be
able to act in the site that serves it (issue #14, item 1):
- the Content-Type is the one media determined from the content, and only pictures,
  sound, moving pictures and PDF are shown inline (`common.filetypes.served_as`);
  anything else is a download, and an unknown type an opaque one;
- `X-Content-Type-Options: nosniff`, so no browser second-guesses that type;
- a CSP of its own (`default-src 'none'; sandbox`): even a file that a browser did
  render as a page would run in an opaque origin, with no script, no forms and no
  requests, and could not be framed;
- optionally a separate origin (`FILES_PUBLIC_URL`) for the links, as the large
  platforms serve user content from another host than their pages.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from common.errors import DomainError
from common.filetypes import served_as
from common.web import Signer, redirect

FILE_LINK_TTL_S = 15 * 60
# No sources at all, sandboxed, never framed: a file response is a leaf, not a page.
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


class FileLinks:
    """Short-lived signed links to stored files, under a neutral name.

    The link carries the object key inside a signed token, so it cannot be
    altered to reach another file, and it expires; whoever has it may read the
    file until then (a reviewer's browser, a ministry officer's download).
    The type in the token is the one media determined; `serve` still refuses to
    give a browser anything but the safe types, so a wrong caller cannot open a hole.
    """

    def __init__(self, secret: bytes, base_url: str = "", ttl_s: float = FILE_LINK_TTL_S):
        self._signer = Signer(secret, "file")
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    @property
    def origin(self) -> str | None:
        """The origin the links point to when it is not the page's own (FILES_PUBLIC_URL), else None."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None

    def url(self, object_key: str, name: str, content_type: str) -> str:
        token = self._signer.sign({"k": object_key, "n": name, "t": content_type}, self.ttl_s)
        return f"{self.base_url}/files/{token}"

    def response(self, store, token: str, request) -> Response:
        claim = self._signer.unsign(token) if token.isascii() else None
        if claim is None:
            raise DomainError("文件链接无效或已过期。请刷新页面（或重新导出列表）获取新链接。",
                              code="file_link_expired", status=404)
        return serve(store, claim["k"], claim["n"], claim["t"], request, int(self.ttl_s))


def serve(store, key: str, name: str, content_type: str, request, ttl_s: int) -> Response:
    """The stored object `key` as a browser may safely receive it (see the module's docstring)."""
    ctype, inline = served_as(content_type)
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}"
    if store.kind == "s3":
        # The bytes come from the object store's own origin; its presigned answer carries the
        # type and disposition we choose (S3 cannot add CSP, but it is not our pages' origin).
        response = redirect(store.download_url(key, name, ctype, ttl_s, disposition=disposition), status=302)
    else:
        from werkzeug.utils import send_file

        path = store.local_path(key)
        if not path.is_file():
            raise DomainError("文件不存在（可能已被删除）。", code="file_missing", status=404)
        # conditional=True answers Range requests: the browser's video player seeks with them.
        response = send_file(str(path), request.environ, mimetype=ctype, conditional=True, max_age=0)
        response.headers["Content-Disposition"] = disposition
        response.headers["Cache-Control"] = "private, max-age=600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is a bearer token
    return response


def allow_files_origin(response: Response, links: FileLinks, store=None) -> Response:
    """A page that embeds files: let its CSP load pictures and media from where their bytes come from.

    That is FILES_PUBLIC_URL when links point there, and the bucket's public endpoint when the store
    is S3: a file link answers with a redirect there, and CSP checks the redirect's target too.
    """
    origins = [o for o in (links.origin, getattr(store, "public_origin", None)) if o]
    csp = response.headers.get("Content-Security-Policy")
    if origins and csp:
        extra = " ".join(dict.fromkeys(origins))
        directives = []
        for directive in csp.split(";"):
            name = directive.strip().split(" ", 1)[0]
            directives.append(f"{directive.rstrip()} {extra}" if name in ("img-src", "media-src") else directive)
        response.headers["Content-Security-Policy"] = ";".join(directives)
    return response
