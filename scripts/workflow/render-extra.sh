#!/usr/bin/env bash
# The extra clusters of the run (the workflow's extra_clusters list input, as JSON in
# $EXTRA_CLUSTERS), driven from the on-prem resource: one more site per cluster, all at once.
# For each cluster (site extraN, python -m mpi_render.launch.clusters --entries):
#   1. copy this checkout to ~/mpi-render-runs/JOB/extraN-src on its login node (tar over ssh),
#      and run prepare.sh there (venv, work directory, tunnel and relay ports), recorded in
#      WORKDIR/extra/SITE.host as "HOST REMOTE_WORKDIR TUNNEL_PORT RELAY_PORT";
#   2. tunnel.sh: the token and a reverse tunnel from that login node to the dashboard;
#   3. render-cloud.sh there (over ssh): the relay, then sbatch/srun or mpiexec, as the cloud site;
#   4. close the tunnel once the site job ended.
# With `--serve --idle-exit S` in FLAGS (serve.sh, after the first render) step 1 is skipped (the
# records of step 1 say where each site is) and each site serves new runs instead, with the
# tunnel kept open until its serving job ends; everything is recorded under *-serve names
# (tunnel-serve-SITE here, serve-SITE, relay-serve and slurm_job-serve there; logs
# WORKDIR/extra/SITE-serve.log), so no cleanup of the first render can stop it.
# Exits 0 when there is no extra cluster or every extra site exited 0; each site's log is
# WORKDIR/extra/SITE.log (and repeated here). cleanup.sh WORKDIR extra (extra-serve) stops what
# it started.
#
# usage: render-extra.sh WORKDIR PORT RUN_ID PYTHON WALLTIME PROXY_COMMAND -- FLAGS...
#   WORKDIR, PORT, RUN_ID  the on-prem work directory, the dashboard's port, the run id
#   PYTHON, WALLTIME       prepare.sh's interpreter; sbatch -t (Slurm clusters)
#   PROXY_COMMAND          ssh ProxyCommand to reach the clusters (empty: direct)
#   FLAGS                  the run's mpi-render flags (--grid ... --sites ... --split ... --run),
#                          or serve.sh's --serve --idle-exit S
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

usage="usage: render-extra.sh WORKDIR PORT RUN_ID PYTHON WALLTIME PROXY_COMMAND -- FLAGS
(e.g. render-extra.sh ~/mpi-render-runs/42/onprem 8642 pw-42 python3 00:30:00 '' -- --grid 8
--sites cloud,onprem,extra1 --split dynamic --run pw-42)"
[ $# -ge 7 ] && [ "$7" = -- ] || die "$usage"
use_work "$1"
port=$2 run_id=$3 base_python=$4 walltime=$5 proxy=$6
shift 7
flags="$*" kind=$(job_kind "$@")
suffix= serve_minutes=0
if [ "$kind" = serve ]; then
  # The tunnels stay up while the sites serve (tunnel.sh's SERVE_MINUTES > 0): S / 60 minutes.
  suffix=-serve serve_minutes=$(awk -v s="${flags##*--idle-exit }" 'BEGIN { print s / 60 }')
fi
entries=$("$python" -m mpi_render.launch.clusters --entries) \
  || die "the extra clusters input is not usable (see the error above)"
if [ -z "$entries" ]; then
  say "no extra clusters"
  exit 0
fi
set_ssh_opts "$proxy"
job=${PW_JOB_ID//[^A-Za-z0-9_.-]/_}
mkdir -p "$work/extra"
printf '%s\n' "$proxy" > "$work/extra/proxy"

# remote HOST COMMAND: one short command line that tcsh and bash read alike.
remote() {
  ssh "${ssh_opts[@]}" "$1" "$2"
}

# through_tunnel SITE HOST REMOTE_WORK TUNNEL_PORT RELAY_PORT SCHEDULER RANKS PARTITION: the
# site's job (render-cloud.sh over ssh) with a tunnel open for it; the tunnel closes after it.
through_tunnel() {
  local site=$1 host=$2 remote_work=$3 tunnel_port=$4 relay_port=$5 scheduler=$6 ranks=$7
  local partition=$8 tunnel status=0
  bash "$here/tunnel.sh" "$work" "$port" "$run_id" "$host" "$remote_work" "$tunnel_port" \
    "$proxy" "tunnel$suffix-$site" "$serve_minutes" &
  tunnel=$!
  remote "$host" "env PW_JOB_ID=$job bash $remote_work/src/scripts/workflow/render-cloud.sh $remote_work $tunnel_port $relay_port '$scheduler' $ranks '$partition' '$walltime' -- $flags" \
    < /dev/null || status=$?
  # The tunnel ends by itself once the run is complete; a failed site must not leave it open.
  kill "$tunnel" 2>/dev/null || true
  wait "$tunnel" 2>/dev/null || true
  stop_recorded "tunnel$suffix-$site" 5
  [ "$status" -eq 0 ] || die "$site: the site job on $host exited $status"
}

# one_site SITE HOST SCHEDULER RANKS PARTITION (SCHEDULER, PARTITION: - for none)
one_site() {
  local site=$1 host=$2 scheduler=${3#-} ranks=$4 partition=${5#-}
  local checkout=mpi-render-runs/$job/$site-src outputs remote_work tunnel_port relay_port
  if [ "$kind" = serve ]; then
    read -r _ remote_work tunnel_port relay_port < "$work/extra/$site.host" \
      && [ -n "$relay_port" ] || die "$site: no record of its first render in $work/extra"
    through_tunnel "$site" "$host" "$remote_work" "$tunnel_port" "$relay_port" "$scheduler" \
      "$ranks" "$partition"
    say "$site: served every run offered, then stopped after its idle time"
    return
  fi
  say "$site: copying the checkout to $host:$checkout"
  tar -C "$src/" --exclude=./.git -cf - . \
    | remote "$host" "mkdir -p $checkout && tar -xf - -C $checkout" \
    || die "$site: could not copy the checkout to $host"
  remote "$host" "cd $checkout && env PW_JOB_ID=$job OUTPUTS=prepare.outputs bash scripts/workflow/prepare.sh $site $base_python" \
    < /dev/null || die "$site: prepare.sh failed on $host"
  outputs=$(remote "$host" "cat $checkout/prepare.outputs" < /dev/null)
  remote_work=$(sed -n 's/^workdir=//p' <<< "$outputs")
  tunnel_port=$(sed -n 's/^tunnel_port=//p' <<< "$outputs")
  relay_port=$(sed -n 's/^relay_port=//p' <<< "$outputs")
  [ -n "$remote_work" ] && [ -n "$tunnel_port" ] && [ -n "$relay_port" ] \
    || die "$site: prepare.sh on $host gave no work directory or ports: $outputs"
  echo "$host $remote_work $tunnel_port $relay_port" > "$work/extra/$site.host"
  through_tunnel "$site" "$host" "$remote_work" "$tunnel_port" "$relay_port" "$scheduler" \
    "$ranks" "$partition"
  say "$site: every tile it rendered is stored"
}

pids=() sites=()
while read -r site host scheduler ranks partition; do
  one_site "$site" "$host" "$scheduler" "$ranks" "$partition" \
    > "$work/extra/$site$suffix.log" 2>&1 &
  pids+=($!) sites+=("$site")
  say "$site on $host: $ranks ranks, $([ "$scheduler" = - ] && echo mpiexec || echo sbatch)," \
    "$kind (log $work/extra/$site$suffix.log)"
done <<< "$entries"

failed=0
for i in "${!pids[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  echo "--- ${sites[$i]} (exit $status)"
  tail -n 40 "$work/extra/${sites[$i]}$suffix.log"
  [ "$status" -eq 0 ] || failed=1
done
exit "$failed"
