"""People and their roles: what a grant may be, how it reads, and what a password, an e-mail and a staff number must be.

A person has one account across the platform (one e-mail, one account: an expert invited by two
universities is one person), with a home tenant, and role grants. A grant is a role plus a scope,
always IN one tenant (the tenant that gave it; a university may make a person of another tenant its
expert):

    owner             单位管理员   the tenant: its accounts, keys, single sign-on, audit log
    department_admin  部门管理员   the tracks of one department: at a university 党委组织部 (lecture,
                                   story, meeting_report) or 党委宣传部 (material, report); at the
                                   ministry 思政司 (every track)
    org_admin         组织管理员   one org of the university and its subtree (a 院系党委 and its
                                   branches; the admin of a branch sees that branch)
    expert            评审专家     what review assigns to them, in any tenant that invites them
    viewer            查看者       read-only: the tenant, or one org and its subtree

Every check returns every problem at once (a stable code, the field, what was expected, what was
found, and a Chinese message saying what to do), so a form or a list is corrected in one go.
Pure: no framework.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from common.lifecycle import State
from common.text import single_line_problem
from services.intake.domain.orgs import is_email


class Role(State):
    """A role a grant gives (a `State` for its Chinese label; roles have no lifecycle)."""

    OWNER = "owner", "单位管理员"
    DEPARTMENT_ADMIN = "department_admin", "部门管理员"
    ORG_ADMIN = "org_admin", "组织管理员"
    EXPERT = "expert", "评审专家"
    VIEWER = "viewer", "查看者"


class Department(State):
    ORGANISATION = "organisation", "党委组织部"
    PROPAGANDA = "propaganda", "党委宣传部"
    SIZHENG = "sizheng", "思政司"  # the ministry's 思想政治工作司: every track


UNIVERSITY_DEPARTMENTS = (Department.ORGANISATION, Department.PROPAGANDA)
MINISTRY_DEPARTMENTS = (Department.SIZHENG,)
# Tracks route to departments (DOMAIN.md); None: every track.
DEPARTMENT_TRACKS: dict[Department, tuple[str, ...] | None] = {
    Department.ORGANISATION: ("lecture", "story", "meeting_report"),
    Department.PROPAGANDA: ("material", "report"),
    Department.SIZHENG: None,
}

def department_covers(department: str | None, track_key: str, routed_to: str | None) -> bool:
    """Whether a department's admin looks after a campaign's track: the track's own routing (`department` in the
    campaign, which a university may set otherwise than the table: 东南大学 gives every track to 组织部), else the
    table above; 思政司 looks after every track."""
    if department == Department.SIZHENG:
        return True
    if routed_to:
        return routed_to == department
    try:
        routed = DEPARTMENT_TRACKS.get(Department(department or ""))
    except ValueError:
        return False
    return routed is None or track_key in routed



MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit of a forward path
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128  # Argon2 takes more; a limit keeps a megabyte "password" from costing anything
MAX_STAFF_NO_LENGTH = 64  # accounts.staff_no
STAFF_NO_CHARACTERS = "字母、数字和 - _ ."
_STAFF_NO = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request, in the shape of every error's `details`."""

    code: str
    field: str
    expected: object
    found: object
    message: str

    def as_detail(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OrgFact:
    """The org a grant names, as found in the granting tenant."""

    id: str
    name: str
    level: str  # level2 | branch


@dataclass(frozen=True)
class GrantRequest:
    role: str
    department: str | None = None
    org_id: str | None = None


def _choices(members: Iterable[State]) -> str:
    return "、".join(f"{m.value}（{m.label}）" for m in members)


def departments_of(tenant_kind: str) -> tuple[Department, ...]:
    return MINISTRY_DEPARTMENTS if tenant_kind == "ministry" else UNIVERSITY_DEPARTMENTS


def grant_problems(grant: GrantRequest, tenant_kind: str, tenant_name: str, org: OrgFact | None,
                   field: str = "grant") -> list[Problem]:
    """Every problem of one requested grant in a tenant (kind university | ministry).

    `org` is the org `grant.org_id` names, looked up in the granting tenant (None when it names none there:
    another tenant's org reads exactly as a missing one).
    """
    problems: list[Problem] = []
    try:
        role = Role(grant.role)
    except ValueError:
        return [Problem("unknown_role", f"{field}.role", [r.value for r in Role], grant.role,
                        f"角色“{grant.role}”不存在。请填写以下之一：{_choices(Role)}。")]
    ministry = tenant_kind == "ministry"
    if role is Role.DEPARTMENT_ADMIN:
        problems += _department_problems(grant.department, tenant_kind, tenant_name, field)
    elif grant.department:
        problems.append(Problem("department_not_allowed", f"{field}.department", None, grant.department,
                                f"{role.label}的权限不分部门，不应填写部门（实际填写了“{grant.department}”）。"
                                "请清空部门；如要按部门授权，请选择“部门管理员”。"))
    if role is Role.ORG_ADMIN and ministry:
        problems.append(Problem("role_not_in_ministry", f"{field}.role", "owner、department_admin、expert、viewer",
                                role.value, "教育部没有下属组织，不能授予“组织管理员”。"
                                "思政司工作人员请授予“部门管理员（思政司）”。"))
    elif role is Role.ORG_ADMIN and not grant.org_id:
        problems.append(Problem("org_required", f"{field}.org_id", "本校的一个组织", None,
                                "“组织管理员”须指定所管理的组织（二级党组织或党支部）。请选择组织后重试。"))
    if grant.org_id:
        problems += _org_problems(role, grant.org_id, org, ministry, tenant_name, field)
    return problems


def _department_problems(department: str | None, tenant_kind: str, tenant_name: str, field: str) -> list[Problem]:
    allowed = departments_of(tenant_kind)
    if not department:
        return [Problem("department_required", f"{field}.department", [d.value for d in allowed], None,
                        f"“部门管理员”须指定部门：{_choices(allowed)}。请选择部门后重试。")]
    if department not in [d.value for d in allowed]:
        return [Problem("unknown_department", f"{field}.department", [d.value for d in allowed], department,
                        f"{tenant_name}的部门只能是 {_choices(allowed)}，实际填写了“{department}”。请改正。")]
    return []


def _org_problems(role: Role, org_id: str, org: OrgFact | None, ministry: bool, tenant_name: str,
                  field: str) -> list[Problem]:
    if role not in (Role.ORG_ADMIN, Role.VIEWER):
        return [Problem("org_not_allowed", f"{field}.org_id", None, org_id,
                        f"{role.label}的权限不限于某个组织，不应指定组织。请清空组织；"
                        "如要只管理某个组织，请选择“组织管理员”。")]
    if ministry and role is Role.VIEWER:
        return [Problem("org_not_in_ministry", f"{field}.org_id", None, org_id,
                        "教育部没有下属组织，“查看者”不能限定到组织。请清空组织。")]
    if ministry:
        return []  # org_admin at the ministry: the role's own problem says it
    if org is None:
        return [Problem("org_not_found", f"{field}.org_id", f"{tenant_name}的一个组织", org_id,
                        f"在{tenant_name}的组织中找不到 {org_id}。请用 GET /api/v1/orgs 查到组织的 id 后重试。")]
    return []


def grant_label(role: str, department: str | None = None, org_name: str | None = None) -> str:
    """How a grant reads to people: 部门管理员（党委宣传部）, 组织管理员（计算机科学与工程学院党委）, 评审专家."""
    label = Role.label_of(role)
    scope = Department.label_of(department) if department else org_name
    return f"{label}（{scope}）" if scope else label


# --------------------------------------------------------------------------- names and e-mail


def normalise_email(raw: str) -> str:
    """As stored and compared: full-width letters and ＠ folded (Chinese IMEs type them), trimmed, lower case."""
    return unicodedata.normalize("NFKC", raw or "").strip().lower()


def email_problem(raw: str, field: str = "email") -> Problem | None:
    email = normalise_email(raw)
    if not email:
        return Problem("missing_email", field, "电子邮箱，如 zhangsan@seu.edu.cn", raw,
                       "邮箱不能为空：邀请邮件发到这里，登录也用它。请填写本人常用的邮箱。")
    if len(email) > MAX_EMAIL_LENGTH or not is_email(email):
        return Problem("invalid_email", field, "电子邮箱，如 zhangsan@seu.edu.cn", raw[:300],
                       f"“{raw[:100]}”不是有效的电子邮箱地址。请填写形如 zhangsan@seu.edu.cn 的地址。")
    return None


def name_problem(name: str, field: str = "name") -> Problem | None:
    line = single_line_problem(name or "", "姓名")
    if line is not None:
        return Problem(line.code, field, line.expected, line.found, line.message)
    if not (name or "").strip():
        return Problem("missing_name", field, "本人姓名", name, "姓名不能为空。请填写本人的真实姓名。")
    if len(name.strip()) > MAX_NAME_LENGTH:
        return Problem("name_too_long", field, f"不超过 {MAX_NAME_LENGTH} 个字", len(name.strip()),
                       f"姓名有 {len(name.strip())} 个字，超过 {MAX_NAME_LENGTH} 个字的上限。请核对是否误粘贴了多余内容。")
    return None


# --------------------------------------------------------------------------- staff numbers (工号)
#
# A 工号 is what the university's staff records (and its identity provider, which reads them) call a person;
# single sign-on may find accounts by it (services/intake/operations/sso.py). It is unique among the people
# whose home is the tenant, and is the home tenant's record alone: another tenant neither sees nor sets it.
#
# Compared exactly, case included: the identity provider sends the number as the staff records hold it,
# and the unique index (home_tenant_id, staff_no) compares exactly on SQLite and PostgreSQL alike. Folding
# case would be a guess about registries we do not know (most universities' 工号 are digits, where case
# does not arise); a number typed in the wrong case is simply not found, and the owner corrects it.
# Full-width letters and digits are folded (NFKC), as e-mail addresses are: Chinese input methods type
# "２０２０００１" for the "2020001" the provider sends, and no staff number is full-width on purpose.


def normalise_staff_no(raw: str | None) -> str | None:
    """As stored and compared: full-width forms folded, trimmed, case kept; None when blank (no staff number)."""
    value = unicodedata.normalize("NFKC", raw or "").strip()
    return value or None


def staff_no_problem(raw: str | None, field: str = "staff_no") -> Problem | None:
    """What is wrong with a staff number as given (None and blank are fine: it is optional)."""
    line = single_line_problem(raw or "", "工号")
    if line is not None:
        return Problem(line.code, field, line.expected, line.found, line.message)
    value = normalise_staff_no(raw)
    if value is None:
        return None
    if len(value) > MAX_STAFF_NO_LENGTH:
        return Problem("staff_no_too_long", field, f"不超过 {MAX_STAFF_NO_LENGTH} 个字符", len(value),
                       f"工号有 {len(value)} 个字符，超过 {MAX_STAFF_NO_LENGTH} 个字符的上限。"
                       "请核对是否误粘贴了多余内容（如把姓名或单位一起粘贴进来）。")
    if not _STAFF_NO.fullmatch(value):
        bad = "".join(dict.fromkeys(c for c in value if not _STAFF_NO.fullmatch(c)))
        shown = "、".join("空格" if c == " " else f"“{c}”" for c in bad)
        return Problem("invalid_staff_no", field, f"{STAFF_NO_CHARACTERS}，如 2020001", value[:100],
                       f"工号“{value[:100]}”中有{shown}，工号只能包含{STAFF_NO_CHARACTERS}。"
                       "请按人事系统中的工号填写，如 2020001。")
    return None


# --------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class InvitationRefusal:
    code: str
    status: int
    message: str


def invitation_refusal(*, found: bool, used: bool = False, replaced: bool = False, expired: bool = False,
                       disabled: bool = False, inviter: str = "") -> InvitationRefusal | None:
    """Why an invitation link cannot set a password now (None: it can). `inviter` names whom to ask."""
    ask = f"请联系{inviter}的单位管理员" if inviter else "请联系邀请您的单位管理员"
    if not found:
        return InvitationRefusal("invitation_not_found", 404,
                                 f"邀请链接无效：请核对链接是否完整（邮件中的整行链接）。{ask}重新发送邀请。")
    if disabled:
        return InvitationRefusal("account_disabled", 403, f"您的账号已停用，不能设置密码。如有疑问，{ask}。")
    if used:
        return InvitationRefusal("invitation_used", 410, "此邀请链接已经使用过（每个链接只能使用一次），密码已设置。"
                                 f"如果不是您本人设置的，{ask}停用账号并重新邀请。")
    if replaced:
        return InvitationRefusal("invitation_replaced", 410, "此邀请链接已被更新的邀请邮件取代。请使用最新一封邀请邮件中的链接；"
                                 f"找不到时，{ask}重新发送邀请。")
    if expired:
        return InvitationRefusal("invitation_expired", 410, f"此邀请链接已过期（7 天内有效）。{ask}重新发送邀请。")
    return None


# --------------------------------------------------------------------------- passwords


def password_problems(password: str, email: str, confirmation: str | None = None) -> list[Problem]:
    """Every way `password` falls short of the policy: 10–128 characters, not only digits, not the e-mail
    address or its part before @ (case ignored), and the confirmation typed the same."""
    problems: list[Problem] = []
    length = len(password)
    if length < MIN_PASSWORD_LENGTH:
        problems.append(Problem("password_too_short", "password", f"至少 {MIN_PASSWORD_LENGTH} 个字符", length,
                                f"密码只有 {length} 个字符，至少需要 {MIN_PASSWORD_LENGTH} 个。"
                                "建议用一句容易记住的话，或字母、数字和符号的组合。"))
    if length > MAX_PASSWORD_LENGTH:
        problems.append(Problem("password_too_long", "password", f"至多 {MAX_PASSWORD_LENGTH} 个字符", length,
                                f"密码有 {length} 个字符，超过 {MAX_PASSWORD_LENGTH} 个的上限。请换一个短一些的密码。"))
    if password and password.isdigit():
        problems.append(Problem("password_only_digits", "password", "不能全是数字", "全是数字",
                                "密码不能全是数字（如手机号、生日、工号，容易被猜中）。请加入字母或符号。"))
    address = normalise_email(email)
    local = address.partition("@")[0]
    if password and password.strip().lower() in {address, local} - {""}:
        problems.append(Problem("password_is_email", "password", "与邮箱不同", "与邮箱或其 @ 前的部分相同",
                                "密码不能是您的邮箱地址或其 @ 前面的部分（别人最容易猜到的就是它）。请换一个密码。"))
    if confirmation is not None and confirmation != password:
        problems.append(Problem("password_mismatch", "password_confirmation", "与密码相同", "两次输入不一致",
                                "两次输入的密码不一致。请重新输入密码并确认。"))
    return problems
