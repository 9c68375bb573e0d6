"""The shipped definitions (`definitions/*.yaml`) and reading a definition from a file.

The ministry's 「四个一」 2020 plan and two universities' versions ship with the platform: intake's
`publish-builtin` command publishes them, `media-check` checks a file against them by default, and
the tests run on them. A file is named by its definition's id; each derived one is checked against
its parent as publishing would.
"""
from __future__ import annotations

from pathlib import Path

from common.campaign.model import CampaignDefinition
from common.campaign.parse import parse_definition
from common.campaign.tighten import check_tightens
from common.campaign.wording import fail_invalid, problem
from common.errors import Unprocessable

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"


def load_builtin_definitions(directory: Path | str | None = None) -> dict[str, CampaignDefinition]:
    """Every `*.yaml` of the folder (the shipped ones by default), validated, each child checked against its parent."""
    folder = Path(directory) if directory is not None else DEFINITIONS_DIR
    definitions: dict[str, CampaignDefinition] = {}
    for path in sorted(folder.glob("*.yaml")):
        definition = read_definition(path)
        if definition.id != path.stem or definition.id in definitions:
            fail_invalid(definition.id, [problem("id", path.stem, definition.id,
                         f"文件 {path.name} 中的 id「{definition.id}」应与文件名一致且不重复；请改正。")])
        definitions[definition.id] = definition
    for definition in definitions.values():
        if definition.derives_from is None:
            continue
        parent = definitions.get(definition.derives_from)
        if parent is None:
            fail_invalid(definition.id, [problem("derives_from", sorted(definitions), definition.derives_from,
                         f"活动「{definition.id}」的上级「{definition.derives_from}」不存在；请改正 derives_from。")])
        check_tightens(parent, definition)
    return definitions


def read_definition(path: Path | str) -> CampaignDefinition:
    """One definition file, parsed on its own (a parent it derives from is not read); problems name the file."""
    path = Path(path)
    try:
        return parse_definition(path.read_text(encoding="utf-8"))
    except Unprocessable as exc:
        raise Unprocessable(f"{path.name}：{exc.message}", code=exc.code, details=exc.details) from exc
