"""The content type a portal declares for a file: refused at registration when it cannot be true.

Only a claim: media determines the real type from the bytes and only that one is ever served
(issue #14, item 1). But a claim that contradicts the file's kind (text/html for a document,
image/svg+xml for a photo) is refused at once, so the portal learns of its mistake, or the
attempt is stopped, before any byte is stored. Pure, no I/O.
"""
from __future__ import annotations

from common import filetypes
from common.errors import Unprocessable
from common.locale import KIND_LABELS


def check_declared_type(kind: str, content_type: str | None) -> None:
    """Raise when `content_type` is not a type a file of `kind` can have."""
    if filetypes.may_declare(kind, content_type):
        return
    allowed = filetypes.declarable(kind)
    label = KIND_LABELS.get(kind, kind)
    raise Unprocessable(
        f"声明的文件类型“{content_type}”与文件种类“{label}”（{kind}）不符。{label}文件的类型应为："
        f"{'、'.join(allowed)}。请按文件的实际格式填写 content_type，或不填（由平台根据内容识别）。",
        code="content_type_not_allowed", field="content_type", expected=allowed, found=content_type)
