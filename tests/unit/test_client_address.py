"""Which address the per-client rate limits count, with and without a reverse proxy in front."""
from werkzeug.test import EnvironBuilder

from common.http import TrustedProxies, client_address
from common.ratelimit import RateLimits


def request(peer: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return EnvironBuilder(path="/", headers=headers, environ_base={"REMOTE_ADDR": peer}).get_request()


def test_without_a_trusted_proxy_the_peer_counts_whatever_the_header_says():
    assert client_address(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_address_it_saw_counts():
    proxies = TrustedProxies("172.28.0.0/16")
    assert client_address(request("172.28.0.5", "203.0.113.9"), proxies) == "203.0.113.9"
    # A client cannot pick its own bucket: what it wrote itself is left of what the proxy appended.
    assert client_address(request("172.28.0.5", "1.2.3.4, 203.0.113.9"), proxies) == "203.0.113.9"
    # Two proxies of ours in a row: the first address neither of them is.
    assert client_address(request("172.28.0.5", "203.0.113.9, 172.28.0.7"), proxies) == "203.0.113.9"
    # A trusted proxy that sent no header: the proxy itself, rather than nothing.
    assert client_address(request("172.28.0.5"), proxies) == "172.28.0.5"


def test_a_proxy_named_by_host_name_is_trusted_at_the_addresses_the_name_has():
    proxies = TrustedProxies("localhost")
    assert client_address(request("127.0.0.1", "203.0.113.9"), proxies) == "203.0.113.9"
    assert client_address(request("10.9.9.9", "203.0.113.9"), proxies) == "10.9.9.9"
    assert "not-an-address" not in proxies


def test_the_limits_count_clients_behind_the_proxy_apart():
    limits = RateLimits({"TRUSTED_PROXIES": "127.0.0.1", "RATE_FAILED_SIGN_INS": "2"})
    for _ in range(2):
        limits.failed_sign_ins.hit(limits.client_of(request("127.0.0.1", "203.0.113.9")))
    assert limits.failed_sign_ins.retry_after(limits.client_of(request("127.0.0.1", "203.0.113.9"))) is not None
    # Another client through the same proxy is not locked out by the first one's failures.
    assert limits.failed_sign_ins.retry_after(limits.client_of(request("127.0.0.1", "198.51.100.7"))) is None
