"""JSON over HTTP for nameko services, with one error shape everywhere.

`api("POST", "/api/v1/things")` is nameko's `http` entrypoint, except that
- a dict/list result becomes a JSON response (UTF-8, Chinese left readable);
- a `DomainError` becomes `{"error": {"code", "message", ...}}` with its status;
- anything unexpected becomes a 500 `internal_error` (logged with its trace),
  never a stack trace to the caller.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import socket
import time
from typing import Any

from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from common.errors import DomainError, InvalidInput, PayloadTooLarge
from common.server import MAX_BODY, GuardedHandler

log = logging.getLogger(__name__)

MAX_JSON_BYTES = MAX_BODY
# Deeper than any document of ours (a campaign definition is about 8 levels): a body nested
# 1,000 levels made the validators recurse until Python gave up (RecursionError, a 500).
MAX_JSON_DEPTH = 32
# I-JSON (RFC 7493): integers beyond ±(2^53 − 1) do not survive every JSON parser, nor our
# databases' integer columns; such a number in a body is refused, not stored.
MAX_JSON_INTEGER = 2**53 - 1
# Values in one document: 1 MB of JSON holds at most about 500,000. YAML aliases can make a small
# document stand for billions ("billion laughs"), which every later walk over it would pay for.
MAX_DOCUMENT_VALUES = 1_000_000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with lone surrogates (from a JSON `\\ud800` escape) replaced by U+FFFD.

    They cannot be encoded as UTF-8: echoing one back in an error made the error
    response itself fail (an empty 500). Every response body we build passes here.
    """
    return _LONE_SURROGATE.sub("\ufffd", text)


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        printable(json.dumps(payload, ensure_ascii=False, default=str)),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


class TrustedProxies:
    """The reverse proxies whose X-Forwarded-For is believed: addresses, networks (CIDR) or host names.

    A name (compose's `proxy`) is looked up again after a minute, as proxies come and go.
    """

    RESOLVE_EVERY_S = 60.0

    def __init__(self, spec: str = ""):
        self.networks, self.names = [], []
        for item in (x.strip() for x in spec.split(",")):
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.names.append(item)
        self._resolved: list = []
        self._resolved_at = float("-inf")

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks) or ip in self._addresses_of_names()

    def _addresses_of_names(self) -> list:
        if self.names and time.monotonic() - self._resolved_at > self.RESOLVE_EVERY_S:
            found = []
            for name in self.names:
                try:
                    found += [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(name, None)]
                except OSError:
                    log.warning("trusted proxy %r does not resolve", name)
            self._resolved, self._resolved_at = found, time.monotonic()
        return self._resolved


NO_PROXIES = TrustedProxies()


def client_address(request, trusted: TrustedProxies = NO_PROXIES) -> str:
    """The caller's address, for rate limits.

    The socket's peer, unless that is a trusted proxy: then the nearest address in X-Forwarded-For
    that is not a trusted proxy (each proxy appends the address it saw, so entries further left are
    the client's own say and could be forged). Nothing trusted: the peer, whatever the header says.
    """
    peer = request.remote_addr or "unknown"
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0] if hops else peer


def error_response(exc: DomainError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if getattr(exc, "retry_after_s", None):
        headers["Retry-After"] = str(exc.retry_after_s)
    return json_response(exc.to_dict(), exc.status, headers or None)


class _ExpectedErrorsAreNotIncidents(logging.Filter):
    """nameko logs every exception a worker raises; a refused request (a DomainError: 404, 409
    file_check_pending, ...) is normal traffic answered with its error, not an incident. Declared
    expected by our entrypoints, those records keep out of the log unless it is at DEBUG, and
    without a traceback even then. Unexpected errors still go at ERROR with their trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected) error handling worker"):
            record.exc_info, record.exc_text = None, None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("nameko.containers").addFilter(_ExpectedErrorsAreNotIncidents())


class JsonApi(GuardedHandler):
    """nameko's http entrypoint with JSON results and errors; its body is read before a worker
    is taken (`max_body`, `stream_body`: see common.server)."""

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", (DomainError,))
        super().__init__(method, url, **kwargs)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result
            return json_response(payload, status)
        return json_response(result)

    def response_from_exception(self, exc):
        if isinstance(exc, DomainError):
            return error_response(exc)
        if isinstance(exc, HTTPException):
            return error_response(DomainError(exc.description or exc.name, code="http_error",
                                              status=exc.code or 400))
        log.error("unhandled error in %s %s", self.method, self.url, exc_info=exc)
        return error_response(
            DomainError("服务器内部错误，请求未完成，也未保存任何数据。请稍后重试；若反复出现，请联系平台管理员。",
                        code="internal_error", status=500)
        )


api = JsonApi.decorator


def read_json(request, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The request body as JSON, with the size and type checked first."""
    ctype = (request.mimetype or "").lower()
    if ctype != "application/json":
        raise DomainError(
            f"请求体应为 JSON（Content-Type: application/json），实际为“{ctype or '未声明'}”。请设置正确的 Content-Type 后重试。",
            code="unsupported_media_type", status=415, expected="application/json", found=ctype or None,
        )
    length = request.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(
            f"请求体最大 {max_bytes} 字节，实际为 {length} 字节。请精简内容；文件请通过上传接口提交。",
            code="body_too_large", expected=max_bytes, found=length,
        )
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"请求体超过 {max_bytes} 字节。请精简内容；文件请通过上传接口提交。",
            code="body_too_large", expected=max_bytes,
        )
    return parse_json(raw)


class _NumberOutOfRange(ValueError):
    pass


def _integer(text: str) -> int:
    # checked before int(): 5,000 digits would otherwise meet Python's own digit limit (a ValueError)
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_JSON_INTEGER:
        raise _NumberOutOfRange(text)
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NumberOutOfRange(text)
    return value


def _no_constant(name: str):
    raise _NumberOutOfRange(name)  # NaN, Infinity: not JSON, though Python's parser takes them


def _too_deep(found: str) -> InvalidInput:
    return InvalidInput(f"嵌套最多 {MAX_JSON_DEPTH} 层，实际{found}。请按接口文档减少嵌套。",
                        code="json_too_deep", expected=f"≤ {MAX_JSON_DEPTH} 层", found=found)


def _out_of_range(value: Any) -> InvalidInput:
    shown = str(value)[:30] + ("…" if len(str(value)) > 30 else "")
    return InvalidInput(
        f"数值 {shown} 超出范围：数值应为有限数（不能是 NaN、Infinity），整数应在 ±{MAX_JSON_INTEGER} 之内。请改正后重试。",
        code="number_out_of_range", expected=f"±{MAX_JSON_INTEGER} 之内的有限数值", found=shown)


def check_document(doc: Any) -> Any:
    """A parsed client document (JSON, YAML) within what we can store and answer, else InvalidInput.

    Nesting at most MAX_JSON_DEPTH, integers within ±(2^53 − 1), finite numbers, and no lone
    surrogate (`"\\ud800"`) in any string or key: no database, response or log line can encode one.
    Walked without recursion, so a bomb cannot exhaust the stack here either.
    """
    stack, seen = [(doc, 1)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_DOCUMENT_VALUES:
            raise InvalidInput(f"文档包含的值超过 {MAX_DOCUMENT_VALUES} 个（YAML 别名展开后也计算在内）。请精简内容后重试。",
                               code="document_too_large", expected=f"≤ {MAX_DOCUMENT_VALUES} 个值")
        if isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep(f"超过 {MAX_JSON_DEPTH} 层")
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                raise InvalidInput("文本中有不成对的代理码元（如 \\ud800），它不是有效的 Unicode 字符。"
                                   "请检查文本的编码，删去或替换该字符后重试。", code="invalid_unicode",
                                   expected="有效的 Unicode 文本", found="不成对的 \\uD800–\\uDFFF")
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int) and abs(node) > MAX_JSON_INTEGER:
            raise _out_of_range(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise _out_of_range(node)
    return doc


def parse_json(raw: bytes) -> Any:
    """A JSON body as Python values, or an InvalidInput saying what is wrong with it.

    Beyond the syntax: nesting at most MAX_JSON_DEPTH, integers within ±(2^53 − 1), no
    NaN or Infinity, and no lone surrogate (`"\\ud800"`) in any string or key, which no
    database or response could encode.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("请求体不是 UTF-8 编码的文本。请以 UTF-8 编码发送 JSON。",
                           code="malformed_json", found=str(exc)) from None
    try:
        doc = json.loads(text, parse_int=_integer, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep("超过解析器的上限") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"请求体不是合法的 JSON：第 {exc.lineno} 行第 {exc.colno} 列附近，{exc.msg}。请检查括号、引号和逗号。",
            code="malformed_json", found=f"line {exc.lineno} column {exc.colno}: {exc.msg}",
        ) from None
    except _NumberOutOfRange as exc:
        raise _out_of_range(exc) from None
    return check_document(doc)


def parse_yaml(raw: bytes) -> Any:
    """A YAML document a person wrote (a campaign definition), with the same limits as JSON."""
    import yaml

    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except RecursionError:
        raise _too_deep("超过解析器的上限") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"文档不是合法的 YAML：{exc}。请检查缩进和冒号。", code="malformed_yaml",
                           found=str(exc)[:200]) from None
    return check_document(doc)


_TYPE_NAMES = {
    "string": "字符串", "integer": "整数", "number": "数字", "boolean": "布尔值",
    "object": "对象", "array": "数组", "null": "null",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int):
        return "整数"
    if isinstance(value, float):
        return "数字"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, list):
        return "数组"
    if isinstance(value, dict):
        return "对象"
    return type(value).__name__


def _describe(error) -> dict:
    """One jsonschema error as {field, expected, found, message} in Chinese."""
    path = ".".join(str(p) for p in error.absolute_path) or "(请求体)"
    v, val, inst = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = next((r for r in val if isinstance(inst, dict) and r not in inst), "?")
        field = f"{path}.{missing}" if error.absolute_path else missing
        return {"field": field, "expected": "必填", "found": "缺失",
                "message": f"缺少必填字段 {field}。请补充后重试。"}
    if v == "type":
        want = "或".join(_TYPE_NAMES.get(t, t) for t in ([val] if isinstance(val, str) else val))
        return {"field": path, "expected": want, "found": _type_name(inst),
                "message": f"字段 {path} 应为{want}，实际为{_type_name(inst)}。请按接口文档修改类型。"}
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(error.schema.get("properties", {})))
        return {"field": path, "expected": sorted(error.schema.get("properties", {})), "found": extra,
                "message": f"不认识的字段：{'、'.join(extra)}。请删除这些字段或检查拼写。"}
    if v == "enum":
        return {"field": path, "expected": val, "found": inst,
                "message": f"字段 {path} 只能取 {'、'.join(map(str, val))} 之一，实际为 {inst!r}。"}
    if v in ("maxLength", "minLength"):
        word = "最多" if v == "maxLength" else "至少"
        return {"field": path, "expected": val, "found": len(inst),
                "message": f"字段 {path} 长度{word} {val} 个字符，实际为 {len(inst)} 个。"}
    if v in ("maximum", "minimum"):
        word = "不大于" if v == "maximum" else "不小于"
        return {"field": path, "expected": val, "found": inst,
                "message": f"字段 {path} 应{word} {val}，实际为 {inst}。"}
    if v in ("maxItems", "minItems"):
        word = "最多" if v == "maxItems" else "至少"
        return {"field": path, "expected": val, "found": len(inst),
                "message": f"字段 {path} {word}包含 {val} 项，实际为 {len(inst)} 项。"}
    if v == "pattern":
        return {"field": path, "expected": val, "found": inst,
                "message": f"字段 {path} 的格式不正确（应匹配 {val}），实际为 {inst!r}。"}
    if v == "format":
        return {"field": path, "expected": val, "found": inst,
                "message": f"字段 {path} 应为 {val} 格式，实际为 {inst!r}。"}
    return {"field": path, "expected": str(val), "found": inst, "message": f"字段 {path} 不符合要求：{error.message}"}


class SchemaValidator:
    """Validates request bodies against the components of an OpenAPI document."""

    def __init__(self, openapi: dict):
        self._schemas = openapi["components"]["schemas"]
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, name: str) -> Draft202012Validator:
        if name not in self._validators:
            schema = dict(self._schemas[name])
            schema["components"] = {"schemas": self._schemas}  # resolve local $refs
            self._validators[name] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return self._validators[name]

    def validate(self, body: Any, schema_name: str) -> Any:
        errors = sorted(self._validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            details = [_describe(e) for e in errors[:20]]
            first = details[0]
            summary = first["message"] if len(details) == 1 else f"请求有 {len(details)} 处问题，第一处：{first['message']}"
            raise InvalidInput(summary, code="validation_failed", field=first["field"],
                               expected=first["expected"], found=first["found"], details=details)
        return body
