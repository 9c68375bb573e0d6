"""CPU time of a process tree, from /proc: what a service costs, its worker children included.

A process's own time is utime + stime (fields 14 and 15 of /proc/<pid>/stat, every thread's, in clock
ticks); what its children spent is either in their own stat while they live or, once they have exited
and been waited for, in the parent's cutime + cstime (fields 16 and 17). So the tree's time is the sum
of all four over every live process from the root down (found by walking /proc/*/stat for ppid): each
tick is counted once, whether its process still runs or was reaped. (A child that exits between the
scan of /proc and its parent's read can be missed: a few ticks, nothing more.)
"""
from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def read_stat(pid: int | str, proc: Path = Path("/proc")) -> tuple[int, int, int] | None:
    """(ppid, own ticks, reaped children's ticks) of one process, or None if it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    fields = raw[raw.rindex(b")") + 2:].split()  # fields[0] is field 3, the state
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return int(fields[1]), utime + stime, cutime + cstime


def trees_cpu_seconds(roots: list[int], proc: Path = Path("/proc")) -> dict[int, float]:
    """CPU-seconds of each root's process tree (itself, its live descendants, the children they reaped),
    from one scan of /proc. A root that is gone raises ProcessLookupError: no figure is made up."""
    stats = {}
    for entry in os.listdir(proc):
        if entry.isdigit() and (s := read_stat(entry, proc)) is not None:
            stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for root in roots:
        if root not in stats:
            raise ProcessLookupError(root)
        ticks, todo = 0, [root]
        while todo:
            pid = todo.pop()
            _, own, reaped = stats[pid]
            ticks += own + reaped
            todo.extend(children.get(pid, ()))
        out[root] = ticks / TICK
    return out


def tree_cpu_seconds(root: int, proc: Path = Path("/proc")) -> float:
    return trees_cpu_seconds([root], proc)[root]
