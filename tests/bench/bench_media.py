"""Media benchmark (prints figures; never a test).

    .venv/bin/python tests/bench/bench_media.py [--workdir /tmp/bench-media] [--minutes 20] [--target-mb 1000]
    .venv/bin/python tests/bench/bench_media.py --photo-only [--photo-checks 20] [--service-rss-mb 246]

Needs the FFmpeg command-line tools (Debian `ffmpeg` package) as the peer to compare with.

1. Generates, once (cached in --workdir), a ~1 GB, 20-minute, 1920x1080 25 fps H.264 + AAC
   (48 kHz stereo) MP4 with mov_text subtitles and the index at the front: a 10-second closed
   GOP of moving noise is encoded with libx264 ultrafast at the bit rate that makes 20 minutes
   ~1 GB (~6.7 Mbit/s), then its packets are stream-copied again and again with shifted
   timestamps (tests/media_fixtures.py does the work).
2. Measures, in one run:
   - header check:   services.media.probe.header_facts(path), in process, median of 5 after one
                     warm-up   vs   `ffprobe -v error -show_streams -show_format FILE` (wall time of
                     the child process, median of 5 after one warm-up);
   - integrity scan: services.media.probe.scan(path), median of 3   vs
                     `ffmpeg -v error -i FILE -c copy -f null -`, median of 3
                     (the file is read once beforehand so both sides read from the page cache);
   - peak RSS of a child running `python -m services.media.cli FILE --json` (the full check)
     and of the ffmpeg copy: getrusage(RUSAGE_CHILDREN).ru_maxrss read in a small helper that
     starts the command (a child forked from this big process would inherit our peak).
3. Prints ratios (ours / peer) against the goals: header <= 1.5x ffprobe, scan <= 1.0x ffmpeg copy,
   full-check RSS < 200 MB (MiB, as in bench_intake).

4. Photo checks the way the service runs them (pipeline.run_check, under eventlet, like on_file_uploaded):
   CPU-seconds per check of the service and every process it starts (its own getrusage, the CPU of
   the children still alive from /proc, and RUSAGE_CHILDREN for those reaped), median wall time, and
   the longest event-loop stall seen by a looplag monitor ticking every 5 ms. The first check (a
   cold start) is reported apart. The process is first padded to --service-rss-mb of touched memory,
   the size of a running media service: forking a big process costs more than forking a small one.
   --photo-only measures this part alone (no 1 GB file). Goals: < 50 ms CPU per check, no stall > 20 ms.

Exit status: 0 when measured (goals missed are marked MISSED; --strict turns them into exit 1),
2 when something needed is missing or the full check did not complete: no number is faked.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.bench.report import record  # noqa: E402

GOALS = {"header": 1.5, "scan": 1.0, "rss_mb": 200, "photo_cpu_ms": 50, "stall_ms": 20}
WIDTH, HEIGHT, FPS, SEGMENT_S = 1920, 1080, 25, 10
AUDIO_RATE, AUDIO_LAYOUT, AUDIO_BIT_RATE = 48000, "stereo", 128_000


def fail(problems: list[str]) -> None:
    print("bench_media: cannot measure (no figures are made up):", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(2)


def require_subject():
    """The code under test and the peer tools must exist before we spend time on a 1 GB file."""
    problems = []
    probe = None
    try:
        from services.media import probe
    except Exception as exc:  # noqa: BLE001 - whatever stops the import is the message
        problems.append(f"services.media.probe cannot be imported: {exc!r}")
    else:
        for name in ("header_facts", "scan"):
            if not callable(getattr(probe, name, None)):
                problems.append(f"services.media.probe.{name}(path) does not exist yet")
    try:
        if importlib.util.find_spec("services.media.cli") is None:
            problems.append("services.media.cli does not exist yet (python -m services.media.cli FILE --json)")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"services.media.cli cannot be found: {exc!r}")
    for tool in ("ffprobe", "ffmpeg"):
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` is not on PATH (apt-get install ffmpeg)")
    if problems:
        fail(problems)
    return probe


# --------------------------------------------------------------------------- the 1 GB file


def _noise_frames(seed: int = 7):
    import av
    import numpy as np

    pad = 64
    rng = np.random.default_rng(seed)
    # one plane set of grey noise, seen through a window that moves each frame: real motion, real residue
    pool = np.clip(rng.normal(128, 20, (HEIGHT * 3 // 2 + pad, WIDTH + pad)), 0, 255).astype(np.uint8)

    def frame(i: int, width: int, height: int):
        dy, dx = (i * 7) % pad, (i * 13) % pad
        pic = np.ascontiguousarray(pool[dy: dy + height * 3 // 2, dx: dx + width])
        return av.VideoFrame.from_ndarray(pic, format="yuv420p")

    return frame


def generate(workdir: Path, minutes: int, target_mb: int) -> tuple[Path, dict | None]:
    """The cached file, and generation figures (None when it was already there)."""
    from tests import media_fixtures as mf

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"lecture-{minutes}min-{HEIGHT}p.mp4"
    stamp = path.with_suffix(".json")
    params = {"minutes": minutes, "target_mb": target_mb, "width": WIDTH, "height": HEIGHT, "fps": FPS,
              "segment_s": SEGMENT_S, "audio": [AUDIO_RATE, AUDIO_LAYOUT, AUDIO_BIT_RATE], "version": 1}
    if path.exists() and stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("params") == params and saved.get("size") == path.stat().st_size:
            return path, None

    duration = minutes * 60
    target_bytes = target_mb * 1_000_000
    video_rate = int(target_bytes * 8 / duration - AUDIO_BIT_RATE)
    t0 = time.perf_counter()
    encodes = []
    for _ in range(3):                       # ABR on noise overshoots a little: correct it once or twice
        seg = mf.encode_segment("libx264", WIDTH, HEIGHT, fps=FPS, seconds=SEGMENT_S, frame=_noise_frames(),
                                video_bit_rate=video_rate, audio_rate=AUDIO_RATE, audio_layout=AUDIO_LAYOUT,
                                audio_bit_rate=AUDIO_BIT_RATE)
        estimate = seg.bytes_per_second * duration
        encodes.append((video_rate, estimate))
        if abs(estimate / target_bytes - 1) <= 0.03:
            break
        video_rate = int(video_rate * target_bytes / estimate)
    t1 = time.perf_counter()
    partial = workdir / f".{path.stem}.partial.mp4"
    mf.write_repeated(partial, seg, duration, container="mp4", audio=True, subtitles=True, faststart=True)
    os.replace(partial, path)
    t2 = time.perf_counter()
    size = path.stat().st_size
    stamp.write_text(json.dumps({"params": params, "size": size}))
    return path, {"encode_s": t1 - t0, "encodes": len(encodes), "remux_s": t2 - t1, "total_s": t2 - t0,
                  "size": size, "video_bit_rate": video_rate}


# --------------------------------------------------------------------------- measuring


def run_child(cmd: list[str], **kw) -> dict:
    """Run a child to completion: wall time, exit code and output."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, **kw)
    return {"wall_s": time.perf_counter() - t0, "rc": proc.returncode,
            "stdout": proc.stdout.decode("utf-8", "replace"), "stderr": proc.stderr.decode("utf-8", "replace")}


# A child forked straight from this (big) process would inherit our high-water mark: Linux records
# the old address space's peak in ru_maxrss at exec.  So a small fresh Python starts the measured
# command and reports getrusage(RUSAGE_CHILDREN).ru_maxrss for it; the floor of the method is that
# helper's own size (~12 MB), shown by running /bin/true the same way.
RSS_HELPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL).returncode
with open(sys.argv[1], "w") as f:
    json.dump({"rc": rc, "wall_s": time.perf_counter() - t0,
               "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, f)
"""


def peak_rss(cmd: list[str], **kw) -> dict:
    """Run cmd from a small helper: exit code, wall time, peak RSS (KiB) of cmd alone, and its output."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        run = run_child([sys.executable, "-c", RSS_HELPER, result.name] + cmd, **kw)
        figures = json.loads(Path(result.name).read_text() or "{}")
    if not figures:
        fail([f"the RSS helper did not report for {cmd[:3]}: {run['stderr'][-300:]}"])
    return {**run, **figures}


def median_of(fn, runs: int, warmup: int = 0) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def read_through(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def av_ffmpeg_version() -> str:
    import av

    return f"FFmpeg {getattr(av, 'ffmpeg_version_info', '?')}"


def cli_ffmpeg_version() -> str:
    first = run_child(["ffmpeg", "-version"])["stdout"].split("\n", 1)[0]
    return " ".join(first.split()[:3])


# --------------------------------------------------------------------------- photo checks in the service


def _cpu_of(pid: int) -> float:
    """CPU-seconds (user + system) of a live process, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, float]:
    """This process's live children (any depth) and their CPU-seconds so far."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    ours, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parents.items() if pp == pid]
        ours.update(kids)
        todo += kids
    return {pid: _cpu_of(pid) for pid in ours}


def _tree_cpu() -> tuple[float, dict[int, float]]:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime, _children()


def _cpu_since(before: tuple[float, dict[int, float]]) -> float:
    """CPU used since `before` by this process and every child, alive or reaped."""
    base, kids = before
    now, kids_now = _tree_cpu()
    # a child reaped since `before` moved into RUSAGE_CHILDREN with all of its CPU: take off what it had then
    gone = sum(cpu for pid, cpu in kids.items() if pid not in kids_now)
    alive = sum(cpu - kids.get(pid, 0.0) for pid, cpu in kids_now.items())
    return now - base - gone + alive


def photo_checks(workdir: Path, checks: int, service_rss_mb: int) -> dict:
    """CPU per photo check (service and children), wall time, and the loop's worst stall (see the module doc)."""
    import eventlet

    from common.looplag import LoopLag
    from services.media import pipeline
    from tests import media_fixtures as mf

    folder = workdir / "photo"
    folder.mkdir(parents=True, exist_ok=True)
    photo = str(mf.make_image_gps(folder))
    rss_kb = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    ballast = bytearray(max(0, service_rss_mb * 1024 - rss_kb) * 1024)
    for i in range(0, len(ballast), 4096):  # touched, so that a fork has page tables to copy
        ballast[i] = 1
    limits = pipeline.Limits(timeout_s=60, memory_mb=3072)
    lag = LoopLag(tick=0.005)
    lag.start()
    eventlet.sleep(0.1)

    def one() -> tuple[float, float, float, dict]:
        with tempfile.TemporaryDirectory(prefix="bench-photo-") as tmp:
            lag.worst = 0.0
            cpu0, own0, t0 = _tree_cpu(), time.process_time(), time.perf_counter()
            report = pipeline.run_check(photo, "image", None, tmp, limits.timeout_s, limits.memory_mb)
            wall, own = time.perf_counter() - t0, time.process_time() - own0
            eventlet.sleep(0.02)  # the monitor's next tick sees a stall that ended with the check
            return _cpu_since(cpu0), wall, lag.worst, report, own

    first_cpu, first_wall, first_stall, report, _ = one()
    runs = [one() for _ in range(checks)]
    # The same time with no check at all: on a shared machine the loop also wakes late when the OS runs
    # something else, and a stall above this floor is the checks' doing.
    lag.worst = 0.0
    eventlet.sleep(sum(r[1] for r in runs) + 0.02 * checks)
    idle_stall = lag.worst
    del ballast
    return {"photo_kb": os.path.getsize(photo) / 1024, "verdict": report.get("verdict"),
            "rules": sorted({f["rule"] for f in report.get("findings", [])}),
            "first": (first_cpu, first_wall, first_stall),
            # the mean, not the median: a live child's CPU comes from /proc in 10 ms clock ticks
            "cpu_s": statistics.fmean(r[0] for r in runs), "cpu_runs": [r[0] for r in runs],
            "wall_s": statistics.median(r[1] for r in runs), "stall_s": max(r[2] for r in runs),
            "idle_stall_s": idle_stall, "own_cpu_s": statistics.fmean(r[4] for r in runs), "load": os.getloadavg()[0],
            "service_rss_mb": service_rss_mb}


def print_photo_checks(p: dict) -> list[str]:
    """Print the photo figures and record them; the goals missed."""
    cpu_ms, stall_ms = p["cpu_s"] * 1000, p["stall_s"] * 1000
    ok_cpu, ok_stall = cpu_ms < GOALS["photo_cpu_ms"], stall_ms <= GOALS["stall_ms"]
    print()
    print(f"photo check in the service ({p['photo_kb']:.0f} KB JPEG, process padded to {p['service_rss_mb']} MB, "
          f"{len(p['cpu_runs'])} checks after the first): verdict {p['verdict']} {p['rules']}")
    print(f"  CPU per check (service + children): mean {cpu_ms:.1f} ms "
          f"[{', '.join(f'{c * 1000:.0f}' for c in p['cpu_runs'])}]  goal < {GOALS['photo_cpu_ms']} ms  "
          f"{'ok' if ok_cpu else 'MISSED'}")
    print(f"  of which the service process itself (its loop's share): mean {p['own_cpu_s'] * 1000:.1f} ms")
    print(f"  wall per check: median {p['wall_s'] * 1000:.0f} ms")
    print(f"  longest event-loop stall during the checks: {stall_ms:.1f} ms  goal <= {GOALS['stall_ms']} ms  "
          f"{'ok' if ok_stall else 'MISSED'}")
    print(f"  longest stall in as long a time without checks (the machine's floor): {p['idle_stall_s'] * 1000:.1f} ms, "
          f"load average {p['load']:.2f} on {os.cpu_count()} CPUs")
    f_cpu, f_wall, f_stall = p["first"]
    print(f"  first check (cold): CPU {f_cpu * 1000:.0f} ms, wall {f_wall * 1000:.0f} ms, stall {f_stall * 1000:.1f} ms")
    record("media", "photo check: CPU of service + children", cpu_ms, "ms", goal=f"< {GOALS['photo_cpu_ms']} ms",
           note=f"{p['photo_kb']:.0f} KB JPEG, mean of {len(p['cpu_runs'])}")
    record("media", "photo check: longest event-loop stall", stall_ms, "ms", goal=f"≤ {GOALS['stall_ms']} ms")
    return [name for name, ok in (("photo check CPU", ok_cpu), ("event-loop stall", ok_stall)) if not ok]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-media"))
    ap.add_argument("--minutes", type=int, default=20)
    ap.add_argument("--target-mb", type=int, default=1000, help="file size to aim at, in 10^6 bytes")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    ap.add_argument("--photo-only", action="store_true", help="measure only the photo checks (no 1 GB file)")
    ap.add_argument("--photo-checks", type=int, default=20, help="photo checks measured after the first")
    ap.add_argument("--service-rss-mb", type=int, default=246, help="pad this process to a media service's size")
    args = ap.parse_args()

    if args.photo_only:
        missed = print_photo_checks(photo_checks(args.workdir, args.photo_checks, args.service_rss_mb))
        if missed:
            print(f"goals missed: {', '.join(missed)}")
        return 1 if (missed and args.strict) else 0

    probe = require_subject()
    path, gen = generate(args.workdir, args.minutes, args.target_mb)
    size = path.stat().st_size
    if gen is None:
        print(f"file: {path} ({size / 1e9:.3f} GB, cached; delete it or its .json to regenerate)")
    else:
        print(f"file: {path} ({size / 1e9:.3f} GB) generated in {gen['total_s']:.1f} s: "
              f"segment encode {gen['encode_s']:.1f} s ({gen['encodes']} pass(es), video "
              f"{gen['video_bit_rate'] / 1e6:.2f} Mbit/s), remux to {args.minutes} min {gen['remux_s']:.1f} s")

    ffprobe = ["ffprobe", "-v", "error", "-show_streams", "-show_format", str(path)]
    ffcopy = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-c", "copy", "-f", "null", "-"]
    peer = run_child(ffprobe)
    if peer["rc"] != 0:
        fail([f"ffprobe cannot read the benchmark file: {peer['stderr'].strip()[:300]}"])

    # ---------------------------------------------------------------- header
    facts = probe.header_facts(str(path))
    ours_header, ours_header_runs = median_of(lambda: probe.header_facts(str(path)), 5, warmup=1)
    peer_header, peer_header_runs = median_of(lambda: run_child(ffprobe), 5, warmup=1)

    # ---------------------------------------------------------------- scan
    read_through(path)          # both sides read from the page cache
    result = probe.scan(str(path))
    ours_scan, ours_scan_runs = median_of(lambda: probe.scan(str(path)), 3)
    copies = []
    peer_scan, peer_scan_runs = median_of(lambda: copies.append(run_child(ffcopy)), 3)
    if any(c["rc"] != 0 for c in copies):
        fail([f"ffmpeg copy failed: {copies[-1]['stderr'].strip()[:300]}"])

    # ---------------------------------------------------------------- peak RSS
    floor_kb = peak_rss(["true"])["maxrss_kb"]
    ffcopy_rss = peak_rss(ffcopy)
    if ffcopy_rss["rc"] != 0:
        fail([f"ffmpeg copy failed: {ffcopy_rss['stderr'].strip()[:300]}"])
    ffmpeg_rss_kb = ffcopy_rss["maxrss_kb"]

    check = peak_rss([sys.executable, "-m", "services.media.cli", str(path), "--json"], cwd=str(ROOT))
    report = None
    try:
        report = json.loads(check["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    check_ok = check["rc"] in (0, 1) and isinstance(report, dict) and report.get("verdict") in (
        "passed", "warnings", "failed")

    # ---------------------------------------------------------------- the table
    def verdict(value: float, goal: float) -> str:
        return "ok" if value <= goal else "MISSED"

    header_ratio = ours_header / peer_header
    scan_ratio = ours_scan / peer_scan
    rss_mb = check["maxrss_kb"] / 1024
    rows = [
        ("header check", f"{ours_header * 1000:.1f} ms", f"{peer_header * 1000:.1f} ms (ffprobe)",
         f"{header_ratio:.2f}x", f"<= {GOALS['header']}x", verdict(header_ratio, GOALS["header"])),
        ("integrity scan", f"{ours_scan:.2f} s", f"{peer_scan:.2f} s (ffmpeg -c copy)",
         f"{scan_ratio:.2f}x", f"<= {GOALS['scan']}x", verdict(scan_ratio, GOALS["scan"])),
        ("peak RSS", f"{rss_mb:.0f} MB (full check)" if check_ok else "- (check failed)",
         f"{ffmpeg_rss_kb / 1024:.0f} MB (ffmpeg -c copy)",
         f"{rss_mb / (ffmpeg_rss_kb / 1024):.2f}x" if check_ok else "-", f"< {GOALS['rss_mb']} MB",
         ("ok" if rss_mb < GOALS["rss_mb"] else "MISSED") if check_ok else "INVALID"),
    ]
    head = ("measure", "ours", "peer", "ours/peer", "goal", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print()
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()
    print(f"header runs (ms): ours {[round(t * 1000, 1) for t in ours_header_runs]}, "
          f"ffprobe {[round(t * 1000, 1) for t in peer_header_runs]}")
    print(f"scan runs (s): ours {[round(t, 2) for t in ours_scan_runs]}, "
          f"ffmpeg {[round(t, 2) for t in peer_scan_runs]}")
    print(f"header_facts: container={facts.get('container')} {facts.get('video_codec')} "
          f"{facts.get('width')}x{facts.get('height')} duration={facts.get('duration_s')} s "
          f"audio={facts.get('audio_codec')} subtitles={facts.get('subtitle_codecs')}")
    print(f"scan: {getattr(result, 'packets', '?')} packets, {getattr(result, 'bytes', 0) / 1e9:.3f} GB, "
          f"last video at {getattr(result, 'last_video_s', '?')} s, errors {getattr(result, 'errors', '?')}")
    print(f"full check (python -m services.media.cli --json): exit {check['rc']}, {check['wall_s']:.1f} s wall, "
          f"verdict {report.get('verdict') if isinstance(report, dict) else None}")
    print(f"notes: ffprobe/ffmpeg times include process start-up, ours run in this process (PyAV's "
          f"bundled {av_ffmpeg_version()}, the CLI is {cli_ffmpeg_version()}); RSS in MiB, "
          f"floor of the RSS method {floor_kb / 1024:.0f} MB.")

    if not check_ok:
        detail = (check["stderr"].strip().splitlines() or [""])[-1]
        if isinstance(report, dict):
            detail = "; ".join(f.get("message", "") for f in report.get("findings", [])) + f" [{detail}]"
        fail([(f"the full check did not complete (exit {check['rc']}, verdict "
               f"{report.get('verdict') if isinstance(report, dict) else 'none'}): {detail[:400]}"),
              "so no peak RSS is reported for it"])
    size_note = f"{size / 1e9:.2f} GB {args.minutes}-min 1080p H.264"
    record("media", "header check", ours_header * 1000, "ms", peer=peer_header * 1000, peer_label="ffprobe",
           goal=f"≤ {GOALS['header']}× peer", note=size_note)
    record("media", "integrity scan (every packet)", ours_scan, "s", peer=peer_scan,
           peer_label="ffmpeg -c copy -f null", goal=f"≤ {GOALS['scan']}× peer", note=size_note)
    if check_ok:
        record("media", "peak RSS of a full check", rss_mb, "MB", peer=ffmpeg_rss_kb / 1024,
               peer_label="ffmpeg -c copy", goal=f"< {GOALS['rss_mb']} MB")
    missed = [r[0] for r in rows if r[-1] != "ok"]
    missed += print_photo_checks(photo_checks(args.workdir, args.photo_checks, args.service_rss_mb))
    if missed:
        print(f"goals missed: {', '.join(missed)}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
