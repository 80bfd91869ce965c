"""Fault 6: network trouble between a site and the dashboard (a chaos proxy on loopback).

One site posts through :class:`~reliability.chaos_proxy.ChaosProxy`, which first resets every
connection for a few seconds (a link that drops), then black-holes new ones (a link that loses
packets silently: only the poster's ``--http-timeout`` notices), then heals. The other site
posts directly at the same time. Expected: both jobs exit 0 and nothing is lost or doubled.
"""
from __future__ import annotations

import time

import pytest
from reliability.chaos_proxy import ChaosProxy
from reliability.sitejob import FAULT_CONFIG, SiteJob, assert_stored_exactly_once, wait_stored

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(150)]

RUN = "net-fault"
CUT_S = 3
BLACKHOLE_S = 3


def test_link_cut_and_black_holed_loses_nothing(tmp_path, dashboard):
    with ChaosProxy(dashboard.port) as proxy:
        flaky = SiteJob(tmp_path, "cloud", proxy.url, RUN, dashboard.token_file,
                        extra_args=("--deadline", "90", "--http-timeout", "2"))
        steady = SiteJob(tmp_path, "onprem", dashboard.url, RUN, dashboard.token_file)
        with flaky, steady:
            wait_stored(dashboard, RUN, "cloud", at_least=2)
            proxy.cut()
            time.sleep(CUT_S)
            proxy.blackhole()
            time.sleep(BLACKHOLE_S)
            proxy.heal()
            codes = [flaky.wait(timeout_s=90), steady.wait(timeout_s=90)]
        refused = proxy.refused
    assert codes == [0, 0], flaky.output()[-4000:] + steady.output()[-2000:]
    doc = assert_stored_exactly_once(dashboard, RUN, flaky, steady)
    assert doc["complete"] and doc["seq"] == FAULT_CONFIG.total_tiles, doc
    assert "; retry " in flaky.output(), flaky.output()
    print(f"link cut {CUT_S} s ({refused} connections reset on accept) and black-holed "
          f"{BLACKHOLE_S} s: both jobs exited 0, {doc['stored']}/{doc['total']} stored once")
