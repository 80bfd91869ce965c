"""Suite-wide pytest configuration.

In CI (``CI=true``) a skipped test is turned into a failure: a test that is skipped in CI is a
test that does not exist, so whatever it needs must be installed by the project's scripts.
"""
import os

import pytest
from support import Dashboard, free_port


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true forbids skips): {reason}"


@pytest.fixture
def port():
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture
def dashboard(tmp_path):
    """A real ``mpi-render-dashboard`` subprocess on a free loopback port (stopped afterwards)."""
    with Dashboard(tmp_path / "dashboard") as server:
        yield server


@pytest.fixture(scope="session")
def private_ca(tmp_path_factory):
    """A private CA made with openssl for this session, and its certificate for 127.0.0.1."""
    from tlsfiles import PrivateCA

    return PrivateCA.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_dashboard(tmp_path, private_ca):
    """Like ``dashboard``, but serving HTTPS and WSS with ``private_ca``'s certificate."""
    with Dashboard(tmp_path / "tls-dashboard", tls=private_ca) as server:
        yield server


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real single-node Slurm for the whole session (tests/slurm_cluster.py); stopped at the end.

    Fails (never skips) when Slurm is not installed: ``make test`` installs it.
    """
    from slurm_cluster import SlurmCluster, SlurmUnavailable

    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmUnavailable as err:
        pytest.fail(str(err))
    try:
        yield cluster
    finally:
        cluster.stop()
