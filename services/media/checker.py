"""Check one file of a given kind against its policy: facts, findings, verdict, derived files.

Used in-process by `media-check` and in a child process by the service. It
does no I/O besides reading the file and writing derived files into
`derived_dir`; the caller stores them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from common.campaign.media_rules import finding, judge, verdict_of
from services.media import contenttype, probe

IMAGE_FORMATS = {"jpeg", "png"}
DOCUMENT_SNIFFS = {"pdf", "zip", "ole"}


class NotMedia(Exception):
    """The file cannot be read as anything we check (CLI exit 2)."""


@dataclass
class Report:
    kind: str
    facts: dict
    findings: list[dict]
    derived: dict[str, str] = field(default_factory=dict)
    text: str = ""
    cues: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict_of(self.findings)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "verdict": self.verdict, "findings": self.findings, "facts": self.facts,
                "derived": self.derived, "text": self.text,
                "cues": [list(c) for c in self.cues]}


def detect_kind(path: str) -> str:
    """What the content is, for the CLI when no kind is given."""
    sniffed = probe.sniff(path)
    if sniffed in IMAGE_FORMATS:
        return "image"
    if sniffed in DOCUMENT_SNIFFS:
        return "document"
    try:
        facts = probe.header_facts(path)
    except probe.Unreadable:
        from services.media import subtitles

        with open(path, "rb") as f:
            head = f.read(2_000_000)
        try:
            subtitles.parse_sidecar(head)
            return "subtitle"
        except ValueError:
            raise NotMedia("无法识别的文件：既不是音视频，也不是图片、文档或字幕。") from None
    if facts["has_video"]:
        return "video"
    if facts["has_audio"]:
        return "audio"
    raise NotMedia("文件中没有音频或视频流。")


# What a sniffed container is, as a person reads it (never the bare 「mpegts」 of a magic number)
_SNIFFED_AS = {"jpeg": "JPG 图片", "png": "PNG 图片", "gif": "GIF 动图", "pdf": "PDF 文档", "zip": "压缩包或 Word 文档",
               "ole": "旧版 Office 文档", "wav": "WAV 音频", "mp3": "MP3 音频", "m4a": "M4A 音频"}


def described(sniffed: str) -> str:
    """「PDF 文档」, 「视频（MPEG-TS）」: what the file's content is, in Chinese with the format's usual name."""
    if sniffed in _SNIFFED_AS:
        return _SNIFFED_AS[sniffed]
    return f"视频（{ {'mpegts': 'MPEG-TS', 'mov': 'MOV', 'mkv': 'MKV'}.get(sniffed, sniffed.upper()) }）"


def _mismatch(kind: str, sniffed: str | None) -> dict | None:
    """A file whose content is plainly another kind than declared."""
    if kind == "video" and sniffed in IMAGE_FORMATS | DOCUMENT_SNIFFS:
        return finding("content_mismatch", "error",
                       f"以视频上传，但文件内容是{described(sniffed)}。请上传视频文件本身。", "video", sniffed)
    if kind == "image" and sniffed not in (None, "jpeg", "png") and sniffed not in ("gif",):
        return finding("content_mismatch", "error",
                       f"以图片上传，但文件内容是{described(sniffed)}。请上传 JPG 或 PNG 图片。", "image", sniffed)
    return None


def check_video(path: str, policy: dict | None, derived_dir: str | None, sidecar_cues=None) -> Report:
    try:
        facts = probe.header_facts(path)
    except probe.Unreadable as exc:
        raise NotMedia(f"无法作为视频读取：{exc}") from None
    findings: list[dict] = []
    if not facts["has_video"]:
        findings.append(finding("no_video_stream", "error", "文件中没有视频画面（只有声音或为空）。请上传含画面的视频。",
                                True, False))
    result = probe.scan(path)
    facts["integrity"] = {"packets": result.packets, "bytes": result.bytes, "last_video_s": result.last_video_s,
                          "errors": result.errors[:5]}
    if result.truncated(facts["duration_s"]):
        facts["complete"] = False
        findings.append(finding(
            "file_truncated", "error",
            f"文件不完整：文件头表明时长{_minutes(facts['duration_s'])}，但数据只到{_minutes(result.last_video_s)}"
            "（上传中断或文件损坏）。请重新导出并完整上传。", facts["duration_s"], result.last_video_s))
    else:
        facts["complete"] = True
    facts["index_at_front"] = probe.index_at_front(path)

    cues = list(result.cues) + list(sidecar_cues or [])
    facts.update(subtitle_facts(result.cues, sidecar_cues, facts["duration_s"]))
    findings += judge(facts, policy)  # how much the subtitles must cover is the policy's (subtitle_coverage)

    derived: dict[str, str] = {}
    if derived_dir and facts["has_video"] and facts["complete"]:
        poster, sheet = os.path.join(derived_dir, "poster.jpg"), os.path.join(derived_dir, "contact_sheet.jpg")
        errors = probe.derive_images(path, poster, sheet, facts["duration_s"])
        if os.path.exists(poster):
            derived.update(poster=poster, contact_sheet=sheet)
        if errors:
            facts["decode_errors"] = errors[:5]
            findings.append(finding("decode_errors", "warning",
                                    "部分画面无法解码，视频可能有损坏。请播放检查后，必要时重新导出上传。", 0, len(errors)))
        # Reviewers only ever get this copy: the original's tags (title, artist, comment...) could name
        # the author, whether or not its index is already at the front.
        copy = _review_copy(findings, lambda: probe.remux_clean(path, os.path.join(derived_dir, "playback")))
        if copy:
            derived["playback"] = copy
    return Report("video", facts, findings, derived, text="\n".join(c[2] for c in cues), cues=cues)


def subtitle_facts(embedded, sidecar, duration_s) -> dict:
    from services.media import subtitles

    cues = [subtitles.Cue(s, e, t) for s, e, t in list(embedded or []) + list(sidecar or [])]
    source = "embedded" if embedded else ("sidecar" if sidecar else None)
    cov = subtitles.coverage(cues, duration_s) if cues and duration_s else 0.0
    return {"has_subtitles": bool(cues), "subtitle_source": source, "subtitle_coverage": round(cov, 3)}


def _minutes(seconds) -> str:
    if seconds is None:
        return "未知"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}分{s:02d}秒"


def check_image(path: str, policy: dict | None, derived_dir: str | None) -> Report:
    from services.media import images

    try:
        report = images.inspect_image(path)
    except ValueError as exc:
        raise NotMedia(str(exc)) from None
    findings = list(report.findings)
    broken = any(f["severity"] == "error" for f in findings)
    findings += judge(report.facts, policy)
    derived = {}
    if derived_dir and not broken:
        # JPEG, or PNG where the picture really uses transparency
        tmp = os.path.join(derived_dir, "review.tmp")
        info = images.make_review_copy(path, tmp)
        copy = os.path.join(derived_dir, "review." + ("png" if info["format"] == "png" else "jpg"))
        os.replace(tmp, copy)
        derived["review_copy"] = copy
    return Report("image", dict(report.facts), findings, derived)


def check_audio(path: str, policy: dict | None, derived_dir: str | None = None) -> Report:
    try:
        facts = probe.audio_facts(path)
    except probe.Unreadable as exc:
        raise NotMedia(f"无法作为音频读取：{exc}") from None
    findings = []
    if not facts["has_audio"]:
        findings.append(finding("no_audio_stream", "error", "文件中没有声音。请上传音频文件本身。", True, False))
    derived = {}
    if derived_dir and facts["has_audio"]:
        # WAV LIST/INFO, ID3 and iTunes tags stay behind; the sound is copied as it is.
        copy = _review_copy(findings, lambda: probe.remux_clean(path, os.path.join(derived_dir, "review"),
                                                                audio_only=True))
        if copy:
            derived["review_copy"] = copy
    return Report("audio", facts, findings + judge(facts, policy), derived)


def _review_copy(findings: list[dict], make) -> str | None:
    """The path `make()` wrote, or None with a warning: reviewers then get no link to the file at all."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - any failure means the same: no clean copy, never the original
        findings.append(finding(
            "review_copy_failed", "warning",
            "未能为评审生成去除作者信息的副本，评审专家将无法查看这个文件。"
            "请重新导出（视频建议 MP4/H.264，音频建议 MP3 或 M4A，文档建议 PDF）后上传替换。",
            "评审副本", f"{type(exc).__name__}: {exc}"[:200]))
        return None


def check_document(path: str, policy: dict | None, derived_dir: str | None = None) -> Report:
    from services.media import documents

    try:
        report = documents.inspect_document(path)
    except ValueError as exc:
        raise NotMedia(str(exc)) from None
    findings = list(report.findings) + judge(report.facts, policy)
    derived = {}
    fmt = report.facts.get("format")
    if derived_dir and fmt in ("docx", "pdf") and not any(f["severity"] == "error" for f in report.findings):
        # Reviewers score blind: the author's name in the file's properties must not reach them.
        copy = os.path.join(derived_dir, f"review.{fmt}")
        if _review_copy(findings, lambda: documents.make_review_copy(path, copy, fmt) and copy):
            derived["review_copy"] = copy
    return Report("document", dict(report.facts), findings, derived, text=report.text)


def check_subtitle(path: str, policy: dict | None, derived_dir: str | None = None) -> Report:
    from services.media import subtitles

    with open(path, "rb") as f:
        data = f.read(20_000_000)
    try:
        track = subtitles.parse_sidecar(data)
    except ValueError as exc:
        raise NotMedia(str(exc)) from None
    facts = {"format": track.format, "size_bytes": os.path.getsize(path), "cues": len(track.cues)}
    findings = [finding("subtitle_problem", "warning", p) for p in track.problems[:5]]
    cues = [(c.start_s, c.end_s, c.text) for c in track.cues]
    derived = {}
    if derived_dir:
        # Timed text only: an ASS header (Title, Original Script), speaker names and styles stay behind.
        copy = os.path.join(derived_dir, "review.vtt")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(subtitles.to_webvtt(track.cues))
        derived["review_copy"] = copy
    return Report("subtitle", facts, findings + judge(facts, policy), derived,
                  text=subtitles.subtitle_text(track.cues), cues=cues)


def check_file(path: str, kind: str | None, policy: dict | None, derived_dir: str | None = None,
               sidecar_path: str | None = None, declared_type: str | None = None) -> Report:
    """The one entry point: raises NotMedia when the file is not readable at all.

    The facts carry `content_type`, the type the content is (the only one the file is ever served
    under), and `derived_types`, the type of each derived file; a `declared_type` that claims
    another kind of file than that is an error (`content_type_mismatch`).
    """
    report = _check(path, kind, policy, derived_dir, sidecar_path)
    determined = contenttype.of_original(report.kind, report.facts)
    report.facts["content_type"] = determined
    report.facts["derived_types"] = {name: contenttype.of_derived(p) for name, p in report.derived.items()}
    wrong = contenttype.mismatch(report.kind, declared_type, determined)
    if wrong:
        report.findings.append(wrong)
    return report


def _check(path: str, kind: str | None, policy: dict | None, derived_dir: str | None,
           sidecar_path: str | None) -> Report:
    if not os.path.getsize(path):
        raise NotMedia("文件为空（0 字节）。请重新上传。")
    kind = kind or detect_kind(path)
    sniffed = probe.sniff(path)
    mismatch = _mismatch(kind, sniffed)
    if mismatch:
        return Report(kind, {"size_bytes": os.path.getsize(path), "sniffed": sniffed}, [mismatch])
    if derived_dir:
        os.makedirs(derived_dir, exist_ok=True)
    if kind == "video":
        sidecar = check_subtitle(sidecar_path, None).cues if sidecar_path else None
        return check_video(path, policy, derived_dir, sidecar)
    if kind == "image":
        return check_image(path, policy, derived_dir)
    if kind == "audio":
        return check_audio(path, policy, derived_dir)
    if kind == "document":
        return check_document(path, policy, derived_dir)
    if kind == "subtitle":
        return check_subtitle(path, policy, derived_dir)
    raise ValueError(f"unknown kind {kind!r}")
