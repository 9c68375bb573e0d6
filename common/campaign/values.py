"""Values of the field types the seeds added: a number, a phone number, several choices, a list of people.

A 两优一先 nomination names people (name, post, org), a contact sheet a phone number, a 组织生活 record
how many members took part, a form ticks several boxes. `value_problem` says what is wrong with one value
(a code, a Chinese message saying what was expected and what was found, the expected and the found);
`field_text` is how any value reads on a page or in a sheet, one line.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from common.text import single_line_problem

PERSON_KEYS = {"name": "姓名", "post": "职务", "org": "所在组织"}
# Mainland mobile numbers, and landlines with their area code (010-12345678, 0411 8765 4321, ext. -123)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}[- ]?\d{7,8}([-转]\d{1,6})?")


@dataclass(frozen=True)
class ValueProblem:
    code: str
    message: str
    expected: Any
    found: Any


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def field_label(spec) -> str:
    """A field as a message names it to the person filling it in: its label (“正文”). Its key (`text`) is for the
    portal's developer, who finds it in the problem's `field` (fields.text), not in a sentence a secretary reads."""
    return f"“{spec.label}”"


def value_problem(spec, value: Any, choices: list[str]) -> ValueProblem | None:
    """What is wrong with `value` for a field of type number, phone, choices or people; None: nothing."""
    label = field_label(spec)
    check = {"number": _number, "phone": _phone, "choices": _choices, "people": _people}[spec.type]
    return check(spec, label, value, choices)


def _number(spec, label: str, value: Any, _choices) -> ValueProblem | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return ValueProblem("not_a_number", f"{label}应为数字（如 25），实际为“{_show(value)}”。", "number", value)
    if spec.min_value is not None and value < spec.min_value:
        return ValueProblem("number_too_small", f"{label}不小于 {spec.min_value:g}，实际为 {value:g}。",
                            spec.min_value, value)
    if spec.max_value is not None and value > spec.max_value:
        return ValueProblem("number_too_large", f"{label}不大于 {spec.max_value:g}，实际为 {value:g}。",
                            spec.max_value, value)
    return None


def is_phone(text: str) -> bool:
    """A mainland mobile number, or a landline with its area code."""
    return bool(_MOBILE.fullmatch(text) or _LANDLINE.fullmatch(text))


def _phone(spec, label: str, value: Any, _choices) -> ValueProblem | None:
    text = value.strip() if isinstance(value, str) else None
    if text is None or not is_phone(text):
        return ValueProblem("invalid_phone", f"{label}应为手机号（11 位，如 13812345678）或带区号的固话"
                            f"（如 025-83792345），实际为“{_show(value)}”。", "手机号或带区号的固话", value)
    return None


def _count(spec, label: str, n: int) -> ValueProblem | None:
    if spec.min_items is not None and n < spec.min_items:
        return ValueProblem("too_few_items", f"{label}至少需要 {spec.min_items} 项，实际为 {n} 项。", spec.min_items, n)
    if spec.max_items is not None and n > spec.max_items:
        return ValueProblem("too_many_items", f"{label}最多 {spec.max_items} 项，实际为 {n} 项。", spec.max_items, n)
    return None


def _choices(spec, label: str, value: Any, choices: list[str]) -> ValueProblem | None:
    if not isinstance(value, list):
        return ValueProblem("wrong_type", f"{label}应为所选选项的列表（如 [\"{choices[0] if choices else '选项'}\"]）。",
                            "list of choices", value)
    unknown = [v for v in value if v not in choices]
    if unknown:
        return ValueProblem("not_a_choice", f"{label}只能从以下选项中选择：{'；'.join(choices)}。"
                            f"“{_show(unknown[0])}”不在其中。", choices, unknown)
    if len(set(value)) != len(value):
        return ValueProblem("duplicate_choice", f"{label}同一选项选了两次；每个选项只选一次。", "不重复的选项", value)
    return _count(spec, label, len(value))


def _people(spec, label: str, value: Any, _choices) -> ValueProblem | None:
    shape = "[{\"name\": \"张三\", \"post\": \"党支部书记\", \"org\": \"计算机学院教工第一党支部\"}]"
    if not isinstance(value, list):
        return ValueProblem("wrong_type", f"{label}应为人员列表，如 {shape}。", "list of people", value)
    for index, person in enumerate(value, 1):
        where = f"{label}第{index}人"
        if not isinstance(person, dict) or set(person) - set(PERSON_KEYS):
            extra = sorted(set(person) - set(PERSON_KEYS)) if isinstance(person, dict) else None
            return ValueProblem("invalid_person", f"{where}应为含 name（姓名，必填）、post（职务）、org（所在组织）的对象"
                                + (f"，多了 {'、'.join(extra)}" if extra else "") + f"；如 {shape}。",
                                sorted(PERSON_KEYS), person)
        if not isinstance(person.get("name"), str) or not person["name"].strip():
            return ValueProblem("invalid_person", f"{where}缺少姓名（name）；请填写。", "name", person)
        for key, name in PERSON_KEYS.items():
            if key in person and not isinstance(person[key], str):
                return ValueProblem("invalid_person", f"{where}的{name}（{key}）应为文本。", "string", person[key])
            line = single_line_problem(person[key], f"{where}的{name}") if key in person else None
            if line is not None:
                return ValueProblem(line.code, line.message, line.expected, line.found)
    return _count(spec, label, len(value))


def field_text(value: Any) -> str:
    """Any field value as one line: lists joined with 、, a person as 姓名（职务，组织）."""
    if isinstance(value, list):
        return "、".join(field_text(v) for v in value)
    if isinstance(value, dict):
        details = "，".join(str(value[k]) for k in ("post", "org") if value.get(k))
        return f"{value.get('name', '')}（{details}）" if details else str(value.get("name", ""))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
