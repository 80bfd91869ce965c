#!/usr/bin/env bash
# Open the path from the cloud cluster to the on-prem dashboard and keep it open until the run
# is complete (a blocking step, run on the on-prem resource):
#   1. copy the dashboard token to the cloud work directory (mode 0600, over ssh stdin), so the
#      cloud relay and the cloud site job can authenticate;
#   2. keep a reverse tunnel `ssh -N -R 127.0.0.1:TUNNEL_PORT:127.0.0.1:PORT CLOUD_HOST` up,
#      with keepalives, reopening it when it drops;
#   3. exit 0 once the dashboard reports every tile of the run stored and the site behind the
#      tunnel has finished (render-cloud.sh leaves CLOUD_WORKDIR/site.done): with a dynamic
#      split the other sites may complete the run before this one has even started, and it
#      still needs the tunnel to learn that and to confirm its own tiles. When the sites keep
#      serving (SERVE_MINUTES > 0), stay up instead, until the workflow run is cancelled (as the
#      dashboard does) or the caller stops it: later runs reach the site through it too.
#
# usage: tunnel.sh WORKDIR PORT RUN_ID CLOUD_HOST CLOUD_WORKDIR TUNNEL_PORT [PROXY_COMMAND [NAME
#                  [SERVE_MINUTES]]]
#   PROXY_COMMAND  optional ssh ProxyCommand for reaching CLOUD_HOST (e.g. through `pw ssh`)
#   NAME           the ssh process's record under WORKDIR/pids (default tunnel; render-extra.sh
#                  opens one tunnel per extra cluster: tunnel-extra1, ...)
#   SERVE_MINUTES  advanced.serve_minutes (default 0: the first render is the whole run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 6 ] || die "usage: tunnel.sh WORKDIR PORT RUN_ID CLOUD_HOST CLOUD_WORKDIR TUNNEL_PORT" \
                    "[PROXY_COMMAND [NAME [SERVE_MINUTES]]] (e.g. tunnel.sh" \
                    "~/mpi-render-runs/42/onprem 8642 pw-42 10.0.0.5" \
                    "/home/me/mpi-render-runs/42/cloud 9122 '' tunnel 0)"
use_work "$1"
port=$2 run_id=$3 cloud_host=$4 cloud_work=$5 tunnel_port=$6 proxy=${7:-} name=${8:-tunnel}
serve_minutes=${9:-0}
[ -n "$cloud_host" ] || die "the cloud resource has no address (ip); pick a running cluster"
dashboard=http://127.0.0.1:$port/

set_ssh_opts "$proxy"

# The remote command is one short line that tcsh and bash read alike.
ssh "${ssh_opts[@]}" "$cloud_host" "umask 077 && mkdir -p $cloud_work && cat > $cloud_work/token" \
  < "$work/token" || die "could not copy the token to $cloud_host:$cloud_work"
say "token copied to $cloud_host:$cloud_work/token"

run_complete() {
  "$python" -m mpi_render.launch.report --dashboard "$dashboard" --run "$run_id" >/dev/null 2>&1
}

# With serving on, the site renders later runs through the tunnel: never done.
serving=0
awk -v m="$serve_minutes" 'BEGIN { exit !(m + 0 > 0) }' && serving=1

# done_with_tunnel: not serving, the run is complete and the site's job has ended (asked over
# ssh only then).
done_with_tunnel() {
  [ "$serving" = 0 ] && run_complete \
    && ssh "${ssh_opts[@]}" "$cloud_host" "test -f $cloud_work/site.done" < /dev/null
}

delay_s=2
while ! done_with_tunnel; do
  setsid ssh "${ssh_opts[@]}" -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 \
    -o ServerAliveCountMax=4 -R "127.0.0.1:$tunnel_port:127.0.0.1:$port" "$cloud_host" &
  record_pid "$name" $!
  say "reverse tunnel $cloud_host:127.0.0.1:$tunnel_port -> 127.0.0.1:$port (pid $!)"
  while recorded_alive "$name" && ! done_with_tunnel; do
    sleep 5
  done
  stop_recorded "$name" 5
  done_with_tunnel && break
  say "tunnel closed; reopening in ${delay_s} s"
  sleep "$delay_s"
  delay_s=$((delay_s < 60 ? delay_s * 2 : 60))
done
say "run $run_id is complete and the site on $cloud_host has finished; tunnel closed"
