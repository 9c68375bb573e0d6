"""Posting webhook deliveries: to the checked address, within a total time limit, many at once.

Deliveries used to be sequential POSTs with a per-read timeout, so a receiver that answered one
byte per second held every university's deliveries behind it (issue #14). Now each attempt —
resolving, connecting, sending, reading the status line — has one deadline (`WEBHOOK_TIMEOUT_S`),
attempts run side by side in a green pool (`WEBHOOK_CONCURRENCY`), one receiver (host and port)
never has more than `WEBHOOK_PER_DESTINATION` of them, and one university's receivers together
never more than `WEBHOOK_PER_UNIVERSITY`.

Only the status code and a short summary in our own words are kept: the receiver's body is never
read, so the delivery log cannot be used to read an answer out of anything.
"""
from __future__ import annotations

import http.client
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import eventlet

from common import destinations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the receiver's HTTP status, None when none came
    summary: str | None = None  # why there was none, in a few words (shown in the delivery log)


def attempt(url: str, policy: destinations.Policy, resolve: destinations.Resolver, body: bytes, headers: dict,
            total_s: float) -> Outcome:
    """Check the destination again (DNS may have changed since the subscription), then POST to the
    address just checked. Never raises for anything the receiver or the network does."""
    deadline = eventlet.Timeout(total_s)
    try:
        target = destinations.check(url, policy, resolve)
        return _post(target, body, headers, total_s)
    except eventlet.Timeout as exc:
        if exc is not deadline:
            raise
        return Outcome(None, f"超时：{total_s:g} 秒内未收到接收端的响应状态")
    except destinations.Refused as exc:
        return Outcome(None, f"未投递：{exc.message}")
    finally:
        deadline.cancel()


def _post(target: destinations.Target, body: bytes, headers: dict, total_s: float) -> Outcome:
    failure = Outcome(None, "无法连接接收端（连接被拒绝或网络不可达）")
    for address in target.addresses:  # every one of them was checked; none is resolved again
        conn = _connection(target, address, total_s)
        try:
            conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", target.host_header)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            return Outcome(conn.getresponse().status)  # the status line is all we read
        except ssl.SSLCertVerificationError:
            return Outcome(None, f"TLS 证书校验失败：证书与主机名 {target.host} 不符或不受信任")
        except ssl.SSLError:
            return Outcome(None, "TLS 握手失败")
        except http.client.HTTPException:
            return Outcome(None, "接收端的响应不是有效的 HTTP")
        except (ConnectionError, socket.timeout, OSError):
            continue  # the next address of the name, if any
        finally:
            conn.close()
    return failure


def _connection(target: destinations.Target, address: str, total_s: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(address, target.port, target.host, total_s)
    return http.client.HTTPConnection(address, target.port, timeout=total_s)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a given address, with SNI and the certificate checked against the host name."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


class Flights:
    """Deliveries in flight in this process: a green pool, and counts per lane.

    Every delivery runs in two lanes, its receiver (host and port) and its university, each with a
    limit: one slow receiver holds at most `per_destination` slots, and one university's receivers,
    however many names they have, at most `per_university`; the rest of the pool serves the others.
    """

    def __init__(self, size: int, per_destination: int, per_university: int):
        self.pool = eventlet.GreenPool(max(1, size))
        self.per_destination = max(1, per_destination)
        self.per_university = max(1, per_university)
        self._count: dict[str, int] = {}
        self._ids: set[str] = set()

    def free(self) -> int:
        return self.pool.free()

    def flying(self, delivery_id: str) -> bool:
        return delivery_id in self._ids

    def lanes(self, destination: str, tenant: str) -> tuple[tuple[str, int], ...]:
        return (f"to {destination}", self.per_destination), (f"of {tenant}", self.per_university)

    def has_room(self, lanes: tuple[tuple[str, int], ...], taken: dict[str, int]) -> bool:
        """Room in every lane, counting those in flight and `taken` (claimed, about to start)."""
        return all(self._count.get(lane, 0) + taken.get(lane, 0) < limit for lane, limit in lanes)

    def start(self, delivery_id: str, lanes: tuple[tuple[str, int], ...], job: Callable[[], None]) -> None:
        self._ids.add(delivery_id)
        for lane, _ in lanes:
            self._count[lane] = self._count.get(lane, 0) + 1

        def run():
            try:
                job()
            except Exception:  # the claim's lease expires and the delivery is tried again
                log.exception("webhook delivery %s failed unexpectedly", delivery_id)
            finally:
                self._ids.discard(delivery_id)
                for lane, _ in lanes:
                    self._count[lane] -= 1
                    if not self._count[lane]:
                        del self._count[lane]

        self.pool.spawn_n(run)

    def in_flight(self) -> dict[str, int]:
        return dict(self._count)

    def stop(self) -> None:
        for thread in list(self.pool.coroutines_running):
            eventlet.greenthread.kill(thread)
