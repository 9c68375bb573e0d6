"""media-check: check a file the way the platform will, before uploading it.

    media-check FILE [--campaign ID | --definition PATH] [--track TRACK] [--kind KIND] [--subtitles SIDECAR] [--json]

Exit 0 when no error-level rule fails (warnings allowed), 1 when one does,
2 when the file cannot be read as media at all, or the definition given with
--definition cannot be used (its problems are printed). Default campaign: the
shipped 四个一 2020 in 东南大学's version (the strictest); default track: lecture.
`--definition` takes a campaign definition file (YAML, the format of
common/campaign/definitions/), e.g. a notice being written, checked on its own.

The media service runs the same check (check_file, and these reports of a file that
cannot be read or checked) in warm worker processes (worker.py, workers.py) instead
of starting this program per file.
"""
from __future__ import annotations

import argparse
import json
import sys

from common.campaign import CampaignDefinition, load_builtin_definitions, read_definition
from common.errors import Unprocessable
from common.locale import KIND_LABELS
from services.media.checker import NotMedia, check_file, detect_kind

DEFAULT_CAMPAIGN = "siyige-2020-seu"
VERDICT_LABELS = {"passed": "通过", "warnings": "通过（有提示）", "failed": "未通过"}


class UnusableDefinition(Exception):
    """The file given with --definition is no definition, or lacks the track (exit 2, like a usage error)."""


def builtin_policy(campaign: str, track: str, kind: str) -> dict | None:
    definitions = load_builtin_definitions()
    if campaign not in definitions:
        raise SystemExit(f"未知的活动 {campaign}；内置活动：{'、'.join(definitions)}")
    return _track_policy(definitions[campaign], track, kind, SystemExit)


def definition_policy(path: str, track: str, kind: str) -> dict | None:
    """The policy of a definition file; its parent (derives_from) is not read, so tightening is not checked."""
    try:
        definition = read_definition(path)
    except FileNotFoundError:
        raise UnusableDefinition(f"找不到活动定义文件：{path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableDefinition(f"无法读取活动定义文件 {path}（{exc}）。请提供 UTF-8 编码的 YAML 文件。") from None
    except Unprocessable as exc:
        lines = [exc.message] + [f"  {d['field']}：{d['message']}" for d in exc.details or []]
        raise UnusableDefinition("\n".join(lines)) from None
    policy = _track_policy(definition, track, kind, UnusableDefinition)
    if policy is None:
        print(f"提示：活动 {definition.id} 的赛道 {track} 没有 {kind} 文件的规则（media.{kind}），"
              "只做了通用检查（能否读取、是否完整等）。", file=sys.stderr)
    return policy


def _track_policy(definition: CampaignDefinition, track: str, kind: str, error: type[Exception]) -> dict | None:
    policies = definition.media_policies()
    if track not in policies:
        raise error(f"活动 {definition.id} 没有赛道 {track}；可用：{'、'.join(policies)}。请用 --track 指定。")
    return policies[track].get(kind)


def unreadable_report(kind: str | None, exc: NotMedia) -> dict:
    return {"verdict": "unreadable", "kind": kind, "facts": {}, "derived": {},
            "findings": [{"rule": "unreadable", "severity": "error", "expected": "媒体文件", "actual": None,
                          "message": f"{exc} 请确认上传的是正确的文件。"}]}


def crashed_report(kind: str | None, exc: BaseException) -> dict:
    return {"verdict": "unreadable", "kind": kind, "facts": {}, "derived": {},
            "findings": [{"rule": "check_crashed", "severity": "error", "expected": None, "actual": type(exc).__name__,
                          "message": "检查程序无法处理这个文件（文件可能已损坏）。"
                                     "请重新导出后上传；如仍失败，请联系平台管理员。"}]}


def human(report: dict, path: str) -> str:
    lines = [f"{path}：{KIND_LABELS.get(report['kind'], report['kind'])}，{VERDICT_LABELS[report['verdict']]}"]
    for f in report["findings"]:
        mark = "✗ 错误" if f["severity"] == "error" else "! 提示"
        lines.append(f"  {mark}：{f['message']}")
    facts = report["facts"]
    shown = ["container", "video_codec", "width", "height", "duration_s", "bit_rate", "audio_codec", "audio_channels",
             "subtitle_tracks", "subtitle_coverage", "format", "pages", "text_chars", "size_bytes"]
    lines.append("  " + "  ".join(f"{k}={facts[k]}" for k in shown if facts.get(k) is not None))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="media-check", description="按活动的文件要求检查一个文件。")
    ap.add_argument("file")
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--campaign", default=DEFAULT_CAMPAIGN, help="a shipped definition's id")
    source.add_argument("--definition", metavar="PATH", help="a campaign definition file (YAML)")
    ap.add_argument("--track", default="lecture")
    ap.add_argument("--kind", choices=sorted(KIND_LABELS))
    ap.add_argument("--subtitles", help="a sidecar subtitle file (.srt/.vtt/.ass) that goes with the video")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--policy-file", help=argparse.SUPPRESS)
    ap.add_argument("--derived-dir", help=argparse.SUPPRESS)
    ap.add_argument("--declared-type", help=argparse.SUPPRESS)  # what the portal said the file is
    args = ap.parse_args(argv)
    try:
        kind = args.kind or detect_kind(args.file)
        if args.policy_file:
            with open(args.policy_file, encoding="utf-8") as f:
                policy = json.load(f)
        elif args.definition:
            policy = definition_policy(args.definition, args.track, kind)
        else:
            policy = builtin_policy(args.campaign, args.track, kind)
        report = check_file(args.file, kind, policy, args.derived_dir, args.subtitles, args.declared_type).to_dict()
    except NotMedia as exc:
        report = unreadable_report(args.kind, exc)
        print(json.dumps(report, ensure_ascii=False) if args.json else f"{args.file}：无法读取。{exc}")
        return 2
    except UnusableDefinition as exc:
        print(exc, file=sys.stderr)
        return 2
    except FileNotFoundError:
        print(f"找不到文件：{args.file}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a pathological file must yield a report, not a trace
        import traceback

        traceback.print_exc()
        report = crashed_report(args.kind, exc)
        print(json.dumps(report, ensure_ascii=False) if args.json else f"{args.file}：无法检查（{exc}）。")
        return 2
    if not args.json:
        report.pop("cues", None)
    print(json.dumps(report, ensure_ascii=False) if args.json else human(report, args.file))
    return 1 if report["verdict"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
