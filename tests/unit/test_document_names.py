"""「党组织名称+作品名称」 names the documents (issue #16).

武汉科技大学: 「“战疫故事汇”、教育素材的文档命名为“党组织名称+作品名称”」. Intake puts the org's name in front of a
file's name at registration where the track has the naming rule; notify's forwarded works name their files so; a
track without the rule (东南大学: 「相关素材文件以内容主题命名」) keeps its title-based names.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

from openpyxl import load_workbook

from common.document_names import export_stems, file_stem, named_after_org
from services.intake.operations.uploads import upload_name
from services.notify import feeds
from services.notify.models import ForwardedWork
from services.notify.readmodel import forwarded_json

ORG = ["计算机科学与技术学院党委", "计算机学院党委"]


def test_a_name_that_begins_with_the_org_stays_and_another_gets_the_full_name_in_front():
    assert named_after_org("计算机学院党委抗疫纪实.docx", ORG) == "计算机学院党委抗疫纪实.docx"  # the short name is enough
    assert named_after_org("計算機科學與技術學院黨委抗疫紀實.docx", ORG) == "計算機科學與技術學院黨委抗疫紀實.docx"
    assert named_after_org("抗疫纪实终稿.docx", ORG) == "计算机科学与技术学院党委抗疫纪实终稿.docx"
    assert named_after_org("抗疫纪实.docx", []) == "抗疫纪实.docx"


def test_a_works_files_are_named_by_the_rule_and_never_share_a_name():
    assert export_stems("抗疫纪实", ORG, ["document"]) == ["计算机科学与技术学院党委抗疫纪实"]
    assert export_stems("计算机学院党委抗疫纪实", ORG, ["image", "document", "image", "video"]) == [
        "计算机学院党委抗疫纪实-图片1", "计算机学院党委抗疫纪实", "计算机学院党委抗疫纪实-图片2", "计算机学院党委抗疫纪实-视频"]
    assert export_stems("抗疫纪实", ORG, ["document", "document"]) == [
        "计算机科学与技术学院党委抗疫纪实-文档1", "计算机科学与技术学院党委抗疫纪实-文档2"]


def test_a_title_becomes_a_file_name_any_office_can_store():
    # full-width punctuation is a file name's own; the half-width / and ? are not
    assert file_stem("战疫/故事：“坚守”?\n第一篇") == "战疫_故事：“坚守”_ 第一篇"
    assert file_stem("   ") == "作品"


def test_intake_renames_an_upload_where_the_track_has_the_rule(wust, seu):
    org = SimpleNamespace(name="计算机科学与技术学院党委", short_name="计算机学院党委")
    material = wust.tracks["material"]
    assert material.naming_rule
    assert upload_name(material, org, "抗疫纪实.docx") == "计算机科学与技术学院党委抗疫纪实.docx"
    assert upload_name(material, org, "计算机学院党委抗疫纪实.docx") == "计算机学院党委抗疫纪实.docx"
    # SEU names by topic (「以内容主题命名」): a name is kept as given
    assert upload_name(seu.tracks["material"], org, "抗疫纪实.docx") == "抗疫纪实.docx"
    assert len(upload_name(material, org, "长" * 255 + ".docx")) == 255


class Links:
    def url(self, key: str, name: str, ctype: str) -> str:
        return f"https://files.example/{key}?name={name}"


def forwarded(title: str = "抗疫纪实") -> ForwardedWork:
    return ForwardedWork(
        submission_id="s1", tenant="wust", tenant_name="武汉科技大学", campaign_id="siyige-2020-wust",
        root_campaign_id="siyige-2020", track="material", org_name="计算机科学与技术学院党委", org_level="level2",
        to_level="university", title=title, receipt_no="WUST-1", fields={}, keywords=[], seq=1,
        forwarded_at=datetime(2020, 10, 20, tzinfo=UTC),
        files=[{"file_id": "f1", "kind": "document", "object_key": "k1", "size": 10},
               {"file_id": "f2", "kind": "image", "object_key": "k2", "size": 20}])


TYPES = {"f1": "application/pdf", "f2": "image/jpeg"}


def test_notify_names_forwarded_files_by_the_rule_where_the_campaign_has_it():
    item = forwarded_json(forwarded(), Links(), TYPES, naming_rule=True)
    assert [f["name"] for f in item["files"]] == ["计算机科学与技术学院党委抗疫纪实.pdf",
                                                  "计算机科学与技术学院党委抗疫纪实-图片.jpg"]
    assert item["files"][0]["url"].endswith("name=计算机科学与技术学院党委抗疫纪实.pdf")
    # without the rule: by the title, as before
    plain = forwarded_json(forwarded(), Links(), TYPES)
    assert [f["name"] for f in plain["files"]] == ["抗疫纪实-document1.pdf", "抗疫纪实-image1.jpg"]


def test_the_forwarded_works_workbook_lists_each_file_by_its_name():
    item = forwarded_json(forwarded(), Links(), TYPES, naming_rule=True)
    sheet = load_workbook(io.BytesIO(feeds.forwarded_xlsx([item], {"material": "教育素材"}, 24)))["报送作品"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("文件") + 1).value
    assert cell.splitlines()[0].startswith("计算机科学与技术学院党委抗疫纪实.pdf：https://files.example/k1")
    assert "计算机科学与技术学院党委抗疫纪实-图片.jpg：" in cell
