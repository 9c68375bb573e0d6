"""The pipeline bench's CPU per work: a process tree's CPU from /proc counts its children, live or reaped."""
import os
import subprocess
import sys

import pytest

from tests.bench.proccpu import read_stat, tree_cpu_seconds, trees_cpu_seconds

BUSY = """
import sys, time
end = time.process_time() + 0.6
while time.process_time() < end:
    pass
print(time.process_time(), flush=True)
sys.stdin.readline()
"""


def test_a_busy_child_is_counted_while_it_lives_and_after_it_is_reaped():
    me = os.getpid()
    before_tree, (_, before_own, _) = tree_cpu_seconds(me), read_stat(me)
    child = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    burned = float(child.stdout.readline())  # the child's own CPU, busy-looped, and it now waits
    live = tree_cpu_seconds(me)
    assert trees_cpu_seconds([child.pid])[child.pid] >= burned - 0.05
    child.stdin.write("\n")
    child.stdin.close()
    child.wait()
    reaped = tree_cpu_seconds(me)
    own = (read_stat(me)[1] - before_own) / os.sysconf("SC_CLK_TCK")
    assert own < 0.3  # the test process itself mostly waited: what follows is the child's
    assert live - before_tree >= burned - 0.05  # a live child: its own stat, found by ppid
    assert reaped - before_tree >= burned - 0.05  # reaped: in our cutime + cstime
    assert reaped >= live - 0.02  # nothing is lost (or counted twice) when it is reaped
    assert reaped - before_tree < burned + own + 0.3


def test_a_process_that_is_gone_is_an_error_not_a_zero():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert read_stat(child.pid) is None
    with pytest.raises(ProcessLookupError):
        tree_cpu_seconds(child.pid)


def test_a_command_name_with_spaces_and_parentheses_is_parsed(tmp_path):
    (tmp_path / "7").mkdir()
    fields = ["S", "1"] + ["0"] * 9 + ["30", "12", "5", "3"] + ["0"] * 10
    (tmp_path / "7" / "stat").write_text("7 (odd ) name) " + " ".join(fields) + "\n")
    assert read_stat(7, tmp_path) == (1, 42, 8)
