#!/usr/bin/env bash
# Open the path from the cloud cluster to the on-prem dashboard and keep it open until the run
# is complete (a blocking step, run on the on-prem resource):
#   1. copy the dashboard token to the cloud work directory (mode 0600, over ssh stdin), so the
#      cloud relay and the cloud site job can authenticate;
#   2. keep a reverse tunnel `ssh -N -R 127.0.0.1:TUNNEL_PORT:127.0.0.1:PORT CLOUD_HOST` up,
#      with keepalives, reopening it when it drops;
#   3. exit 0 once the dashboard reports every tile of the run stored; when the sites keep
#      serving (SERVE_MINUTES > 0), stay up instead, until the workflow run is cancelled (as the
#      dashboard does): later runs reach the cloud site through it too.
#
# usage: tunnel.sh WORKDIR PORT RUN_ID CLOUD_HOST CLOUD_WORKDIR TUNNEL_PORT [PROXY_COMMAND
#                  [SERVE_MINUTES]]
#   PROXY_COMMAND  optional ssh ProxyCommand for reaching CLOUD_HOST (e.g. through `pw ssh`)
#   SERVE_MINUTES  advanced.serve_minutes (default 0: the first render is the whole run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 6 ] || die "usage: tunnel.sh WORKDIR PORT RUN_ID CLOUD_HOST CLOUD_WORKDIR TUNNEL_PORT" \
                    "[PROXY_COMMAND] (e.g. tunnel.sh ~/mpi-render-runs/42/onprem 8642 pw-42" \
                    "10.0.0.5 /home/me/mpi-render-runs/42/cloud 9122)"
use_work "$1"
port=$2 run_id=$3 cloud_host=$4 cloud_work=$5 tunnel_port=$6 proxy=${7:-} serve_minutes=${8:-0}
[ -n "$cloud_host" ] || die "the cloud resource has no address (ip); pick a running cluster"
dashboard=http://127.0.0.1:$port/

# Cloud hosts are recreated with new host keys: do not pin them for this ephemeral tunnel.
ssh_opts=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          -o LogLevel=ERROR -o ConnectTimeout=30)
[ -n "$proxy" ] && ssh_opts+=(-o "ProxyCommand=$proxy")

# The remote command is one short line that tcsh and bash read alike.
ssh "${ssh_opts[@]}" "$cloud_host" "umask 077 && mkdir -p $cloud_work && cat > $cloud_work/token" \
  < "$work/token" || die "could not copy the token to $cloud_host:$cloud_work"
say "token copied to $cloud_host:$cloud_work/token"

# With serving on, the cloud site renders later runs through the tunnel: never done.
serving=0
awk -v m="$serve_minutes" 'BEGIN { exit !(m + 0 > 0) }' && serving=1
tunnel_done() {
  [ "$serving" = 0 ] || return 1
  "$python" -m mpi_render.launch.report --dashboard "$dashboard" --run "$run_id" >/dev/null 2>&1
}

delay_s=2
while ! tunnel_done; do
  setsid ssh "${ssh_opts[@]}" -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 \
    -o ServerAliveCountMax=4 -R "127.0.0.1:$tunnel_port:127.0.0.1:$port" "$cloud_host" &
  record_pid tunnel $!
  say "reverse tunnel $cloud_host:127.0.0.1:$tunnel_port -> 127.0.0.1:$port (pid $!)"
  while recorded_alive tunnel && ! tunnel_done; do
    sleep 5
  done
  stop_recorded tunnel 5
  tunnel_done && break
  say "tunnel closed; reopening in ${delay_s} s"
  sleep "$delay_s"
  delay_s=$((delay_s < 60 ? delay_s * 2 : 60))
done
say "run $run_id is complete; tunnel closed"
