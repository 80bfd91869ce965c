"""PhaseReporter: quiet when fast, log lines and posts when slow, never blocked by the dashboard."""
import logging

import pytest

from mpi_render.config import RenderConfig
from mpi_render.site import phases
from mpi_render.site.client import DashboardClient
from mpi_render.site.phases import PhaseReporter

pytestmark = pytest.mark.timeout(60)


class Clock:
    """A clock the test moves by hand (the reporter's announcements depend on elapsed time)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def create_run(dashboard, run_id="deep") -> None:
    status, doc = dashboard.api("PUT", f"api/runs/{run_id}",
                                RenderConfig(sites=("cloud", "onprem")).run_json())
    assert status == 201, doc


def reporter_on(dashboard, site: str, run_id: str = "deep") -> tuple[PhaseReporter, Clock]:
    """A reporter of ``site``'s phase of ``run_id`` posting to ``dashboard``, on a hand clock."""
    clock = Clock()
    return PhaseReporter(run_id, site, DashboardClient(dashboard.url, dashboard.token),
                         clock=clock), clock


def phases_of(dashboard, run_id="deep") -> dict:
    status, doc = dashboard.api("GET", f"api/runs/{run_id}", auth=False)
    assert status == 200, doc
    return doc["phases"]


def test_a_fast_phase_says_nothing(dashboard, caplog):
    create_run(dashboard)
    reporter, clock = reporter_on(dashboard, "cloud")
    with caplog.at_level(logging.INFO, logger=phases.__name__):
        reporter.update(10, 100)
        clock.now += phases.QUIET_S / 2
        reporter.update(100, 100)
        reporter.finish(100, 100)
        reporter.close()
    assert caplog.records == [] and reporter.posts == 0
    assert phases_of(dashboard) == {}


def test_a_slow_phase_logs_percentages_and_the_dashboard_gets_the_end(dashboard, caplog):
    create_run(dashboard)
    reporter, clock = reporter_on(dashboard, "onprem")
    with caplog.at_level(logging.INFO, logger=phases.__name__):
        for done in range(0, 50_001, 5_000):
            clock.now += 0.4
            reporter.update(done, 50_000)
        reporter.finish(35_170, 50_000)  # the reference point escaped early: the phase is over
        reporter.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all("run deep: reference orbit" in line for line in lines), lines
    assert any("% (" in line and "of 50000) after" in line for line in lines), lines
    assert len(lines) <= 5  # one line a second, not one per update
    assert reporter.posts >= 1
    assert phases_of(dashboard) == {"onprem": {"site": "onprem", "phase": "reference",
                                               "done": 50_000, "total": 50_000,
                                               "elapsed_s": pytest.approx(4.4)}}


def test_an_unreachable_dashboard_is_logged_once_and_costs_the_phase_nothing(port, caplog):
    clock = Clock()
    reporter = PhaseReporter("deep", "cloud", DashboardClient(f"http://127.0.0.1:{port}/", "t"),
                             clock=clock)
    with caplog.at_level(logging.WARNING, logger=phases.__name__):
        for done in range(20):
            clock.now += 1.0
            reporter.update(done, 20)
        reporter.close()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "did not take a phase report" in warnings[0], warnings
    assert reporter.posts == 0


def test_a_refused_report_is_named(dashboard, caplog):
    reporter, clock = reporter_on(dashboard, "cloud", "no-such-run")
    with caplog.at_level(logging.WARNING, logger=phases.__name__):
        clock.now += 2
        reporter.update(1, 2)
        reporter.close()
    assert "HTTP 404 unknown run no-such-run" in caplog.text
