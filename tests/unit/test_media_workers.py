"""The warm check workers (services/media/workers.py, worker.py): reused, replaced after a crash, a timeout
or N checks, each under its own memory limit. A check that never ends stands for a pathological file:
a video whose sidecar subtitles are a FIFO, which the check opens first and that no one ever writes."""
import os
import signal

import eventlet
import pytest

from services.media import pipeline, workers
from tests import media_fixtures


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return str(media_fixtures.make_image_gps(tmp_path_factory.mktemp("photo")))


@pytest.fixture
def hang(tmp_path):
    """(video, sidecar): an MP4 by its magic bytes, and subtitles whose opening blocks for ever."""
    video, sidecar = tmp_path / "lecture.mp4", tmp_path / "never-written.srt"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(64))
    os.mkfifo(sidecar)
    return str(video), str(sidecar)


@pytest.fixture
def pool():
    made = []

    def make(**kw):
        made.append(workers.Pool(**{"size": 1, "memory_mb": 3072, **kw}))
        return made[-1]

    yield make
    for p in made:
        p.stop()


def request(path, tmp_path):
    if isinstance(path, tuple):  # the check that hangs
        return {"path": path[0], "kind": "video", "subtitles": path[1], "policy": {},
                "derived_dir": str(tmp_path / "derived")}
    return {"path": path, "kind": "image", "policy": {}, "derived_dir": str(tmp_path / "derived")}


def gone(pid, within=5.0):
    """True once the process has exited and been reaped by the pool."""
    deadline = eventlet.hubs.get_hub().clock() + within
    while eventlet.hubs.get_hub().clock() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        eventlet.sleep(0.05)
    return False


def test_one_worker_checks_one_file_after_another(pool, photo, tmp_path):
    p = pool()
    first, second = p.run(request(photo, tmp_path), 60), p.run(request(photo, tmp_path), 60)
    assert first.failure is None and "image_gps" in {f["rule"] for f in first.report["findings"]}
    assert first.pid == second.pid != os.getpid() and p.started == 1
    assert second.report["derived"]["review_copy"].startswith(str(tmp_path / "derived"))


def test_a_worker_killed_during_a_check_yields_check_crashed_and_the_next_check_gets_a_new_one(photo, hang, tmp_path):
    limits = pipeline.Limits(timeout_s=60, memory_mb=3072, workers=1, max_checks=50)
    pool = workers.pool(limits.workers, limits.max_checks, limits.memory_mb)
    try:
        before = pool.run(request(photo, tmp_path), 60).pid
        busy = eventlet.spawn(pipeline.run_check, hang[0], "video", None, str(tmp_path), limits.timeout_s,
                              limits.memory_mb, hang[1], workers=limits.workers, max_checks=limits.max_checks)
        eventlet.sleep(0.5)  # the worker has the request and waits to open the FIFO
        os.kill(before, signal.SIGKILL)
        report = busy.wait()
        assert report["verdict"] == "failed"
        assert [(f["rule"], f["actual"]) for f in report["findings"]] == [("check_crashed", -signal.SIGKILL)]
        after = pool.run(request(photo, tmp_path), 60)
        assert after.failure is None and after.pid != before and gone(before)
    finally:
        pool.stop()


def test_a_check_over_its_time_limit_yields_check_timeout_and_its_worker_is_replaced(pool, photo, hang, tmp_path):
    limits = pipeline.Limits(timeout_s=0.5, memory_mb=3072, workers=1, max_checks=51)
    p = workers.pool(limits.workers, limits.max_checks, limits.memory_mb)
    try:
        before = p.run(request(photo, tmp_path), 60).pid
        report = pipeline.run_check(hang[0], "video", None, str(tmp_path), limits.timeout_s, limits.memory_mb,
                                    hang[1], workers=limits.workers, max_checks=limits.max_checks)
        assert report["verdict"] == "failed" and [f["rule"] for f in report["findings"]] == ["check_timeout"]
        assert gone(before)
        # the replacement's start-up (imports) is not counted in the next check's limit
        after = pipeline.run_check(photo, "image", None, str(tmp_path), limits.timeout_s, limits.memory_mb,
                                   workers=limits.workers, max_checks=limits.max_checks)
        assert "image_gps" in {f["rule"] for f in after["findings"]}
        assert p.started == 2
    finally:
        p.stop()


def test_a_worker_is_replaced_after_max_checks(pool, photo, tmp_path):
    p = pool(max_checks=2)
    pids = [p.run(request(photo, tmp_path), 60).pid for _ in range(3)]
    assert pids[0] == pids[1] != pids[2]
    assert gone(pids[0])  # told to end (end of its input) and reaped


def test_two_workers_check_two_files_at_once(pool, hang, photo, tmp_path):
    p = pool(size=2)
    stuck = eventlet.spawn(p.run, request(hang, tmp_path), 1.5)
    eventlet.sleep(0.1)
    assert p.run(request(photo, tmp_path), 60).failure is None  # the other worker, while the first hangs
    assert stuck.wait().failure == "timeout"


def test_each_worker_sets_its_own_memory_limit(pool, photo, tmp_path):
    pid = pool(memory_mb=1500).run(request(photo, tmp_path), 60).pid
    with open(f"/proc/{pid}/limits") as f:
        line = next(x for x in f if x.startswith("Max address space"))
    assert line.split()[3:5] == [str(1500 * 1024 * 1024)] * 2


def test_a_stopped_pools_workers_end(pool, photo, tmp_path):
    p = pool(size=2)
    p.warm()
    eventlet.sleep(0)
    pid = p.run(request(photo, tmp_path), 60).pid
    p.stop()
    assert gone(pid)


def test_a_check_that_raises_reports_check_crashed_and_a_fresh_worker_takes_the_next(pool, photo, tmp_path):
    p = pool()
    before = p.run(request(photo, tmp_path), 60).pid
    raised = p.run({**request(photo, tmp_path), "kind": "no-such-kind"}, 60)
    assert raised.pid == before and [f["rule"] for f in raised.report["findings"]] == ["check_crashed"]
    after = p.run(request(photo, tmp_path), 60)
    assert after.failure is None and after.pid != before and gone(before)


def test_a_claim_outlasts_the_wait_for_a_worker_as_well_as_the_check():
    from datetime import timedelta

    from services.media.pipeline import Limits, claim_lease

    # 10 handlers on 2 workers: a check may wait behind 4 others, each up to its limit, then run its own
    assert claim_lease(Limits(600, 3072, workers=2), handlers=10) == timedelta(seconds=5 * 600 + 60)
    assert claim_lease(Limits(600, 3072, workers=10), handlers=10) == timedelta(seconds=600 + 60)
    assert claim_lease(Limits(0.5, 512, workers=4), handlers=5) == timedelta(seconds=2 * 0.5 + 60)
