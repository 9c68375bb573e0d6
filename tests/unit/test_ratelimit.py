"""The sliding-window rate limiter (common/ratelimit.py), on a fake clock."""
import pytest

from common.errors import TooManyRequests
from common.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_at_most_limit_events_per_window_per_key():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.hit("a")
    assert limiter.retry_after("a") == pytest.approx(60)
    assert limiter.retry_after("b") is None  # another key is not affected
    clock.now += 59.5
    assert limiter.retry_after("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.retry_after("a") is None  # the oldest event left the window


def test_check_raises_429_with_a_chinese_message_and_retry_after():
    clock = Clock()
    limiter = RateLimiter(2, 300, clock=clock)
    limiter.hit("1.2.3.4")
    clock.now += 10
    limiter.hit("1.2.3.4")
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("1.2.3.4", "登录失败")
    exc = caught.value
    assert exc.status == 429 and exc.code == "too_many_requests" and exc.retry_after_s == 290
    assert "登录失败过于频繁" in exc.message and "5 分钟内最多 2 次" in exc.message and "290 秒后再试" in exc.message


def test_memory_stays_bounded_by_forgetting_the_longest_idle_key():
    limiter = RateLimiter(1, 60, clock=Clock(), max_keys=100)
    for n in range(1000):
        limiter.hit(f"client-{n}")
    assert len(limiter._events) <= 101
    assert limiter.retry_after("client-999") is not None and limiter.retry_after("client-0") is None


def test_failed_sign_ins_count_per_key_prefix_and_loosely_per_address():
    from common.ratelimit import RateLimits

    limits = RateLimits({"RATE_FAILED_SIGN_INS": 2, "RATE_FAILED_SIGN_INS_PER_ADDRESS": 4})
    for _ in range(2):
        limits.sign_in_failed("10.0.0.1", "key:sk_seu_abc")
    assert limits.sign_in_wait("10.0.0.1", "key:sk_seu_abc") is not None  # that prefix waits, from anywhere
    assert limits.sign_in_wait("10.9.9.9", "key:sk_seu_abc") is not None
    assert limits.sign_in_wait("10.0.0.1", "key:sk_wust_ab") is None  # the campus NAT: others carry on
    for n in range(2):
        limits.sign_in_failed("10.0.0.1", f"key:typo{n}")
    assert limits.sign_in_wait("10.0.0.1", "key:sk_wust_ab") is not None  # the address reached its own limit
    assert limits.sign_in_wait("10.0.0.2", "key:sk_wust_ab") is None
