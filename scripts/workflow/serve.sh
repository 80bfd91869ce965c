#!/usr/bin/env bash
# Keep one site (or every extra cluster's site) serving new runs after the first render: run
# SCRIPT (render.sh, render-cloud.sh or render-extra.sh) with its usual arguments and the site
# job flags `--serve --idle-exit S`, where S is MINUTES * 60; the serving job renders every run
# of its site that the dashboard offers (created from the page's control link) and ends by
# itself after S seconds with nothing to do.
# MINUTES 0 (the default input) means no serving: exit 0 at once, the first render was all.
#
# usage: serve.sh MINUTES SCRIPT ARGS...   (ARGS: SCRIPT's arguments before its `--`)
#   e.g. serve.sh 10 render.sh ~/mpi-render-runs/42/onprem onprem '' http://127.0.0.1:8642/ 2 '' ''
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

[ $# -ge 2 ] || die "usage: serve.sh MINUTES SCRIPT ARGS... (e.g. serve.sh 10 render.sh ...)"
minutes=$1 script=$2
shift 2
case $script in
  render.sh|render-cloud.sh|render-extra.sh) ;;
  *) die "SCRIPT must be render.sh, render-cloud.sh or render-extra.sh, got '$script'" ;;
esac
# A number of minutes, fractions allowed (0.5 = 30 s); seconds rounded to a tenth.
idle_s=$(awk -v m="$minutes" 'BEGIN { if (m !~ /^[0-9]+(\.[0-9]+)?$/) exit 1; printf "%.1f", m * 60 }') \
  || die "MINUTES must be a number of minutes >= 0, got '$minutes'"
if [ "$idle_s" = 0.0 ]; then
  say "serving is off (advanced.serve_minutes is 0): the first render was the whole run"
  exit 0
fi
say "serving new runs until $minutes idle minutes ($idle_s s) pass"
serve_args=(--serve --idle-exit "$idle_s")
exec bash "$here/$script" "$@" -- "${serve_args[@]}"
