#!/usr/bin/env bash
# Print the run's summary (tiles: X/Y, per-site figures, missing tiles), where to watch it, and
# the control link (the read-only URL plus #key=CONTROL_TOKEN from WORKDIR/control-token: it
# can start and cancel renders, so it is a secret). Exits 1 when tiles are missing.
#
# usage: summary.sh WORKDIR PORT RUN_ID SESSION_NAME
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -eq 4 ] || die "usage: summary.sh WORKDIR PORT RUN_ID SESSION_NAME"
use_work "$1"
port=$2 run_id=$3 session=$4
platform=${PW_PLATFORM_HOST:-}
platform=${platform#*://}  # PW_PLATFORM_HOST may or may not carry the scheme
status=0
"$python" -m mpi_render.launch.report --dashboard "http://127.0.0.1:$port/" --run "$run_id" || status=$?
url=https://${platform:-<platform host>}/me/session/${PW_USER:-<user>}/$session/
echo "dashboard: $url?run=$run_id"
if [ -s "$work/control-token" ]; then
  chmod 600 "$work/control-token"
  echo "control link: $url?run=$run_id#key=$(tr -d '[:space:]' < "$work/control-token")"
  echo "(the control link can start and cancel renders: share it only with people who may)"
else
  echo "no control token in $work/control-token: the page is read-only" >&2
fi
echo "the dashboard stays up until this workflow run is cancelled"
exit "$status"
