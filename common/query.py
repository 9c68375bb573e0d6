"""Query strings checked against the API document, in one place for every operation.

A filter value outside its documented enum (`state=submited`, `level=level3`) used to match nothing
and answer 200 with an empty list: the portal believed there were no works. Now each query
parameter is checked against its operation's OpenAPI parameters before the operation runs: a
value of the wrong type, out of range or outside its enum, a parameter given twice, and a
parameter the operation does not have are all refused with 400 `invalid_query`, every problem
listed with the parameter, what was expected (the allowed values or parameters) and what was found.
"""
from __future__ import annotations

import re
from typing import Any

from common.errors import InvalidInput

CODE = "invalid_query"


def openapi_path(werkzeug_rule: str) -> str:
    """`/api/v1/files/<string:file_id>` -> `/api/v1/files/{file_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", werkzeug_rule)


class QueryValidator:
    """The query parameters of every operation of an OpenAPI document, and the check of a request's."""

    def __init__(self, openapi: dict):
        shared = openapi.get("components", {}).get("parameters", {})

        def resolve(p: dict) -> dict:
            return shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p

        self._params: dict[tuple[str, str], dict[str, dict]] = {}
        for path, item in openapi["paths"].items():
            common = [resolve(p) for p in item.get("parameters", [])]
            for method, op in item.items():
                if method == "parameters":
                    continue
                params = common + [resolve(p) for p in op.get("parameters", [])]
                self._params[(method.upper(), path)] = {p["name"]: p for p in params if p["in"] == "query"}

    def documented(self, method: str, path: str) -> bool:
        return (method.upper(), path) in self._params

    def check(self, method: str, path: str, args) -> None:
        """Raise InvalidInput listing every problem of `args` (a werkzeug MultiDict) for this operation.

        An operation the document does not have is left alone: it answers 404/405 on its own.
        """
        params = self._params.get((method.upper(), path))
        if params is None:
            return
        allowed = sorted(params)
        problems = []
        for name, values in args.lists():
            spec = params.get(name)
            if spec is None:
                listed = "、".join(allowed) if allowed else "（无，此接口不接受查询参数）"
                problems.append(_problem(name, "unknown_parameter", allowed, name,
                                         f"查询参数 {name} 不是此接口的参数；可用的参数：{listed}。请删除或改正拼写。"))
            elif len(values) > 1:
                problems.append(_problem(name, "repeated_parameter", "一个值", values,
                                         f"查询参数 {name} 只能出现一次，实际出现了 {len(values)} 次。请只保留一个。"))
            else:
                problem = _value_problem(name, spec.get("schema", {}), values[0])
                if problem:
                    problems.append(problem)
        for name, spec in params.items():
            if spec.get("required") and name not in args:
                problems.append(_problem(name, "missing_parameter", "必填", None, f"缺少必填的查询参数 {name}。"))
        if problems:
            first = problems[0]
            summary = first["message"] if len(problems) == 1 else \
                f"查询参数有 {len(problems)} 处问题，第一处：{first['message']}"
            raise InvalidInput(summary, code=CODE, field=first["field"], expected=first["expected"],
                               found=first["found"], details=problems)


def _problem(name: str, code: str, expected: Any, found: Any, message: str) -> dict:
    return {"field": name, "code": code, "expected": expected, "found": found, "message": message}


def _value_problem(name: str, schema: dict, raw: str) -> dict | None:
    """The one value of a parameter against its schema: enum, integer (with its range), string length."""
    if "enum" in schema:
        allowed = [v for v in schema["enum"] if v is not None]
        if raw not in [str(v) for v in allowed]:
            return _problem(name, "not_allowed", allowed, raw,
                            f"查询参数 {name} 只能取 {'、'.join(map(str, allowed))} 之一，实际为“{raw}”。请改正。")
        return None
    kind = schema.get("type", "string")
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", raw):
            return _problem(name, "not_an_integer", "整数", raw, f"查询参数 {name} 应为整数，实际为“{raw}”。")
        lo, hi = schema.get("minimum"), schema.get("maximum")
        value = int(raw) if len(raw) <= 16 else raw  # never int() of thousands of digits
        if isinstance(value, str) or (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"{lo if lo is not None else '-∞'} 到 {hi if hi is not None else '∞'}"
            return _problem(name, "out_of_range", [lo, hi], value, f"查询参数 {name} 应在 {span} 之间，实际为 {value}。")
        return None
    longest = schema.get("maxLength", 200)  # no filter of ours is longer; an id or a name is far shorter
    if len(raw) > longest or len(raw) < schema.get("minLength", 0):
        return _problem(name, "bad_length", f"{schema.get('minLength', 0)}–{longest} 个字符", len(raw),
                        f"查询参数 {name} 的长度应为 {schema.get('minLength', 0)}–{longest} 个字符，实际为 {len(raw)} 个。")
    return None
