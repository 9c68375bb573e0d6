"""A university's org tree: import from a table, lookups, listing."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from common.db import contains_text, utcnow
from common.errors import NotFound
from common.locale import beijing_iso
from services.intake.domain.orgs import parse_org_table
from services.intake.models import Org, Tenant
from services.intake.operations.audit import acting, record_by, short
from services.intake.operations.pages import Sync, paged, synced
from services.intake.operations.tenants import Caller, require_university, within_reach


def org_json(org: Org) -> dict:
    return {"id": org.id, "name": org.name, "short_name": org.short_name, "level": org.level,
            "parent_id": org.parent_id, "code": org.code, "contact_name": org.contact_name,
            "contact_email": org.contact_email, "contact_phone": org.contact_phone,
            "created_at": beijing_iso(org.created_at), "updated_at": beijing_iso(org.updated_at)}


def _org_not_found(org_id: str) -> NotFound:
    return NotFound(f"找不到组织 {org_id}。请用 GET /api/v1/orgs 查看本校的组织。", code="org_not_found", found=org_id)


def get_org(session, who: Caller, org_id: str) -> Org:
    """An org of the caller's tenant within its key's reach; any other answers as a missing one."""
    org = session.scalar(select(Org).where(Org.id == org_id, Org.tenant_id == who.tenant.id,
                                           *within_reach(session, who, Org.id)))
    if org is None:
        raise _org_not_found(org_id)
    return org


def org_of_tenant(session, tenant: Tenant, org_id: str) -> Org:
    """An org of the tenant, whatever a key's reach: a new work's org, which the reach then allows or refuses
    (403 key_reach, tenants.require_reach), as a refusal names the reach rather than pretending the org is missing."""
    org = session.get(Org, org_id)
    if org is None or org.tenant_id != tenant.id:
        raise _org_not_found(org_id)
    return org


def import_orgs(session, outbox, who: Caller | Tenant, data: bytes, filename: str | None, content_type: str | None,
                parse: Callable[..., list] = parse_org_table) -> dict:
    """All rows or none: validation runs on the whole table before any write. `parse` is parse_org_table, or
    the service's wrapper that runs it in a tpool thread (unzipping and parsing a workbook is CPU work).
    `who`: the API's caller, or the tenant the operator's command line acts for (the demo's list)."""
    caller = acting(who)
    tenant = caller.tenant
    require_university(tenant)
    existing_rows = session.scalars(select(Org).where(Org.tenant_id == tenant.id)).all()
    by_name = {o.name: o for o in existing_rows}
    rows = parse(data, filename, content_type, {o.name: o.level for o in existing_rows})
    created = updated = 0
    for row in rows:  # level2 rows come first, so parents exist before branches
        org = by_name.get(row.name)
        parent = by_name.get(row.parent_name) if row.parent_name else None
        values = dict(short_name=row.short_name, level=row.level, parent_id=parent.id if parent else None,
                      code=row.code, contact_name=row.contact_name, contact_email=row.contact_email,
                      contact_phone=row.contact_phone)
        if org is None:
            org = Org(tenant_id=tenant.id, name=row.name, **values)
            session.add(org)
            session.flush()
            by_name[row.name] = org
            created += 1
        else:
            for k, v in values.items():
                setattr(org, k, v)
            updated += 1
    session.flush()
    # The whole tree, so a consumer replaces its copy rather than patching it.
    outbox.add(session, "orgs_imported", tenant.id, {"tenant_name": tenant.name, "orgs": [
        {"org_id": o.id, "name": o.name, "short_name": o.short_name, "level": o.level, "parent_id": o.parent_id,
         "contact_email": o.contact_email}
        for o in by_name.values()]})
    totals = {"created": created, "updated": updated, "total": len(rows)}
    record_by(session, caller, "orgs.imported", "orgs", None, {"filename": short(filename), **totals})
    return totals


def list_orgs(session, who: Caller, level: str | None, parent_id: str | None, q: str | None,
              page: int, per_page: int, sync: Sync | None = None) -> dict:
    query = select(Org).where(Org.tenant_id == who.tenant.id, *within_reach(session, who, Org.id))
    if level:
        query = query.where(Org.level == level)
    if parent_id:
        query = query.where(Org.parent_id == parent_id)
    if q:
        query = query.where(contains_text(Org.name, q))
    if sync is not None:  # an org's updated_at is stamped by the real clock (models.Org), not the platform's
        return synced(session, query, Org.updated_at, Org.id, sync, per_page, org_json, utcnow)
    return paged(session, query.order_by(Org.level, Org.name), page, per_page, org_json)


def org_names(org: Org) -> list[str]:
    return [n for n in (org.name, org.short_name) if n]
