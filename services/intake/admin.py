"""Operator commands for intake: tenants, API keys, built-in campaigns.

    python -m services.intake.admin create-tenant seu 东南大学 --category direct
    python -m services.intake.admin set-category hbut local
    python -m services.intake.admin issue-key seu --label "门户"
    python -m services.intake.admin revoke-key sk_AbCdEfG
    python -m services.intake.admin publish-builtin siyige-2020 --owner ministry

A key is printed once; only its hash is kept.
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from common import messaging
from common.campaign.audience import CATEGORIES, category_label
from common.db import Store, migrate
from common.errors import DomainError
from common.settings import migrations_dir, service_config
from services.intake import operations as ops
from services.intake.models import OutboxMessage, Tenant


class StandaloneOutbox(messaging.StandaloneOutbox):
    """Writes outbox rows outside a nameko worker; intake's relay publishes them."""

    def __init__(self):
        super().__init__(OutboxMessage)


def open_store() -> Store:
    url = service_config("intake")["DATABASE_URL"]
    migrate(url, migrations_dir("intake"))
    return Store(url)


def ensure_tenant(session, slug: str, name: str, kind: str, contact_email: str | None = None,
                  category: str | None = None) -> Tenant:
    return session.get(Tenant, slug) or ops.create_tenant(session, slug, name, kind, contact_email,
                                                          StandaloneOutbox(), category)


def publish_builtin(session, campaign_id: str, owner: str) -> bool:
    """Publish a shipped definition unless it is already published."""
    from common.campaign import load_builtin_definitions

    tenant = session.get(Tenant, owner)
    # the owner's own (or, for a ministry id, the ministry's): published as `<owner>.<id>` by a university
    if ops.find_campaign(session, tenant, campaign_id) is not None:
        return False
    definition = load_builtin_definitions()[campaign_id]
    ops.publish_campaign(session, StandaloneOutbox(), tenant, definition.raw)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake.admin")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("create-tenant")
    p.add_argument("slug")
    p.add_argument("name")
    p.add_argument("--kind", choices=["university", "ministry"], default="university")
    p.add_argument("--contact-email", default=None, help="the organisation department's mailbox")
    p.add_argument("--category", choices=CATEGORIES, default=None,
                   help="a university's category: direct 教育部直属高校, co_built 部省合建高校, local 地方高校 "
                        "(whose campaigns' audience it is in; unset: treated as in every audience naming categories)")
    p = sub.add_parser("set-category", help="set or clear (none) a registered university's category")
    p.add_argument("slug")
    p.add_argument("category", choices=[*CATEGORIES, "none"])
    p = sub.add_parser("issue-key")
    p.add_argument("tenant")
    p.add_argument("--label", default="")
    p = sub.add_parser("revoke-key")
    p.add_argument("prefix")
    sub.add_parser("list-tenants")
    p = sub.add_parser("publish-builtin")
    p.add_argument("campaign_id")
    p.add_argument("--owner", default="ministry")
    args = parser.parse_args(argv)

    store = open_store()
    try:
        with store.transaction() as session:
            if args.cmd == "create-tenant":
                ops.create_tenant(session, args.slug, args.name, args.kind, args.contact_email, StandaloneOutbox(),
                                  args.category)
                print(f"created tenant {args.slug}")
            elif args.cmd == "set-category":
                tenant = ops.set_category(session, StandaloneOutbox(), args.slug,
                                          None if args.category == "none" else args.category)
                print(f"{tenant.id}\t{category_label(tenant.category)}")
            elif args.cmd == "issue-key":
                if session.get(Tenant, args.tenant) is None:
                    print(f"no tenant {args.tenant}", file=sys.stderr)
                    return 1
                print(ops.issue_key(session, StandaloneOutbox(), args.tenant, args.label))
            elif args.cmd == "revoke-key":
                print(f"revoked {ops.revoke_keys(session, StandaloneOutbox(), args.prefix)} key(s)")
            elif args.cmd == "list-tenants":
                for t in session.scalars(select(Tenant).order_by(Tenant.id)):
                    print(f"{t.id}\t{t.kind}\t{t.name}\t{t.category or ''}")
            elif args.cmd == "publish-builtin":
                print("published" if publish_builtin(session, args.campaign_id, args.owner) else "already published")
    except DomainError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
