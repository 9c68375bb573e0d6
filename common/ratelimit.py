"""Rate limits: sign-in attempts that fail, API calls with a bad key, upload registrations.

A sliding window per key (a client address, a university): at most `limit` events
in the last `window_s` seconds. Counts live in the process, so with N replicas
behind a balancer a client gets up to N times the limit; that still turns guessing
a key from millions of tries a minute into a handful, which is what these are for.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from common.errors import TooManyRequests
from common.http import TrustedProxies, client_address


class RateLimiter:
    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            if len(self._events) > self.max_keys:  # forget the longest-idle key, so memory stays bounded
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        cutoff = self.clock() - self.window_s
        while events and events[0] <= cutoff:
            events.popleft()
        return events

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may act again, or None if it may now."""
        events = self._recent(key)
        if len(events) < self.limit:
            return None
        return events[0] + self.window_s - self.clock()

    def hit(self, key: str) -> None:
        self._recent(key).append(self.clock())

    def check(self, key: str, what: str) -> None:
        """Raise TooManyRequests (429) when `key` is at its limit; `what` names the action, in Chinese."""
        wait = self.retry_after(key)
        if wait is not None:
            raise TooManyRequests(
                f"{what}过于频繁：{self._window_text()}内最多 {self.limit} 次。请 {max(1, round(wait))} 秒后再试。",
                retry_after_s=wait, expected=f"≤ {self.limit} / {self._window_text()}", found=len(self._recent(key)))

    def _window_text(self) -> str:
        return f"{self.window_s / 60:g} 分钟" if self.window_s >= 60 else f"{self.window_s:g} 秒"


class RateLimits:
    """The platform's limits, from the service config (names and defaults below)."""

    def __init__(self, config: dict):
        def limiter(name: str, limit: int, window_s: float) -> RateLimiter:
            return RateLimiter(int(config.get(f"RATE_{name}", limit)), window_s)

        self.trusted_proxies = TrustedProxies(str(config.get("TRUSTED_PROXIES", "")))
        self.failed_sign_ins = limiter("FAILED_SIGN_INS", 10, 300)  # per client address, per 5 minutes
        self.bad_keys = limiter("BAD_KEYS", 30, 300)  # API calls with a wrong key, per client address
        self.uploads = limiter("UPLOADS", 120, 60)  # file registrations per university, per minute

    def client_of(self, request) -> str:
        """The address the per-client limits count (the client behind a trusted proxy)."""
        return client_address(request, self.trusted_proxies)
