"""The XLSX manifest a 组织部 fills in: one row per work. Pure: reading the sheet, matching its headers to a track's
fields (by key or Chinese label), turning cells into the API's values, and finding each row's files."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .errors import ManifestError

# Columns that are not a track's fields; each accepted under its English key or a Chinese name.
COLUMNS = {
    "campaign": ("campaign", "campaign_id", "活动", "活动编号", "征集活动"),
    "track": ("track", "项目", "赛道", "作品类别", "类别"),
    "org": ("org", "org_id", "党组织", "组织", "党组织名称", "报送单位"),
    "files": ("files", "文件", "附件"),
    "video": ("video", "视频"),
    "image": ("image", "图片", "照片"),
    "audio": ("audio", "音频"),
    "document": ("document", "文档", "材料", "案例材料"),
    "subtitle": ("subtitle", "字幕"),
}
FILE_KINDS = ("video", "image", "audio", "document", "subtitle")
KIND_BY_EXTENSION = {
    **dict.fromkeys(("mp4", "mov", "mkv", "avi", "wmv", "flv", "webm", "m4v", "mpg", "mpeg"), "video"),
    **dict.fromkeys(("jpg", "jpeg", "png"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac", "flac", "ogg", "wma"), "audio"),
    **dict.fromkeys(("pdf", "docx"), "document"),
    **dict.fromkeys(("srt", "vtt", "ass", "ssa"), "subtitle"),
}
CONTENT_TYPES = {"mp4": "video/mp4", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
                 "pdf": "application/pdf", "srt": "application/x-subrip", "vtt": "text/vtt", "ass": "text/x-ssa",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
# A cell listing several values (files, lecturers, choices): 、 as a Chinese list is written, or ; ；, and line breaks.
SEPARATORS = re.compile(r"[、;；\n]+")
REQUIRED_MARK = re.compile(r"[\s*＊]|[（(]必填[）)]")
NAMESPACE = uuid.UUID("5f3c1e52-8a0b-4c8e-9d43-4b1f2e6a9c70")  # the client's own: row keys never collide with others'


def normalise(header) -> str:
    """A header as matched: without spaces, the template's required mark (*, （必填）) and case."""
    return REQUIRED_MARK.sub("", str(header or "")).strip().lower()


def split_list(value) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in SEPARATORS.split(str(value)) if v.strip()]


def kind_of(filename: str) -> str | None:
    return KIND_BY_EXTENSION.get(Path(filename).suffix.lower().lstrip("."))


def content_type_of(filename: str) -> str | None:
    return CONTENT_TYPES.get(Path(filename).suffix.lower().lstrip("."))


@dataclass
class Row:
    """One manifest row: where it is (the sheet's row number, for the report) and its cells by header."""

    number: int
    cells: dict[str, object]

    def column(self, name: str):
        """The cell of a reserved column (`campaign`, `org`…) under any of its accepted headers, or None."""
        accepted = {normalise(h) for h in COLUMNS[name]}
        for header, value in self.cells.items():
            if normalise(header) in accepted and not _blank(value):
                return value
        return None

    def field_cells(self) -> dict[str, object]:
        reserved = {normalise(h) for names in COLUMNS.values() for h in names}
        return {h: v for h, v in self.cells.items() if normalise(h) not in reserved and not _blank(v)}

    def files(self) -> list[tuple[str, str]]:
        """(kind, file name) of each file the row names: `files` with the kind from the extension, or per-kind
        columns. A name without a known extension in `files` is refused: its kind cannot be told."""
        found = []
        for name in split_list(self.column("files")):
            kind = kind_of(name)
            if kind is None:
                raise ManifestError("file_kind_unknown", f"第 {self.number} 行：无法从扩展名判断文件“{name}”的类型。"
                                    f"请使用 {', '.join(sorted(KIND_BY_EXTENSION))} 之一，或把它写在“视频”“图片”"
                                    f"“音频”“文档”“字幕”列中。", field="files", found=name)
            found.append((kind, name))
        for kind in FILE_KINDS:
            found += [(kind, name) for name in split_list(self.column(kind))]
        return found

    def key(self, *parts) -> str:
        """An idempotency key from the row's content (not its position): the same row run again asks the same."""
        content = json.dumps([{h: _plain(v) for h, v in sorted(self.cells.items())}, *parts], ensure_ascii=False,
                             sort_keys=True, default=str)
        return str(uuid.uuid5(NAMESPACE, hashlib.sha256(content.encode()).hexdigest()))


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _plain(value):
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def read_manifest(path) -> list[Row]:
    """The rows of the first sheet below its header row; blank rows are skipped."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        headers, result = None, []
        for number, values in enumerate(rows, start=1):
            if all(_blank(v) for v in values):
                continue
            if headers is None:
                headers = [str(h).strip() if not _blank(h) else None for h in values]
                continue
            cells = {h: v for h, v in zip(headers, values) if h}
            result.append(Row(number, cells))
    finally:
        wb.close()
    if headers is None:
        raise ManifestError("manifest_empty", "清单中没有表头行。请使用 template 命令生成的模板填写。")
    return result


# ---------------------------------------------------------------------------------------------- matching


def match_campaign(value, campaigns: list[dict]) -> str:
    """A campaign's id from a cell holding its id, short id, title or short title."""
    wanted = str(value).strip()
    for c in campaigns:
        if wanted in (c.get("id"), c.get("short_id"), c.get("title"), c.get("short_title")):
            return c["id"]
    raise ManifestError("campaign_not_found", f"找不到活动“{wanted}”。请填写活动编号或活动名称（可用："
                        f"{'、'.join(c.get('short_title') or c['id'] for c in campaigns)}）。", field="campaign",
                        found=wanted, expected=[c["id"] for c in campaigns])


def match_track(value, campaign: dict) -> str:
    wanted = str(value).strip()
    tracks = campaign.get("tracks") or {}
    for key, track in tracks.items():
        if wanted in (key, track.get("label")):
            return key
    raise ManifestError("track_not_found", f"活动“{campaign.get('short_title') or campaign['id']}”中没有项目“{wanted}”。"
                        f"可填写：{'、'.join(t.get('label', k) for k, t in tracks.items())}。", field="track",
                        found=wanted, expected=list(tracks))


def match_org(value, orgs: list[dict]) -> dict:
    wanted = str(value).strip()
    for key in ("id", "name", "short_name"):
        hits = [o for o in orgs if o.get(key) == wanted]
        if len(hits) == 1:
            return hits[0]
    raise ManifestError("org_not_found", f"找不到党组织“{wanted}”。请填写组织列表中的全称（或简称、编号），"
                        f"或先在平台中导入该组织。", field="org", found=wanted)


@dataclass
class FieldMap:
    """A track's fields by every header that may name them: the key and the Chinese label."""

    fields: dict[str, dict] = field(default_factory=dict)
    by_header: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, track: dict) -> FieldMap:
        m = cls()
        for f in track.get("fields") or []:
            m.fields[f["key"]] = f
            m.by_header[normalise(f["key"])] = f["key"]
            m.by_header[normalise(f.get("label"))] = f["key"]
        return m

    def values(self, row: Row, themes=()) -> dict:
        """The API's `fields` from a row's field columns; a column naming no field of the track is refused."""
        out = {}
        for header, value in row.field_cells().items():
            key = self.by_header.get(normalise(header))
            if key is None:
                labels = "、".join(f.get("label", k) for k, f in self.fields.items())
                raise ManifestError("unknown_column", f"第 {row.number} 行：列“{header}”不是此项目的字段。"
                                    f"此项目的字段为：{labels}。", field=header, expected=list(self.fields))
            out[key] = convert(value, self.fields[key], row.number, themes)
        return out


def convert(value, spec: dict, row: int = 0, themes=()):
    """A cell as the API's value for the field's type (CampaignField): Excel's dates and numbers, lists written
    with 、, a choice by its Chinese label."""
    kind = spec.get("type")
    if kind == "date":
        if isinstance(value, (date, datetime)):
            return (value.date() if isinstance(value, datetime) else value).isoformat()
        return str(value).strip().replace("/", "-").replace(".", "-")
    if kind == "number":
        return value if isinstance(value, (int, float)) else _number(value, spec, row)
    if kind in ("list", "choices", "people"):
        items = split_list(value)
        if kind == "choices":
            return [_choice(v, spec, row, themes) for v in items]
        if kind == "people":
            return [_person(v) for v in items]
        return items
    if kind == "choice":
        return _choice(str(value).strip(), spec, row, themes)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number Excel stored as a number
    return str(value).strip() if kind != "text" else str(value)


def _number(value, spec, row):
    try:
        n = float(str(value).strip())
    except ValueError:
        raise ManifestError("invalid_number", f"第 {row} 行：“{spec.get('label', spec['key'])}”应为数字，实际为“{value}”。",
                            field=spec["key"], found=str(value)) from None
    return int(n) if n.is_integer() else n


def _choice(value: str, spec: dict, row: int, themes) -> str:
    options = list(themes) if spec.get("choices_from") == "themes" else list(spec.get("choices") or [])
    labels = spec.get("choice_labels") or {}
    if value in options:
        return value
    for option, label in labels.items():
        if value == label:
            return option
    shown = "、".join(labels.get(o, o) for o in options)
    raise ManifestError("invalid_choice", f"第 {row} 行：“{spec.get('label', spec['key'])}”应为以下之一：{shown}；"
                        f"实际为“{value}”。", field=spec["key"], expected=options, found=value)


def _person(text: str) -> dict:
    """「张三（党支部书记）」 or 「张三/党支部书记/计算机学院」: 姓名, 职务, 所在组织."""
    m = re.fullmatch(r"(.+?)[（(](.+?)[)）]", text)
    if m:
        return {"name": m[1].strip(), "post": m[2].strip()}
    name, *rest = [p.strip() for p in re.split(r"[/／]", text)]
    person = {"name": name}
    if rest and rest[0]:
        person["post"] = rest[0]
    if len(rest) > 1 and rest[1]:
        person["org"] = rest[1]
    return person


# ---------------------------------------------------------------------------------------------- template

TYPE_WORDS = {"string": "单行文字", "text": "多行文字", "date": "日期（如 2020-07-01）", "list": "列表（多项用、分隔）",
              "choice": "单选", "url": "网址", "number": "数字", "phone": "电话（手机号或带区号的座机）",
              "choices": "多选（多项用、分隔）", "people": "人员（如 张三（党支部书记），多人用、分隔）"}


def template_headers(track: dict) -> list[str]:
    """活动, 项目, 党组织, each field's Chinese label (required ones marked *), 文件."""
    labels = [f.get("label") or f["key"] for f in track.get("fields") or []]
    required = {f.get("label") or f["key"] for f in track.get("fields") or [] if f.get("required")}
    return ["活动", "项目", "党组织", *(f"{label}*" if label in required else label for label in labels), "文件"]


def field_notes(field: dict, themes=()) -> str:
    notes = [TYPE_WORDS.get(field.get("type"), field.get("type", ""))]
    if field.get("max_chars"):
        notes.append(f"不超过 {field['max_chars']} 字")
    if field.get("min_chars"):
        notes.append(f"不少于 {field['min_chars']} 字")
    options = list(themes) if field.get("choices_from") == "themes" else field.get("choices") or []
    if options:
        labels = field.get("choice_labels") or {}
        notes.append("可选：" + "、".join(labels.get(o, o) for o in options))
    return "；".join(notes)


def workbook(title: str, headers, widths=()):
    """A workbook whose first sheet has a bold header row that stays in view, as the template and the report have."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(headers))
    for cell, width in zip(ws[1], [*widths, *[24] * (len(ws[1]) - len(widths))]):
        cell.font = Font(bold=True)
        ws.column_dimensions[cell.column_letter].width = width
    ws.freeze_panes = "A2"
    return wb, ws


def write_template(campaign: dict, track_key: str, path) -> None:
    """An empty manifest for one track: the header row, and a sheet saying what each column takes."""
    track = campaign["tracks"][track_key]
    wb, _ = workbook("作品清单", template_headers(track))
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "字段", "说明"])
    notes.append(["活动", "campaign", f"填写 {campaign.get('short_id') or campaign['id']}（或活动名称）；"
                  "命令中给出 --campaign 时可不填"])
    notes.append(["项目", "track", f"填写 {track.get('label', track_key)}（或 {track_key}）；命令中给出 --track 时可不填"])
    notes.append(["党组织", "org", "党组织全称（或简称、编号），须是平台中已有的组织"])
    for f in track.get("fields") or []:
        notes.append([f.get("label") or f["key"], f["key"],
                      ("必填；" if f.get("required") else "") + field_notes(f, campaign.get("themes") or ())])
    kinds = "、".join(sorted(set(KIND_BY_EXTENSION.values())))
    notes.append(["文件", "files", f"文件夹中的文件名（含扩展名），多个用、或 ; 分隔；按扩展名判断类型（{kinds}）。"
                  "也可改用“视频”“图片”“音频”“文档”“字幕”列"])
    for column, width in zip("ABC", (16, 16, 80)):
        notes.column_dimensions[column].width = width
    wb.save(path)
