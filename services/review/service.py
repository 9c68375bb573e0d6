"""Review: blind expert scoring, fair assignment, normalised ranking and selection, in a Chinese web UI.

Two kinds of people use it. Admins of a university (组织部/宣传部) or of the
ministry set up rounds, reviewers and assignments, watch progress, rank, select
and export: signed in with their university's API key (every round of it), or as
a person signed in on the platform (intake's ticket), within the scope of their
grants (domain/scope.py). Reviewers sign in through a single-use link that notify
e-mails them and see only their own queue, blind; a person whose e-mail is a
reviewer's in any round has one task list across rounds and universities.
Pages are rendered on the server (Jinja2, autoescaped); every form carries a
CSRF token; files are served through short-lived signed links.
"""
from __future__ import annotations

import dataclasses
import hashlib
import string
from datetime import timezone
from pathlib import Path
from urllib.parse import quote, urlencode

from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from common import looplag, neardup
from common.dependencies import Database, ObjectStore, Segmenter
from common.errors import DomainError, NotFound
from common.files import allow_files_origin
from common.http import api, json_response
from common.locale import in_beijing
from common.messaging import OutboxRelay, handles
from common.web import SignInPages, SignInRequired, WebPages, page, redirect, safe_next
from services.review import export, operations as ops
from services.review.domain import assignment as assigning
from services.review.domain.lifecycles import RoundState, ScoreState
from services.review.domain.reviewers import one_reviewer, parse_reviewer_table
from services.review.models import OutboxMessage, ProcessedEvent, Round, WebSession

HERE = Path(__file__).resolve().parent
MAX_UPLOAD = 5 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATE_LABELS = RoundState.labels()
SCORE_LABELS = ScoreState.labels()
# What the round and ranking pages may say after an action: `?msg=<code>` picks one, and only
# whole numbers fill it in. Any other text in the URL shows nothing (it was shown as a system
# notice: anyone could send an admin a link that "said" anything, issue #14 item 16).
NOTICES = {
    "settings_saved": "设置已保存",
    "reviewers_added": "已添加 {added} 位、更新 {updated} 位专家",
    "reviewers_imported": "已导入：新增 {added} 位、更新 {updated} 位专家",
    "reviewer_removed": ("已将该专家移出本轮，其登录已失效；未提交的作品 {handed_on} 件已改派给其他专家，"
                         "{short} 件暂无可改派的专家"),
    "assigned": "已分配：新增 {added} 项，共 {total} 项，专家间任务数最多相差 {spread}",
    "assigned_one": "已手动分配",
    "unassigned": "已撤销分配",
    "conflict_declared": "已登记回避",
    "invited": "已发送 {sent} 封登录邮件",
    "invited_one": "已向该专家重新发送登录邮件（旧链接仍可使用，直至用过或过期）",
    "closed": "评分已结束，可以查看排名并确认入选",
    "reopened": "已重新开放评分",
    "selected": "已确认",
}


def _notice_fields(code: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(NOTICES[code]) if name]


def notice(args) -> str | None:
    """The notice a `?msg=` code names, with its numbers; None for anything else."""
    code = args.get("msg", "")
    if code not in NOTICES:
        return None
    values = {name: args.get(name, "") for name in _notice_fields(code)}
    if not all(v.isascii() and v.isdigit() and len(v) <= 9 for v in values.values()):
        return None
    return NOTICES[code].format(**values)


def typed_marks(form) -> dict:
    """What a refused score form kept for the page to show again: its marks and comment, bounded (a session row)."""
    kept = {k: v[:20] for k, v in list(form.items())[:50] if k.startswith("mark_") and len(k) <= 70}
    return {**kept, "comment": form.get("comment", "")[:4000], "comment_for_org": form.get("comment_for_org", "")[:4000]}


def draft_stamp(when) -> str:
    """The saved score's time as the page and the autosave name it: the browser's copy says which save it began from."""
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def admin_label(visitor: dict) -> str:
    """An admin as the admin's page of a discussion names them: the person's name, or the key they signed in with."""
    return visitor.get("name") or "单位密钥登录"


def notice_query(code: str, result) -> str:
    numbers = result if isinstance(result, dict) else {}
    return urlencode({"msg": code, **{name: int(numbers.get(name, 0)) for name in _notice_fields(code)}})


class ReviewService(SignInPages):
    name = "review"
    static_dir = HERE / "static"
    landing = "/"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    store = ObjectStore()
    segmenter = Segmenter()  # loads jieba at start: near-duplicate fingerprints of submitted texts
    web = WebPages(HERE / "pages", WebSession, state_labels=STATE_LABELS, score_labels=SCORE_LABELS)

    @api("GET", "/health")
    def health(self, request):
        return {"service": "review", "status": "ok", **looplag.monitor.report()}

    # ------------------------------------------------------------------ signing in

    @page("GET", "/")
    def home(self, request):
        visitor = self.web.visitor(request)
        if visitor is None:
            return redirect("/sign-in")
        if visitor["role"] == "reviewer":
            return redirect("/queue")
        with self.db.transaction() as session:
            home = ops.home_of(session, visitor)
            if home is None:  # a person who administers nothing here: their page is their task list
                return redirect("/tasks")
            return self.web.render("rounds.html", visitor, **home)

    def key_session(self, session, key_hash):
        """Static files, sign-in and sign-out are SignInPages'; an admin signs in with their university's key.

        The session keeps the key's hash (as its principal does): intake's audit log names the key from it."""
        admin = ops.admin_for_key(session, key_hash)
        return admin and {"role": "admin", "tenant": admin.tenant, "kind": admin.tenant_kind, "key_hash": key_hash}

    def _acting(self, request, visitor: dict) -> ops.Acting:
        """Who changes something on this request, and from where, as intake's audit log will name them."""
        return ops.acting(visitor, self.web.limits.client_of(request))

    def person_session(self, session, person):
        """A person intake signed in (POST /sign-in/ticket is SignInPages'): their admin scopes here, or an expert."""
        return ops.person_session(session, person)

    @page("GET", "/sign-in/<string:token>")
    def sign_in_link(self, request, token):
        # A page with a button rather than signing in on GET: mail scanners open links,
        # and a single-use link must not be used up by them.
        return self.web.render("link.html", None, request=request, token=token)

    @page("POST", "/sign-in/<string:token>")
    def redeem_link(self, request, token):
        # Counted per link as well as per address: guessing links is as bad as guessing keys.
        subject = "link:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        refused = self.web.sign_in_refusal(request, subject, page="link.html", token=token)
        if refused is not None:
            return refused
        try:
            with self.db.transaction() as session:
                reviewer = ops.redeem_link(session, token)
                response = redirect(self._return_to(session, reviewer.id, self.web.sessions.pre_next(request)))
                self.web.open_session(session, response, role="reviewer", principal=reviewer.id, tenant=None,
                                      reviewer_id=reviewer.id, round_id=reviewer.round_id, name=reviewer.name)
        except DomainError as exc:
            self.web.failed(request, subject)
            # used, expired or unknown: the page offers a new link, sent to the reviewer's own address
            return self.web.render("link.html", None, exc.status, request=request, token=token, error=exc.message,
                                   gone=True)
        return response

    @staticmethod
    def _return_to(session, reviewer_id: str, back: str | None) -> str:
        """Where a reviewer's link leads: the work page their session ended on (the sign-in page they were sent to
        remembered it in its cookie), when it is one of theirs; else their queue."""
        if back and back.startswith("/works/"):
            try:
                ops.reviewer_assignment(session, reviewer_id, back.removeprefix("/works/"))
                return back
            except DomainError:
                pass
        return "/queue"

    @page("POST", "/sign-in/<string:token>/resend")
    def resend_link(self, request, token):
        """「向我的邮箱重新发送登录链接」: the same answer whether or not a link was sent (or the token was real)."""
        subject = "resend:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        refused = self.web.sign_in_refusal(request, subject, page="link.html", token=token, gone=True)
        if refused is not None:
            return refused
        with self.db.transaction() as session:
            ops.resend_link(session, self.outbox, token, self.config["PUBLIC_URL"], self.web.limits.client_of(request))
        self.web.failed(request, subject)  # counted like a failure: a few tries per link and address, then wait
        return self.web.render("link.html", None, request=request, token=token, gone=True, resent=True)

    @page("POST", "/sign-in/resend")
    def resend_to_address(self, request):
        """「向我的邮箱重新发送登录链接」 on the sign-in page: an expert without a link gives their address and gets a
        fresh link there for each open round they have work in. The page says the same whether or not the address
        is an expert's (it must not tell a stranger who reviews), and tries are counted per address and client."""
        email = (request.form.get("email") or "").strip().lower()
        subject = "resend-to:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()
        refused = self.web.sign_in_refusal(request, subject)
        if refused is not None:
            return refused
        with self.db.transaction() as session:
            ops.resend_links_to(session, self.outbox, email, self.config["PUBLIC_URL"],
                                self.web.limits.client_of(request))
        self.web.failed(request, subject)  # counted like a failure: a few tries per address and client, then wait
        return self.web.render("sign_in.html", None, request=request, resent_to=email)

    @page("GET", "/files/<string:token>")
    def file(self, request, token):
        # Only media's clean copies, under the type media determined; see common.files for the headers.
        return self.web.links.response(self.store, token, request)

    # ------------------------------------------------------------------ reviewers

    def _reviewer(self, request) -> dict:
        return self.web.require(request, "reviewer", ops.PERSON)

    @page("GET", "/tasks")
    def tasks(self, request):
        """A person's works to score in every round of every university they review for."""
        visitor = self._reviewer(request)
        if visitor["role"] == "reviewer":
            return redirect("/queue")  # a link opens one round's queue
        with self.db.transaction() as session:
            message = self.web.take_flash(visitor, "/tasks", db=session).get("notice")
            return self.web.render("tasks.html", visitor, rounds=ops.tasks_of(session, visitor["email"]), message=message)

    @page("GET", "/queue")
    def reviewer_queue(self, request):
        visitor = self._reviewer(request)
        if visitor["role"] == ops.PERSON:
            return redirect("/tasks")
        with self.db.transaction() as session:
            items = ops.queue(session, visitor["reviewer_id"])
            rnd = session.get(Round, visitor["round_id"])
            message = self.web.take_flash(visitor, "/queue", db=session).get("notice")  # a work declined
            return self.web.render("queue.html", visitor, items=items, round=rnd, round_title=ops.blind_title(session, rnd),
                                   done=sum(i["state"] == ScoreState.SUBMITTED for i in items), message=message)

    @page("GET", "/works/<string:assignment_id>")
    def work(self, request, assignment_id):
        visitor = self._reviewer(request)
        with self.db.transaction() as session:
            a = ops.assignment_for_visitor(session, visitor, assignment_id)
            view = ops.work_view(session, a, self.web.links)
            # a refused form's message and values (post/redirect/get): shown once, a reload shows the saved score
            kept = self.web.take_flash(visitor, f"/works/{assignment_id}", db=session)
            score = view["score"]
            return allow_files_origin(self.web.render(
                "work.html", visitor, saved=request.args.get("saved"), error=kept.get("error"), error_code=kept.get("code"),
                form=kept.get("form"), declining=kept.get("declining"), thread=ops.discussion_for_expert(session, a),
                posting=kept.get("posting"), posted=request.args.get("posted") == "1",
                done=self._done_label(session, visitor, request.args.get("done")),
                saved_stamp=draft_stamp(score.updated_at) if score else "", **view), self.web.links, self.store)

    @staticmethod
    def _done_label(session, visitor, assignment_id: str | None) -> str | None:
        """「第 3 件《…》」 for 「…评分已提交」: the visitor's own work named by `?done=`, else None (no other text)."""
        if not assignment_id:
            return None
        try:
            return ops.work_label(session, ops.assignment_for_visitor(session, visitor, assignment_id))
        except DomainError:
            return None

    @page("POST", "/works/<string:assignment_id>/score")
    def score(self, request, assignment_id):
        here = f"/works/{assignment_id}"
        # an expired session: the sign-in page leads back to the work page, not to this form's address
        visitor = self.web.require(request, "reviewer", ops.PERSON, next_path=here)
        submit = request.form.get("action") == "submit"
        try:
            with self.db.transaction() as session:
                a = ops.assignment_for_visitor(session, visitor, assignment_id)
                ops.save_score(session, self.outbox, self._acting(request, visitor), a, request.form, submit)
                next_id = ops.work_view(session, a, self.web.links)["next_id"]
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            # post/redirect/get: the page shows the message and the values typed; Back and reload post nothing again
            self.web.flash(visitor, here, error=exc.message, code=exc.code, form=typed_marks(request.form))
            return redirect(here)
        if submit and next_id:
            return redirect(f"/works/{next_id}?saved=submitted&done={assignment_id}")
        return redirect(f"{here}?saved={'submitted' if submit else 'draft'}" + (f"&done={assignment_id}" if submit else ""))

    @page("POST", "/works/<string:assignment_id>/draft")
    def draft(self, request, assignment_id):
        """The work page's autosave (review.js, as the expert types): the form's fields and its CSRF token in, JSON
        out. A draft by the draft button's rules; a submitted score or a closed round is refused (409), a bad mark
        400 with its code. Without a session 401 and where to sign in: the page keeps the marks in the browser."""
        here = f"/works/{assignment_id}"
        try:
            visitor = self.web.require(request, "reviewer", ops.PERSON, next_path=here)
            with self.db.transaction() as session:
                a = ops.assignment_for_visitor(session, visitor, assignment_id)
                score = ops.save_draft(session, self.outbox, self._acting(request, visitor), a, request.form)
                body = {"saved": True, "state": score.state if score else ScoreState.OPEN.value,
                        "saved_at": draft_stamp(score.updated_at) if score else "",
                        "saved_time": in_beijing(score.updated_at).strftime("%H:%M") if score else ""}
        except SignInRequired as exc:
            if exc.response.status_code != 401:
                raise  # signed in as another role: the page saying what their role is for, as everywhere
            body = exc.to_dict()  # the session ended: the page keeps the marks and offers to sign in, back to it
            body["error"]["sign_in"] = "/sign-in?" + urlencode({"next": safe_next(here) or "/"})
            return json_response(body, 401, {"Cache-Control": "no-store"})
        except DomainError as exc:
            if exc.status == 404:
                raise
            return json_response(exc.to_dict(), exc.status, {"Cache-Control": "no-store"})
        return json_response(body, 200, {"Cache-Control": "no-store"})

    @page("POST", "/works/<string:assignment_id>/discussion")
    def discuss(self, request, assignment_id):
        """A message to the work's discussion (专家讨论), where it is open; refused ones come back with the text typed."""
        here = f"/works/{assignment_id}"
        visitor = self.web.require(request, "reviewer", ops.PERSON, next_path=here)
        body = request.form.get("body", "")
        try:
            with self.db.transaction() as session:
                a = ops.assignment_for_visitor(session, visitor, assignment_id)
                ops.post_as_expert(session, self.outbox, self._acting(request, visitor), a, body)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            self.web.flash(visitor, here, error=exc.message, code=exc.code, posting=body[:4000])
            return redirect(f"{here}#discussion")
        return redirect(f"{here}?posted=1#discussion")

    @page("POST", "/works/<string:assignment_id>/decline")
    def decline(self, request, assignment_id):
        """Declining asks first: without 「确认回避/退回该作品」 ticked nothing changes (the page says why)."""
        here = f"/works/{assignment_id}"
        visitor = self.web.require(request, "reviewer", ops.PERSON, next_path=here)
        home = "/tasks" if visitor["role"] == ops.PERSON else "/queue"
        conflict = request.form.get("conflict") == "on"
        try:
            with self.db.transaction() as session:
                a = ops.assignment_for_visitor(session, visitor, assignment_id)
                if request.form.get("confirm") != "on":
                    raise DomainError("请勾选「确认回避/退回该作品」后再提交：退回后这件作品交给其他专家评审，您不能再为它打分。",
                                      code="decline_not_confirmed")
                label = ops.work_label(session, a)
                ops.decline_work(session, self.outbox, self._acting(request, visitor), a, request.form.get("reason", ""),
                                 conflict)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            self.web.flash(visitor, here, error=exc.message, code=exc.code, declining={
                "reason": request.form.get("reason", "")[:500], "conflict": conflict})
            return redirect(f"{here}#decline")
        self.web.flash(visitor, home, notice=f"已退回{label}{'并登记回避' if conflict else ''}，它将交给其他专家评审。")
        return redirect(home)

    # ------------------------------------------------------------------ admins

    def _admin_round(self, session, request, round_id) -> tuple[dict, Round]:
        # a round outside the visitor's tenant or scope answers 404, as a missing one
        visitor = self.web.require(request, "admin", ops.PERSON, db=session)
        return visitor, ops.round_for_visitor(session, round_id, visitor)

    @page("GET", "/rounds/<string:round_id>")
    def round_page(self, request, round_id):
        with self.db.transaction() as session:
            visitor, rnd = self._admin_round(session, request, round_id)
            page = request.args.get("page", "1")
            refused = self._refusal(visitor, f"/rounds/{round_id}", session)
            return self.web.render("round.html", visitor, refused.pop("status", 200), round=rnd,
                                   message=notice(request.args), **refused,
                                   **ops.round_overview(session, rnd, int(page) if page.isdigit() else 1))

    def _refused(self, request, round_id: str, page: str, exc: DomainError, **kept) -> Response:
        """Post/redirect/get for a refused admin form: what was refused (its message, every problem of a refused
        list, a question to confirm) is kept once in the session and the answer is 303 to `page`, whose next GET
        shows it with the refusal's status; Back and reload post nothing again (issue #17 item 13)."""
        if exc.status in (401, 403, 404):
            raise exc
        question = exc.question if isinstance(exc, ops.NeedsConfirmation) else None
        with self.db.transaction() as session:
            visitor, _ = self._admin_round(session, request, round_id)
            self.web.flash(visitor, page, db=session, status=exc.status, error=exc.message, error_code=exc.code,
                           error_details=exc.details, question=dataclasses.asdict(question) if question else None,
                           **kept)
        return redirect(page)

    def _refusal(self, visitor: dict, page: str, session) -> dict:
        """What `_refused` kept for this page, once; {} when nothing was refused."""
        kept = self.web.take_flash(visitor, page, db=session)
        kept.pop("page", None)
        return kept

    def _act(self, request, round_id, action, done: str = "settings_saved"):
        """Run an admin action on a round: `action(session, rnd, by)`, where `by` is who acts (the use case
        records the change in intake's audit log). A refusal is shown on the round page (`_refused`), nothing
        half-done."""
        try:
            with self.db.transaction() as session:
                visitor, rnd = self._admin_round(session, request, round_id)
                result = action(session, rnd, self._acting(request, visitor))
        except DomainError as exc:
            return self._refused(request, round_id, f"/rounds/{round_id}", exc)
        return redirect(f"/rounds/{round_id}?{notice_query(done, result)}")

    @page("POST", "/rounds/<string:round_id>/settings")
    def round_settings(self, request, round_id):
        return self._act(request, round_id, lambda session, rnd, by: ops.set_round_settings(
            session, self.outbox, by, rnd, request.form.get("reviewers_per_work", ""), request.form.get("scoring_deadline")),
            "settings_saved")

    @page("POST", "/rounds/<string:round_id>/reviewers")
    def add_reviewer(self, request, round_id):
        f = request.form
        return self._act(request, round_id, lambda session, rnd, by: ops.add_reviewer(session, self.outbox, by, rnd, one_reviewer(
            f.get("name", ""), f.get("email", ""), f.get("university", ""), f.get("org", ""),
            f.get("expertise", ""))), "reviewers_added")

    @page("POST", "/rounds/<string:round_id>/reviewers/import", max_body=MAX_UPLOAD + 64 * 1024)  # file + form
    def import_reviewers(self, request, round_id):
        upload = request.files.get("file")

        def action(session, rnd, by):
            if upload is None or not upload.filename:
                raise DomainError("请选择要导入的评审专家名单文件（.xlsx 或 .csv）。", code="file_missing")
            data = upload.stream.read(MAX_UPLOAD + 1)
            if len(data) > MAX_UPLOAD:
                raise DomainError(f"名单文件最大 {MAX_UPLOAD // 1024 // 1024} MB。", code="file_too_large", status=413)
            # unzipping and parsing a workbook is CPU work: in a real thread, not on the event loop
            rows = tpool.execute(parse_reviewer_table, data, upload.filename, upload.mimetype)
            return ops.import_reviewers(session, self.outbox, by, rnd, rows, upload.filename)

        return self._act(request, round_id, action, "reviewers_imported")

    @page("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/remove")
    def remove_reviewer(self, request, round_id, reviewer_id):
        """Take a reviewer out of the round: their sessions end at once, their open works go to colleagues."""
        return self._act(request, round_id, lambda session, rnd, by: ops.remove_reviewer(
            session, self.outbox, by, rnd, reviewer_id), "reviewer_removed")

    @page("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/invite")
    def invite_one(self, request, round_id, reviewer_id):
        """「重发登录邮件」 for one expert: a fresh link to them alone (the round's button mails everyone)."""
        return self._act(request, round_id, lambda session, rnd, by: ops.send_link_to(
            session, self.outbox, by, rnd, reviewer_id, self.web.public_url), "invited_one")

    @page("POST", "/rounds/<string:round_id>/assign")
    def assign(self, request, round_id):
        def action(session, rnd, by):
            try:
                return ops.assign_round(session, self.outbox, by, rnd)
            except assigning.AssignmentImpossible as exc:
                raise DomainError(str(exc), code="assignment_impossible", status=409) from None

        return self._act(request, round_id, action, "assigned")

    @page("POST", "/rounds/<string:round_id>/assignments")
    def assign_one(self, request, round_id):
        return self._act(request, round_id, lambda session, rnd, by: ops.assign_manually(
            session, self.outbox, by, rnd, request.form.get("reviewer_id", ""), request.form.get("submission_id", "")),
            "assigned_one")

    @page("POST", "/rounds/<string:round_id>/assignments/<string:assignment_id>/remove")
    def unassign(self, request, round_id, assignment_id):
        return self._act(request, round_id, lambda session, rnd, by: ops.remove_assignment(
            session, self.outbox, by, rnd, assignment_id), "unassigned")

    @page("POST", "/rounds/<string:round_id>/conflicts")
    def add_conflict(self, request, round_id):
        return self._act(request, round_id, lambda session, rnd, by: ops.declare_conflict(
            session, self.outbox, by, rnd, request.form.get("reviewer_id", ""), request.form.get("submission_id", ""),
            request.form.get("reason", "")), "conflict_declared")

    @page("POST", "/rounds/<string:round_id>/invite")
    def invite(self, request, round_id):
        reminder = request.form.get("reminder") == "1"
        return self._act(request, round_id, lambda session, rnd, by: {"sent": ops.issue_sign_in_links(
            session, self.outbox, by, rnd, self.web.public_url, reminder)}, "invited")

    @page("POST", "/rounds/<string:round_id>/close")
    def close(self, request, round_id):
        """Complete scoring closes in one click. With assigned scores not submitted and no `confirmed=1` in the
        form, nothing closes: 409 with the round page asking once more, naming what is missing (「3 份评分未提交」)
        and what closing does, and a button that posts again with confirmed=1."""
        confirmed = request.form.get("confirmed") == "1"

        def action(session, rnd, by):
            if not confirmed and rnd.state == RoundState.OPEN:
                question = ops.close_question(session, rnd)
                if question is not None:
                    raise ops.NeedsConfirmation(question)
            return ops.close_round(session, self.outbox, by, rnd)

        return self._act(request, round_id, action, "closed")

    @page("POST", "/rounds/<string:round_id>/reopen")
    def reopen(self, request, round_id):
        return self._act(request, round_id, lambda session, rnd, by: ops.reopen_round(session, self.outbox, by, rnd),
                         "reopened")

    @page("GET", "/rounds/<string:round_id>/ranking")
    def ranking(self, request, round_id):
        with self.db.transaction() as session:
            visitor, rnd = self._admin_round(session, request, round_id)
            refused = self._refusal(visitor, f"/rounds/{round_id}/ranking", session)
            return self.web.render("ranking.html", visitor, refused.pop("status", 200), round=rnd,
                                   message=notice(request.args), **refused,
                                   **ops.ranking_of(session, rnd, request.args.get("sort", "normalised")))

    @page("POST", "/rounds/<string:round_id>/selection")
    def select(self, request, round_id):
        try:
            with self.db.transaction() as session:
                visitor, rnd = self._admin_round(session, request, round_id)
                reasons = {key.removeprefix("reason_"): value for key, value in request.form.items()
                           if key.startswith("reason_")}  # 审核把关: why a work fails
                # a choice holding a work short of its k scores is asked about first (409, the ranking page with
                # the question and a button posting the same choice with confirmed=1); a complete one: one click
                ops.confirm_selection(session, self.outbox, self._acting(request, visitor), rnd,
                                      request.form.getlist("selected"), reasons,
                                      confirmed=request.form.get("confirmed") == "1",
                                      send_comments=request.form.get("send_comments") == "1")
        except DomainError as exc:
            # the choice and the reasons typed come back with the refusal, so nothing is typed twice
            return self._refused(request, round_id, f"/rounds/{round_id}/ranking", exc,
                                 form={k: v for k, v in request.form.items() if k.startswith("reason_")},
                                 asked_selected=request.form.getlist("selected"))
        return redirect(f"/rounds/{round_id}/ranking?{notice_query('selected', None)}")

    @page("GET", "/rounds/<string:round_id>/export.xlsx")
    def export_xlsx(self, request, round_id):
        with self.db.transaction() as session:
            _, rnd = self._admin_round(session, request, round_id)
            body = export.ranking_xlsx(session, rnd)
            name, fallback = export.download_names(session, rnd)
        # the Chinese name as RFC 5987 writes it, with an ASCII one for a client that reads only `filename`
        return Response(body, mimetype=XLSX_TYPE, headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store"})

    @page("GET", "/rounds/<string:round_id>/entries/<string:submission_id>")
    def entry_reviews(self, request, round_id, submission_id):
        """One work's reviews for the round's admin: every expert by name, their marks per criterion, state and
        comment. A reviewer gets 403 (experts never read each other's reviews); a work not in the round, 404."""
        with self.db.transaction() as session:
            visitor, rnd = self._admin_round(session, request, round_id)
            view = ops.work_reviews(session, rnd, submission_id, self.web.links)
            kept = self.web.take_flash(visitor, f"/rounds/{round_id}/entries/{submission_id}", db=session)
            return allow_files_origin(self.web.render(
                "entry.html", visitor, round=rnd, thread=ops.discussion_for_admin(session, rnd, submission_id),
                error=kept.get("error"), error_code=kept.get("code"), posting=kept.get("posting"),
                posted=request.args.get("posted"), **view), self.web.links, self.store)

    def _discussion_act(self, request, round_id, submission_id, action, done: str):
        """An admin's change to a work's discussion, back to the work's page (post/redirect/get): a refusal is shown
        there once, with the text typed."""
        here = f"/rounds/{round_id}/entries/{submission_id}"
        try:
            with self.db.transaction() as session:
                visitor, rnd = self._admin_round(session, request, round_id)
                action(session, rnd, visitor)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            with self.db.transaction() as session:
                visitor, _ = self._admin_round(session, request, round_id)
                self.web.flash(visitor, here, db=session, error=exc.message, code=exc.code,
                               posting=request.form.get("body", "")[:4000])
            return redirect(f"{here}#discussion")
        return redirect(f"{here}?posted={done}#discussion")

    @page("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion")
    def admin_discuss(self, request, round_id, submission_id):
        """The round's admin speaks in a work's discussion; experts read them as 「管理员」."""
        return self._discussion_act(request, round_id, submission_id, lambda session, rnd, visitor: ops.post_as_admin(
            session, self.outbox, self._acting(request, visitor), rnd, submission_id, admin_label(visitor),
            request.form.get("body", "")), "post")

    @page("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion/open")
    def open_discussion(self, request, round_id, submission_id):
        """The admin opens a work's discussion although the ranking does not flag it 分歧大."""
        return self._discussion_act(request, round_id, submission_id, lambda session, rnd, visitor: ops.open_discussion(
            session, self.outbox, self._acting(request, visitor), rnd, submission_id), "open")

    @timer(interval=3600)
    def remind_reviewers(self):
        """Reviewers with open work hear 3 and 1 days before the scoring deadline; safe to run any time."""
        with self.db.transaction() as session:
            return ops.send_due_reminders(session, self.outbox, self.web.public_url)

    @timer(interval=60)
    def end_publicities(self):
        """公示期满: each confirmed publicity whose period is over is announced once (publicity_ended), on any replica."""
        return ops.end_due_publicities(self.db.transaction, self.outbox)

    # ------------------------------------------------------------------ events

    @handles("campaign_published", once=True)
    def on_campaign_published(self, session, event):
        ops.record_campaign(session, event.tenant, event.data)

    @handles("orgs_imported", once=True)
    def on_orgs_imported(self, session, event):
        ops.record_orgs(session, event.tenant, event.data)

    @handles("api_key_issued", once=True)
    def on_api_key_issued(self, session, event):
        ops.record_key(session, event.tenant, event.data)

    @handles("api_key_revoked", once=True)
    def on_api_key_revoked(self, session, event):
        ops.revoke_key(session, event.data)  # every admin signed in with it is out

    @handles("account_sessions_ended", once=True)
    def on_account_sessions_ended(self, session, event):
        ops.end_person_sessions(session, event.data)  # signed out, a grant removed, disabled: out of review too

    @handles("file_uploaded", once=True)
    def on_file_uploaded(self, session, event):
        ops.record_file(session, event.data)

    @handles("file_checked", once=True)
    def on_file_checked(self, session, event):
        if not ops.record_file_check(session, event.data):
            # The check overtook its upload event: raising rolls back and retries later.
            raise NotFound(f"file {event.data['file_id']} not known yet", code="file_not_known_yet")

    @handles("submission_submitted")
    def on_submission_submitted(self, event):
        with self.db.transaction() as session:  # which fields are prose: the track's text fields
            text = ops.work_text(session, event.data["campaign_id"], event.data["track"], event.data.get("fields") or {})
        # jieba is CPU work: off the event loop, before the transaction opens
        fp = tpool.execute(neardup.fingerprint, event.data["submission_id"], text) if text else None
        with self.db.handling(event) as session:
            if session is not None:
                ops.record_submission(session, event.tenant, event.data, fp)

    @handles("submission_withdrawn", once=True)
    def on_submission_withdrawn(self, session, event):
        ops.record_withdrawal(session, event.tenant, event.data)

    @handles("submission_reopened", once=True)
    def on_submission_reopened(self, session, event):
        ops.record_reopening(session, event.tenant, event.data)

    @handles("submission_forwarded", once=True)
    def on_submission_forwarded(self, session, event):
        ops.record_forwarded(session, event.tenant, event.data)

