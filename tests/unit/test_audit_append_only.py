"""The audit log is append-only: no code changes or removes a row, no route can, and the database refuses to.

Three proofs, each of which fails when someone adds a way around it:
- a source walk of intake: the model `AuditEntry` is named only where it is defined and in
  operations/audit.py, and there only to add a row (`AuditEntry(...)`) or to read (`select`, columns);
  that module assigns no attribute and calls nothing that updates, deletes or merges; no other
  source spells the table's name in SQL;
- the API document has no operation on the log but GET;
- on a migrated SQLite database, UPDATE and DELETE of a row are refused (PostgreSQL's triggers are
  the same migration's, exercised by the integration tests).
"""
from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
INTAKE = ROOT / "services" / "intake"
AUDIT = INTAKE / "operations" / "audit.py"
MODELS = INTAKE / "models.py"
WRITES = {"update", "delete", "merge", "execute", "bulk_update_mappings", "bulk_save_objects", "setattr"}


def _sources():
    return [p for p in sorted(INTAKE.rglob("*.py")) if "migrations" not in p.parts]


def _parents(tree):
    parent = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
    return parent


def test_only_the_audit_module_names_the_model():
    naming = sorted(str(p.relative_to(ROOT)) for p in _sources() if p not in (AUDIT, MODELS)
                    and any(isinstance(n, (ast.Name, ast.alias)) and "AuditEntry" in (getattr(n, "id", None),
                                                                                       getattr(n, "name", None))
                            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))))
    assert naming == [], f"only operations/audit.py may use AuditEntry (to add and read rows): {naming}"


def test_the_audit_module_only_adds_and_reads_rows():
    tree = ast.parse(AUDIT.read_text(encoding="utf-8"))
    parent = _parents(tree)
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "AuditEntry":
            up = parent[node]
            if isinstance(up, ast.Call) and up.func is node:
                uses.append("new row")
            elif isinstance(up, ast.Attribute):
                uses.append("column")
            elif isinstance(up, ast.Call) and getattr(up.func, "id", "") == "select":
                uses.append("select")
            elif isinstance(up, ast.arg):
                uses.append("type of an argument")
            else:
                pytest.fail(f"operations/audit.py:{node.lineno}: AuditEntry used other than to add or read a row")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = getattr(node, "targets", None) or [node.target]
            assert not any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets), \
                f"operations/audit.py:{node.lineno}: assigns to an attribute (a row would change)"
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            assert name not in WRITES, f"operations/audit.py:{node.lineno}: calls {name}"
    assert {"new row", "select", "column"} <= set(uses)


def test_no_source_writes_the_table_in_sql():
    for path in _sources():
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            lowered = line.lower()
            if "audit_log" in lowered and any(w in lowered for w in ("update ", "delete ", "truncate", "drop ")):
                pytest.fail(f"{path.relative_to(ROOT)}:{line_no}: SQL that changes audit_log")


def test_the_api_only_reads_the_log():
    from services.intake.service import OPENAPI

    methods = {(path, m) for path, item in OPENAPI["paths"].items() if "audit" in path for m in item
               if m != "parameters"}
    assert methods == {("/api/v1/audit", "get"), ("/api/v1/audit.xlsx", "get")}


def test_the_database_refuses_to_change_or_remove_a_row(tmp_path):
    from common.db import migrate
    from common.settings import migrations_dir

    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url, migrations_dir("intake"))
    engine = create_engine(url)
    now = datetime(2020, 7, 1, tzinfo=timezone.utc).isoformat()
    with engine.begin() as db:
        db.execute(text("INSERT INTO tenants (id, name, kind, receipt_seq, created_at) "
                        "VALUES ('seu', '东南大学', 'university', 0, :now)"), {"now": now})
        db.execute(text("INSERT INTO audit_log (tenant_id, at, actor, action, object_type) "
                        "VALUES ('seu', :now, 'key:sk_test', 'grant.added', 'account')"), {"now": now})
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as db:
            db.execute(text(statement))
    with engine.begin() as db:
        assert db.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["key:sk_test"]
    engine.dispose()
