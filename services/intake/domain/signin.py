"""Signing in: who needs a second factor, what a TOTP code proves, and why an e-mailed link cannot be used.

A person signs in with their e-mail and password. Owners (单位管理员) and department admins (部门管理员)
must also give a code from an authenticator app (TOTP, RFC 6238: 30-second steps, 6 digits); others may
enrol one. A code is accepted one step either side of now (phone clocks drift), and never twice: the step
it matched is kept, and a code of that step or an earlier one is refused (a code seen over a shoulder
cannot be replayed within its minute).

Experts, who sign in a few evenings a year, may ask for a sign-in link instead of a password; anyone may
ask for a link to set a new password. Both are e-mailed, single-use, short-lived, and the form answers the
same whether or not the address has an account (it must not tell a stranger who is on the platform).
Pure: no framework (pyotp is a library of arithmetic).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyotp

from services.intake.domain.people import Role

# Roles whose holder must give a second factor: they manage people, keys and a department's campaigns.
SECOND_FACTOR_ROLES = frozenset({Role.OWNER.value, Role.DEPARTMENT_ADMIN.value})
TOTP_STEP_S = 30
TOTP_DIGITS = 6
TOTP_ISSUER = "四个一行动平台"

# How long the e-mailed links live: a sign-in link is for now; a reset may wait for the mail to arrive.
LINK_TTL = {"sign_in": timedelta(minutes=15), "password_reset": timedelta(hours=1)}
LINK_PURPOSES = tuple(LINK_TTL)
# A half-signed-in visitor (password right, code not yet given) has this long to give the code.
PENDING_TTL_S = 5 * 60


def second_factor_required(roles: set[str] | frozenset[str] | list[str]) -> bool:
    return bool(SECOND_FACTOR_ROLES & set(roles))


def new_totp_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S).provisioning_uri(name=email,
                                                                                       issuer_name=TOTP_ISSUER)


def normalise_code(code: str) -> str:
    """What the person typed, as digits: apps show "123 456"; full-width digits come from Chinese input methods."""
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKC", code or "") if not ch.isspace() and ch != "-")


def matching_step(secret: str, code: str, at: float, last_step: int | None) -> int | None:
    """The time step `code` is valid for (now, or one either side), or None: wrong, malformed or already used.

    `at` is the Unix time; `last_step` is the step of the last code accepted for this person.
    """
    code = normalise_code(code)
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S)
    now_step = int(at) // TOTP_STEP_S
    for step in (now_step, now_step - 1, now_step + 1):
        if pyotp.utils.strings_equal(totp.at(step * TOTP_STEP_S), code):
            return step if last_step is None or step > last_step else None
    return None


def code_problem(code: str) -> str | None:
    """A message for a code that cannot be right whatever the secret (so the person retypes, not retries)."""
    typed = normalise_code(code)
    if not typed:
        return "请输入验证器应用（如微信小程序“腾讯身份验证器”、Google Authenticator）当前显示的 6 位数字。"
    if len(typed) != TOTP_DIGITS or not typed.isdigit():
        return f"验证码应为 6 位数字，实际输入了“{typed[:12]}”。请输入验证器应用当前显示的 6 位数字。"
    return None


@dataclass(frozen=True)
class LinkRefusal:
    code: str
    status: int
    message: str


def link_refusal(purpose: str, *, found: bool, used: bool = False, replaced: bool = False, expired: bool = False,
                 disabled: bool = False) -> LinkRefusal | None:
    """Why an e-mailed sign-in or password link cannot be used now (None: it can); each says how to get a new one."""
    again = ("在登录页选择“通过邮箱获取登录链接”重新获取" if purpose == "sign_in"
             else "在登录页选择“忘记密码”重新获取")
    minutes = int(LINK_TTL.get(purpose, timedelta(0)).total_seconds() // 60)
    if not found:
        return LinkRefusal("link_not_found", 404, f"链接无效：请核对链接是否完整（邮件中的整行链接），或{again}。")
    if disabled:
        return LinkRefusal("account_disabled", 403, "您的账号已停用，不能登录。如有疑问，请联系本单位的单位管理员。")
    if used:
        return LinkRefusal("link_used", 410, f"此链接已经使用过（每个链接只能使用一次）。如需再次使用，请{again}。")
    if replaced:
        return LinkRefusal("link_replaced", 410, f"此链接已被更新的邮件取代。请使用最新一封邮件中的链接，或{again}。")
    if expired:
        return LinkRefusal("link_expired", 410, f"此链接已过期（{minutes} 分钟内有效）。请{again}。")
    return None


# --------------------------------------------------------------------------- where a person may go from the home page

DESTINATIONS = {"review": "评审系统", "notify": "进度看板与作品库"}


def destinations_for(grants: list[dict]) -> dict[str, str]:
    """The services the person's grants open, as the home page links them (never a link that only says no).

    Review: a manager of rounds (owner, department or org admin) or an expert; also someone with no grant at all,
    who may be an expert invited by e-mail only (review knows their rounds by address). Notify's dashboard: an owner,
    a department admin, or a viewer of a whole tenant (progress is counted per tenant and track, not per org).
    """
    roles = {g["role"] for g in grants}
    found = {}
    if not grants or roles & {"owner", "department_admin", "org_admin", "expert"}:
        found["review"] = DESTINATIONS["review"]
    if any(g["role"] in ("owner", "department_admin") or (g["role"] == "viewer" and not g.get("org_id")) for g in grants):
        found["notify"] = DESTINATIONS["notify"]
    return found
