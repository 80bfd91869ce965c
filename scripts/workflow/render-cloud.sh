#!/usr/bin/env bash
# The cloud site: wait for the token (copied by tunnel.sh), start the token-checking relay on
# this login node (compute nodes reach it; it forwards to the reverse tunnel's end on loopback),
# render through it with render.sh, and stop the relay afterwards. The site is the work
# directory's name (prepare.sh SITE made it): cloud, or an extra cluster's extraN. The relay is
# recorded as relay, or relay-serve for a serving job (FLAGS with --serve, from serve.sh). When
# it ends (whatever the outcome) it leaves WORKDIR/site.done, which tells tunnel.sh this site
# needs the tunnel no more.
#
# usage: render-cloud.sh WORKDIR TUNNEL_PORT RELAY_PORT SCHEDULER RANKS PARTITION WALLTIME \
#          -- FLAGS...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 8 ] && [ "$8" = -- ] || die "usage: render-cloud.sh WORKDIR TUNNEL_PORT RELAY_PORT" \
  "SCHEDULER RANKS PARTITION WALLTIME -- FLAGS"
use_work "$1"
tunnel_port=$2 relay_port=$3 scheduler=$4 ranks=$5 partition=$6 walltime=$7
shift 8

say "waiting for the dashboard token from the on-prem side"
for _ in $(seq 600); do
  [ -s "$work/token" ] && break
  sleep 1
done
[ -s "$work/token" ] || die "no token in $work after 600 s: did the tunnel job start?"

relay=relay
[ "$(job_kind "$@")" = serve ] && relay=relay-serve
setsid "$python" -m mpi_render.launch.relay --listen "0.0.0.0:$relay_port" \
  --upstream "http://127.0.0.1:$tunnel_port/" --token-file "$work/token" \
  >> "$work/relay.log" 2>&1 &
record_pid "$relay" $!
trap 'stop_recorded "$relay" 5; : > "$work/site.done"' EXIT
# Compute nodes need an address of this login node; its first IP is the most likely to work.
host=$(hostname -I 2>/dev/null | awk '{print $1}')
host=${host:-$(hostname)}
say "relay on $host:$relay_port -> tunnel 127.0.0.1:$tunnel_port"
bash "$here/render.sh" "$work" "${work##*/}" "$scheduler" "http://$host:$relay_port/" "$ranks" \
  "$partition" "$walltime" -- "$@"
