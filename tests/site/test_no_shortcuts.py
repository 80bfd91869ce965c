"""``mpi-render --no-shortcuts``: a real 2-rank job renders the same tiles by brute force."""
import urllib.request

import pytest
from support import VENV_BIN, mpi_env, mpiexec, run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
MPI_RENDER = str(VENV_BIN / "mpi-render")
# The full view at a high cap: interior-heavy, so the brute force really differs in work.
JOB = ["--grid", "2", "--tile", "48", "--max-iter", "3000", "--site", "a", "--sites", "a",
       "--log-level", "INFO"]


def render(tmp_path, name: str, *extra: str, env: dict | None = None):
    out = tmp_path / name
    done = run([mpiexec(), "-n", "2", MPI_RENDER, *JOB, "--out", str(out), *extra], timeout=180,
               cwd=tmp_path, env=mpi_env(env))
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, done.stderr


def test_no_shortcuts_renders_the_same_tiles_by_brute_force(tmp_path):
    default, default_log = render(tmp_path, "default")
    brute, brute_log = render(tmp_path, "brute", "--no-shortcuts")
    assert sorted(default) == ["r0c0.png", "r0c1.png", "r1c0.png", "r1c1.png"]
    assert brute == default
    assert "brute force" in brute_log and "brute force" not in default_log, brute_log
    via_env, env_log = render(tmp_path, "env", env={"MPI_RENDER_NO_SHORTCUTS": "1"})
    assert via_env == default and "brute force" in env_log, env_log


def test_a_dynamic_run_by_brute_force_stores_the_same_tiles(tmp_path, dashboard):
    default, _ = render(tmp_path, "default")
    done = run([mpiexec(), "-n", "2", MPI_RENDER, *JOB, "--split", "dynamic", "--run", "brute",
                "--dashboard", dashboard.url, "--token-file", str(dashboard.token_file),
                "--no-shortcuts"], timeout=180, cwd=tmp_path, env=mpi_env())
    assert "brute force" in done.stderr, done.stderr
    status, doc = dashboard.api("GET", "api/runs/brute", auth=False)
    assert status == 200 and doc["complete"], doc
    for name, png in default.items():
        row, col = int(name[1]), int(name[3])
        with urllib.request.urlopen(f"{dashboard.url}api/runs/brute/tiles/{row}/{col}.png") as answer:
            assert answer.read() == png, f"tile {name} differs from the default render"
