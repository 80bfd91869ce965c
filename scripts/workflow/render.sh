#!/usr/bin/env bash
# Render one site's tiles and post them to the dashboard; exits with the site job's code
# (non-zero unless every tile of the site is stored). With `--serve --idle-exit S` in FLAGS
# (serve.sh) the job serves new runs instead, until S idle seconds, and is recorded as
# serve-SITE (Slurm: WORKDIR/slurm_job-serve) instead of render-SITE (WORKDIR/slurm_job).
#
# usage: render.sh WORKDIR SITE SCHEDULER DASHBOARD_URL RANKS PARTITION WALLTIME -- FLAGS...
#   SCHEDULER  empty: mpiexec on this host; slurm: sbatch --wait scripts/render.sbatch (srun)
#   PARTITION, WALLTIME  Slurm only; empty means the cluster's default
#   FLAGS      the run's mpi-render flags (--grid --tile --palette --max-iter --sites --run ...)
# The token file is WORKDIR/token; the site job runs in WORKDIR, so its spool of unsent tiles
# (resent by a re-run with --only-missing) lands there too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 8 ] && [ "$8" = -- ] || die "usage: render.sh WORKDIR SITE SCHEDULER DASHBOARD_URL" \
  "RANKS PARTITION WALLTIME -- FLAGS (e.g. render.sh ~/mpi-render-runs/42/onprem onprem ''" \
  "http://127.0.0.1:8642/ 2 '' '' -- --grid 8 --tile 256 --run pw-42)"
use_work "$1"
site=$2 scheduler=$3 dashboard=$4 ranks=$5 partition=$6 walltime=$7
shift 8
[[ $ranks =~ ^[1-9][0-9]*$ ]] || die "RANKS must be a positive integer, got '$ranks'"
kind=$(job_kind "$@")
slurm_record=$work/slurm_job
[ "$kind" = serve ] && slurm_record=$work/slurm_job-serve
cd "$work"
say "waiting for the dashboard at $dashboard"
wait_http "${dashboard}healthz" 600 || die "the dashboard at $dashboard never answered"
site_args=(--site "$site" --dashboard "$dashboard" --token-file "$work/token" "$@")

case $scheduler in
  "")
    say "mpiexec -n $ranks on $(hostname)"
    setsid "$work/venv/bin/mpiexec" -n "$ranks" "$python" -m mpi4py -m mpi_render \
      "${site_args[@]}" &
    record_pid "$kind-$site" $!
    status=0
    wait $! || status=$?
    ;;
  slurm)
    sbatch_args=(--parsable --wait -n "$ranks" -J "mpi-render-$site" --chdir "$work"
                 -o "$work/slurm-%j.out")
    [ -n "$partition" ] && sbatch_args+=(-p "$partition")
    [ -n "$walltime" ] && sbatch_args+=(-t "$walltime")
    rm -f "$slurm_record"
    MPI_RENDER_VENV=$work/venv setsid sbatch "${sbatch_args[@]}" "$src/scripts/render.sbatch" \
      "${site_args[@]}" > "$slurm_record" &
    record_pid "$kind-$site" $!
    status=0
    wait $! || status=$?
    job=$(head -n1 "$slurm_record" | cut -d';' -f1)
    say "Slurm job ${job:-?} ended with $status; its output:"
    [ -n "$job" ] && tail -n 40 "$work/slurm-$job.out" || true
    ;;
  pbs)
    die "the cloud resource uses PBS, which this workflow does not drive yet;" \
        "pick a Slurm cluster or one without a scheduler" ;;
  *)
    die "unknown scheduler '$scheduler' (expected slurm or empty)" ;;
esac
rm -f "$work/pids/$kind-$site"
if [ "$status" -ne 0 ]; then
  echo "render.sh: site $site failed with exit $status" >&2
elif [ "$kind" = serve ]; then
  say "site $site: served every run offered, then stopped after its idle time"
else
  say "site $site: every tile stored"
fi
exit "$status"
