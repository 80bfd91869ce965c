"""mpi_render.launch.clusters: the workflow's extra-clusters list input as sites and a split."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mpi_render.launch.clusters import ExtraCluster, parse_clusters, run_sites

RESOURCE = {"id": "c-1", "ip": "10.0.0.7", "name": "", "schedulerType": "slurm"}


def entry(**changes) -> dict:
    return {"resource": RESOURCE, "scheduler": True, "ranks": 2, "partition": "", **changes}


@pytest.mark.parametrize("text", [None, "", "null", "[]"])
def test_no_extra_cluster_keeps_the_two_site_run_as_it_was(text):
    clusters = parse_clusters(text)
    assert clusters == [] and run_sites(clusters) == (("cloud", "onprem"), "contiguous")


def test_each_entry_is_one_more_site_and_three_sites_split_dynamically():
    clusters = parse_clusters(json.dumps([
        entry(), entry(scheduler="no", ranks="4", partition="batch",
                       resource=dict(RESOURCE, ip="10.0.0.8"))]))
    assert clusters == [ExtraCluster("extra1", "10.0.0.7", "slurm", 2, ""),
                        ExtraCluster("extra2", "10.0.0.8", "", 4, "batch")]
    assert run_sites(clusters) == (("cloud", "onprem", "extra1", "extra2"), "dynamic")
    assert run_sites(clusters, "interleaved")[1] == "interleaved"  # a chosen split stands


@pytest.mark.parametrize("bad, message", [
    ('{"resource": 1}', "must be a JSON list"),
    ("[1]", "extra cluster 1 must be an object"),
    (json.dumps([entry(resource="pw://user/c")]), "extra cluster 1: the resource has no address"),
    (json.dumps([entry(), entry(ranks=0)]), "extra cluster 2: ranks must be"),
    (json.dumps([entry(scheduler="maybe")]), "scheduler must be yes or no"),
    (json.dumps([entry(partition="a b")]), "is not a Slurm partition name"),
])
def test_bad_entries_name_the_entry_and_the_fix(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_clusters(bad)


def test_the_command_line_prints_one_shell_word_per_field():
    env = {"EXTRA_CLUSTERS": json.dumps([entry(), entry(scheduler=False)])}

    def clusters(*args):
        return subprocess.run([sys.executable, "-m", "mpi_render.launch.clusters", *args],
                              capture_output=True, text=True, timeout=60, env=env)

    assert clusters("--split", "auto").stdout == "cloud,onprem,extra1,extra2 dynamic\n"
    assert clusters("--entries").stdout.splitlines() == ["extra1 10.0.0.7 slurm 2 -",
                                                        "extra2 10.0.0.7 - 2 -"]
    env["EXTRA_CLUSTERS"] = "[1]"
    refused = clusters("--entries")
    assert refused.returncode == 2 and "error: extra cluster 1" in refused.stderr
