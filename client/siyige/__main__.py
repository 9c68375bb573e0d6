"""The command line: `python -m client.siyige submit-folder FOLDER --manifest works.xlsx --url URL --key KEY`,
and `python -m client.siyige template --campaign C --track T -o works.xlsx`. The key may come from SIYIGE_KEY
(and the address from SIYIGE_URL) so that it stays out of the shell's history."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .api import Client
from .batch import Batch, Progress, summary, write_report
from .errors import SiyigeError
from .manifest import match_track, read_manifest, write_template
from .webhooks import CheckReceiver


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m client.siyige", description="四个一行动平台 · 高校门户接口客户端")
    sub = p.add_subparsers(dest="command", required=True)

    def connection(cmd):
        cmd.add_argument("--url", default=os.environ.get("SIYIGE_URL"), help="平台地址（或环境变量 SIYIGE_URL）")
        cmd.add_argument("--key", default=os.environ.get("SIYIGE_KEY"), help="接口密钥（或环境变量 SIYIGE_KEY）")

    s = sub.add_parser("submit-folder", help="按 XLSX 清单提交文件夹中的作品")
    s.add_argument("folder", help="作品文件所在的文件夹")
    s.add_argument("--manifest", required=True, help="作品清单（XLSX），每行一件作品")
    connection(s)
    s.add_argument("--campaign", help="清单中未填“活动”时使用的活动")
    s.add_argument("--track", help="清单中未填“项目”时使用的项目")
    s.add_argument("--wait-checks", action="store_true", help="提交前等待文件检测结果")
    s.add_argument("--check-timeout", type=float, default=900.0, help="每个文件等待检测的秒数（默认 900）")
    s.add_argument("--webhook-port", type=int, help="在此端口接收 file_checked 推送（须已在平台订阅本机地址），不再只靠轮询")
    s.add_argument("--webhook-secret", default=os.environ.get("SIYIGE_WEBHOOK_SECRET"),
                   help="订阅时平台给出的签名密钥（或环境变量 SIYIGE_WEBHOOK_SECRET）")
    s.add_argument("--report", help="结果报告（XLSX）的保存路径，默认为清单旁的 <清单名>-结果.xlsx")

    t = sub.add_parser("template", help="生成某个项目的空白作品清单")
    connection(t)
    t.add_argument("--campaign", required=True)
    t.add_argument("--track", required=True)
    t.add_argument("-o", "--output", required=True)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if not args.url or not args.key:
        print("请用 --url 和 --key（或环境变量 SIYIGE_URL、SIYIGE_KEY）给出平台地址和接口密钥。", file=sys.stderr)
        return 2
    client = Client(args.url, args.key)
    try:
        if args.command == "template":
            campaign = Batch(client, ".").campaign(args.campaign)
            write_template(campaign, match_track(args.track, campaign), args.output)
            print(f"已生成空白清单：{args.output}")
            return 0
        rows = read_manifest(args.manifest)
    except SiyigeError as exc:
        print(f"{exc.code}：{exc.message}", file=sys.stderr)
        return 2
    if args.webhook_port and not args.webhook_secret:
        print("使用 --webhook-port 时须给出 --webhook-secret（订阅时平台给出的签名密钥）。", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        hooks = stack.enter_context(CheckReceiver(args.webhook_secret, port=args.webhook_port)) \
            if args.webhook_port else None
        batch = Batch(client, args.folder, campaign=args.campaign, track=args.track, wait_checks=args.wait_checks,
                      check_timeout=args.check_timeout, progress=Progress(len(rows)), webhook=hooks)
        outcomes = batch.run(rows)
    report = args.report or os.path.splitext(args.manifest)[0] + "-结果.xlsx"
    write_report(outcomes, report)
    print(summary(outcomes))
    print(f"结果报告：{report}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
