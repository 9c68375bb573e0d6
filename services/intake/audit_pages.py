"""The audit log's pages for people: a tenant's owners (单位管理员) read their own log and export it.

    GET /audit        the log, newest first, 50 rows a page; filters: action, since, until (days in
                      Beijing time, both included); `tenant` picks one of the tenants the person owns
    GET /audit.xlsx   the same filtered rows as a workbook (operations/audit.py writes it, every cell
                      through common.tables.xlsx_cell, in a tpool thread)

Mixed into IntakeService (nameko finds inherited entrypoints), beside PeoplePages. Reading writes no row.
Not signed in: 401 with the sign-in page; half-way through signing in: 403 (common.web.WebPages.require);
signed in without an owner grant: 403; a tenant the person does not own: 404.
"""
from __future__ import annotations

from urllib.parse import urlencode

from eventlet import tpool
from werkzeug.wrappers import Response

from common import clock
from common.errors import DomainError, InvalidInput
from common.locale import in_beijing
from common.web import page
from services.intake.operations import audit
from services.intake.people_pages import PERSON

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or "1")
    except ValueError:
        number = 0
    if not 1 <= number <= 10**6:
        raise InvalidInput(f"页码应为 1 到 1000000 之间的整数，实际为“{(raw or '')[:20]}”。请从第 1 页开始翻页。",
                           code="invalid_query", field="page", expected=[1, 10**6], found=(raw or "")[:20])
    return number


def _filters(args) -> dict:
    """The filters as the request gave them (to show in the form and carry into links); empty ones dropped."""
    return {k: args.get(k, "").strip()[:40] for k in ("action", "since", "until") if args.get(k, "").strip()}


class AuditPages:
    """The entrypoints; the service has `web` (common.web.WebPages) and `db`."""

    def _scope(self, session, visitor: dict, request) -> audit.LogScope:
        return audit.owner_scope(session, visitor["account_id"], request.args.get("tenant") or None)

    @page("GET", "/audit")
    def audit_log(self, request):
        visitor = self.web.require(request, PERSON)
        shown = _filters(request.args)
        with self.db.transaction() as session:
            scope = self._scope(session, visitor, request)
            try:
                wanted = audit.page_filter(shown.get("action"), shown.get("since"), shown.get("until"))
                number = _page_number(request.args.get("page"))
            except DomainError as exc:  # the form again, with what was wrong: nothing listed
                return self.web.render("audit.html", visitor, exc.status, error=exc.message, scope=scope,
                                       filters=shown, actions=audit.ACTIONS, result=None, query="")
            result = audit.audit_page(session, scope.tenant_id, wanted, number)
        query = urlencode({"tenant": scope.tenant_id, **shown})
        return self.web.render("audit.html", visitor, scope=scope, filters=shown, actions=audit.ACTIONS,
                               result=result, query=query, pages=-(-result["total"] // audit.PAGE_SIZE))

    @page("GET", "/audit.xlsx")
    def audit_export(self, request):
        visitor = self.web.require(request, PERSON)
        shown = _filters(request.args)
        with self.db.transaction() as session:
            scope = self._scope(session, visitor, request)
            wanted = audit.page_filter(shown.get("action"), shown.get("since"), shown.get("until"))
            rows = audit.export_rows(session, scope.tenant_id, wanted)
        now = in_beijing(clock.now())
        title = (f"{scope.tenant_name} 审计日志　操作：{audit.ACTIONS.get(shown.get('action'), '全部')}　"
                 f"日期：{shown.get('since', '最早')} 至 {shown.get('until', '最新')}　"
                 f"共 {len(rows)} 条　导出于 {now:%Y-%m-%d %H:%M}（北京时间）")
        body = tpool.execute(audit.audit_xlsx, rows, title)  # a workbook of thousands of rows: off the loop
        name = f"audit-{scope.tenant_id}-{now:%Y%m%d-%H%M}.xlsx"
        return Response(body, mimetype=XLSX_TYPE, headers={"Content-Disposition": f"attachment; filename={name}",
                                                           "Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})
