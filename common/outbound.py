"""HTTP calls to addresses someone else chose, made only where `common.destinations` allows.

`guarded_session(policy, resolve)` is a `requests.Session` whose every request, and every redirect
hop of it, is checked first (`destinations.check`: public addresses only, unless the purpose's
allow-list names them) and then connects to the address that was checked, never to the name
resolved a second time: a name that answers a public address to the check and 127.0.0.1 to the
connection (DNS rebinding) reaches nothing. TLS still checks the certificate against the name (SNI
and host name come from the URL). Proxies from the environment are ignored: the check would be of
the destination, the connection to the proxy. The CA bundle named by REQUESTS_CA_BUNDLE (or
CURL_CA_BUNDLE) is still used, as requests would, for a site whose TLS is inspected by its own CA.

A refused destination raises `destinations.Refused` out of the request (not a `RequestException`):
the caller turns it into its own message.
"""
from __future__ import annotations

import os

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from common import destinations

MAX_REDIRECTS = 3  # a provider's documents do not wander; each hop is checked anyway


def _pinned(connection_cls, address: str):
    """The pool's connection class, connecting to `address` whatever the host name (used for TLS and Host)."""

    class Pinned(connection_cls):
        def _new_conn(self):
            # urllib3 connects to `_dns_host`, which is also what `host` (TLS's name, the Host header) reads:
            # swapped for the socket's creation only
            name, self._dns_host = self._dns_host, address
            try:
                return super()._new_conn()
            finally:
                self._dns_host = name

    return Pinned


class _CheckedAdapter(HTTPAdapter):
    def __init__(self, policy: destinations.Policy, resolve: destinations.Resolver):
        super().__init__(max_retries=0)
        self._policy, self._resolve = policy, resolve

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        target = destinations.check(request.url, self._policy, self._resolve)
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        # A pool of its own per request: a pooled connection to another address must never be reused for it.
        pool_cls = HTTPSConnectionPool if target.scheme == "https" else HTTPConnectionPool
        pool = pool_cls(target.host, target.port, maxsize=1, **(pool_kwargs if target.scheme == "https" else {}))
        pool.ConnectionCls = _pinned(pool.ConnectionCls, target.addresses[0])
        return pool


def guarded_session(policy: destinations.Policy, resolve: destinations.Resolver,
                    session: requests.Session | None = None) -> requests.Session:
    """`session` (a new one if None; an Authlib OAuth2Session is one) calling only checked destinations."""
    session = session if session is not None else requests.Session()
    session.trust_env = False  # no proxies from the environment …
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True  # … but its CAs
    session.max_redirects = MAX_REDIRECTS
    adapter = _CheckedAdapter(policy, resolve)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Outbound:
    """Where one purpose's calls may go (the policy and the resolver), from the service's settings."""

    def __init__(self, purpose: destinations.Purpose, allow_hosts: str | None, dns_server: str | None = None):
        self.policy = destinations.Policy.from_setting(allow_hosts, purpose)
        self.resolve = destinations.resolver_from_setting(dns_server)

    def check(self, url: str) -> destinations.Target:
        return destinations.check(url, self.policy, self.resolve)

    def session(self, session: requests.Session | None = None) -> requests.Session:
        return guarded_session(self.policy, self.resolve, session)
