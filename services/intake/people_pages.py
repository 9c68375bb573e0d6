"""Intake's pages for people: signing in (password, second factor, e-mailed links), the home page, signing out,
setting a new password, and the hand-off to review's and notify's pages (common.handoff).

Mixed into IntakeService (nameko finds inherited entrypoints). Each page checks its form's CSRF token
(before a session, the pre-session token), counts failures per address and per subject (an e-mail, a link,
a person's second factor), and runs one use case of operations/signin.py. Passwords are checked and hashed
off the event loop (services/intake/passwords.py).

A visitor's session on these pages has one of three roles:
    second_factor  the password (or link) was right; a code from their authenticator is still due
    enrol          the same, for someone who must have a second factor and has none yet: set it up first
    person         signed in
The first two live five minutes and open nothing but their own page.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import segno
from eventlet import tpool

from common import destinations, handoff
from common.errors import DomainError
from common.outbound import Outbound
from common.web import Signer, page, redirect, safe_next, session_key, static_file
from services.intake import sso
from services.intake.domain import keys as key_rules, people, signin
from services.intake.operations import accounts as ops_accounts, keys as ops_keys, signin as ops_signin, sso as ops_sso
from services.intake.operations.sessions import principal_of
from services.intake.passwords import hash_off_loop, verify_off_loop

HERE = Path(__file__).resolve().parent
# where a signed-in person may be handed on to, and what it is called on the pages
DESTINATIONS = signin.DESTINATIONS
PERSON, SECOND_FACTOR, ENROL = "person", "second_factor", "enrol"
SSO_FLOW_COOKIE = "intake_sso_flow"
SSO_FLOW_TTL_S = 10 * 60  # from leaving for the provider to coming back


def _destination(raw: str | None) -> str | None:
    """Only a destination we know, with the page there to return to (`review:/rounds/…`, the page that asked the
    person to sign in): never a URL taken from the request (no open redirect: common.web.safe_next)."""
    service, colon, back = (raw or "").partition(":")
    if service not in DESTINATIONS:
        return None
    return f"{service}:{back}" if colon and safe_next(back) else service


def _qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image request, nothing sent to a third party)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2)


class PeoplePages:
    """The entrypoints; the service has `web` (common.web.WebPages), `db`, `outbox` and `config`."""

    # ------------------------------------------------------------------ helpers

    def _client(self, request) -> str:
        return self.web.limits.client_of(request)

    def _home_url(self, to: str | None) -> str:
        service, _, back = (to or "").partition(":")
        return (f"/go/{service}" + (f"?next={quote(back, safe='/')}" if back else "")) if service else "/"

    def _open(self, session, response, step: ops_signin.SignInStep, to: str | None, method: str, request):
        """Open the session the step calls for: signed in, or half-way (a code or an enrolment still due)."""
        if step.next == "signed_in":
            ops_signin.signed_in(session, step.account_id, method, self._client(request))
            role, ttl = PERSON, None
        else:
            role, ttl = (SECOND_FACTOR if step.next == "second_factor" else ENROL), signin.PENDING_TTL_S
        self.web.open_session(session, response, role=role, principal=principal_of(step.account_id),
                              ttl_s=ttl, account_id=step.account_id, name=step.name, email=step.email, to=to,
                              method=method)

    def _after_first_factor(self, session, account_id: str, to: str | None, method: str, request):
        step = ops_signin.after_first_factor(session, account_id)
        landing = {"signed_in": self._home_url(to), "second_factor": "/sign-in/code",
                   "enrol": "/account/second-factor"}[step.next]
        response = redirect(landing)
        self._open(session, response, step, to, method, request)
        return response

    # ------------------------------------------------------------------ static files, home

    @page("GET", "/static/<path:name>")
    def static(self, request, name):
        return static_file(HERE / "static", name, request)

    @page("GET", "/")
    def home(self, request):
        visitor = self.web.visitor(request)
        if visitor is None or visitor["role"] != PERSON:
            return redirect("/sign-in")
        with self.db.transaction() as session:
            grants = ops_signin.grants_of(session, visitor["account_id"])
            second_factor = ops_signin.second_factor_state(session, visitor["account_id"])
            staff_no = ops_accounts.staff_no_of(session, visitor["account_id"])
        for g in grants:
            g["label"] = people.grant_label(g["role"], g["department"], g.get("org_name"))
        return self.web.render("home.html", visitor, grants=grants, second_factor=second_factor, staff_no=staff_no,
                               destinations=signin.destinations_for(grants), notice=request.args.get("done"))

    # ------------------------------------------------------------------ password, then the second factor

    def _sign_in_page(self, request, status: int = 200, **context):
        """The sign-in form, with a button for each tenant whose people sign in through their own provider."""
        with self.db.transaction() as session:
            providers = ops_sso.providers(session)
        return self.web.render("sign_in.html", None, status, request=request, providers=providers, **context)

    @page("GET", "/sign-in")
    def sign_in_form(self, request):
        visitor = self.web.visitor(request)
        to = _destination(request.args.get("to"))
        if visitor is not None and visitor["role"] == PERSON:
            return redirect(self._home_url(to))
        return self._sign_in_page(request, to=to)

    @page("POST", "/sign-in")
    def sign_in(self, request):
        form = request.form
        email, to = people.normalise_email(form.get("email", "")), _destination(form.get("to"))
        subject = "account:" + email
        refused = self.web.sign_in_refusal(request, subject, to=to, email=email)
        if refused is not None:
            return refused
        with self.db.transaction() as session:
            found = ops_signin.credentials(session, email)
        # Argon2id off the loop; an unknown address costs the same as a known one (no timing tells)
        if not verify_off_loop(found.password_hash, form.get("password", "")):
            self.web.failed(request, subject)
            return self._sign_in_page(request, 401, to=to, email=email, error=(
                "邮箱或密码不正确，或账号尚未激活、已停用。请核对后重试；忘记密码请点“忘记密码”。"))
        with self.db.transaction() as session:
            return self._after_first_factor(session, found.account_id, to, "password", request)

    @page("GET", "/sign-in/code")
    def second_factor_form(self, request):
        visitor = self.web.require(request, SECOND_FACTOR)
        return self.web.render("second_factor.html", visitor)

    @page("POST", "/sign-in/code")
    def second_factor(self, request):
        visitor = self.web.require(request, SECOND_FACTOR)
        return self._check_code(request, visitor, "second_factor.html")

    def _check_code(self, request, visitor: dict, template: str, **context):
        subject = "code:" + visitor["account_id"]
        wait = self.web.limits.sign_in_wait(self._client(request), subject)
        code = request.form.get("code", "")
        problem = signin.code_problem(code)
        if wait is not None:
            problem = f"验证码错误次数过多。请 {max(1, round(wait))} 秒后再试。"
        if problem is None:
            with self.db.transaction() as session:
                if ops_signin.confirm_code(session, visitor["account_id"], code, self._client(request), self.web.secret):
                    # a new session: the half-way one's id never becomes a signed-in one (session fixation)
                    response = redirect(self._home_url(visitor.get("to")))
                    self.web.sessions.close(session, visitor, response)
                    step = ops_signin.SignInStep(visitor["account_id"], visitor["name"], visitor["email"], "signed_in")
                    self._open(session, response, step, visitor.get("to"), visitor.get("method", "password"), request)
                    return response
            self.web.failed(request, subject)
            problem = "验证码不正确或已使用过。请输入验证器应用当前显示的 6 位数字（每个验证码只能使用一次）。"
        return self.web.render(template, visitor, 429 if wait is not None else 401, error=problem, **context)

    def _enrolment(self, visitor):
        """(secret, QR code) of the authenticator being enrolled, or None when one is in use (never shown again)."""
        try:
            with self.db.transaction() as session:
                secret, uri = ops_signin.start_enrolment(session, visitor["account_id"], self.web.secret)
        except DomainError as exc:
            return None, exc
        return (secret, _qr_svg(uri)), None

    @page("GET", "/account/second-factor")
    def enrol_form(self, request):
        visitor = self.web.require(request, ENROL, PERSON)
        enrolment, refused = self._enrolment(visitor)
        if refused is not None:
            return self.web.render("enrol.html", visitor, refused.status, enabled=True, error=refused.message)
        return self.web.render("enrol.html", visitor, secret=enrolment[0], qr=enrolment[1])

    @page("POST", "/account/second-factor")
    def enrol(self, request):
        visitor = self.web.require(request, ENROL, PERSON)
        enrolment, refused = self._enrolment(visitor)
        if refused is not None:
            return self.web.render("enrol.html", visitor, refused.status, enabled=True, error=refused.message)
        secret = enrolment[0]
        if visitor["role"] == PERSON:  # enrolling by choice: stay signed in, say it is done
            with self.db.transaction() as session:
                if ops_signin.confirm_code(session, visitor["account_id"], request.form.get("code", ""),
                                           self._client(request), self.web.secret):
                    return redirect("/?done=second_factor")
            self.web.failed(request, "code:" + visitor["account_id"])
            return self.web.render("enrol.html", visitor, 401, secret=secret, qr=enrolment[1], error=(
                signin.code_problem(request.form.get("code", "")) or "验证码不正确。请输入验证器应用当前显示的 6 位数字。"))
        return self._check_code(request, visitor, "enrol.html", secret=secret, qr=enrolment[1])

    # ------------------------------------------------------------------ a person's own API keys

    def _keys_page(self, visitor, status: int = 200, **context):
        with self.db.transaction() as session:
            own = ops_keys.personal_keys(session, visitor["account_id"])
            grants = ops_signin.grants_of(session, visitor["account_id"])
            owned = [g for g in grants if g["role"] == "owner"]
            # a college's org admin issues keys of their own too (submit, publish), for the tenants they own none of
            colleges = {g["tenant"]: {**g, "tenant_name": f"{g['tenant_name']}（{g['org_name']}）"} for g in grants
                        if g["role"] == "org_admin" and g["org_name"]}
            owned += [g for tenant, g in colleges.items() if tenant not in {o["tenant"] for o in owned}]
        return self.web.render("keys.html", visitor, status, keys=own, tenants=owned, scopes=key_rules.Scope, **context)

    @page("GET", "/account/keys")
    def own_keys(self, request):
        return self._keys_page(self.web.require(request, PERSON))

    @page("POST", "/account/keys")
    def create_own_key(self, request):
        visitor = self.web.require(request, PERSON)
        form = request.form
        days = form.get("expires_in_days", "")
        body = {"label": form.get("label", ""), "scopes": form.getlist("scopes"),
                "expires_in_days": int(days) if days.isdigit() else days}
        try:
            with self.db.transaction() as session:
                created = ops_keys.create_personal_key(session, self.outbox, visitor["account_id"],
                                                       form.get("tenant", ""), body, self._client(request))
        except DomainError as exc:
            return self._keys_page(visitor, exc.status, error=exc.message)
        return self._keys_page(visitor, 201, created=created)

    @page("POST", "/account/keys/<string:key_id>/revoke")
    def revoke_own_key(self, request, key_id):
        visitor = self.web.require(request, PERSON)
        with self.db.transaction() as session:
            ops_keys.revoke_personal_key(session, self.outbox, visitor["account_id"], key_id, self._client(request))
        return redirect("/account/keys")

    # ------------------------------------------------------------------ signing out, handing on

    @page("POST", "/sign-out")
    def sign_out(self, request):
        with self.db.transaction() as session:
            visitor = self.web.require(request, db=session)
            response = redirect("/sign-in")
            ops_signin.sign_out(session, self.outbox, visitor["account_id"], session_key(visitor), self._client(request))
            response.delete_cookie(self.web.sessions.cookie, path="/")
        return response

    @page("GET", "/go/<string:service>")
    def hand_on(self, request, service):
        """A page that posts the person's ticket to review or notify (by its script, or their click)."""
        visitor = self.web.require(request, PERSON)
        if service not in DESTINATIONS:
            raise DomainError(f"没有名为“{service[:40]}”的系统。可进入：{'、'.join(DESTINATIONS.values())}。",
                              code="not_found", status=404)
        with self.db.transaction() as session:
            grants = ops_signin.grants_of(session, visitor["account_id"])
        ticket = handoff.issue_ticket(self.web.secret, service, account_id=visitor["account_id"], name=visitor["name"],
                                      email=visitor["email"], grants=grants, session=session_key(visitor),
                                      session_expires=visitor["until"])
        target = self.config[f"{service.upper()}_PUBLIC_URL"].rstrip("/") + "/sign-in/ticket"
        return self.web.render("hand_on.html", visitor, target=target, ticket=ticket, field=handoff.TICKET_FIELD,
                               destination=DESTINATIONS[service], next_path=safe_next(request.args.get("next")))

    # ------------------------------------------------------------------ e-mailed links: sign in, new password

    def _link_request(self, request, purpose: str):
        template = "link_request.html"
        email = people.normalise_email(request.form.get("email", ""))
        problem = people.email_problem(email)
        if problem is not None:
            return self.web.render(template, None, 400, request=request, email=email, purpose=purpose,
                                   error=problem.message)
        refused = self.web.sign_in_refusal(request, "link-request:" + email, page=template, email=email, purpose=purpose)
        if refused is not None:
            return refused
        if self.web.limits.link_requests.retry_after(email) is None:  # else: quietly no more mail to that address
            self.web.limits.link_requests.hit(email)
            with self.db.transaction() as session:
                ops_signin.request_link(session, self.outbox, email, purpose, self._client(request),
                                        self.config["PUBLIC_URL"])
        # the same answer whether or not the address has an account
        return self.web.render(template, None, request=request, email=email, purpose=purpose, sent=True)

    @page("GET", "/sign-in/link")
    def sign_in_link_form(self, request):
        return self.web.render("link_request.html", None, request=request, purpose="sign_in")

    @page("POST", "/sign-in/link")
    def request_sign_in_link(self, request):
        return self._link_request(request, "sign_in")

    @page("GET", "/password-reset")
    def password_reset_form(self, request):
        return self.web.render("link_request.html", None, request=request, purpose="password_reset")

    @page("POST", "/password-reset")
    def request_password_reset(self, request):
        return self._link_request(request, "password_reset")

    def _link_page(self, request, token: str, purpose: str, template: str):
        # A page with a button, never a change on GET: mail scanners open links, and the link is single-use.
        with self.db.transaction() as session:
            view = ops_signin.link_view(session, token, purpose)
        status = view.refusal.status if view.refusal else 200
        return self.web.render(template, None, status, request=request, token=token, view=view)

    def _link_refused(self, request, token: str, purpose: str, template: str):
        """(view, answer): the answer when the link may not be tried now or cannot be used, else None."""
        subject = "link:" + ops_signin.token_hash(token)
        with self.db.transaction() as session:
            view = ops_signin.link_view(session, token, purpose)
        refused = self.web.sign_in_refusal(request, subject, page=template, token=token, view=view)
        if refused is None and view.refusal is not None:
            self.web.failed(request, subject)
            refused = self.web.render(template, None, view.refusal.status, request=request, token=token, view=view)
        return view, refused

    @page("GET", "/sign-in/link/<string:token>")
    def sign_in_link_page(self, request, token):
        return self._link_page(request, token, "sign_in", "link.html")

    @page("POST", "/sign-in/link/<string:token>")
    def use_sign_in_link(self, request, token):
        view, refused = self._link_refused(request, token, "sign_in", "link.html")
        if refused is not None:
            return refused
        try:
            with self.db.transaction() as session:
                account = ops_signin.use_link(session, token, "sign_in")
                return self._after_first_factor(session, account.id, None, "link", request)
        except DomainError as exc:  # used (or the account disabled) since the page was read
            gone = ops_signin.LinkView(view.name, view.email, signin.LinkRefusal(exc.code, exc.status, exc.message))
            return self.web.render("link.html", None, exc.status, request=request, token=token, view=gone)

    @page("GET", "/password-reset/<string:token>")
    def password_reset_page(self, request, token):
        return self._link_page(request, token, "password_reset", "reset.html")

    @page("POST", "/password-reset/<string:token>")
    def reset_password(self, request, token):
        view, refused = self._link_refused(request, token, "password_reset", "reset.html")
        if refused is not None:
            return refused
        password = request.form.get("password", "")
        problems = people.password_problems(password, view.email, request.form.get("password_confirmation", ""))
        if problems:
            return self.web.render("reset.html", None, 400, request=request, token=token, view=view, problems=problems)
        password_hash = hash_off_loop(password)
        try:
            with self.db.transaction() as session:
                ops_signin.reset_password(session, self.outbox, token, password_hash, self._client(request))
        except DomainError as exc:
            gone = ops_signin.LinkView(view.name, view.email, signin.LinkRefusal(exc.code, exc.status, exc.message))
            return self.web.render("reset.html", None, exc.status, request=request, token=token, view=gone)
        return self.web.render("sign_in.html", None, request=request, email=view.email,
                               notice="新密码已设置，所有已登录的会话均已退出。请用新密码登录。")

    # ------------------------------------------------------------------ single sign-on (统一身份认证)

    def _sso_signer(self) -> Signer:
        return Signer(self.web.secret, "intake/sso-flow")

    def _sso_outbound(self) -> Outbound:
        """Where calls to identity providers may go: public addresses, and SSO_ALLOW_HOSTS."""
        return Outbound(destinations.SSO, self.config.get("SSO_ALLOW_HOSTS"), self.config.get("SSO_DNS"))

    def _sso_callback(self, tenant: str) -> str:
        return f"{self.config['PUBLIC_URL'].rstrip('/')}/sso/{tenant}/callback"

    @page("GET", "/sso/<string:tenant>/start")
    def sso_start(self, request, tenant):
        """Off to the tenant's provider; the flow's state, nonce and PKCE verifier wait in a signed cookie."""
        to = _destination(request.args.get("to"))
        with self.db.transaction() as session:
            _, settings = ops_sso.provider_settings(session, tenant, self.web.secret)
        url, state, nonce, verifier = tpool.execute(sso.begin, settings, self._sso_callback(tenant),  # blocks on HTTP
                                                    outbound=self._sso_outbound())
        response = redirect(url)
        flow = self._sso_signer().sign({"t": tenant, "s": state, "n": nonce, "v": verifier, "to": to}, SSO_FLOW_TTL_S)
        # Lax: the provider's redirect back is a top-level GET, which carries it; no other site's request does
        response.set_cookie(SSO_FLOW_COOKIE, flow, max_age=SSO_FLOW_TTL_S, httponly=True, samesite="Lax",
                            secure=self.web.sessions.secure, path="/sso/")
        return response

    @page("GET", "/sso/<string:tenant>/callback")
    def sso_callback(self, request, tenant):
        subject = "sso:" + tenant[:64]
        wait = self.web.limits.sign_in_wait(self._client(request), subject)
        if wait is not None:
            return self._sign_in_page(request, 429, error=f"登录失败次数过多。请 {max(1, round(wait))} 秒后再试。")
        flow = self._sso_signer().unsign(request.cookies.get(SSO_FLOW_COOKIE, ""))
        if not flow or flow.get("t") != tenant:
            return self._sign_in_page(request, 400, error=(
                "统一身份认证的登录流程已过期（10 分钟内有效）或不是从本平台开始的。请在本页重新点击“统一身份认证登录”。"))
        try:
            with self.db.transaction() as session:
                tenant_row, settings = ops_sso.provider_settings(session, tenant, self.web.secret)
            claims = tpool.execute(sso.finish, settings, self._sso_callback(tenant), request.args, flow["s"], flow["n"],
                                   flow["v"], outbound=self._sso_outbound())
            identity = sso.claims_to_identity(settings, claims)
            with self.db.transaction() as session:
                account = ops_sso.account_for(session, session.merge(tenant_row), settings, identity,
                                              sso.claims_to_grants(settings, claims), self._client(request),
                                              email_ok=ops_sso.email_proven(settings, claims))
                response = self._after_first_factor(session, account.id, flow.get("to"), "sso", request)
        except DomainError as exc:
            self.web.failed(request, subject)
            response = self._sign_in_page(request, exc.status, error=exc.message)
        response.delete_cookie(SSO_FLOW_COOKIE, path="/sso/")
        return response
