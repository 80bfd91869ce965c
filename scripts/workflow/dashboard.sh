#!/usr/bin/env bash
# Run the dashboard in the foreground (the workflow step must block: the session and the server
# end with the step). Listens on all interfaces so the platform's session tunnel can reach it.
#
# usage: dashboard.sh WORKDIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -eq 2 ] || die "usage: dashboard.sh WORKDIR PORT" \
                    "(e.g. dashboard.sh ~/mpi-render-runs/42/onprem 8642)"
use_work "$1"
port=$2
[ -f "$work/token" ] || die "no token in $work (run prepare.sh onprem first)"
chmod 600 "$work/token"
say "dashboard on 0.0.0.0:$port, data in $work/dashboard"
record_pid dashboard $$
cd "$work"
exec "$python" -m dashboard --host 0.0.0.0 --port "$port" --data-dir "$work/dashboard" \
  --token-file "$work/token"
