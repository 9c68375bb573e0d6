"""The event-loop lag monitor sees a loop held by blocking work, and nothing when the loop is free."""
import eventlet
from eventlet.patcher import original

from common.looplag import LoopLag

block = original("time").sleep  # the tests run monkey-patched; this one really holds the loop


def test_a_free_loop_shows_little_lag_and_a_held_loop_shows_the_hold():
    monitor = LoopLag(tick=0.01)
    assert monitor.report() == {}  # not started: /health says nothing rather than a made-up zero
    monitor.start()
    eventlet.sleep(0.2)
    free = monitor.report()["event_loop"]
    assert free["ticks"] >= 5
    block(0.3)  # as jieba or hashlib on the loop would
    eventlet.sleep(0.05)
    held = monitor.report()["event_loop"]
    assert held["max_lag_ms_last_minute"] >= 250
    assert held["max_lag_ms_since_start"] >= held["max_lag_ms_last_minute"]
    assert free["max_lag_ms_since_start"] < 250
    [stall] = [x for x in held["stalls_last_minute"] if x["lag_ms"] >= 250]
    assert 0.0 <= stall["ended_s_ago"] < 1.0  # it ended just now, not at some other time


def test_old_lags_leave_the_window():
    monitor = LoopLag(tick=0.01, window=0.2)
    monitor.start()
    eventlet.sleep(0.02)
    block(0.1)
    eventlet.sleep(0.05)
    assert monitor.report()["event_loop"]["max_lag_ms_last_minute"] >= 80
    eventlet.sleep(0.4)
    report = monitor.report()["event_loop"]
    assert report["max_lag_ms_last_minute"] < 80 <= report["max_lag_ms_since_start"]
