"""The hosted submission pages (issue #20): for a university without a portal of its own, its people (a branch
secretary, a college's or the university's staff) do in the browser what a portal does through the API.

    GET /submit    the page: campaigns and tracks open to the person, their works, a work's form with a live 字数
                   count, files with progress and the media check's findings, submit and the receipt, withdraw

The page is a shell; `static/submit.js` does the rest through the public API (`/api/v1`), with the person's
session instead of a key (`IntakeService._caller`: the reach their grants give) and the session's CSRF token in
`X-CSRF-Token` on every call. No private route: what the page can do, a portal can. Mixed into IntakeService.
"""
from __future__ import annotations

from common.text import describe_count_rule
from common.web import page, redirect
from services.intake.operations import signin as ops_signin
from services.intake.people_pages import PERSON


class SubmissionPages:
    """The entrypoint; the service has `web` (common.web.WebPages) and `db`."""

    @page("GET", "/submit")
    def submission_page(self, request):
        visitor = self.web.visitor(request)
        if visitor is None or visitor["role"] != PERSON:
            return redirect("/sign-in")
        with self.db.transaction() as session:
            grants = ops_signin.grants_of(session, visitor["account_id"])
        tenants = sorted({g["tenant"]: g["tenant_name"] for g in grants
                          if g["role"] in ("owner", "department_admin", "org_admin")}.items())
        return self.web.render("submit.html", visitor, tenants=tenants, count_rule=describe_count_rule())
