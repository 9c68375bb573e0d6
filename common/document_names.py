"""「党组织名称+作品名称」: how a work's files are named where its campaign has the naming rule.

武汉科技大学: 「“战疫故事汇”、教育素材的文档命名为“党组织名称+作品名称”」. A 宣传部 clerk gathers the files of
twenty colleges into one folder; named so, they sort by college and say what they are. Intake puts the org's name in
front of a file's name when the file is registered (`named_after_org`); every admin-facing export names the files
from the org and the title (`export_stems`). Reviewers work blind: their copies keep neutral names (视频1.mp4,
services/review/domain/blind.py) and never pass through here. Pure: no I/O, no framework.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from common.locale import KIND_LABELS
from common.text import starts_with_org_name

# What Windows (the offices' file system) refuses in a file name, and control characters: a title may hold any.
_NOT_IN_A_FILE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def named_after_org(name: str, org_names: Sequence[str]) -> str:
    """The name as the rule wants it: as it is when it begins with one of the org's names (full or short, as
    `check_naming` accepts a title), else with the org's full name (the first) in front."""
    names = [n for n in org_names if n]
    if not names or starts_with_org_name(name, names):
        return name
    return f"{names[0]}{name}"


def file_stem(text: str) -> str:
    """`text` as a file name's stem: one line, nothing a file system refuses, at most 120 characters."""
    stem = _NOT_IN_A_FILE_NAME.sub("_", " ".join(text.split())).strip(" .")
    return stem[:120] or "作品"


def export_stems(title: str, org_names: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """One stem per file of a work (in the order of `kinds`), named 「党组织名称+作品名称」.

    The work's only file, or its only document (the notice's 文档), is named by the rule itself:
    「计算机学院党委抗疫纪实」; each other file adds what it is, numbered when the work has several of the kind:
    「计算机学院党委抗疫纪实-图片1」, 「计算机学院党委抗疫纪实-视频」. So no two files of a work share a name.
    """
    base = file_stem(named_after_org(title, org_names))
    counts, seen, stems = Counter(kinds), Counter(), []
    for kind in kinds:
        seen[kind] += 1
        if len(kinds) == 1 or (kind == "document" and counts[kind] == 1):
            stems.append(base)
            continue
        number = str(seen[kind]) if counts[kind] > 1 else ""
        stems.append(f"{base}-{KIND_LABELS.get(kind, kind)}{number}")
    return stems
