"""Faults 1 and 2: the dashboard dies mid-run, or is down for a whole site run.

1. SIGKILL mid-run, restart on the same port and data directory a few seconds later: both site
   jobs (``mpiexec -n 2``) exit 0 and every tile is stored exactly once.
2. No dashboard at all: the job spools, exits non-zero at its ``--deadline`` saying how many
   tiles are spooled and the command that resends them; that command, run as printed once a
   dashboard is up, delivers them all.
"""
from __future__ import annotations

import re
import shlex
import time

import pytest
from reliability.sitejob import FAULT_CONFIG, SiteJob, assert_stored_exactly_once, wait_stored
from support import Dashboard, run

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(150)]

RUN = "dash-fault"
DOWN_S = 3


def test_dashboard_killed_mid_run_and_restarted(tmp_path, dashboard):
    jobs = [SiteJob(tmp_path, site, dashboard.url, RUN, dashboard.token_file,
                    extra_args=("--deadline", "90"))
            for site in FAULT_CONFIG.sites]
    try:
        for job in jobs:
            job.start()
        for job in jobs:
            wait_stored(dashboard, RUN, job.site, at_least=2)
        dashboard.kill()
        time.sleep(DOWN_S)
        dashboard.start()
        codes = [job.wait(timeout_s=90) for job in jobs]
    finally:
        for job in jobs:
            job.stop()
    assert codes == [0, 0], "\n".join(job.output()[-3000:] for job in jobs)
    doc = assert_stored_exactly_once(dashboard, RUN, *jobs)
    assert doc["complete"] and doc["seq"] == FAULT_CONFIG.total_tiles, doc
    # Both posters really met the outage (else the kill was not mid-run for them).
    assert all("; retry " in job.output() for job in jobs), [job.output() for job in jobs]
    print(f"dashboard SIGKILLed for {DOWN_S} s mid-run: both jobs retried and exited 0, "
          f"{doc['stored']}/{doc['total']} stored, seq {doc['seq']}")


def test_dashboard_down_for_a_whole_run_then_spool_is_resent(tmp_path):
    dashboard = Dashboard(tmp_path / "dash")  # not started: nothing listens on its port yet
    job = SiteJob(tmp_path, "onprem", dashboard.url, RUN, dashboard.token_file,
                  extra_args=("--deadline", "4"))
    with job:
        code = job.wait(timeout_s=60)
    output = job.output()
    assert code == 3, output
    spooled = re.search(r"(\d+) tiles \(\d+ batches\) are spooled in (\S+?);", output)
    resend = re.search(r"resend them with: (.+)$", output, re.MULTILINE)
    assert spooled and resend, output
    owned = len(FAULT_CONFIG.owned()["onprem"])
    assert int(spooled.group(1)) == owned, output

    with dashboard:
        result = run(shlex.split(resend.group(1)), timeout=60, cwd=tmp_path)
        doc = assert_stored_exactly_once(dashboard, RUN, job)
    assert doc["sites"]["onprem"]["stored"] == owned, (doc, result.stderr)
    print(f"dashboard down: job exited {code} with {spooled.group(1)} tiles spooled; the "
          f"printed command stored them all (seq {doc['seq']})")
