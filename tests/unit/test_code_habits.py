"""House habits the code keeps, checked on every run of the test command.

- ruff (configured in pyproject.toml): import order, line length, complexity at most 15
  outside the functions that say why they may exceed it;
- services talk through events and the API, never through each other's modules: no
  `services.A` imports `services.B`;
- domain rules stay plain Python: the domain packages and the pure modules of `common/`
  import no framework (nameko, SQLAlchemy, eventlet, werkzeug, kombu, Jinja2, boto3);
- the campaign definition format (`common/campaign/`) imports no framework and no service, and
  only the pure modules of `common/`: every service reads it, media-check included.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "media", "review", "notify")
FRAMEWORKS = ("nameko", "sqlalchemy", "eventlet", "werkzeug", "kombu", "jinja2", "boto3", "botocore", "alembic")
# The modules of common/ every service may use inside its domain rules.
PURE_COMMON = ("archives", "clock", "errors", "filetypes", "levels", "lifecycle", "locale", "neardup", "segment",
               "tables", "text")
# Known crossings, each to be removed by the issue named: the test fails when one disappears, so the list stays true.
# (The last one, media-check reading intake's campaign definitions, went with issue #16: the format is common/campaign.)
KNOWN_CROSSINGS: set[tuple[str, str]] = set()
# The campaign definition format every service reads (issue #16): a pure package, whatever it grows into.
CAMPAIGN_FORMAT = ROOT / "common" / "campaign"


def _modules(path: Path) -> list[str]:
    """Every module `path` imports, absolute names (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def _sources(folder: Path):
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in requirements-dev.txt; the test command installs it"
    run = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_service_imports_another():
    crossings = set()
    for service in SERVICES:
        for path in _sources(ROOT / "services" / service):
            for module in _modules(path):
                parts = module.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] in SERVICES and parts[1] != service:
                    crossings.add((str(path.relative_to(ROOT)), ".".join(parts[:4])))
    # names imported from a module show up as module.name as well: keep the module only
    crossings = {(p, m) for p, m in crossings if not any(m.startswith(k + ".") for q, k in crossings if q == p)}
    assert crossings - KNOWN_CROSSINGS == set(), "a service imports another service's code"
    assert KNOWN_CROSSINGS - crossings == set(), "a known crossing is gone: take it off KNOWN_CROSSINGS"


@pytest.mark.parametrize("path", [
    *[p for service in SERVICES for p in _sources(ROOT / "services" / service / "domain")
      if (ROOT / "services" / service / "domain").is_dir()],
    *[ROOT / "common" / f"{name}.py" for name in PURE_COMMON],
], ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_rules_import_no_framework(path):
    framework = [m for m in _modules(path) if m.split(".")[0] in FRAMEWORKS]
    assert framework == [], f"{path.relative_to(ROOT)} imports {framework}: keep domain rules plain Python"


def test_the_campaign_format_is_pure_and_needs_no_service():
    sources = _sources(CAMPAIGN_FORMAT)
    assert {p.name for p in sources} >= {"__init__.py", "model.py", "parse.py", "media_rules.py", "events.py"}
    found = {}
    for path in sources:
        for module in _modules(path):
            parts = module.split(".")
            impure = parts[0] in FRAMEWORKS or parts[0] == "services"
            # common's own: only the campaign package itself and the pure modules
            impure |= parts[0] == "common" and len(parts) > 1 and parts[1] not in (*PURE_COMMON, "campaign")
            if impure:
                found.setdefault(str(path.relative_to(ROOT)), []).append(module)
    assert found == {}, f"the campaign format must stay pure (no framework, no service, pure common only): {found}"
