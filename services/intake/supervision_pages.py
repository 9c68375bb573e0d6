"""Supervision's pages (督查, issue #15): who in my scope has not submitted, exported, and reminded in one action.

    GET  /supervision            per track of a campaign, per submitting level, the orgs in the person's scope that
                                 still owe a stage: contact, last activity, state, how late (Beijing time); the
                                 ministry's people see the universities that have forwarded nothing in a track.
                                 ?tenant= picks one of the person's tenants, ?campaign_id= a campaign, ?track= one track
    GET  /supervision.xlsx       the same lists as a workbook (common.tables.xlsx_cell; written in a tpool thread)
    POST /supervision/remind     the page's form (its CSRF token): remind every org of one track's list at once;
                                 the answer is the page again, saying how many were reminded

Mixed into IntakeService (nameko finds inherited entrypoints). Reading writes nothing. Not signed in: 401 with
the sign-in page; half-way through signing in: 403; no owner, department admin, org admin or viewer grant: 403; a
tenant the person supervises nothing in, a campaign or track not theirs: 404; a viewer's reminder: 403.
"""
from __future__ import annotations

from urllib.parse import urlencode

from eventlet import tpool
from werkzeug.wrappers import Response

from common import clock
from common.locale import in_beijing
from common.web import page
from services.intake.operations import signin as ops_signin, supervision
from services.intake.people_pages import PERSON

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _asked(values) -> dict:
    """The page's choices as the request gave them (a form or a query string), trimmed; empty ones dropped."""
    return {k: values.get(k, "").strip()[:200] for k in ("tenant", "campaign_id", "track") if values.get(k, "").strip()}


class SupervisionPages:
    """The entrypoints; the service has `web` (common.web.WebPages), `db` and `outbox`."""

    def _view(self, visitor: dict, asked: dict):
        with self.db.transaction() as session:
            grants = ops_signin.grants_of(session, visitor["account_id"])
            return supervision.supervision_view(session, grants, asked.get("tenant"), asked.get("campaign_id"),
                                                asked.get("track"), clock.now())

    def _render(self, visitor: dict, view, status: int = 200, **context):
        query = {"tenant": view.scope.tenant, **({"campaign_id": view.campaign_id} if view.campaign_id else {})}
        return self.web.render("supervision.html", visitor, status, view=view, base_query=urlencode(query),
                               export_query=urlencode({**query, **({"track": view.track} if view.track else {})}),
                               **context)

    @page("GET", "/supervision")
    def supervision_page(self, request):
        visitor = self.web.require(request, PERSON)
        return self._render(visitor, self._view(visitor, _asked(request.args)))

    @page("GET", "/supervision.xlsx")
    def supervision_export(self, request):
        visitor = self.web.require(request, PERSON)
        view = self._view(visitor, _asked(request.args))
        now = in_beijing(view.now)
        who = "高校" if view.scope.ministry else "组织"
        title = (f"{view.scope.name} 督查名单（未提交的{who}）　活动：{view.campaign_title or '无'}　"
                 f"赛道：{'、'.join(t.label for t in view.tracks) or '无'}　导出于 {now:%Y-%m-%d %H:%M}（北京时间）")
        body = tpool.execute(supervision.supervision_xlsx, view, title)  # thousands of rows: off the loop
        name = f"supervision-{view.scope.tenant}-{now:%Y%m%d-%H%M}.xlsx"
        return Response(body, mimetype=XLSX_TYPE, headers={"Content-Disposition": f"attachment; filename={name}",
                                                           "Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})

    @page("POST", "/supervision/remind")
    def supervision_remind(self, request):
        visitor = self.web.require(request, PERSON)  # a POST: the form's CSRF token is checked here
        asked = _asked(request.form)
        with self.db.transaction() as session:
            grants = ops_signin.grants_of(session, visitor["account_id"])
            outcome = supervision.remind(session, self.outbox, visitor, grants, asked.get("tenant"),
                                         asked.get("campaign_id"), asked.get("track"),
                                         self.web.limits.client_of(request), clock.now())
        # the page as it was (every track, or the one it was narrowed to), with what was done
        shown = request.form.get("shown_track", "").strip()[:200] or None
        return self._render(visitor, self._view(visitor, {**asked, "track": shown}), outcome=outcome)
