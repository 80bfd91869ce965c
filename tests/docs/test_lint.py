"""The code base passes the project's lint rules (pyproject.toml [tool.ruff])."""
import sys
from pathlib import Path

from support import REPO, run


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    proc = run([str(ruff), "check", "--no-cache", "."], cwd=REPO, check=False, timeout=120)
    assert proc.returncode == 0, f"ruff check . found problems:\n{proc.stdout[-4000:]}"
