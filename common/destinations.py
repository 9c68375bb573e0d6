"""Where the platform may call out to, when someone else chose the address: public addresses only,
checked when the address is given and again before every call (DNS can change between the two), and
the call connects to the address that was checked, never to a name resolved a second time.

Two kinds of address come from outside: a portal's webhook receiver (notify) and a university's
identity provider with every endpoint its discovery document names (intake's single sign-on). Either
used to be a way into the platform's own network (issue #14 for webhooks: loopback, private and
link-local addresses, internal ports, `user:pass@` URLs, and the delivery log showed what the internal
service answered; issue #15 for single sign-on: an issuer, or a JWKS or token endpoint, at
169.254.169.254). A `Purpose` names the address in messages and codes; what is let through although
not public comes from that purpose's setting (`WEBHOOK_ALLOW_HOSTS`, `SSO_ALLOW_HOSTS`: host names,
addresses, networks), for receivers and providers on premises and the tests' loopback servers.

Pure apart from name resolution, which is passed in (`Resolver`). `common/outbound.py` makes HTTP calls
that go only where this module allows.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.errors import Unprocessable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Where public receivers listen. Any other port of a public host is refused: the platform is not a
# port scanner for hire. An allow-listed host may use any port.
PUBLIC_PORTS = (80, 443, 8080, 8443)
EXPECTED = "公网上的 http(s):// 地址，端口为 80、443、8080 或 8443，不含用户名和密码"


@dataclass(frozen=True)
class Purpose:
    """What the checked address is for: how messages name it, the prefix of refusal codes, the setting
    that lets non-public hosts through, and what to do instead of putting `user:pass@` in it."""

    noun: str
    code_prefix: str
    allow_setting: str
    field: str = "url"
    instead_of_userinfo: str = ""


WEBHOOK = Purpose("回调地址", "webhook", "WEBHOOK_ALLOW_HOSTS",
                  instead_of_userinfo="用签名头 X-Siyige-Signature 验证请求来自平台。")
SSO = Purpose("身份提供方地址", "sso", "SSO_ALLOW_HOSTS", field="issuer",
              instead_of_userinfo="客户端密钥请填在 client_secret 中。")
# Blocks `ipaddress` counts as global that no receiver lives in: IPv4-compatible IPv6 (the kernel may
# treat ::a.b.c.d as a.b.c.d), the local-use NAT64 prefix, the discard prefix, deprecated site-local.
_NOT_RECEIVERS = tuple(ipaddress.ip_network(n) for n in ("::/96", "64:ff9b:1::/48", "100::/64", "fec0::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A last label of digits (or 0x...) is an IPv4 address in some spelling: 2130706433, 0177.0.0.1, 127.1,
# 0x7f.1. The system resolver reads them all as 127.0.0.1; only the dotted-quad spelling is accepted.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")

Resolver = Callable[[str, int], list[str]]


class Refused(Unprocessable):
    """A destination the platform will not call; the message says what was expected and what to do."""

    def __init__(self, code: str, message: str, found: str, purpose: Purpose = WEBHOOK):
        super().__init__(message, code=code, field=purpose.field, expected=EXPECTED, found=found)


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to one of `addresses` (every one was checked), send `host_header`."""

    scheme: str
    host: str  # ASCII (IDNA) form: what TLS checks the certificate against
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Policy:
    """What is let through although not public (the purpose's setting, e.g. `WEBHOOK_ALLOW_HOSTS`),
    comma-separated host names (exact, any port, any address they resolve to), addresses and networks (CIDR)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    purpose: Purpose = WEBHOOK

    @classmethod
    def from_setting(cls, text: str | None, purpose: Purpose = WEBHOOK) -> Policy:
        hosts, networks = set(), []
        for item in (text or "").split(","):
            item = item.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), purpose)

    def allows_address(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public Internet; an IPv6 address that carries an IPv4 one
    (mapped ::ffff:a.b.c.d, 6to4, Teredo, NAT64) is judged by the IPv4 address too."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None,
                 ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None]
        if any(v4 is not None and not is_public(v4) for v4 in inner):
            return False
        if any(ip in n for n in _NOT_RECEIVERS):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_private or ip.is_reserved or ip.is_loopback
                                 or ip.is_link_local or ip.is_unspecified)


@dataclass(frozen=True)
class _Url:
    scheme: str
    host: str
    port: int
    path: str
    literal: IPAddress | None


def _parse(url: str, purpose: Purpose) -> _Url:
    shown, noun = str(url)[:200], purpose.noun

    def refused(code: str, message: str) -> Refused:
        return Refused(code, message, shown, purpose)

    if not isinstance(url, str) or _UNSAFE_URL_CHARS.search(url):
        raise refused("invalid_url", f"{noun}中不能有空格、控制字符或反斜杠。请填写完整、规范的 http(s):// 地址。")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused("invalid_url", f"{noun}“{shown}”无法解析（端口或方括号中的 IPv6 地址有误）。"
                                     "请填写完整、规范的 http(s):// 地址。") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise refused("invalid_url", f"{noun}应为 http(s):// 开头的完整地址，实际为“{shown}”。")
    if "@" in parts.netloc:
        raise refused(f"{purpose.code_prefix}_userinfo_refused", f"{noun}中不能包含用户名或密码（user:pass@）：它们会出现在"
                      f"日志中，也会被用来绕过地址检查。请去掉“…@”部分，{purpose.instead_of_userinfo}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise refused("invalid_url", f"{noun}“{shown}”中没有主机名。")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None:
        if ":" in host or "%" in host:
            raise refused("invalid_url", f"主机“{host}”既不是域名也不是有效的 IP 地址。")
        if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            raise refused(f"{purpose.code_prefix}_ip_form_refused",
                          f"主机“{host}”是非标准写法的 IP 地址（十进制整数、八进制、十六进制或省略的点分形式）。"
                          "请使用域名，或点分十进制的 IPv4 地址。")
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise refused("invalid_url", f"主机名“{host}”不是有效的域名。") from None
    return _Url(scheme=scheme, host=host if literal is None else str(literal), literal=literal,
                port=port or (443 if scheme == "https" else 80), path=(parts.path or "/") + (
                    f"?{parts.query}" if parts.query else ""))


def check(url: str, policy: Policy, resolve: Resolver) -> Target:
    """The destination `url` names, with every address it resolves to checked; Refused otherwise."""
    purpose = policy.purpose
    parsed = _parse(url, purpose)
    shown, noun, prefix = url[:200], purpose.noun, purpose.code_prefix
    if parsed.literal is not None:
        addresses = [parsed.literal]
    else:
        try:
            found = resolve(parsed.host, parsed.port)
        except (OSError, UnicodeError, ValueError):
            found = []
        addresses = _addresses(found)
        if not addresses:
            raise Refused(f"{prefix}_host_unresolved", f"主机名“{parsed.host}”无法解析为 IP 地址。"
                          "请检查域名是否正确、是否已在公网 DNS 中登记。", shown, purpose)
    host_allowed = parsed.host in policy.hosts
    for ip in addresses:
        if not (host_allowed or is_public(ip) or policy.allows_address(ip)):
            # What a name resolves to is not repeated: that would read the platform's internal DNS out
            # to whoever gives internal names.
            where = f"{ip}：{_kind(ip)}" if parsed.literal is not None else f"主机名“{parsed.host}”解析到非公网地址"
            raise Refused(f"{prefix}_destination_not_public",
                          f"{noun}指向非公网地址（{where}）。平台只访问公网地址；"
                          f"校内地址请联系平台运维加入 {purpose.allow_setting}。", shown, purpose)
    on_allow_list = host_allowed or all(policy.allows_address(ip) for ip in addresses)
    if parsed.port not in PUBLIC_PORTS and not on_allow_list:
        raise Refused(f"{prefix}_port_refused", f"{noun}的端口 {parsed.port} 不在允许之列（80、443、8080、8443）。"
                      "请使用这些端口之一。", shown, purpose)
    return Target(scheme=parsed.scheme, host=parsed.host, port=parsed.port, path=parsed.path,
                  addresses=tuple(str(ip) for ip in addresses))


def destination_key(url: str) -> str:
    """The receiver a URL names (host and port, nothing resolved), for the limit of deliveries in flight."""
    try:
        parsed = _parse(url, WEBHOOK)
    except Refused:
        return "invalid"
    return f"{parsed.host}:{parsed.port}"


def _addresses(found: Iterable[str]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for text in found:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue  # not an address: never connected to
        if ip not in out:
            out.append(ip)
    return out


def _kind(ip: IPAddress) -> str:
    if ip.is_loopback or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback):
        return "本机回环地址"
    if ip.is_unspecified:
        return "未指定地址"
    if ip.is_link_local:
        return "链路本地地址"
    if ip.is_multicast:
        return "组播地址"
    if ip.is_private:
        return "内网或保留地址"
    return "非公网地址"


# --------------------------------------------------------------------------- resolvers


def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (eventlet's green one in the service): every address of the name."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def dns_resolver(server: str) -> Resolver:
    """Ask one DNS server (`host[:port]`) for A and AAAA records, not the system: a resolver that
    does not see the internal zones keeps internal names from resolving at all (`WEBHOOK_DNS`)."""
    import dns.exception
    import dns.resolver

    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host or server]
    resolver.port = int(port) if port else 53
    resolver.lifetime = 5.0

    def resolve(name: str, _port: int) -> list[str]:
        found = []
        for rdtype in ("A", "AAAA"):
            try:
                found += [r.address for r in resolver.resolve(name, rdtype, search=False)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
                    dns.exception.Timeout):
                continue
        return found

    return resolve


def resolver_from_setting(server: str | None) -> Resolver:
    return dns_resolver(server) if server else system_resolver
