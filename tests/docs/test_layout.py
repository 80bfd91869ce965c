"""The layout is part of the design: imports point one way, the README names the real tree, and
the repository stands alone (nothing outside it is needed to test or benchmark it)."""
from __future__ import annotations

import ast
import re
import subprocess

from support import REPO

PACKAGES = ("mpi_render", "dashboard")
# `a/b.py`, `a/b/`, `a/b.c` written in backticks in the README
README_PATH_RE = re.compile(r"`((?:mpi_render|dashboard|tests|bench|scripts|docs|hostfiles)/[\w./-]*)`")


def imported_modules(path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_mpi_render_never_imports_dashboard():
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "mpi_render").rglob("*.py"))
                 if "dashboard" in imported_modules(p)]
    assert not offenders, f"mpi_render must not import dashboard: {offenders}"


def test_the_import_scan_sees_imports():
    """The check above would pass vacuously if the scan found nothing."""
    assert "mpi_render" in imported_modules(REPO / "dashboard" / "ingest.py")
    assert "numpy" in imported_modules(REPO / "mpi_render" / "kernels" / "dispatch.py")


def test_every_path_the_readme_names_exists():
    named = set(README_PATH_RE.findall((REPO / "README.md").read_text()))
    assert len(named) > 30, f"the README names only {len(named)} paths: the scan is broken"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"README.md names paths that do not exist: {missing}"


def test_the_readme_names_every_module():
    named = set(README_PATH_RE.findall((REPO / "README.md").read_text()))
    modules = [p.relative_to(REPO).as_posix() for package in PACKAGES
               for p in sorted((REPO / package).rglob("*.py"))
               if p.name not in ("__init__.py", "__main__.py")]
    unnamed = [m for m in modules if m not in named]
    assert not unnamed, f"README.md's module table does not name: {unnamed}"


def test_no_tracked_file_outside_docs_reaches_beside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    outside = re.compile(r"\.\./shared|parent / \"shared\"|[\"']shared[\"']\s*/")
    offenders = [f for f in files if not f.startswith(("docs/", ".ci/"))
                 and (REPO / f).is_file() and not f.endswith(".png")
                 and outside.search((REPO / f).read_text(errors="replace"))]
    assert not offenders, f"files that need a folder beside the checkout (a clone has none): {offenders}"


def test_setup_installs_every_package():
    """A non-editable install (the workflow's venvs) must carry every package of the tree."""
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "setup")
    listed = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "packages"))
    found = {str(init.parent.relative_to(REPO)).replace("/", ".")
             for top in ("mpi_render", "dashboard") for init in (REPO / top).rglob("__init__.py")}
    assert set(listed) == found
