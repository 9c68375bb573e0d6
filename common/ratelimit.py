"""Rate limits: sign-in attempts that fail, API calls with a bad key, upload registrations.

A sliding window per key (a client address, a university, a key prefix): at most `limit`
events in the last `window_s` seconds. Counts live in the process, so with N replicas
behind a balancer a client gets up to N times the limit; that still turns guessing
a key from millions of tries a minute into a handful, which is what these are for.

Failed sign-ins are counted twice: per key prefix or sign-in link, tightly, and per client
address, loosely. A whole campus signs in through one NAT address: ten typing mistakes
there must not lock everyone out, while one key or link being guessed is stopped soon.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from common.errors import DomainError, TooManyRequests
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
        self.failed_sign_ins = limiter("FAILED_SIGN_INS", 10, 300)  # per key prefix or sign-in link, per 5 minutes
        self.failed_sign_ins_per_address = limiter("FAILED_SIGN_INS_PER_ADDRESS", 100, 300)  # per client address
        self.bad_keys = limiter("BAD_KEYS", 30, 300)  # API calls with a wrong key, per client address
        self.uploads = limiter("UPLOADS", 120, 60)  # file registrations per university, per minute
        # e-mailed links (sign in, password reset) per e-mail address, per 15 minutes: a stranger cannot
        # flood someone's mailbox through our form
        self.link_requests = limiter("LINK_REQUESTS", 3, 900)

    def client_of(self, request) -> str:
        """The address the per-client limits count (the client behind a trusted proxy)."""
        return client_address(request, self.trusted_proxies)

    def sign_in_wait(self, client: str, subject: str) -> float | None:
        """Seconds until a sign-in from `client` with `subject` (a key prefix, a link) may be tried, or None.

        A locked key prefix waits with the right key too: answering it would tell a guesser which is right.
        """
        waits = [w for w in (self.failed_sign_ins_per_address.retry_after(client),
                             self.failed_sign_ins.retry_after(subject)) if w is not None]
        return max(waits) if waits else None

    def sign_in_failed(self, client: str, subject: str) -> None:
        self.failed_sign_ins_per_address.hit(client)
        self.failed_sign_ins.hit(subject)

    def key_checked(self, request, authenticate):
        """`authenticate()` unless this client sent too many wrong keys lately (429); a 401 it raises counts."""
        client = self.client_of(request)
        self.bad_keys.check(client, "使用无效密钥访问")
        try:
            return authenticate()
        except DomainError as exc:
            if exc.status == 401:
                self.bad_keys.hit(client)
            raise
