#!/usr/bin/env bash
# Stop what this run started on this host, and nothing else: the processes recorded under
# WORKDIR/pids (pid + start time, so a reused pid is never signalled) and the Slurm job recorded
# in WORKDIR/slurm_job (WORKDIR/slurm_job-serve for a serving job). Safe to run more than once.
#
# usage: cleanup.sh WORKDIR NAME...
#   NAME: dashboard, tunnel, relay, relay-serve, render-SITE, serve-SITE, slurm, slurm-serve
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 2 ] || die "usage: cleanup.sh WORKDIR NAME..." \
                    "(e.g. cleanup.sh ~/mpi-render-runs/42/onprem dashboard)"
work=$1
shift
[ -d "$work" ] || exit 0  # prepare never ran: nothing to stop
for name in "$@"; do
  if [ "$name" = slurm ] || [ "$name" = slurm-serve ]; then
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
