"""A small pool of warm check workers (worker.py): one Python start-up per worker, not per file.

A fresh `python -m services.media.cli` per file spent ~0.5 CPU-seconds importing before it read a byte,
and forking the service (a `preexec_fn` forces fork, not vfork) stalled its event loop. The isolation
stays: each check runs in a child process with the memory limit it set itself at start (RLIMIT_AS, per
process, so per check too), under a time limit the pool enforces; a worker that overruns it is killed,
one that dies (or whose check raised) is replaced, and every worker is replaced after `max_checks`
checks, so that whatever a library leaks or caches does not grow without end.

All of it runs on the event loop without holding it: green pipes, green waits, and workers started by
`subprocess.Popen` without a `preexec_fn`, which CPython starts with vfork (no copy of the service's page
tables). While `size` workers are busy, a check waits for one (MEDIA_WORKERS); the wait is not counted in
its time limit.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass

import eventlet
from eventlet.green import subprocess
from eventlet.queue import Empty, LightQueue

log = logging.getLogger(__name__)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 2  # MEDIA_WORKERS
MAX_CHECKS = 200  # MEDIA_WORKER_MAX_CHECKS
START_TIMEOUT_S = 60.0  # imports of a new worker (~0.5 s; minutes would mean something is wrong)


class WorkerFailed(Exception):
    """A worker could not be started (it died or hung while importing)."""


@dataclass
class Result:
    """One check's answer: a report, or why there is none ("timeout" or "crashed")."""

    report: dict | None
    pid: int
    failure: str | None = None
    returncode: int | None = None


class Worker:
    def __init__(self, proc, generation: int):
        self.proc, self.pid, self.generation, self.checks = proc, proc.pid, generation, 0


class Pool:
    def __init__(self, size: int = SIZE, max_checks: int = MAX_CHECKS, memory_mb: int = 0,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.size, self.max_checks, self.memory_mb = max(1, size), max(1, max_checks), memory_mb
        self.start_timeout_s = start_timeout_s
        self.started = 0  # workers started so far (tests and logs)
        self._idle: LightQueue = LightQueue()
        self._live = 0  # workers started or starting, not yet retired
        self._generation = 0  # stop() retires workers of an older generation when their check ends

    # ---------------------------------------------------------------- checks

    def run(self, request: dict, timeout_s: float) -> Result:
        """Send one request to a worker and wait at most `timeout_s` for its answer."""
        try:
            worker = self._take()
        except WorkerFailed as exc:
            log.error("no media-check worker: %s", exc)
            return Result(None, 0, "crashed")
        answer, outcome = None, None
        try:
            with eventlet.Timeout(timeout_s) as limit:
                worker.proc.stdin.write((json.dumps(request, ensure_ascii=False) + "\n").encode("utf-8"))
                worker.proc.stdin.flush()
                line = worker.proc.stdout.readline()
            answer = json.loads(line) if line else None
            outcome = "answered" if isinstance(answer, dict) and "report" in answer else "crashed"
        except eventlet.Timeout as exc:
            if exc is not limit:
                raise
            outcome = "timeout"
        except (OSError, ValueError) as exc:  # a broken pipe, or half a line from a dying worker
            log.error("media-check worker %s failed: %r", worker.pid, exc)
            outcome = "crashed"
        finally:
            if outcome is None:  # the caller was killed, or something unforeseen: the worker's state is unknown
                self._retire(worker, kill=True)
        if outcome == "timeout":
            log.warning("media-check worker %s over its time limit (%.3g s): killed", worker.pid, timeout_s)
            self._retire(worker, kill=True)
            return Result(None, worker.pid, "timeout")
        if outcome == "crashed":
            code = self._retire(worker, kill=True)
            log.error("media-check worker %s ended during a check (exit %s)", worker.pid, code)
            return Result(None, worker.pid, "crashed", code)
        worker.checks += 1
        if answer.get("retire") or worker.checks >= self.max_checks or worker.generation != self._generation:
            self._retire(worker)
        else:
            self._idle.put(worker)
        return Result(answer["report"], worker.pid)

    # ---------------------------------------------------------------- workers

    def warm(self) -> None:
        """Start the missing workers in the background (the service's start: its first checks are warm)."""
        while self._live < self.size:
            self._live += 1
            eventlet.spawn_n(self._replace)

    def stop(self) -> None:
        """Let the idle workers go (end of input ends them); busy ones go when their check ends."""
        self._generation += 1
        while True:
            try:
                self._retire(self._idle.get_nowait())
            except Empty:
                return

    def _take(self) -> Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except Empty:
                worker = None
            if worker is not None and worker.proc.poll() is None and worker.generation == self._generation:
                return worker
            if worker is not None:
                self._retire(worker)
                continue
            if self._live < self.size:
                self._live += 1
                try:
                    return self._start()
                except BaseException:
                    self._live -= 1
                    raise
            try:
                # a worker comes back when a check ends, or a replacement when it is ready; one that failed
                # to start leaves room that the loop sees
                self._idle.put(self._idle.get(timeout=1.0))
            except Empty:
                pass

    def _start(self) -> Worker:
        """A new worker, ready (imports done), so that start-up never counts in a check's time limit."""
        cmd = [sys.executable, "-m", "services.media.worker", str(self.memory_mb)]
        # no preexec_fn, close_fds: CPython can vfork, and the worker sets its own limit (worker.py)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, close_fds=True)
        worker = Worker(proc, self._generation)
        self.started += 1
        try:
            with eventlet.Timeout(self.start_timeout_s):
                line = proc.stdout.readline()
            if json.loads(line or "{}").get("ready") != proc.pid:
                raise WorkerFailed(f"worker {proc.pid} ended while starting (exit {proc.wait()})")
        except eventlet.Timeout:
            proc.kill()
            eventlet.spawn_n(_reap, proc)
            raise WorkerFailed(f"worker {proc.pid} not ready after {self.start_timeout_s} s") from None
        except ValueError as exc:
            proc.kill()
            eventlet.spawn_n(_reap, proc)
            raise WorkerFailed(f"worker {proc.pid} said {line[:200]!r}") from exc
        return worker

    def _replace(self) -> None:
        """Start a worker in the background and make it available (its place is already counted in _live)."""
        try:
            self._idle.put(self._start())
        except Exception as exc:  # noqa: BLE001 - logged; the next check tries to start one itself
            self._live -= 1
            log.error("media-check worker not started: %s", exc)

    def _retire(self, worker: Worker, kill: bool = False) -> int | None:
        """End a worker and start its replacement; its exit code when it has ended already (or once killed)."""
        self._live -= 1
        proc, code = worker.proc, worker.proc.poll()
        if code is None and kill:
            proc.kill()
            try:
                with eventlet.Timeout(1.0):
                    code = proc.wait()  # green: polls, the loop runs meanwhile
            except eventlet.Timeout:
                pass
        elif code is None:
            _close(proc.stdin)  # end of input: the worker returns
        eventlet.spawn_n(_reap, proc)
        if worker.generation == self._generation and self._live < self.size:
            self._live += 1
            eventlet.spawn_n(self._replace)
        return code


def _close(pipe) -> None:
    try:
        pipe.close()
    except OSError:
        pass


def _reap(proc) -> None:
    """Wait for a worker that was told to end (no zombie left) and close its pipes."""
    proc.wait()
    _close(proc.stdin)
    _close(proc.stdout)


_pools: dict[tuple[int, int, int], Pool] = {}


def pool(size: int = SIZE, max_checks: int = MAX_CHECKS, memory_mb: int = 0) -> Pool:
    """The process's pool for these settings (replicas started in one test process share it)."""
    key = (size, max_checks, memory_mb)
    if key not in _pools:
        _pools[key] = Pool(size, max_checks, memory_mb)
    return _pools[key]


def stop_all() -> None:
    for p in _pools.values():
        p.stop()
