"""Faults 3 and 4: a rank of a site job is SIGKILLed mid-run.

Expected: the job fails within seconds (no hang), the dashboard reports the site's missing
tiles, and a re-run with ``--only-missing`` renders just those and completes the site, with no
tile stored twice.
"""
from __future__ import annotations

import time

import pytest
from reliability.sitejob import SiteJob, assert_stored_exactly_once, run_doc, wait_stored

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

RUN = "rank-fault"
FAIL_WITHIN_S = 15


@pytest.mark.parametrize("rank", [1, 0], ids=["worker", "rank0"])
def test_killed_rank_fails_fast_and_only_missing_completes(tmp_path, dashboard, rank):
    job = SiteJob(tmp_path, "cloud", dashboard.url, RUN, dashboard.token_file, ranks=3)
    with job:
        wait_stored(dashboard, RUN, "cloud", at_least=3)
        killed_at = time.monotonic()
        job.kill_rank(rank)
        code = job.wait(timeout_s=60)
        failed_after_s = time.monotonic() - killed_at
    assert code != 0, job.output()
    assert failed_after_s < FAIL_WITHIN_S, (failed_after_s, job.output())
    missing = [m for m in run_doc(dashboard, RUN)["missing"] if m["site"] == "cloud"]
    assert missing, f"rank {rank} was killed mid-run yet nothing is missing\n{job.output()}"

    rerun = SiteJob(tmp_path / "rerun", "cloud", dashboard.url, RUN, dashboard.token_file,
                    ranks=2, spool=job.spool, extra_args=("--only-missing",))
    with rerun:
        assert rerun.wait(timeout_s=60) == 0, rerun.output()
    assert f"{len(missing)} of the site's 32 tiles to render" in rerun.output(), rerun.output()
    doc = assert_stored_exactly_once(dashboard, RUN, rerun)
    print(f"rank {rank} killed: job exited {code} after {failed_after_s:.1f} s, "
          f"{len(missing)} tiles missing, re-run stored them; seq {doc['seq']}")
