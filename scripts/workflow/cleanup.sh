#!/usr/bin/env bash
# Stop what this run started on this host, and nothing else: the processes recorded under
# WORKDIR/pids (pid + start time, so a reused pid is never signalled) and the Slurm job recorded
# in WORKDIR/slurm_job (WORKDIR/slurm_job-serve for a serving job). Safe to run more than once.
# NAME extra: what render-extra.sh started for each extra cluster (recorded in
# WORKDIR/extra/SITE.host): over ssh, that cluster's relay, site job and Slurm job (its own
# cleanup.sh), and here its tunnel; NAME extra-serve: the same for its serving jobs.
#
# usage: cleanup.sh WORKDIR NAME...
#   NAME: dashboard, tunnel, relay, relay-serve, render-SITE, serve-SITE, slurm, slurm-serve,
#         extra, extra-serve
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 2 ] || die "usage: cleanup.sh WORKDIR NAME..." \
                    "(e.g. cleanup.sh ~/mpi-render-runs/42/onprem dashboard)"
work=$1
shift
[ -d "$work" ] || exit 0  # prepare never ran: nothing to stop
for name in "$@"; do
  if [ "$name" = extra ] || [ "$name" = extra-serve ]; then
    kind=render suffix=
    [ "$name" = extra-serve ] && kind=serve suffix=-serve
    set_ssh_opts "$(cat "$work/extra/proxy" 2>/dev/null)"
    for record in "$work"/extra/*.host; do
      [ -f "$record" ] || continue
      site=$(basename "$record" .host)
      read -r host remote_work _ < "$record"
      say "stopping what $site started on $host ($kind)"
      ssh "${ssh_opts[@]}" "$host" \
        "bash $remote_work/src/scripts/workflow/cleanup.sh $remote_work $kind-$site relay$suffix slurm$suffix" \
        < /dev/null || true
      stop_recorded "tunnel$suffix-$site"
    done
  elif [ "$name" = slurm ] || [ "$name" = slurm-serve ]; then
    record=$work/slurm_job${name#slurm}
    job=$(head -n1 "$record" 2>/dev/null | cut -d';' -f1)
    if [ -n "$job" ]; then
      say "cancelling Slurm job $job"
      scancel "$job" 2>/dev/null || true
    fi
    rm -f "$record"
  else
    stop_recorded "$name"
  fi
done
