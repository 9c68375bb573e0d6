"""How the format's problems and limits read: one problem per place, one error for all of them.

Every check of the format (schema, consistency, tightening) reports a problem as a dict
``{field, expected, found, message}``; `fail` raises them together as ONE `Unprocessable`, so that
an editor fixes the whole file in one go. The message says, in Chinese, what was expected, what was
found and what to do; `show`, `local_time`, `size` and `levels` are how values read inside it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from common.errors import Unprocessable
from common.locale import LEVEL_LABELS, byte_size

CAMPAIGN_INVALID = "campaign_invalid"
CAMPAIGN_LOOSENS_PARENT = "campaign_loosens_parent"


def problem(field_path: str, expected: Any, found: Any, message: str) -> dict:
    return {"field": field_path, "expected": jsonable(expected), "found": jsonable(found), "message": message}


def fail_invalid(definition_id: Any, problems: list[dict]) -> None:
    name = f"活动定义「{definition_id}」" if isinstance(definition_id, str) else "活动定义"
    fail(CAMPAIGN_INVALID, name + "有{n}处问题", problems)


def fail(code: str, headline: str, problems: list[dict]) -> None:
    """One error for all problems: a headline with the count, the first three, the rest in details."""
    shown = "；".join(p["message"].rstrip("。") for p in problems[:3])
    more = f"；另有{len(problems) - 3}处见 details" if len(problems) > 3 else ""
    message = f"{headline.replace('{n}', str(len(problems)))}：{shown}{more}。"
    raise Unprocessable(message, code=code, details=problems)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def local_time(at: datetime) -> str:
    """How a person reads a deadline: local time, seconds only when they matter."""
    return at.strftime("%Y-%m-%d %H:%M:%S" if at.second else "%Y-%m-%d %H:%M")


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return f"「{value}」"
    return str(value)


def levels(names: Iterable[str]) -> str:
    return "、".join(LEVEL_LABELS.get(level, level) for level in names)


def size(n: int | None) -> str:
    if n is None:
        return "不限"
    return byte_size(n) if n < 1024 else f"{byte_size(n)}（{n} 字节）"


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
