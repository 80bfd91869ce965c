"""Faults of claiming site jobs (``--split dynamic``, ``--serve``) against a real dashboard with
short leases (``--lease-s 2``), real ``mpiexec -n 2`` jobs, tiles paced by a sleep:

1. a site SIGKILLed mid dynamic run: the other finishes the run once the dead site's leases
   expire, and nothing is stored twice;
2. a site that claims tiles and never posts them: the lease expires and the real site renders
   them;
3. the dashboard SIGKILLed and restarted mid dynamic run (leases are lost): both sites exit 0,
   the run completes, ``seq == total``;
4. a serving job across a dashboard restart: it finishes the run it was on and takes the next;
5. SIGTERM to a serving job mid-render: exit 0 and every tile it rendered is stored.
"""
from __future__ import annotations

import re
import signal
import time

import pytest
from reliability.sitejob import DYNAMIC_CONFIG, SiteJob, assert_complete_once, run_doc, wait_run_stored
from support import Dashboard, http, http_json, wait_for

from dashboard.testing import tile_meta, tile_png
from mpi_render.protocol import encode_batch

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]
LEASE_S = 2
SITES = DYNAMIC_CONFIG.sites  # two sites share the dynamic run


@pytest.fixture
def leasing_dashboard(tmp_path):
    with Dashboard(tmp_path / "dashboard", extra_args=("--lease-s", str(LEASE_S))) as server:
        yield server


def dynamic_jobs(tmp_path, dashboard, run_id, **kw) -> list[SiteJob]:
    return [SiteJob(tmp_path, site, dashboard.url, run_id, dashboard.token_file,
                    config=DYNAMIC_CONFIG, **kw) for site in SITES]


def test_a_site_killed_mid_dynamic_run_leaves_the_rest_to_the_other(tmp_path, leasing_dashboard):
    survivor, victim = dynamic_jobs(tmp_path, leasing_dashboard, "elastic-kill")
    with survivor, victim:
        wait_run_stored(leasing_dashboard, "elastic-kill", at_least=6)
        victim.stop()  # SIGKILL of its whole mpiexec tree: its leases die with it
        killed_at = time.monotonic()
        code = survivor.wait(timeout_s=60)
    assert code == 0, survivor.output()[-4000:]
    doc = assert_complete_once(leasing_dashboard, "elastic-kill", survivor, victim)
    assert 0 < doc["sites"][victim.site]["stored"] < doc["total"], doc["sites"]
    print(f"victim stored {doc['sites'][victim.site]['stored']}, survivor the other "
          f"{doc['sites'][survivor.site]['stored']} within {time.monotonic() - killed_at:.1f} s")


def test_tiles_claimed_by_a_site_that_never_posts_are_rendered_after_the_lease(
        tmp_path, leasing_dashboard):
    run_id = "elastic-silent"
    status, _ = leasing_dashboard.api("PUT", f"api/runs/{run_id}", DYNAMIC_CONFIG.run_json())
    assert status == 201, leasing_dashboard.log()
    status, claimed = leasing_dashboard.api("POST", f"api/runs/{run_id}/claims",
                                            {"site": SITES[1], "max_tiles": 11})
    assert status == 200 and len(claimed["tiles"]) == 11, claimed
    claimed_at = time.monotonic()
    # The silent site first stores one tile that says it renders in 10 us: nobody can finish its
    # other tiles sooner, so no end-game backup lends them (docs/API.md), and they must wait for
    # their leases to expire.
    first = claimed["tiles"][0]
    png = tile_png(DYNAMIC_CONFIG.tile_px, 1)
    content_type, body = encode_batch([(tile_meta(first["row"], first["col"], SITES[1],
                                                  render_ms=0.01), png)])
    status, raw = http("POST", f"{leasing_dashboard.url}api/runs/{run_id}/tiles", body,
                       leasing_dashboard.token, headers={"Content-Type": content_type})
    assert status == 200, raw
    job = SiteJob(tmp_path, SITES[0], leasing_dashboard.url, run_id,
                  leasing_dashboard.token_file, config=DYNAMIC_CONFIG, pace_s=0.02)
    with job:
        code = job.wait(timeout_s=60)
    assert code == 0, job.output()[-4000:]
    assert time.monotonic() - claimed_at >= LEASE_S  # it had to wait for the silent leases
    doc = assert_complete_once(leasing_dashboard, run_id, job)
    assert doc["sites"][SITES[0]]["stored"] == doc["total"] - 1, doc["sites"]


def test_dashboard_killed_and_restarted_mid_dynamic_run(tmp_path, leasing_dashboard):
    jobs = dynamic_jobs(tmp_path, leasing_dashboard, "elastic-restart",
                        extra_args=("--deadline", "60"))
    with jobs[0], jobs[1]:
        wait_run_stored(leasing_dashboard, "elastic-restart", at_least=8)
        leasing_dashboard.kill()
        time.sleep(1.5)
        leasing_dashboard.start()
        codes = [job.wait(timeout_s=60) for job in jobs]
    assert codes == [0, 0], "\n".join(job.output()[-3000:] for job in jobs)
    assert_complete_once(leasing_dashboard, "elastic-restart", *jobs)
    assert any("claim failed" in job.output() or "; retry " in job.output() for job in jobs)


def put_run(dashboard: Dashboard, run_id: str, config=DYNAMIC_CONFIG) -> None:
    status, doc = http_json("PUT", f"{dashboard.url}api/runs/{run_id}", config.run_json(),
                            dashboard.token)
    assert status == 201, (status, doc, dashboard.log())


def serving_job(tmp_path, dashboard, site=SITES[0], **kw) -> SiteJob:
    return SiteJob(tmp_path, site, dashboard.url, None, dashboard.token_file, **kw)


def wait_serving(job: SiteJob) -> None:
    wait_for(lambda: "serving site" in job.output() or job.proc.poll() is not None, 30,
             f"site {job.site} serving")
    assert job.proc.poll() is None, job.output()


def test_a_serving_job_survives_a_dashboard_restart(tmp_path, leasing_dashboard):
    job = serving_job(tmp_path, leasing_dashboard, extra_args=("--idle-exit", "3"))
    with job:
        wait_serving(job)
        put_run(leasing_dashboard, "serve-before")
        wait_run_stored(leasing_dashboard, "serve-before", at_least=8)
        leasing_dashboard.kill()
        time.sleep(1.5)
        leasing_dashboard.start()
        wait_for(lambda: run_doc(leasing_dashboard, "serve-before")["complete"], 60,
                 f"serve-before complete\n{job.output()[-3000:]}")
        put_run(leasing_dashboard, "serve-after")
        wait_for(lambda: run_doc(leasing_dashboard, "serve-after")["complete"], 60,
                 f"serve-after complete\n{job.output()[-3000:]}")
        code = job.wait(timeout_s=30)  # --idle-exit
    assert code == 0, job.output()[-4000:]
    for run_id in ("serve-before", "serve-after"):
        assert_complete_once(leasing_dashboard, run_id, job)


def test_sigterm_to_a_serving_job_mid_render_loses_nothing(tmp_path, dashboard):
    job = serving_job(tmp_path, dashboard, pace_s=0.2)
    with job:
        wait_serving(job)
        put_run(dashboard, "serve-term")
        wait_run_stored(dashboard, "serve-term", at_least=4)
        job.send_signal(signal.SIGTERM)
        code = job.wait(timeout_s=60)
    output = job.output()
    assert code == 0, output[-4000:]
    rendered = re.search(r"run serve-term: (\d+) tiles rendered; (\d+) tiles stored", output)
    assert rendered, output[-4000:]
    doc = run_doc(dashboard, "serve-term")
    assert int(rendered[1]) == int(rendered[2]) == doc["stored"] == doc["seq"], (doc, output)
    assert doc["stored"] < doc["total"], doc  # it really stopped mid-run
    assert not job.spool.exists() or not any(job.spool.rglob("*.batch")), list(job.spool.rglob("*"))
