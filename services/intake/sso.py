"""OpenID Connect single sign-on (统一身份认证): a tenant's own identity provider signs its staff in (issue #15).

A tenant (a university) configures its provider once: the issuer, the client id and secret it was
given there, which claim carries the e-mail (or the staff number) its accounts are found by, and
which claims give which grants. Signing in is the authorization code flow with PKCE (S256):

    url, state, nonce, verifier = begin(settings, redirect_uri)     # keep the three in the visitor's session
    ... the browser goes to `url`, signs in at the provider, comes back to redirect_uri?code=...&state=...
    claims = finish(settings, redirect_uri, request.args, state, nonce, verifier)
    identity = claims_to_identity(settings, claims)                  # the account to find
    grants = claims_to_grants(settings, claims)                      # what the provider's claims give

The ID token is checked here, not trusted: its signature against the provider's published keys
(JWKS), and its issuer, audience, expiry and nonce. Every failure is a `SsoError` with a stable code
and a Chinese message saying what was expected, what was found and what to do.

The HTTP calls block (requests): the service calls `begin` and `finish` in a thread. They go only to
public addresses (`outbound`: `common.outbound.Outbound` with `destinations.SSO`; `SSO_ALLOW_HOSTS` lets
a provider on premises through): the issuer, and every endpoint its discovery document names, are
someone else's choice, and a provider that names 169.254.169.254 as its JWKS must not make the
platform read its own network. Nothing here imports the framework; the provider's metadata and keys
are kept in this process for an hour.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from common import destinations
from common.errors import DomainError
from common.outbound import Outbound
from common.text import single_line_problem
from services.intake.domain.people import GrantRequest, OrgFact, Problem, email_problem, grant_problems, normalise_email

# (connect, read) seconds of one request; a provider slower than this is treated as down, since a
# person is waiting on the sign-in page. `TOTAL_TIMEOUT_S` bounds a reply that trickles in.
HTTP_TIMEOUT_S = (5.0, 10.0)
TOTAL_TIMEOUT_S = 20.0
METADATA_TTL_S = 3600.0  # providers rotate keys with overlap; an unknown key id fetches the keys again at once
MAX_DOCUMENT_BYTES = 512 * 1024  # a discovery document or a key set is a few kilobytes
CLOCK_LEEWAY_S = 60  # the provider's clock and ours may differ a little
# Asymmetric only: a token signed with the client secret (HS256) would be one we could have made ourselves.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MATCH_BY = ("email", "staff_no")
# Errors the provider sends back when the person cancelled or may not sign in (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1)
DENIED_ERRORS = ("access_denied", "login_required", "interaction_required", "consent_required",
                 "account_selection_required")
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,200}")  # plain names and URIs (urn:oid:0.9.2342.19200300.100.1.3)
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}")  # RFC 6749 3.3
MAX_URL_LENGTH = 2000
MAX_STAFF_NO_LENGTH = 64


# --------------------------------------------------------------------------- errors


class SsoError(DomainError):
    """Signing in through the tenant's identity provider failed."""

    status = 502
    code = "sso_failed"


class SsoSettingsInvalid(SsoError):
    status = 400
    code = "sso_settings_invalid"


class SsoProviderUnreachable(SsoError):
    status = 502
    code = "sso_provider_unreachable"


class SsoIssuerMismatch(SsoError):
    status = 502
    code = "sso_issuer_mismatch"


class SsoStateMismatch(SsoError):
    status = 400
    code = "sso_state_mismatch"


class SsoDenied(SsoError):
    status = 403
    code = "sso_denied"


class SsoProviderError(SsoError):
    status = 502
    code = "sso_provider_error"


class SsoTokenInvalid(SsoError):
    status = 401
    code = "sso_token_invalid"


class SsoNoEmail(SsoError):
    status = 422
    code = "sso_no_email"


class SsoEmailUnverified(SsoError):
    status = 422
    code = "sso_email_unverified"


class SsoDestinationRefused(SsoError):
    """The issuer, or an endpoint the provider's document names, is not an address the platform calls."""

    status = 502


class SsoNoStaffNo(SsoError):
    status = 422
    code = "sso_no_staff_no"


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class GrantRule:
    """People whose claim `claim` is `value` (or a list holding it) get the grant (role, department, org).

    For example claim "eduPersonAffiliation", value "faculty", role "viewer"; the grant is checked by the
    same rules as a grant given by hand (`people.grant_problems`).
    """

    claim: str
    value: str
    role: str
    department: str | None = None
    org_id: str | None = None

    def grant(self) -> GrantRequest:
        return GrantRequest(role=self.role, department=self.department, org_id=self.org_id)


@dataclass(frozen=True)
class OidcSettings:
    """One tenant's OpenID Connect provider. `match_by`: find accounts by "email" or by "staff_no"."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)  # repr: a logged settings object must not carry the secret
    email_claim: str = "email"
    staff_no_claim: str | None = None
    match_by: str = "email"
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    grant_rules: tuple[GrantRule, ...] = ()


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: the account is found by `value` (`by` is "email" or "staff_no")."""

    by: str
    value: str
    issuer: str
    subject: str  # the provider's `sub`: stable for the person at that provider
    email: str | None = None
    staff_no: str | None = None
    name: str | None = None


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, field_name: str, label: str, example: str) -> Problem | None:
    """An https URL (http only on this machine's loopback, for tests), with a host, no query, fragment or password."""
    line = single_line_problem(url or "", label)
    if line is not None:
        return Problem(line.code, field_name, line.expected, line.found, line.message)
    if not url:
        return Problem("missing_url", field_name, example, url, f"{label}不能为空。请填写身份提供方提供的地址，如 {example}。")
    if len(url) > MAX_URL_LENGTH:
        return Problem("url_too_long", field_name, f"不超过 {MAX_URL_LENGTH} 个字符", len(url),
                       f"{label}有 {len(url)} 个字符，超过 {MAX_URL_LENGTH} 个字符的上限。请核对是否误粘贴了多余内容。")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or " " in url:
        return Problem("invalid_url", field_name, example, url,
                       f"{label}应为完整的网址，如 {example}；实际填写的是“{url}”。请从身份提供方的配置说明中复制。")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return Problem("url_not_https", field_name, example, url,
                       f"{label}须以 https:// 开头（客户端密钥和身份信息不能以明文传送），实际填写的是“{url}”。"
                       "请改用身份提供方的 https 地址。")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return Problem("url_has_extras", field_name, example, url,
                       f"{label}不应包含用户名、密码、“?”后的参数或“#”后的片段，实际填写的是“{url}”。"
                       f"请只填写地址本身，如 {example}。")
    return None


def _text_problem(value: str, field_name: str, label: str, what: str, limit: int) -> Problem | None:
    line = single_line_problem(value or "", label)
    if line is not None:
        return Problem(line.code, field_name, line.expected, line.found, line.message)
    if not (value or "").strip():
        return Problem(f"missing_{field_name}", field_name, what, value, f"{label}不能为空。请填写{what}。")
    if value != value.strip() or len(value) > limit:
        return Problem(f"invalid_{field_name}", field_name, f"{what}，不超过 {limit} 个字符，首尾无空格", value[:300],
                       f"{label}应为{what}，不超过 {limit} 个字符且首尾没有空格；实际填写的是“{value[:100]}”。"
                       "请从身份提供方的管理界面重新复制。")
    return None


def _claim_problem(claim: str | None, field_name: str, label: str) -> Problem | None:
    if claim is not None and _CLAIM_NAME.fullmatch(claim):
        return None
    return Problem("invalid_claim_name", field_name, "声明（claim）名称，如 email、staff_no", claim,
                   f"{label}应为身份提供方发出的声明（claim）名称，只含字母、数字和 _ . : / -，如 email 或 staff_no；"
                   f"实际填写的是“{claim or ''}”。请向身份提供方管理员确认声明名称后填写。")


def _scope_problems(scopes: Iterable[str]) -> list[Problem]:
    scopes = list(scopes)
    bad = [s for s in scopes if not isinstance(s, str) or not _SCOPE_TOKEN.fullmatch(s)]
    problems = [Problem("invalid_scope", "scopes", "不含空格和引号的范围名称，如 openid、email、profile", bad,
                        f"范围（scope）{'、'.join(f'“{s}”' for s in map(str, bad))}不合规范：每个范围是一个不含空格、"
                        "引号和反斜杠的词。请逐个填写，如 openid、email、profile。")] if bad else []
    if "openid" not in scopes:
        problems.append(Problem("scope_openid_missing", "scopes", "包含 openid", scopes,
                                f"范围（scope）中须有 openid，否则身份提供方不会发出身份令牌；实际为 {' '.join(scopes) or '空'}。"
                                "请加上 openid。"))
    if len(set(scopes)) != len(scopes) or len(scopes) > 20:
        problems.append(Problem("scopes_repeated", "scopes", "不重复，最多 20 个", scopes,
                                "范围（scope）有重复或超过 20 个。请去掉重复的范围。"))
    return problems


def connection_problems(settings: OidcSettings) -> list[Problem]:
    """Every problem of the settings `begin` and `finish` use (everything but the grant rules)."""
    problems = [
        url_problem(settings.issuer, "issuer", "发行方（issuer）", "https://idp.seu.edu.cn/oidc"),
        _text_problem(settings.client_id, "client_id", "客户端标识（client_id）",
                      "在身份提供方登记本平台时得到的客户端标识", 255),
        _text_problem(settings.client_secret, "client_secret", "客户端密钥（client_secret）",
                      "在身份提供方登记本平台时得到的客户端密钥", 1000),
        _claim_problem(settings.email_claim, "email_claim", "邮箱声明"),
    ]
    if settings.staff_no_claim is not None:
        problems.append(_claim_problem(settings.staff_no_claim, "staff_no_claim", "工号声明"))
    if settings.match_by not in MATCH_BY:
        problems.append(Problem("invalid_match_by", "match_by", list(MATCH_BY), settings.match_by,
                                "账号匹配方式应为 email（按邮箱）或 staff_no（按工号），"
                                f"实际为“{settings.match_by}”。请选择其一。"))
    elif settings.match_by == "staff_no" and not settings.staff_no_claim:
        problems.append(Problem("staff_no_claim_required", "staff_no_claim", "工号声明名称，如 staff_no", None,
                                "按工号匹配账号时须填写工号声明（身份提供方用哪个 claim 发出工号）。"
                                "请填写工号声明，或改为按邮箱匹配。"))
    problems += _scope_problems(settings.scopes)
    return [p for p in problems if p is not None]


def settings_problems(settings: OidcSettings, *, tenant_kind: str = "university", tenant_name: str = "本单位",
                      orgs: Mapping[str, OrgFact] | None = None) -> list[Problem]:
    """Every problem of a tenant's settings, grant rules included (`orgs`: the tenant's orgs the rules name, by id)."""
    problems = connection_problems(settings)
    orgs = orgs or {}
    for i, rule in enumerate(settings.grant_rules):
        where = f"grant_rules[{i}]"
        if (claim := _claim_problem(rule.claim, f"{where}.claim", f"第 {i + 1} 条授权规则的声明")) is not None:
            problems.append(claim)
        if not isinstance(rule.value, str) or not rule.value.strip() or single_line_problem(rule.value, "值"):
            problems.append(Problem("invalid_rule_value", f"{where}.value", "声明的取值，如 faculty", rule.value,
                                    f"第 {i + 1} 条授权规则的取值应为一行非空文字（声明等于该值或包含该值时授权），"
                                    f"实际为“{rule.value}”。请填写取值。"))
        problems += grant_problems(rule.grant(), tenant_kind, tenant_name, orgs.get(rule.org_id or ""),
                                   field=f"{where}")
    return problems


def require_connection_settings(settings: OidcSettings) -> None:
    problems = connection_problems(settings)
    if problems:
        raise SsoSettingsInvalid(
            f"本单位的统一身份认证配置有 {len(problems)} 处问题：{problems[0].message}"
            "请单位管理员在“统一身份认证”设置中改正后再试。",
            details=[p.as_detail() for p in problems])


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class ProviderMetadata:
    """What a provider publishes at /.well-known/openid-configuration, and its keys (JWKS)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]
    iss_parameter: bool  # RFC 9207: the provider names itself in every redirect back to us
    keys: KeySet
    fetched_at: float


# Keyed by issuer. A plain dict without a lock: a race only fetches the same document twice.
_providers: dict[str, ProviderMetadata] = {}


def forget_providers() -> None:
    """Drop every cached document (the next sign-in fetches them again): after a tenant changes its settings."""
    _providers.clear()


def refused_destination(exc: destinations.Refused, what: str) -> SsoDestinationRefused:
    # the code names the class of address refused: sso_destination_not_public, sso_port_refused …
    return SsoDestinationRefused(f"本平台不访问身份提供方的这个{what}地址：{exc.message}", code=exc.code,
                                 expected=exc.expected, found=exc.found, field=exc.field)


def _read_json(url: str, what: str, timeout, outbound: Outbound) -> dict:
    deadline = time.monotonic() + TOTAL_TIMEOUT_S
    try:
        with outbound.session() as http, http.get(url, timeout=timeout, stream=True,
                                                  headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                raise _unreachable(url, what, f"HTTP {resp.status_code}")
            body = b""
            for chunk in resp.iter_content(16384):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES or time.monotonic() > deadline:
                    raise _unreachable(url, what, "应答过大或过慢")
    except requests.RequestException as exc:
        raise _unreachable(url, what, type(exc).__name__) from exc
    except destinations.Refused as exc:
        raise refused_destination(exc, what) from exc
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _unreachable(url, what, "应答不是 JSON 对象")
    return document


def _unreachable(url: str, what: str, found: str) -> SsoProviderUnreachable:
    return SsoProviderUnreachable(
        f"无法从身份提供方取得{what}（{url}）：{found}。请稍后再试；如仍失败，请单位管理员确认身份提供方正常运行、"
        "发行方（issuer）地址填写正确，且本平台能访问该地址。",
        expected=f"{url} 应答 HTTP 200 与 JSON", found=found)


def _endpoint(document: dict, name: str, issuer: str, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    # an https issuer's endpoints are https too: the loopback exception is for a test provider, never for a real one
    if (not isinstance(value, str) or url_problem(value, name, name, "https://…") is not None
            or (issuer.startswith("https:") and not value.startswith("https:"))):
        raise SsoProviderError(
            f"身份提供方 {issuer} 的配置文档中 {name} 缺失或不是 https 地址（实际为“{str(value)[:200]}”）。"
            "请单位管理员联系身份提供方管理员检查其 OpenID Connect 配置。",
            expected=f"{name}: https 地址", found=value if isinstance(value, str | None) else str(value)[:200])
    return value


def discover(issuer: str, *, outbound: Outbound, timeout=HTTP_TIMEOUT_S, refresh: bool = False) -> ProviderMetadata:
    """The provider's metadata and keys, fetched once an hour (or now, with `refresh`).

    The document must name exactly the issuer configured (OIDC Discovery 4.3): otherwise tokens another
    issuer signs could be taken for this one's.
    """
    cached = _providers.get(issuer)
    if cached is not None and not refresh and time.monotonic() - cached.fetched_at < METADATA_TTL_S:
        return cached
    document = _read_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "配置文档", timeout, outbound)
    if document.get("issuer") != issuer:
        announced = str(document.get("issuer"))[:300]
        raise SsoIssuerMismatch(
            f"身份提供方公布的发行方是“{announced}”，与本单位配置的“{issuer}”不一致（须逐字相同，包括末尾的“/”）。"
            f"请单位管理员把发行方改为“{announced}”，或确认填写的是本单位的身份提供方。",
            expected=issuer, found=announced, field="issuer")
    jwks_uri = _endpoint(document, "jwks_uri", issuer)
    metadata = ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint", issuer),
        token_endpoint=_endpoint(document, "token_endpoint", issuer),
        jwks_uri=jwks_uri,
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", issuer, required=False),
        signing_algorithms=tuple(document.get("id_token_signing_alg_values_supported") or ("RS256",)),
        token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ("client_secret_basic",)),
        iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
        keys=_fetch_keys(jwks_uri, issuer, timeout, outbound),
        fetched_at=time.monotonic(),
    )
    _providers[issuer] = metadata
    return metadata


def _fetch_keys(jwks_uri: str, issuer: str, timeout, outbound: Outbound) -> KeySet:
    document = _read_json(jwks_uri, "签名公钥（JWKS）", timeout, outbound)
    try:
        return KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise SsoProviderError(
            f"身份提供方 {issuer} 公布的签名公钥（{jwks_uri}）无法读取：{type(exc).__name__}。"
            "请单位管理员联系身份提供方管理员检查其 JWKS。",
            expected="JWKS（RFC 7517）", found=type(exc).__name__) from exc


def _refresh_keys(metadata: ProviderMetadata, outbound: Outbound) -> ProviderMetadata:
    fresh = replace(metadata, keys=_fetch_keys(metadata.jwks_uri, metadata.issuer, HTTP_TIMEOUT_S, outbound))
    _providers[metadata.issuer] = fresh
    return fresh


# --------------------------------------------------------------------------- the code flow


def _client(settings: OidcSettings, metadata: ProviderMetadata, redirect_uri: str, outbound: Outbound) -> OAuth2Session:
    methods = metadata.token_auth_methods
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    return outbound.session(OAuth2Session(
        settings.client_id, settings.client_secret, token_endpoint_auth_method=method, scope=" ".join(settings.scopes),
        redirect_uri=redirect_uri, code_challenge_method="S256", default_timeout=HTTP_TIMEOUT_S))


def begin(settings: OidcSettings, redirect_uri: str, *, outbound: Outbound) -> tuple[str, str, str, str]:
    """The provider's sign-in URL to send the browser to, and the state, nonce and PKCE verifier to keep until `finish`."""
    require_connection_settings(settings)
    metadata = discover(settings.issuer, outbound=outbound)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43 to 128
    with _client(settings, metadata, redirect_uri, outbound) as client:
        url, _ = client.create_authorization_url(metadata.authorization_endpoint, state=state,
                                                 code_verifier=code_verifier, nonce=nonce)
    return url, state, nonce, code_verifier


def _one(args: Mapping, name: str) -> str | None:
    """A callback parameter's value; sent twice, it is refused (RFC 6749 3.1: parameters MUST NOT repeat)."""
    values = args.getlist(name) if hasattr(args, "getlist") else args.get(name)
    if isinstance(values, list | tuple):
        if len(values) > 1:
            raise SsoProviderError(f"登录回调中参数 {name} 出现了 {len(values)} 次。请回到本平台重新点击“统一身份认证登录”。",
                                   expected=f"{name} 一次", found=len(values))
        values = values[0] if values else None
    return values


def _require_state(found: str | None, expected: str) -> None:
    # compare_digest: the time taken must not tell how much of a guessed state was right
    if not found or not expected or not hmac.compare_digest(found.encode(), expected.encode()):
        raise SsoStateMismatch(
            "登录回调与本浏览器发起的登录不符（state 不一致），可能是登录页面停留过久、在另一个窗口重新登录过，"
            "或链接并非由本平台发起。请回到本平台重新点击“统一身份认证登录”。",
            expected="与发起登录时相同的 state", found="缺失" if not found else "不一致")


def _require_issuer_parameter(iss: str | None, metadata: ProviderMetadata) -> None:
    """RFC 9207: a provider that names itself in redirects must name itself, and be ours (mix-up attacks)."""
    if iss is None and not metadata.iss_parameter:
        return
    if iss != metadata.issuer:
        raise SsoIssuerMismatch(
            f"登录回调来自发行方“{str(iss)[:200]}”，而本单位配置的是“{metadata.issuer}”。请回到本平台重新登录；"
            "如仍出现，请单位管理员检查统一身份认证配置。",
            expected=metadata.issuer, found=iss)


def _provider_said(error: str, description: str | None) -> str:
    said = f"{error[:100]}" + (f"（{description[:300]}）" if description else "")
    return "".join(c if c.isprintable() else " " for c in said)


def _callback_error(error: str, description: str | None) -> SsoError:
    said = _provider_said(error, description)
    if error in DENIED_ERRORS:
        return SsoDenied(f"身份提供方没有完成登录：{said}。如是误点了取消，请回到本平台重新点击“统一身份认证登录”；"
                         "如身份提供方拒绝了您的登录，请联系本单位的信息化部门。", expected="授权码（code）", found=said)
    return SsoProviderError(f"身份提供方返回了错误：{said}。请稍后重试；如仍失败，请单位管理员把这条信息转给身份提供方管理员。",
                            expected="授权码（code）", found=said)


def finish(settings: OidcSettings, redirect_uri: str, callback_query_args: Mapping, expected_state: str,
           nonce: str, code_verifier: str, *, outbound: Outbound) -> dict:
    """Exchange the callback's code for tokens, check the ID token, and return the person's claims.

    The claims are the ID token's, completed from the userinfo endpoint when the configured e-mail or
    staff-number claim is not in the token (many providers put only `sub` there).
    """
    require_connection_settings(settings)
    _require_state(_one(callback_query_args, "state"), expected_state)
    metadata = discover(settings.issuer, outbound=outbound)
    _require_issuer_parameter(_one(callback_query_args, "iss"), metadata)
    error = _one(callback_query_args, "error")
    if error:
        raise _callback_error(error, _one(callback_query_args, "error_description"))
    code = _one(callback_query_args, "code")
    if not code:
        raise SsoProviderError("登录回调中没有授权码（code）。请回到本平台重新点击“统一身份认证登录”。",
                               expected="授权码（code）", found=None)
    token = _exchange(settings, metadata, redirect_uri, code, code_verifier, outbound)
    claims = validate_id_token(settings, metadata, token.get("id_token"), nonce, token.get("access_token"),
                               outbound=outbound)
    # matched by staff number, a newcomer's account needs the e-mail too, which many providers give only at userinfo
    wanted = (settings.staff_no_claim, settings.email_claim) if settings.match_by == "staff_no" else (settings.email_claim,)
    if any(c not in claims for c in wanted) and metadata.userinfo_endpoint and token.get("access_token"):
        claims = _with_userinfo(metadata, claims, token["access_token"], outbound)
    return claims


def _exchange(settings: OidcSettings, metadata: ProviderMetadata, redirect_uri: str, code: str,
              code_verifier: str, outbound: Outbound) -> dict:
    try:
        with _client(settings, metadata, redirect_uri, outbound) as client:
            return dict(client.fetch_token(metadata.token_endpoint, grant_type="authorization_code", code=code,
                                           code_verifier=code_verifier))
    except OAuthError as exc:
        said = _provider_said(exc.error or "", exc.description)
        hint = ("请单位管理员核对客户端标识和密钥是否与身份提供方登记的一致。" if exc.error == "invalid_client"
                else "授权码只能用一次且很快过期，请回到本平台重新点击“统一身份认证登录”。")
        raise SsoProviderError(f"身份提供方拒绝用授权码换取令牌：{said}。{hint}",
                               expected="访问令牌与身份令牌", found=said) from exc
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(metadata.token_endpoint, "令牌", type(exc).__name__) from exc
    except destinations.Refused as exc:
        raise refused_destination(exc, "令牌端点") from exc


def _invalid_token(why: str, found: object = None) -> SsoTokenInvalid:
    return SsoTokenInvalid(
        f"身份提供方发来的身份令牌未通过校验：{why}。请回到本平台重新登录；如仍失败，请单位管理员核对发行方和客户端标识，"
        "并请身份提供方管理员检查其签名密钥与时钟。", expected="签名有效、发给本平台、未过期的身份令牌", found=found)


def validate_id_token(settings: OidcSettings, metadata: ProviderMetadata, id_token: str | None, nonce: str,
                      access_token: str | None = None, *, now: int | None = None,
                      outbound: Outbound | None = None) -> dict:
    """The ID token's claims once its signature (the provider's JWKS), iss, aud, azp, exp, iat, nonce and
    at_hash hold (OIDC Core 3.1.3.7); `SsoTokenInvalid` naming what did not. With `outbound`, a key id not
    yet known fetches the provider's keys again (they rotated); without, it is refused."""
    if not id_token or not isinstance(id_token, str):
        raise _invalid_token("令牌应答中没有身份令牌（id_token），范围（scope）中可能缺少 openid", "无 id_token")
    if not nonce:
        raise _invalid_token("发起登录时的 nonce 缺失", "无 nonce")
    algorithms = [a for a in metadata.signing_algorithms if a in ID_TOKEN_ALGORITHMS] or ["RS256"]
    try:
        try:
            decoded = jwt.decode(id_token, metadata.keys, algorithms=algorithms)
        except InvalidKeyIdError:
            if outbound is None:
                raise
            # a key id we do not have yet: the provider rotated its keys since we fetched them
            decoded = jwt.decode(id_token, _refresh_keys(metadata, outbound).keys, algorithms=algorithms)
        claims = CodeIDToken(decoded.claims, decoded.header,
                             {"iss": {"essential": True, "value": metadata.issuer},
                              "aud": {"essential": True, "value": settings.client_id}},
                             {"nonce": nonce, "client_id": settings.client_id, "access_token": access_token})
        claims.validate(now=now, leeway=CLOCK_LEEWAY_S)
    except ExpiredTokenError as exc:
        raise _invalid_token("令牌已过期（本平台与身份提供方的时钟可能相差过大）", "exp") from exc
    except ClaimError as exc:
        raise _invalid_token(f"声明 {exc.claim} 不符", exc.claim) from exc
    except JoseError as exc:
        raise _invalid_token(f"签名或格式不符（{exc.error}）", exc.error) from exc
    except (ValueError, TypeError) as exc:
        raise _invalid_token("不是可读的 JWT", type(exc).__name__) from exc
    aud = claims["aud"]
    # other audiences would be parties we do not trust with the same token (OIDC Core 3.1.3.7 step 3)
    if aud != settings.client_id and aud != [settings.client_id]:
        raise _invalid_token("令牌同时发给了其他客户端", aud)
    return dict(claims)


def _with_userinfo(metadata: ProviderMetadata, claims: dict, access_token: str, outbound: Outbound) -> dict:
    try:
        with outbound.session() as http:
            resp = http.get(metadata.userinfo_endpoint, timeout=HTTP_TIMEOUT_S,
                            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
            info = resp.json() if resp.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(metadata.userinfo_endpoint, "用户信息", type(exc).__name__) from exc
    except destinations.Refused as exc:
        raise refused_destination(exc, "用户信息端点") from exc
    if not isinstance(info, dict):
        raise _unreachable(metadata.userinfo_endpoint, "用户信息", f"HTTP {resp.status_code}")
    if info.get("sub") != claims["sub"]:
        # OIDC Core 5.3.2: another person's userinfo must never be taken for this one's
        raise _invalid_token("用户信息中的用户标识（sub）与身份令牌不一致", info.get("sub"))
    return {**info, **claims}  # what the signed token says wins


# --------------------------------------------------------------------------- claims


def _staff_no(settings: OidcSettings, claims: Mapping) -> str | None:
    if not settings.staff_no_claim:
        return None
    value = claims.get(settings.staff_no_claim)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_STAFF_NO_LENGTH or single_line_problem(value, "工号") is not None:
        return None
    return value


def _email(settings: OidcSettings, claims: Mapping) -> str | None:
    value = claims.get(settings.email_claim)
    if not isinstance(value, str) or email_problem(value) is not None:
        return None
    return normalise_email(value)


def claims_to_identity(settings: OidcSettings, claims: Mapping) -> Identity:
    """The account to find: by the e-mail (normalised as accounts are) or by the staff number, as the tenant chose."""
    email, staff_no = _email(settings, claims), _staff_no(settings, claims)
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    base = dict(issuer=str(claims.get("iss", settings.issuer)), subject=str(claims.get("sub", "")), email=email,
                staff_no=staff_no, name=name)
    if settings.match_by == "staff_no":
        if staff_no is None:
            found = str(claims.get(settings.staff_no_claim))[:100]
            raise SsoNoStaffNo(
                f"身份提供方没有发来有效的工号（声明 {settings.staff_no_claim}，实际为“{found}”），"
                "无法找到您的账号。请联系本单位的信息化部门确认身份提供方会发出工号，或请单位管理员检查工号声明的名称。",
                expected=f"声明 {settings.staff_no_claim}：工号", found=claims.get(settings.staff_no_claim))
        return Identity(by="staff_no", value=staff_no, **base)
    if email is None:
        found = str(claims.get(settings.email_claim))[:100]
        raise SsoNoEmail(
            f"身份提供方没有发来有效的邮箱（声明 {settings.email_claim}，实际为“{found}”），无法找到您的账号。"
            "请联系本单位的信息化部门确认身份提供方会发出邮箱，或请单位管理员检查邮箱声明和范围（scope 中需有 email）。",
            expected=f"声明 {settings.email_claim}：电子邮箱", found=claims.get(settings.email_claim))
    if claims.get("email_verified") is False and settings.email_claim == "email":
        # a provider that lets people type their own address says so here; such an address proves nothing
        raise SsoEmailUnverified(
            f"身份提供方表示邮箱 {email} 尚未经过验证，不能凭它登录本平台。请先在身份提供方处验证邮箱，"
            "或联系本单位的信息化部门。", expected="email_verified 为 true", found=False)
    return Identity(by="email", value=email, **base)


def _claim_holds(value: object, wanted: str) -> bool:
    if isinstance(value, list | tuple):
        return any(_claim_holds(v, wanted) for v in value)
    if isinstance(value, bool) or value is None:
        return False
    return str(value) == wanted


def claims_to_grants(settings: OidcSettings, claims: Mapping) -> list[GrantRequest]:
    """The grants the tenant's rules give for these claims, each once, in the rules' order."""
    grants: list[GrantRequest] = []
    for rule in settings.grant_rules:
        if _claim_holds(claims.get(rule.claim), rule.value) and rule.grant() not in grants:
            grants.append(rule.grant())
    return grants
